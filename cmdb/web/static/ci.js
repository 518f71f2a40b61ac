// One CI for the service desk: its attributes with the source that set each, its
// relationships both ways, its history with an as-of slider (the CI and its relationships
// as they were then), its open incidents, changes and known errors, and "what if this
// fails" (POST /impact/incident, with a link to the same question on the impact map).
"use strict";

(() => {
  const { api, el, ciLink, changeLink, mapUrl, minutes, when, words, badge, showError, $ } = window.cmdbUi;
  const ref = decodeURIComponent(location.pathname.replace(/^\/ui\/ci\//, ""));
  const CORE = ["name", "description", "status", "owner", "location", "version", "environment", "criticality"];

  const state = { ci: null, history: [], instants: [] };

  const enc = encodeURIComponent;

  function value(v) {
    if (v === null || v === undefined || v === "") return el("span", { class: "empty", text: "—" });
    return typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  function renderCi(ci, asOf) {
    $("#ci-name").textContent = ci.name;
    document.title = `${ci.name} · graph-cmdb`;
    $("#ci-class").textContent = ci.class;
    $("#ci-status").replaceChildren(badge(words(ci.status), ci.status));
    $("#ci-description").textContent = ci.description || "";
    $("#map-link").href = mapUrl({ focus: ci.id });
    const prov = ci.provenance || {};
    const body = $("#attributes tbody");
    body.replaceChildren();
    const rows = [
      ...CORE.map((f) => [f, ci[f], prov[f]]),
      ...Object.entries(ci.attributes || {}).map(([k, v]) => [k, v, prov[`attributes.${k}`]]),
    ];
    for (const [field, v, p] of rows) {
      body.append(
        el(
          "tr",
          { "data-field": field, "data-source": p ? p.source : "" },
          el("td", { text: field }),
          el("td", {}, value(v)),
          el("td", {}, p ? badge(p.source, "source") : el("span", { class: "empty", text: "—" })),
          el("td", { class: "note", text: p ? when(p.observed_at) : "" }),
        ),
      );
    }
    $("#identifiers").replaceChildren(...(ci.identifiers || []).map((i) => el("li", {}, el("span", { class: "cls", text: i.kind }), ` ${i.value}`)));
    const src = $("#sources tbody");
    src.replaceChildren();
    for (const [name, s] of Object.entries(ci.sources || {})) {
      src.append(el("tr", {}, el("td", {}, badge(name, "source")), el("td", { text: s.scope || "" }), el("td", { text: when(s.first_seen) }), el("td", { text: when(s.last_seen) }), el("td", { text: s.stale ? "STALE" : "no" })));
    }
    if (!Object.keys(ci.sources || {}).length) src.append(el("tr", {}, el("td", { colspan: "5", class: "empty", text: "entered by hand" })));
    const banner = $("#asof-banner");
    banner.hidden = !asOf;
    banner.textContent = asOf ? `As it was at ${when(asOf, true)}: attributes and relationships then.` : "";
  }

  function renderRelationships(near) {
    const out = $("#rel-out tbody");
    const inn = $("#rel-in tbody");
    out.replaceChildren();
    inn.replaceChildren();
    for (const n of near) {
      const r = n.relationship;
      const phrase = words(r.type);
      if (r.source_id === state.ci.id) {
        out.append(el("tr", { "data-type": r.type, "data-name": n.ci.name }, el("td", { text: phrase }), el("td", {}, ciLink(n.ci.id, n.ci.name)), el("td", { class: "cls", text: n.ci.class })));
      } else {
        inn.append(el("tr", { "data-type": r.type, "data-name": n.ci.name }, el("td", {}, ciLink(n.ci.id, n.ci.name)), el("td", { class: "cls", text: n.ci.class }), el("td", { text: phrase })));
      }
    }
    for (const body of [out, inn]) {
      if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: "3", class: "empty", text: "none" })));
    }
  }

  function renderHistory(upTo) {
    const body = $("#history tbody");
    body.replaceChildren();
    for (const h of state.history) {
      const later = upTo && h.at > upTo;
      const shown = h.op === "create" ? "created" : value(h.after);
      body.append(
        el(
          "tr",
          { class: later ? "future" : "", "data-seq": String(h.seq) },
          el("td", { class: "at", text: when(h.at, true) }),
          el("td", { text: h.op }),
          el("td", { text: h.field === "*" ? "" : h.field }),
          el("td", {}, shown),
          el("td", {}, h.source ? badge(h.source, "source") : ""),
          el("td", { class: "note", text: h.actor }),
        ),
      );
    }
    $("#history-count").textContent = `${state.history.length} entries`;
  }

  async function showAsOf(index) {
    const last = state.instants.length - 1;
    const asOf = index >= last ? null : state.instants[index];
    $("#asof-label").textContent = asOf ? when(asOf, true) : "now";
    document.body.dataset.asof = asOf || "";
    const q = asOf ? `?as_of=${enc(asOf)}` : "";
    const [ci, near] = await Promise.all([
      api(`/cis/${enc(state.ci.id)}${q}`),
      api(`/cis/${enc(state.ci.id)}/neighbours?direction=both${asOf ? `&as_of=${enc(asOf)}` : ""}`),
    ]);
    renderCi(ci, asOf);
    renderRelationships(near);
    renderHistory(asOf);
    document.body.dataset.shown = asOf || "now";
  }

  async function history() {
    const got = await api(`/cis/${enc(state.ci.id)}/history`);
    state.history = got.history;
    // One stop per distinct instant something changed, then "now".
    const instants = [...new Set(got.history.map((h) => h.at))].sort();
    state.instants = [...instants, null];
    const slider = $("#asof");
    slider.max = String(state.instants.length - 1);
    slider.value = slider.max;
    renderHistory(null);
  }

  function list(sel, items, render, none) {
    const ul = $(sel);
    ul.replaceChildren(...items.map(render));
    if (!items.length) ul.append(el("li", { class: "empty", text: none }));
  }

  async function records() {
    const id = enc(state.ci.id);
    const [incidents, changes, problems] = await Promise.all([
      api(`/incidents?ci=${id}&state=open`),
      api(`/changes?ci=${id}`),
      api(`/problems?ci=${id}&known_error=true`),
    ]);
    list("#incidents", incidents.items, (i) => el("li", { "data-id": i.id }, badge(i.priority, i.major ? "down" : ""), ` ${i.id}: ${i.title} `, el("span", { class: "why", text: `since ${when(i.opened_at)}` })), "none open");
    list(
      "#changes",
      changes.items,
      (c) => el("li", { "data-id": c.id }, changeLink(c.id), ` ${c.title} `, el("span", { class: "why", text: `${words(c.state)}${c.planned_start ? `, ${when(c.planned_start)}` : ""}` }), c.risk ? badge(words(c.risk.risk_class), c.risk.risk_class) : null),
      "none",
    );
    list("#known-errors", problems.items, (p) => el("li", { "data-id": p.id }, `${p.id}: ${p.title}`, p.workaround ? el("div", { class: "why", text: `workaround: ${p.workaround}` }) : null, p.root_cause ? el("div", { class: "why", text: `root cause: ${p.root_cause}` }) : null), "none");
  }

  async function service() {
    const ci = state.ci;
    if (!ci.service) return;
    $("#service-section").hidden = false;
    const s = ci.service;
    const facts = [
      ["kind", words(s.kind)],
      ["portfolio", words(s.portfolio)],
      ["customers", (s.customers || []).join(", ") || "—"],
      ["SLA", s.sla ? `${s.sla.name}: ${s.sla.availability_target} % in service hours` : "none"],
    ];
    if (s.sla && s.sla.resolution_minutes) {
      facts.push(["P1 response / fix", `${minutes(s.sla.response_minutes.P1)} / ${minutes(s.sla.resolution_minutes.P1)}`]);
    }
    $("#service-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
    const body = $("#agreements tbody");
    body.replaceChildren();
    let got;
    try {
      got = await api(`/services/${enc(ci.id)}/agreements`);
    } catch (e) {
      if (e.status !== 404) throw e;
      got = null;
    }
    const rows = got ? got.agreements : [];
    for (const a of rows) {
      const gaps = a.gaps.length ? a.gaps.map((g) => el("div", {}, g.text)) : [el("span", { class: "empty", text: "none" })];
      body.append(
        el(
          "tr",
          { class: a.holds ? "" : "gap", "data-name": a.agreement.name },
          el("td", {}, a.agreement.name, el("div", { class: "why", text: `${words(a.agreement.kind)}${a.agreement.party ? `, ${a.agreement.party}` : ""}` })),
          el("td", {}, ciLink(a.ci.id, a.ci.name), el("div", { class: "why", text: a.path.text })),
          el("td", {}, a.holds ? badge("holds", "ok") : badge("weaker", "breach"), a.shielded_by ? el("div", { class: "why", text: "behind redundancy" }) : null),
          el("td", {}, gaps),
        ),
      );
    }
    if (!rows.length) body.append(el("tr", {}, el("td", { colspan: "4", class: "empty", text: "no agreement below this service" })));
  }

  function slaText(s) {
    if (!s.incident) return s.sla ? "" : "no SLA";
    const i = s.incident;
    if (i.breached) return "availability budget spent: BREACHED";
    if (i.minutes_left === null) return `${minutes(i.service_minutes_left)} of budget left this month`;
    return `SLA breach in ${minutes(i.minutes_left)}`;
  }

  async function failIt() {
    $("#whatif-status").textContent = "asking the impact engine…";
    const report = await api("/impact/incident", { method: "POST", body: { cis: [state.ci.id], paths: 1 } });
    const ul = $("#whatif-services");
    ul.replaceChildren();
    for (const s of report.services) {
      ul.append(
        el(
          "li",
          { class: "service", "data-name": s.name, "data-severity": s.severity },
          badge(words(s.severity), s.severity),
          " ",
          ciLink(s.id, s.name),
          s.sla ? el("div", { class: "why", text: `${s.sla}: ${slaText(s)}` }) : null,
          el("div", { class: "why", text: s.paths.length ? s.paths[0].text : s.reason }),
        ),
      );
    }
    if (!report.services.length) ul.append(el("li", { class: "empty", text: "no service is impacted" }));
    const notes = [`${report.cis.length} CIs impacted, score ${report.score}`];
    if (report.already_down.length) notes.push(`already down: ${report.already_down.map((f) => f.name).join(", ")}`);
    $("#whatif-notes").textContent = notes.join("; ");
    const link = $("#whatif-map");
    link.href = mapUrl({ focus: state.ci.id, fail: [state.ci.id], question: "incident", run: true });
    link.hidden = false;
    $("#whatif-status").textContent = "";
    document.body.dataset.whatif = "done";
  }

  async function load() {
    try {
      state.ci = await api(`/cis/${enc(ref)}`);
    } catch (e) {
      $("#ci-name").textContent = e.status === 404 ? `no CI '${ref}'` : ref;
      throw e;
    }
    renderCi(state.ci, null);
    const results = await Promise.allSettled([
      api(`/cis/${enc(state.ci.id)}/neighbours?direction=both`).then(renderRelationships),
      history(),
      records(),
      service(),
    ]);
    for (const r of results) if (r.status === "rejected") showError(r.reason);
    window.cmdbUi.ready();
  }

  $("#fail-it").addEventListener("click", () => failIt().catch(showError));
  let pending;
  $("#asof").addEventListener("input", (ev) => {
    clearTimeout(pending);
    pending = setTimeout(() => showAsOf(Number(ev.target.value)).catch(showError), 120);
  });
  $("#asof-now").addEventListener("click", () => {
    $("#asof").value = $("#asof").max;
    showAsOf(Number($("#asof").max)).catch(showError);
  });
  window.cmdbUi.header("a CI", () => load().catch(showError));
  window.cmdbUi.checkAccess().then(() => load().catch((e) => { showError(e); window.cmdbUi.ready(); }));
})();
