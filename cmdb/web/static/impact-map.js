// The impact map: find a CI, draw its neighbourhood, pick CIs to fail, ask the impact
// engine (/api/v1/impact/change or /incident), colour the impacted services by severity and
// highlight the paths that explain them. Plain JS over the REST API; Cytoscape is served
// locally from /static/vendor (nothing loads from outside this server).
"use strict";

(() => {
  const TOKEN_KEY = "cmdb.token";
  const SEVERITIES = ["down", "degraded", "at_risk"];
  const $ = (sel) => document.querySelector(sel);

  const state = {
    failing: new Map(), // id -> name, in the order picked
    report: null,
    selected: null, // id of the service whose paths are highlighted
  };

  // --- talking to the API ---------------------------------------------------------------

  // The REST client the service desk pages share (ui-common.js, loaded before this).
  const { api, token } = window.cmdbUi;

  function showError(e) {
    const box = $("#error");
    box.textContent = e.status === 401 ? `${e.message}: paste an API token above` : e.message;
    box.hidden = false;
    clearTimeout(showError.timer);
    showError.timer = setTimeout(() => (box.hidden = true), 8000);
  }

  async function checkAccess() {
    const note = $("#mode-note");
    try {
      await api("/cis?limit=1");
      if (token()) {
        note.textContent = "using the token of this tab";
        note.className = "note";
      } else {
        note.textContent = "LOCAL DEVELOPMENT: no token needed (authentication is off)";
        note.className = "note warn";
      }
    } catch (e) {
      note.textContent = e.status === 401 ? "a token is needed" : `the API answered: ${e.message}`;
      note.className = "note warn";
    }
  }

  // --- the graph ------------------------------------------------------------------------

  const cy = cytoscape({
    container: $("#cy"),
    wheelSensitivity: 0.3,
    style: [
      {
        selector: "node",
        style: {
          label: "data(label)",
          "font-size": 10,
          "text-valign": "bottom",
          "text-margin-y": 3,
          "text-wrap": "ellipsis",
          "text-max-width": 120,
          "background-color": "#90a4ae",
          width: 22,
          height: 22,
          "border-width": 1,
          "border-color": "#607d8b",
        },
      },
      { selector: "node.service", style: { shape: "round-rectangle", width: 34, height: 24, "background-color": "#546e7a", "font-weight": "bold" } },
      { selector: "node.infra", style: { shape: "rectangle" } },
      { selector: "node.people", style: { shape: "diamond", "background-color": "#cfd8dc" } },
      { selector: "node.focus", style: { "border-width": 3, "border-color": "#263238" } },
      { selector: "node.sev-at_risk", style: { "background-color": "#f9a825" } },
      { selector: "node.sev-degraded", style: { "background-color": "#ef6c00" } },
      { selector: "node.sev-down", style: { "background-color": "#c62828" } },
      { selector: "node.failing", style: { "background-color": "#6a1b9a", "border-color": "#4a148c", "border-width": 3 } },
      {
        selector: "edge",
        style: {
          width: 1.2,
          "line-color": "#b0bec5",
          "target-arrow-color": "#b0bec5",
          "target-arrow-shape": "triangle",
          "curve-style": "bezier",
          "arrow-scale": 0.8,
          label: "data(label)",
          "font-size": 7,
          color: "#78909c",
          "text-rotation": "autorotate",
        },
      },
      { selector: "edge.inferred", style: { "line-style": "dashed" } },
      {
        selector: "edge.on-path",
        style: { "line-color": "#1565c0", "target-arrow-color": "#1565c0", width: 3.5, "z-index": 10 },
      },
      { selector: "node.on-path", style: { "border-color": "#1565c0", "border-width": 4 } },
      { selector: ".faded", style: { opacity: 0.35 } },
    ],
  });

  const SERVICE_CLASSES = new Set(["Service"]);
  const INFRA = new Set([
    "Server", "VirtualMachine", "Container", "Pod", "Cluster", "NetworkDevice", "LoadBalancer",
    "StorageVolume",
  ]);
  const PEOPLE = new Set(["Customer", "Team", "Supplier", "Person", "Location"]);

  // A CI from the REST API carries its class as "class" (the model's alias).
  function classOf(ci) {
    return ci.ci_class || ci.class || "";
  }

  function nodeClasses(ciClass) {
    if (SERVICE_CLASSES.has(ciClass)) return "service";
    if (INFRA.has(ciClass)) return "infra";
    if (PEOPLE.has(ciClass)) return "people";
    return "";
  }

  function addNode(id, name, ciClass) {
    const existing = cy.getElementById(id);
    if (existing.nonempty()) return existing;
    return cy.add({
      group: "nodes",
      data: { id, label: name, name, ciClass },
      classes: nodeClasses(ciClass),
    });
  }

  function edgeBetween(a, b, type) {
    return cy.edges().filter((e) => {
      const s = e.data("source");
      const t = e.data("target");
      return e.data("type") === type && ((s === a && t === b) || (s === b && t === a));
    });
  }

  function addEdge(id, source, target, type, classes = "") {
    if (cy.getElementById(id).nonempty()) return;
    cy.add({
      group: "edges",
      data: { id, source, target, type, label: type.toLowerCase().replaceAll("_", " ") },
      classes,
    });
  }

  function layout() {
    const focus = cy.nodes(".focus");
    cy.layout({
      name: "breadthfirst",
      directed: false,
      roots: focus.nonempty() ? focus : undefined,
      spacingFactor: 1.1,
      animate: false,
      padding: 20,
    }).run();
  }

  async function draw(id) {
    const depth = $("#depth").value;
    const sub = await api(
      `/subgraph?root=${encodeURIComponent(id)}&direction=both&depth=${depth}&max_nodes=400`,
    );
    cy.elements().remove();
    cy.batch(() => {
      for (const n of sub.nodes) addNode(n.id, n.name, classOf(n));
      for (const e of sub.edges) {
        if (cy.getElementById(e.source_id).nonempty() && cy.getElementById(e.target_id).nonempty()) {
          addEdge(e.id, e.source_id, e.target_id, e.type);
        }
      }
      cy.getElementById(id).addClass("focus");
      for (const [fid, name] of state.failing) addNode(fid, name, "").addClass("failing");
    });
    layout();
    if (state.report) paint(state.report);
    const cut = sub.truncated_by_nodes || sub.truncated_by_depth;
    $("#details").textContent =
      `${sub.nodes.length} CIs, ${sub.edges.length} relationships` + (cut ? " (cut by a cap)" : "");
  }

  // --- search and picking ---------------------------------------------------------------

  async function search(q) {
    const page = await api(`/cis?name_contains=${encodeURIComponent(q)}&limit=25`);
    const list = $("#search-results");
    list.replaceChildren();
    if (!page.items.length) {
      const li = document.createElement("li");
      li.textContent = "nothing found";
      list.append(li);
      return;
    }
    for (const ci of page.items) {
      const li = document.createElement("li");
      li.dataset.id = ci.id;
      li.dataset.name = ci.name;
      li.className = "result";
      const name = document.createElement("span");
      name.textContent = ci.name;
      const cls = document.createElement("span");
      cls.className = "cls";
      cls.textContent = classOf(ci);
      const fail = document.createElement("button");
      fail.type = "button";
      fail.className = "fail";
      fail.textContent = "fail it";
      fail.title = "add to the CIs to fail";
      fail.addEventListener("click", (ev) => {
        ev.stopPropagation();
        addNode(ci.id, ci.name, classOf(ci));
        toggleFailing(ci.id, ci.name, true);
        if (cy.nodes().length === 1) layout();
      });
      const page = document.createElement("a");
      page.className = "page";
      page.href = `/ui/ci/${encodeURIComponent(ci.id)}`;
      page.textContent = "page";
      page.title = "the CI's page";
      page.addEventListener("click", (ev) => ev.stopPropagation());
      li.append(name, cls, fail, page);
      li.addEventListener("click", () => draw(ci.id).catch(showError));
      list.append(li);
    }
  }

  function toggleFailing(id, name, on) {
    const want = on === undefined ? !state.failing.has(id) : on;
    if (want) state.failing.set(id, name);
    else state.failing.delete(id);
    cy.getElementById(id).toggleClass("failing", want);
    renderFailing();
  }

  function renderFailing() {
    const ul = $("#failing");
    ul.replaceChildren();
    for (const [id, name] of state.failing) {
      const li = document.createElement("li");
      li.dataset.id = id;
      li.textContent = name;
      li.title = "remove";
      li.addEventListener("click", () => toggleFailing(id, name, false));
      ul.append(li);
    }
    $("#run").disabled = state.failing.size === 0;
  }

  cy.on("tap", "node", (ev) => {
    const n = ev.target;
    toggleFailing(n.id(), n.data("name"));
  });
  cy.on("mouseover", "node", (ev) => {
    const n = ev.target;
    $("#details").textContent = `${n.data("name")} · ${n.data("ciClass") || ""}`;
  });

  // --- asking the engine ----------------------------------------------------------------

  function utc(localValue) {
    return localValue ? `${localValue.length === 16 ? localValue + ":00" : localValue}Z` : null;
  }

  function question() {
    return document.querySelector("input[name=question]:checked").value;
  }

  async function runImpact() {
    const cis = [...state.failing.keys()];
    const body = { cis, mode: $("#fail-mode").value, paths: 3 };
    let path = "/impact/incident";
    if (question() === "change") {
      body.start = utc($("#start").value);
      body.end = utc($("#end").value);
      path = "/impact/change";
    }
    $("#run-status").textContent = "asking…";
    const started = performance.now();
    try {
      const report = await api(path, { method: "POST", body });
      state.report = report;
      state.selected = report.services.length ? report.services[0].id : null;
      merge(report);
      paint(report);
      renderReport(report);
      $("#run-status").textContent = `answered in ${Math.round(performance.now() - started)} ms`;
      document.body.dataset.impact = "done";
    } catch (e) {
      $("#run-status").textContent = "";
      throw e;
    }
  }

  // The CIs and steps of the explaining paths join the drawing, so a service far from the
  // drawn neighbourhood still shows, with the chain that reaches it.
  function merge(report) {
    const cls = new Map();
    for (const f of [...report.failed, ...report.already_down]) cls.set(f.id, f.ci_class);
    for (const c of report.cis) cls.set(c.id, c.ci_class);
    const before = cy.nodes().length;
    cy.batch(() => {
      for (const item of report.cis) {
        for (const p of item.paths) {
          p.ci_ids.forEach((id, i) => addNode(id, p.names[i], cls.get(id) || ""));
          for (let i = 0; i + 1 < p.ci_ids.length; i++) {
            const [a, b, t] = [p.ci_ids[i], p.ci_ids[i + 1], p.types[i]];
            if (edgeBetween(a, b, t).empty()) addEdge(`path:${a}:${b}:${t}`, a, b, t, "inferred");
          }
        }
      }
    });
    if (cy.nodes().length !== before) layout();
  }

  function paint(report) {
    cy.batch(() => {
      cy.elements().removeClass(["on-path", "faded", ...SEVERITIES.map((s) => `sev-${s}`)]);
      for (const c of report.cis) cy.getElementById(c.id).addClass(`sev-${c.severity}`);
      for (const [id] of state.failing) cy.getElementById(id).addClass("failing");
      const svc = report.services.find((s) => s.id === state.selected);
      if (!svc) return;
      let on = cy.collection();
      for (const p of svc.paths) {
        p.ci_ids.forEach((id) => (on = on.union(cy.getElementById(id))));
        for (let i = 0; i + 1 < p.ci_ids.length; i++) {
          on = on.union(edgeBetween(p.ci_ids[i], p.ci_ids[i + 1], p.types[i]));
        }
      }
      on.addClass("on-path");
      const marked = cy
        .nodes()
        .filter((n) => n.hasClass("failing") || SEVERITIES.some((s) => n.hasClass(`sev-${s}`)));
      cy.elements().difference(on.union(marked)).addClass("faded");
    });
  }

  function minutes(m) {
    if (m === null || m === undefined) return "";
    return Math.abs(m) < 600 ? `${Math.round(m)} min` : `${(m / 60).toFixed(1)} h`;
  }

  function slaText(s) {
    if (s.window) {
      const w = s.window;
      let text = `${minutes(w.minutes_in_hours)} of service hours in the window`;
      if (w.scheduled_interruption) text += "; an allowed scheduled interruption";
      if (w.counts_against_budget && w.periods.length) {
        const left = Math.min(...w.periods.map((p) => p.remaining_after));
        text += `; budget left after it ${minutes(left)}`;
      }
      if (w.breach) text += "; BREACHES the SLA";
      return { text, breach: w.breach };
    }
    if (s.incident) {
      const i = s.incident;
      if (i.breached) return { text: "availability budget spent: BREACHED", breach: true };
      if (i.minutes_left === null) {
        return { text: `${minutes(i.service_minutes_left)} of budget left`, breach: false };
      }
      return { text: `SLA breach in ${minutes(i.minutes_left)}`, breach: false };
    }
    return { text: s.sla ? "" : "no SLA", breach: false };
  }

  function renderReport(report) {
    const ul = $("#impacted");
    ul.replaceChildren();
    $("#score").textContent = report.services.length ? `· score ${report.score}` : "";
    if (!report.services.length) {
      const li = document.createElement("li");
      li.textContent = "no service is impacted";
      ul.append(li);
    }
    for (const s of report.services) {
      const li = document.createElement("li");
      li.className = `service sev-${s.severity}`;
      li.dataset.id = s.id;
      li.dataset.name = s.name;
      li.dataset.severity = s.severity;
      li.classList.toggle("selected", s.id === state.selected);
      const row = document.createElement("div");
      row.className = "row";
      const name = document.createElement("strong");
      name.textContent = s.name;
      const badge = document.createElement("span");
      badge.className = `sev sev-${s.severity}`;
      badge.textContent = `${s.severity.replace("_", " ")} · ${s.score.value}`;
      row.append(name, badge);
      const sla = document.createElement("div");
      const exp = slaText(s);
      sla.className = exp.breach ? "sla breach" : "sla";
      sla.textContent = (s.sla ? `${s.sla}: ` : "") + exp.text;
      const why = document.createElement("div");
      why.className = "why";
      why.textContent = s.paths.length ? s.paths[0].text : s.reason;
      li.append(row, sla, why);
      li.addEventListener("click", () => {
        state.selected = s.id;
        for (const other of ul.children) other.classList.toggle("selected", other === li);
        paint(report);
      });
      ul.append(li);
    }
    const notes = [`${report.cis.length} CIs impacted`];
    if (report.already_down.length) {
      notes.push(`already down: ${report.already_down.map((f) => f.name).join(", ")}`);
    }
    if (report.caps.truncated_by_depth || report.caps.truncated_by_nodes) {
      notes.push("the walk was cut by a cap: the answer may be incomplete");
    }
    $("#impact-notes").textContent = notes.join("; ");
  }

  // --- wiring ---------------------------------------------------------------------------

  function defaultWindow() {
    const d = new Date(Date.now() + 24 * 3600 * 1000);
    const day = d.toISOString().slice(0, 10);
    $("#start").value = `${day}T10:00`;
    $("#end").value = `${day}T10:45`;
  }

  $("#search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    search($("#search").value.trim()).catch(showError);
  });
  $("#token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = $("#token").value.trim();
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    $("#token").value = "";
    checkAccess();
  });
  $("#token-clear").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    checkAccess();
  });
  $("#run").addEventListener("click", () => runImpact().catch(showError));
  for (const radio of document.querySelectorAll("input[name=question]")) {
    radio.addEventListener("change", () => ($("#window").hidden = question() !== "change"));
  }
  // A question handed over in the URL, from the landing, CI and change pages:
  // ?focus=<ci>&fail=<ci>&fail=<ci>&question=incident|change&start=..&end=..&run=1
  async function fromUrl() {
    const q = new URLSearchParams(location.search);
    const fails = q.getAll("fail");
    for (const ref of fails) {
      const ci = await api(`/cis/${encodeURIComponent(ref)}`);
      state.failing.set(ci.id, ci.name);
    }
    renderFailing();
    const question = q.get("question");
    if (question === "incident" || question === "change") {
      document.querySelector(`input[name=question][value=${question}]`).checked = true;
      $("#window").hidden = question !== "change";
    }
    for (const key of ["start", "end"]) {
      const at = q.get(key);
      if (at) $(`#${key}`).value = at.replace(/Z$/, "").slice(0, 16);
    }
    const focus = q.get("focus") || fails[0];
    if (focus) {
      const ci = await api(`/cis/${encodeURIComponent(focus)}`);
      await draw(ci.id);
    }
    if (q.get("run") && state.failing.size) await runImpact();
  }

  defaultWindow();
  checkAccess();
  window.impactMap = { cy, state };
  fromUrl()
    .catch(showError)
    .finally(() => (document.body.dataset.ready = "yes"));
})();
