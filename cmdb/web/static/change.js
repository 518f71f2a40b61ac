// One RFC and its assessment: the request (GET /changes/{id}), the risk and the policy
// rule that set its approval (/changes/{id}/risk), the services its window takes down with
// their SLA budgets (POST /impact/change), its collisions, its log, and its what-if
// proposal (change-proposal.js).
"use strict";

(() => {
  const { api, el, ciLink, mapUrl, minutes, when, words, badge, showError, $ } = window.cmdbUi;
  const id = decodeURIComponent(location.pathname.replace(/^\/ui\/changes\//, ""));
  const enc = encodeURIComponent;

  function facts(sel, pairs) {
    $(sel).replaceChildren(...pairs.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v === null || v === "" ? el("span", { class: "empty", text: "—" }) : v)]));
  }

  async function names(ids) {
    const cis = await Promise.all(ids.map((i) => api(`/cis/${enc(i)}`).catch(() => ({ id: i, name: i }))));
    return cis.map((c) => ciLink(c.id, c.name));
  }

  function windowText(w) {
    let text = `${minutes(w.minutes_in_hours)} of service hours in the window`;
    if (w.scheduled_interruption) text += "; an allowed scheduled interruption";
    if (w.counts_against_budget && w.periods.length) {
      text += `; budget left after it ${minutes(Math.min(...w.periods.map((p) => p.remaining_after)))}`;
    }
    if (w.breach) text += "; BREACHES the SLA";
    return text;
  }

  async function request(c) {
    $("#rfc-id").textContent = c.id;
    document.title = `${c.id} · graph-cmdb`;
    $("#rfc-title").textContent = c.title;
    $("#rfc-state").replaceChildren(badge(words(c.state), c.state));
    const cis = await names(c.ci_ids);
    facts("#rfc-facts", [
      ["type", words(c.type)],
      ["priority", words(c.priority)],
      ["requested by", c.requester],
      ["window", c.planned_start ? `${when(c.planned_start)} to ${when(c.planned_end)}` : "not planned"],
      ["affects", cis.length ? el("span", {}, ...cis.flatMap((a, i) => (i ? [", ", a] : [a]))) : null],
      ["expected impact", c.expected_impact ? words(c.expected_impact) : null],
      ["reason", c.reason],
      ["business benefit", c.business_benefit],
      ["back-out plan", c.backout_plan],
      ["references", c.references.join(", ")],
      ["next", (c.allowed_next || []).map(words).join(", ")],
    ]);
    const log = $("#log tbody");
    log.replaceChildren(...c.log.map((e) => el("tr", {}, el("td", { text: words(e.state) }), el("td", { text: when(e.at) }), el("td", { text: e.by }), el("td", { class: "why", text: e.note }))));
    if (c.planned_start && c.ci_ids.length) {
      $("#map-link").href = mapUrl({ focus: c.ci_ids[0], fail: c.ci_ids, question: "change", start: c.planned_start, end: c.planned_end, run: true });
    }
  }

  async function assessment(c) {
    let r;
    try {
      r = await api(`/changes/${enc(c.id)}/risk`);
    } catch (e) {
      $("#risk-summary").textContent = `not assessed: ${e.message}`;
      return;
    }
    // The recorded assessment first (what the change authority decided on); the rules
    // below are the policy asked again now, which may differ as the estate changed.
    const rec = c.risk;
    const recorded = rec
      ? el("div", { id: "risk-recorded" }, badge(words(rec.risk_class), rec.risk_class), ` approval by ${words(rec.approval)}: ${rec.why}`, el("div", { class: "why", text: `recorded ${when(rec.assessed_at)}, impact score ${rec.score}${rec.proposal_version ? `, on what-if proposal v${rec.proposal_version} (authorising judges the proposal as it stands then)` : ""}` }))
      : el("div", { class: "empty", text: "not assessed yet" });
    const now = el("div", { id: "risk-now" }, el("span", { class: "why", text: "asked again now: " }), badge(words(r.risk_class), r.risk_class), ` approval by ${words(r.approval)}: ${r.why}`);
    $("#risk-summary").replaceChildren(recorded, now);
    const f = r.facts;
    facts("#risk-facts", [
      ["impact score", String(f.score)],
      ["worst service", f.worst_severity ? words(f.worst_severity) : "none"],
      ["customer-facing down", f.customer_facing_down.join(", ")],
      ["SLA breached", f.sla_breach.join(", ")],
      ["customers", f.customers.join(", ")],
      ["service-hour minutes", f.minutes_in_hours === null ? null : minutes(f.minutes_in_hours)],
      ["sites", f.sites.join(", ")],
      ["past changes on these CIs", `${f.history.changes.length} (${f.history.failed} failed of ${f.history.reviewed} reviewed)`],
    ]);
    const body = $("#risk-rules tbody");
    body.replaceChildren(...r.checks.map((k) => el("tr", { class: k.fired ? "fired" : "", "data-rule": k.rule }, el("td", { text: k.rule }), el("td", {}, k.fired ? badge("fired", "high") : "no"), el("td", { text: k.reasons.join("; ") }))));
  }

  async function services(c) {
    const ul = $("#services");
    if (!c.planned_start || !c.ci_ids.length) {
      ul.replaceChildren(el("li", { class: "empty", text: "no window planned" }));
      return;
    }
    const report = await api("/impact/change", { method: "POST", body: { cis: c.ci_ids, start: c.planned_start, end: c.planned_end, paths: 1 } });
    ul.replaceChildren(
      ...report.services.map((s) =>
        el(
          "li",
          { class: "service", "data-name": s.name, "data-severity": s.severity },
          badge(words(s.severity), s.severity),
          " ",
          ciLink(s.id, s.name),
          s.window ? el("div", { class: s.window.breach ? "why breach" : "why", text: `${s.sla}: ${windowText(s.window)}` }) : null,
          el("div", { class: "why", text: s.paths.length ? s.paths[0].text : s.reason }),
        ),
      ),
    );
    if (!report.services.length) ul.append(el("li", { class: "empty", text: "no service is impacted" }));
  }

  async function collisions(c) {
    const got = await api(`/changes/${enc(c.id)}/collisions`);
    const items = [
      ...got.collisions.map((x) => el("li", {}, `${x.kind ? words(x.kind) : "collision"}: `, x.detail || JSON.stringify(x))),
      ...got.violations.map((v) => el("li", {}, badge(words(v.kind), "at_risk"), ` ${v.service}: ${v.detail}`)),
    ];
    $("#collisions").replaceChildren(...items);
    if (!items.length) $("#collisions").append(el("li", { class: "empty", text: "none" }));
  }

  async function load() {
    const c = await api(`/changes/${enc(id)}`);
    await request(c);
    const results = await Promise.allSettled([assessment(c), services(c), collisions(c), window.cmdbProposal.show(c)]);
    for (const r of results) if (r.status === "rejected") showError(r.reason);
    window.cmdbUi.ready();
  }

  // The change itself unreadable (none, out of the token's scope, no token): every
  // section that depends on it says so, not only the title.
  function unreadable(e) {
    $("#rfc-id").textContent = `no change '${id}'`;
    window.cmdbProposal.unreadable(e, id);
    showError(e);
    window.cmdbUi.ready();
  }

  window.cmdbUi.header("a change", () => load().catch(unreadable));
  window.cmdbUi.checkAccess().then(() => load().catch(unreadable));
})();
