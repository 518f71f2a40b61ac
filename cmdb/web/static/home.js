// The landing page: each service's state now (open incidents) and this month's SLA budget
// (GET /status/services), the changes of the next 7 days (/changes/schedule) and the
// CMDB's health (/reports/health).
"use strict";

(() => {
  const { api, el, ciLink, changeLink, mapUrl, minutes, when, words, badge, showError, $ } = window.cmdbUi;

  function budgetCells(s) {
    const b = s.budget;
    if (!b) return [el("td", { class: "num empty", text: "no SLA" }), el("td")];
    const share = b.allowed_minutes > 0 ? b.remaining_minutes / b.allowed_minutes : 0;
    const pct = Math.max(0, Math.min(1, share));
    const bar = el("div", { class: `bar ${b.breached ? "spent" : share < 0.25 ? "low" : ""}`, title: `${minutes(b.spent_minutes)} of ${minutes(b.allowed_minutes)} spent` }, el("span", { style: `width:${Math.round(pct * 100)}%` }));
    const text = b.breached
      ? `BREACHED by ${minutes(-b.remaining_minutes)}`
      : `${minutes(b.remaining_minutes)} of ${minutes(b.allowed_minutes)}`;
    return [el("td", { class: `num budget${b.breached ? " breach" : ""}`, text }), el("td", {}, bar)];
  }

  async function services() {
    const got = await api("/status/services");
    $("#services-at").textContent = `at ${when(got.at)}`;
    const body = $("#services tbody");
    body.replaceChildren();
    for (const s of got.items) {
      const incidents = s.open_incidents.length
        ? s.open_incidents.map((i) => el("div", {}, `${i.id} ${i.priority}${i.major ? " major" : ""}: ${i.title}`))
        : [el("span", { class: "empty", text: "none" })];
      body.append(
        el(
          "tr",
          { class: `service state-${s.state}`, "data-name": s.name, "data-state": s.state },
          el("td", {}, badge(s.state, s.state)),
          el("td", {}, ciLink(s.id, s.name), s.criticality ? el("span", { class: "cls", text: s.criticality }) : null),
          el("td", { text: words(s.kind) }),
          el("td", {}, incidents),
          el("td", { text: s.sla ? `${s.sla} (${s.budget.target_percent} %)` : "" }),
          ...budgetCells(s),
          el("td", {}, el("a", { href: mapUrl({ focus: s.id, fail: [s.id], question: "incident", run: true }), text: "on the map" })),
        ),
      );
    }
    if (!got.items.length) body.append(el("tr", {}, el("td", { colspan: "8", class: "empty", text: "no service in view" })));
  }

  async function changes() {
    const got = await api("/changes/schedule?days=7");
    const body = $("#changes tbody");
    body.replaceChildren();
    for (const c of got.items) {
      const hit = c.services.map((s) => el("div", {}, ciLink(s.id, s.name), " ", badge(words(s.severity), s.severity)));
      body.append(
        el(
          "tr",
          { class: "change", "data-id": c.id },
          el("td", {}, changeLink(c.id), el("div", { class: "why", text: c.title })),
          el("td", { text: `${when(c.start)} to ${c.end ? c.end.slice(11, 16) : "?"}` }),
          el("td", { text: words(c.state) }),
          el("td", {}, c.risk ? badge(words(c.risk), c.risk) : el("span", { class: "empty", text: "not assessed" }), c.approval ? el("div", { class: "why", text: `approval: ${words(c.approval)}` }) : null),
          el("td", {}, hit.length ? hit : el("span", { class: "empty", text: "none" })),
        ),
      );
    }
    if (!got.items.length) body.append(el("tr", {}, el("td", { colspan: "5", class: "empty", text: "no change scheduled in the next 7 days" })));
  }

  async function health() {
    const h = await api("/reports/health?limit=5");
    const kpi = (label, value, id) => el("div", { class: "kpi", id }, el("strong", { text: String(value) }), label);
    $("#health").replaceChildren(
      kpi("complete", `${h.completeness_percent} %`, "kpi-complete"),
      kpi("CIs", h.total),
      kpi("incomplete", h.incomplete_total),
      kpi("stale", h.stale_total),
      kpi("orphans", h.orphans_total),
      kpi("duplicate groups", h.duplicate_groups),
      ...(h.agreement_gaps ? [kpi("agreement gaps", h.agreement_gaps.length)] : []),
    );
    const body = $("#health-classes tbody");
    body.replaceChildren();
    const worst = h.by_class.filter((c) => c.total > 0 && c.percent < 100).sort((a, b) => a.percent - b.percent).slice(0, 5);
    for (const c of worst) {
      const top = c.missing.length ? `${c.missing[0].field} (${c.missing[0].missing})` : "";
      body.append(el("tr", {}, el("td", { text: c.ci_class }), el("td", { class: "num", text: `${c.complete}/${c.total}` }), el("td", { text: top })));
    }
  }

  async function load() {
    const results = await Promise.allSettled([services(), changes(), health()]);
    for (const r of results) if (r.status === "rejected") showError(r.reason);
    window.cmdbUi.ready();
  }

  window.cmdbUi.header("services now", load);
  window.cmdbUi.checkAccess().then(load);
})();
