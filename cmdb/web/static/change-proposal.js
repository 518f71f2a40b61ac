// The RFC's what-if proposal on the change page (issue 17): its versions, its edits in
// words, a graph diff (the edited CIs and relationships with their live neighbours, each
// marked added, retired or changed by colour AND by line style and label), and the impact
// diff per service. Read only, through the REST API with the tab's token (ui-common.js):
// GET /changes/{id}/proposal[/versions|/diff|/conflicts], /subgraph and /cis/{id}.
"use strict";

window.cmdbProposal = (() => {
  const { api, el, ciLink, changeLink, when, words, badge, $ } = window.cmdbUi;
  const enc = encodeURIComponent;
  // The fields of a proposal this page renders; any other (a later item's, e.g. merge
  // details) is still shown, as a fact, rather than silently dropped.
  const KNOWN = new Set(["id", "version", "state", "edits", "note", "author", "at"]);

  // How each kind of element is drawn, and said: colour is never the only difference.
  const KINDS = {
    added: { text: "added by the proposal", mark: "+", line: "solid, thick, double border" },
    retired: { text: "retired by the proposal", mark: "−", line: "dashed" },
    changed: { text: "changed by the proposal (fields or redundancy)", mark: "~", line: "dotted border" },
    live: { text: "live neighbour, left as it is", mark: "", line: "thin, plain" },
  };

  let cy = null;

  function setState(state, message) {
    $("#proposal").dataset.state = state;
    document.body.dataset.proposal = state;
    const status = $("#proposal-status");
    status.textContent = message || "";
    status.hidden = !message;
    status.className = ["error", "refused", "invalid"].includes(state) ? "problem" : "empty";
  }

  // Why a read was refused, in the page's words (the API's message names the place).
  function refusal(e, what) {
    if (e.status === 401) return `The API needs a token to read ${what}: paste one above. (${e.message})`;
    if (e.status === 403) return `The API refused to read ${what}: this token's role or service scope does not allow it. (${e.message})`;
    if (e.status === 404) return `The API answered "${e.message}" for ${what}: there is none, or this token's scope does not reach it (a token scoped to services reads only the changes on CIs in its view).`;
    return `The API could not answer for ${what}: ${e.message}`;
  }

  // --- the proposal and its versions ---------------------------------------------------

  function versionPicker(versions, shown, onPick) {
    const sel = $("#proposal-version");
    const latest = versions.length ? versions[versions.length - 1].version : shown.version;
    sel.replaceChildren(
      ...versions.map((v) =>
        el("option", { value: String(v.version), selected: v.version === shown.version ? "selected" : null, text: `${v.version}${v.version === latest ? " (latest)" : ""} · ${when(v.at)}` }),
      ),
    );
    sel.onchange = () => onPick(Number(sel.value));
    $("#proposal-which").textContent = `showing version ${shown.version} of ${latest}${shown.version === latest ? " (the latest)" : " (an earlier one)"}`;
    $("#proposal-which").dataset.version = String(shown.version);
  }

  // The merge: a merged proposal says so; for the latest open version, what would stop a
  // merge now (GET .../conflicts: each edit the live graph moved under since it was
  // staged, the value then and now, and who changed it).
  function conflictLine(c, name) {
    const who = c.changed_by ? ` (by ${c.changed_by}${c.source ? ` via ${c.source}` : ""}${c.reason ? `, ${c.reason}` : ""}${c.changed_at ? `, ${when(c.changed_at)}` : ""})` : "";
    const show = (v) => (v === null || v === undefined ? "nothing" : typeof v === "string" ? v : JSON.stringify(v));
    return el(
      "li",
      { class: "conflict", "data-edit": String(c.edit), "data-field": c.field },
      el("strong", { text: `edit ${c.edit}` }),
      " ",
      c.ci_id ? name(c.ci_id, c.ci_name) : "",
      ` ${c.field}: ${c.why}; proposed on ${show(c.proposed_on)}, now ${show(c.now)}${who}`,
    );
  }

  function mergeState(p, conflicts, name) {
    const box = $("#proposal-merge");
    const parts = [];
    if (p.state === "merged") {
      parts.push(el("p", { id: "proposal-merged", class: "merged" }, badge("merged", "live"), " into the live graph (see \"this version\" above for what it wrote): the live graph holds these edits now, and the diff below compares it with them applied again."));
    }
    if (conflicts) {
      parts.push(el("h3", { text: "Conflicts with the live graph (what would stop a merge now)" }));
      parts.push(
        conflicts.length
          ? el("ul", { id: "proposal-conflicts", class: "plain" }, ...conflicts.map((c) => conflictLine(c, name)))
          : el("p", { id: "proposal-conflicts", class: "empty", text: "none: the live graph has not moved under any edit since it was staged" }),
      );
      if (conflicts.length) parts.push(el("p", { class: "why", text: `To resolve: \`cmdb proposal rebase ${p.id}\` accepts the live changes; \`cmdb proposal remove-edit ${p.id} N\` drops an edit.` }));
    }
    const extra = Object.entries(p).filter(([k, v]) => !KNOWN.has(k) && v !== null && v !== undefined && !(Array.isArray(v) && !v.length));
    if (extra.length) {
      parts.push(el("dl", { class: "facts", id: "proposal-extra" }, ...extra.flatMap(([k, v]) => [el("dt", { text: words(k) }), el("dd", { text: typeof v === "string" ? (/^\d{4}-\d\d-\d\dT/.test(v) ? when(v) : v) : JSON.stringify(v) })])));
    }
    box.replaceChildren(...parts);
  }

  // --- the edits, by name ------------------------------------------------------------------

  function newCis(p) {
    const out = new Map();
    for (const e of p.edits) if (e.op === "add_ci") out.set(e.ci.id, e.ci);
    return out;
  }

  function liveIds(p, added) {
    const ids = new Set();
    for (const e of p.edits) for (const i of [e.ci_id, e.source_id, e.target_id]) if (i && !added.has(i)) ids.add(i);
    return [...ids];
  }

  // The live neighbourhood of the CIs the edits name: one walk, one step both ways.
  async function neighbourhood(ids) {
    if (!ids.length) return { nodes: [], edges: [], cut: false };
    const q = ids.map((i) => `root=${enc(i)}`).join("&");
    try {
      const sub = await api(`/subgraph?${q}&direction=both&depth=1&max_nodes=300`);
      return { nodes: sub.nodes, edges: sub.edges.filter((e) => e.active !== false), cut: sub.truncated_by_nodes };
    } catch (e) {
      // One unreadable root (retired since, or gone) must not hide the rest: ask each CI.
      const cis = await Promise.all(ids.map((i) => api(`/cis/${enc(i)}`).catch(() => null)));
      return { nodes: cis.filter(Boolean), edges: [], cut: false, partial: e.message };
    }
  }

  function relKey(type, s, t) {
    return `${type}|${s}|${t}`;
  }

  // An edit in words, as a list of parts (``name`` may give a link for a CI).
  function describe(e, name) {
    switch (e.op) {
      case "add_ci":
        return [`add ${e.ci.class} ${e.ci.name}`];
      case "update_ci":
        return ["update ", name(e.ci_id), `: ${Object.entries(e.fields || {}).map(([k, v]) => `${k} = ${typeof v === "string" ? v : JSON.stringify(v)}`).join(", ")}`];
      case "retire_ci":
        return ["retire ", name(e.ci_id)];
      case "set_redundancy": {
        const r = e.redundancy;
        const need = !r ? "every member" : r.min_up !== null && r.min_up !== undefined ? `${r.min_up} up` : `${r.min_up_percent}% up`;
        return ["redundancy of ", name(e.ci_id), `: needs ${need}`];
      }
      default:
        return [`${e.op === "add_rel" ? "add" : "retire"} `, name(e.source_id), ` -[${e.type}]-> `, name(e.target_id)];
    }
  }

  function editKind(op) {
    return { add_ci: "added", add_rel: "added", retire_ci: "retired", retire_rel: "retired" }[op] || "changed";
  }

  // --- the graph diff ------------------------------------------------------------------------

  function graphStyle() {
    const label = (mark) => (n) => `${mark} ${n.data("name")}`.trim();
    return [
      { selector: "node", style: { label: (n) => label("")(n), "font-size": 10, "text-valign": "bottom", "text-margin-y": 3, "text-wrap": "wrap", "text-max-width": 130, width: 20, height: 20, "background-color": "#b0bec5", "border-width": 1, "border-color": "#78909c" } },
      { selector: "node.service", style: { shape: "round-rectangle", width: 30 } },
      { selector: "node.added", style: { label: (n) => `+ ${n.data("name")}\n(added)`, "background-color": "#2e7d32", "border-width": 5, "border-style": "double", "border-color": "#1b5e20", width: 26, height: 26 } },
      { selector: "node.retired", style: { label: (n) => `− ${n.data("name")}\n(retired)`, "background-color": "#ffcdd2", "border-width": 3, "border-style": "dashed", "border-color": "#c62828", width: 26, height: 26 } },
      { selector: "node.changed", style: { label: (n) => `~ ${n.data("name")}\n(changed)`, "background-color": "#ffb300", "border-width": 3, "border-style": "dotted", "border-color": "#6d4c41", width: 26, height: 26 } },
      { selector: "edge", style: { width: 1, "line-color": "#cfd8dc", "target-arrow-color": "#cfd8dc", "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.7, label: "data(label)", "font-size": 7, color: "#78909c", "text-rotation": "autorotate" } },
      { selector: "edge.added", style: { width: 3.5, "line-style": "solid", "line-color": "#2e7d32", "target-arrow-color": "#2e7d32", color: "#1b5e20", "font-weight": "bold", "z-index": 10 } },
      { selector: "edge.retired", style: { width: 3, "line-style": "dashed", "line-dash-pattern": [8, 5], "line-color": "#c62828", "target-arrow-color": "#c62828", "target-arrow-shape": "tee", color: "#c62828", "z-index": 10 } },
      { selector: "node.selected", style: { "overlay-color": "#1565c0", "overlay-opacity": 0.15 } },
    ];
  }

  function legend() {
    const swatch = (k) => el("span", { class: `swatch ${k}`, "aria-hidden": "true" });
    $("#proposal-legend").replaceChildren(
      ...["added", "retired", "changed", "live"].map((k) =>
        el("li", { "data-kind": k }, swatch(k), el("strong", { text: `${KINDS[k].mark || "·"} ${k}` }), el("span", { class: "why", text: ` ${KINDS[k].text}; ${KINDS[k].line}` })),
      ),
      el("li", { class: "why", text: "Click a CI to open its page (a CI the proposal adds has none until it is merged)." }),
    );
  }

  function drawGraph(p, hood, added) {
    const nodes = new Map(); // id -> {name, ciClass, kind}
    const edges = new Map(); // key -> {source, target, type, kind}
    for (const ci of hood.nodes) nodes.set(ci.id, { name: ci.name, ciClass: ci.class || ci.ci_class || "", kind: "live" });
    for (const r of hood.edges) edges.set(relKey(r.type, r.source_id, r.target_id), { source: r.source_id, target: r.target_id, type: r.type, kind: "live" });
    for (const [id, ci] of added) nodes.set(id, { name: ci.name, ciClass: ci.class, kind: "added" });
    for (const e of p.edits) {
      const k = editKind(e.op);
      if (e.op === "retire_ci" || e.op === "update_ci" || e.op === "set_redundancy") {
        const n = nodes.get(e.ci_id) || { name: e.ci_id, ciClass: "", kind: "live" };
        // A CI added and then changed by the same proposal stays "added".
        if (n.kind !== "added") n.kind = e.op === "retire_ci" ? "retired" : n.kind === "retired" ? "retired" : "changed";
        nodes.set(e.ci_id, n);
      } else if (e.op === "add_rel" || e.op === "retire_rel") {
        for (const end of [e.source_id, e.target_id]) if (!nodes.has(end)) nodes.set(end, { name: end, ciClass: "", kind: "live" });
        edges.set(relKey(e.type, e.source_id, e.target_id), { source: e.source_id, target: e.target_id, type: e.type, kind: k });
      }
    }
    // A retired CI takes its live relationships with it.
    for (const r of edges.values()) if (r.kind === "live" && (nodes.get(r.source)?.kind === "retired" || nodes.get(r.target)?.kind === "retired")) r.kind = "retired";

    const container = $("#proposal-graph");
    if (cy) cy.destroy();
    cy = cytoscape({ container, wheelSensitivity: 0.3, style: graphStyle() });
    cy.batch(() => {
      for (const [id, n] of nodes) {
        const cls = [n.kind === "live" ? "" : n.kind, n.ciClass === "Service" ? "service" : ""].filter(Boolean).join(" ");
        cy.add({ group: "nodes", data: { id, name: n.name, ciClass: n.ciClass, kind: n.kind }, classes: cls });
      }
      for (const [key, r] of edges) {
        const mark = r.kind === "added" ? "+ " : r.kind === "retired" ? "− " : "";
        const tail = r.kind === "live" ? "" : ` (${r.kind})`;
        cy.add({ group: "edges", data: { id: `e:${key}`, source: r.source, target: r.target, type: r.type, kind: r.kind, label: `${mark}${words(r.type)}${tail}` }, classes: r.kind === "live" ? "" : r.kind });
      }
    });
    // Force-directed with wide spacing: labels carry the added/retired/changed words, and
    // they must stay readable where neighbours crowd round a database or a host.
    cy.layout({ name: "cose", animate: false, randomize: false, padding: 30, nodeRepulsion: () => 60000, idealEdgeLength: () => 80, nodeOverlap: 40, gravity: 0.8, numIter: 1500 }).run();
    // Fit, but never so small that the labels cannot be read: centre on the edits then.
    if (cy.zoom() < 0.8) {
      cy.zoom(0.8);
      cy.center(cy.elements(".added, .retired, .changed"));
    } else if (cy.zoom() > 1.5) {
      cy.zoom(1.5); // a graph of one or two CIs is not drawn a screen wide
      cy.center();
    }
    cy.on("tap", "node", (ev) => {
      const n = ev.target;
      if (n.data("kind") === "added") {
        $("#proposal-graph-note").textContent = `${n.data("name")} (${n.data("ciClass")}) is added by the proposal: it has no CI page until the proposal is merged.`;
        return;
      }
      location.assign(`/ui/ci/${enc(n.id())}`);
    });
    const count = (kind) => [...nodes.values()].filter((n) => n.kind === kind).length + [...edges.values()].filter((r) => r.kind === kind).length;
    const notes = [`${nodes.size} CIs, ${edges.size} relationships: ${count("added")} added, ${count("retired")} retired, ${count("changed")} changed`];
    if (hood.cut) notes.push("the neighbourhood was cut by a cap");
    if (hood.partial) notes.push(`the live neighbours could not all be read (${hood.partial})`);
    $("#proposal-graph-note").textContent = notes.join("; ");
  }

  // --- the impact diff, per service ------------------------------------------------------------

  function six(x) {
    return x.toFixed(6);
  }

  function spofList(list, cls) {
    if (!list.length) return el("span", { class: "empty", text: "none" });
    return el("ul", { class: `plain ${cls}` }, ...list.map((s) => el("li", { "data-name": s.name }, ciLink(s.id, s.name), el("span", { class: "cls", text: s.ci_class }))));
  }

  function evidence(label, a) {
    const rows = [
      ["figure", `${a.value.toFixed(6)} (${a.exact ? "exact" : `between ${six(a.lower)} and ${six(a.upper)}`}, ${a.method})`],
      ["rests on", a.basis],
    ];
    if (a.target_percent !== null && a.target_percent !== undefined) rows.push(["SLA target", `${a.target_percent}%`]);
    if (a.breach_probability !== null && a.breach_probability !== undefined) rows.push(["chance of missing it", `${(a.breach_probability * 100).toFixed(1)}%`]);
    return [el("dt", { class: "ev-head", text: label }), el("dd", {}), ...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })])];
  }

  function components(title, list) {
    if (!list.length) return null;
    return el("div", {}, el("strong", { text: title }), el("ul", { class: "plain" }, ...list.map((c) => el("li", {}, `${c.name}: ${six(c.availability)} `, el("span", { class: "why", text: `(${c.evidence}: ${c.basis})` })))));
  }

  function availabilityCell(s) {
    const b = s.availability_before;
    const a = s.availability_after;
    if (!b || !a) return el("td", { class: "empty", text: "not asked again" });
    const delta = a.value - b.value;
    const sign = delta > 0 ? "+" : delta < 0 ? "−" : "±";
    const arrow = delta > 0 ? "rises" : delta < 0 ? "falls" : "unchanged";
    return el(
      "td",
      { class: "avail", "data-before": six(b.value), "data-after": six(a.value) },
      el("span", { class: "avail-figures", text: `${six(b.value)} → ${six(a.value)}` }),
      el("div", { class: `delta ${arrow}`, text: `${sign}${six(Math.abs(delta))} (${sign}${(Math.abs(delta) * 100).toFixed(3)} points, ${arrow})` }),
      el(
        "details",
        { class: "evidence" },
        el("summary", { text: "evidence" }),
        el("dl", { class: "facts" }, ...evidence("before", b), ...evidence("after", a)),
        components("components the proposal adds", s.components_added),
        components("components it removes", s.components_removed),
      ),
    );
  }

  function pathsCell(s) {
    const list = (title, ps, cls) =>
      ps.length ? el("details", { class: cls }, el("summary", { text: `${ps.length} ${title}` }), el("ul", { class: "plain" }, ...ps.map((x) => el("li", { class: "why", text: x.text })))) : null;
    const any = s.paths_appeared.length || s.paths_disappeared.length;
    return el("td", { class: "paths" }, list("appearing", s.paths_appeared, "appeared"), list("disappearing", s.paths_disappeared, "disappeared"), any ? null : el("span", { class: "empty", text: "none" }));
  }

  function serviceRow(s) {
    const head = el("td", {}, ciLink(s.id, s.name), s.criticality ? el("div", { class: "why", text: `criticality ${words(s.criticality)}` }) : null);
    const who = el(
      "td",
      { class: "who" },
      el("div", { text: s.customers.length ? s.customers.join(", ") : "no customer recorded" }),
      el("div", { class: "why", text: s.sla ? `${s.sla}${s.sla_target_percent !== null ? ` (${s.sla_target_percent}%)` : ""}` : "no SLA" }),
    );
    return el("tr", { class: "service-diff", "data-name": s.name, "data-changed": String(s.changed) }, head, el("td", { class: "introduced" }, spofList(s.spofs_introduced, "introduced")), el("td", { class: "removed" }, spofList(s.spofs_removed, "removed"), el("div", { class: "why spof-count", text: `${s.spofs_before.length} → ${s.spofs_after.length} SPOFs in all` })), availabilityCell(s), pathsCell(s), who);
  }

  function renderDiff(d, names) {
    const changed = d.services.filter((s) => s.changed);
    const rest = d.services.filter((s) => !s.changed);
    $("#diff-table tbody").replaceChildren(...changed.map(serviceRow));
    $("#diff-table").hidden = !changed.length;
    $("#diff-status").textContent = changed.length ? "" : d.services.length ? "The proposal changes no answer for any service it reaches." : "The proposal reaches no service (in this token's view).";
    $("#diff-status").hidden = !!changed.length;
    $("#diff-unchanged").textContent = rest.length ? `Reached but unchanged: ${rest.map((s) => s.name + (s.evaluated ? "" : " (its dependency cone is left as it is: not asked again)")).join(", ")}.` : "";
    const trunc = d.truncated ? [el("li", { class: "problem", text: "The walk around the edited CIs was cut by a cap: the diff may be incomplete." })] : [];
    const coll = d.collisions.map((c) => el("li", { class: "collision", "data-change": c.proposal }, "the proposal of ", changeLink(c.proposal), ` (version ${c.version}) also edits `, c.ci_ids.map((i) => names.get(i) || i).join(", ")));
    $("#proposal-collisions").replaceChildren(...trunc, ...coll);
    if (!coll.length) $("#proposal-collisions").append(el("li", { class: "empty", text: "none" }));
  }

  // --- one version, all of it ---------------------------------------------------------------------

  async function showVersion(change, version, note, gen) {
    const q = version ? `?version=${version}` : "";
    let p;
    try {
      p = await api(`/changes/${enc(change.id)}/proposal${q}`);
    } catch (e) {
      $("#proposal-body").hidden = true;
      if (version && e.status === 404 && /no proposal/.test(e.message)) {
        // A version the URL names that does not exist: the latest, saying so.
        return showVersion(change, null, `There is no version ${version} (${e.message}): the latest is shown.`, gen);
      }
      if (e.status === 404 && /no proposal/.test(e.message)) {
        setState("none", `${change.id} has no proposal: the change board has no planned state to judge. An editor stages one with \`cmdb proposal create ${change.id} --file edits.json\` or POST /api/v1/changes/${change.id}/proposal.`);
        return;
      }
      setState(e.status === 401 || e.status === 403 || e.status === 404 ? "refused" : "error", refusal(e, `the proposal of ${change.id}`));
      return;
    }
    // The diff is the slow answer: asked at once, awaited after the rest is drawn.
    const diffing = api(`/changes/${enc(change.id)}/proposal/diff${q}`).catch((e) => e);
    const added = newCis(p);
    const [versions, hood] = await Promise.all([
      api(`/changes/${enc(change.id)}/proposal/versions`).then((v) => v.items).catch(() => [p]),
      neighbourhood(liveIds(p, added)),
    ]);
    // Conflicts are those of the latest version, and only an open one can have them.
    const latest = versions.length ? versions[versions.length - 1].version : p.version;
    const conflicts =
      p.state === "open" && p.version === latest
        ? await api(`/changes/${enc(change.id)}/proposal/conflicts`).then((c) => c.items).catch(() => null)
        : null;
    if (gen !== generation) return; // another version was picked meanwhile
    const live = new Map(hood.nodes.map((c) => [c.id, c]));
    const names = new Map([...hood.nodes.map((c) => [c.id, c.name]), ...[...added].map(([i, c]) => [i, c.name])]);
    // A live CI by a link to its page (the keyboard's way to what a click on the graph
    // opens); a CI the proposal adds by its name.
    const name = (i, fallback) => (live.has(i) ? ciLink(i, names.get(i)) : names.get(i) || fallback || i);

    $("#proposal-body").hidden = false;
    versionPicker(versions, p, (v) => {
      history.replaceState(null, "", `?version=${v}`);
      reload(change, v);
    });
    $("#proposal-state").replaceChildren(badge(words(p.state), p.state === "open" ? "ok" : p.state === "merged" ? "live" : ""));
    const facts = (total) => {
      const hidden = total === null ? 0 : total - p.edits.length;
      const rows = [
        ["staged by", p.author || "—"],
        ["at", when(p.at)],
        ["this version", p.note || "—"],
        ["edits", hidden > 0 ? `${p.edits.length} in this token's view, of ${total}: the others name CIs outside its service scope` : String(p.edits.length)],
      ];
      $("#proposal-facts").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
    };
    facts(null);
    mergeState(p, conflicts, name);

    // Where the API listed the conflicts (the latest open version), they say which edits
    // no longer hold; for any other version the API's own check of each edit does. Both
    // name an edit by its index in the whole proposal, which each edit carries (a token
    // scoped to services is shown only some edits).
    const byEdit = new Map();
    const gone = new Set(); // edits whose CI or edge is retired: a rebase cannot keep them
    for (const c of conflicts || []) {
      byEdit.set(c.edit, [...(byEdit.get(c.edit) || []), `${c.ci_name || c.ci_id || ""} ${c.field}: ${c.why}`.trim()]);
      // By kind, never by the words: a retired CI, or an edge to retire that is gone.
      if (c.kind === "retired" || (c.kind === "relationship" && c.proposed_on === "active")) gone.add(c.edit);
    }
    const merged = p.state === "merged"; // the live graph holds its edits: nothing to check
    let bad = 0;
    $("#proposal-edits").replaceChildren(
      ...p.edits.map((e) => {
        const i = e.index;
        const problems = conflicts ? byEdit.get(i) || [] : merged || !e.validity ? [] : e.validity.why;
        bad += problems.length ? 1 : 0;
        const kind = editKind(e.op);
        return el(
          "li",
          { class: `edit ${kind}${problems.length ? " invalid" : ""}`, "data-op": e.op, "data-kind": kind, "data-index": String(i) },
          el("span", { class: `mark ${kind}`, text: `${KINDS[kind].mark} ${kind}` }),
          " ",
          describe(e, name),
          !problems.length
            ? null
            : conflicts
              ? el("div", { class: "problem", text: `conflicts with the live graph: ${problems.join("; ")}. ${gone.has(i) ? "" : `\`cmdb proposal rebase ${change.id}\` accepts the live change; `}\`cmdb proposal remove-edit ${change.id} ${i}\` drops the edit.` })
              : el("div", { class: "problem", text: `no longer holds against the live graph: ${problems.join("; ")}. Remove it (cmdb proposal remove-edit ${change.id} ${i}) or stage a new version.` }),
        );
      }),
    );
    if (!p.edits.length) $("#proposal-edits").append(el("li", { class: "empty", text: "no edits in this version (in this token's view)" }));

    legend();
    drawGraph(p, hood, added);
    const said = !bad ? "" : conflicts ? `${bad} of ${p.edits.length} edits conflict with the live graph (it moved under them since they were staged): a merge would stop; see the conflicts and edits below.` : `${bad} of ${p.edits.length} edits no longer hold against the live graph: see the edits below; the diff applies the rest.`;
    $("#diff-table").hidden = true;
    $("#diff-status").hidden = false;
    $("#diff-status").className = "empty";
    $("#diff-status").textContent = "computing the impact diff…";
    setState("loading", "");
    $("#diff-unchanged").textContent = "";
    $("#proposal-collisions").replaceChildren();

    const diff = await diffing;
    if (gen !== generation) return;
    if (diff instanceof Error) {
      $("#diff-status").className = "problem";
      $("#diff-status").textContent = diff.status === 422 ? `The impact diff cannot be computed: ${diff.message}.` : refusal(diff, "the impact diff");
      $("#proposal-collisions").append(el("li", { class: "empty", text: "unknown: the diff did not answer" }));
      setState("error", [note, said].filter(Boolean).join(" "));
      return;
    }
    facts(diff.edits);
    renderDiff(diff, names);
    setState(bad ? "invalid" : "shown", [note, said].filter(Boolean).join(" "));
  }

  // Each load has a number: an answer for a version no longer asked for is dropped.
  let generation = 0;
  function reload(change, version) {
    $("#proposal").dataset.state = "loading";
    document.body.dataset.proposal = "loading";
    generation += 1;
    return showVersion(change, version, "", generation).catch((e) => setState("error", refusal(e, "the proposal")));
  }

  function show(change) {
    const v = Number(new URLSearchParams(location.search).get("version")) || null;
    return reload(change, v);
  }

  // The page could not read the change itself: the proposal section says so too.
  function unreadable(e, id) {
    $("#proposal-body").hidden = true;
    setState(e.status === 401 || e.status === 403 || e.status === 404 ? "refused" : "error", refusal(e, `the change ${id} or its proposal`));
  }

  return { show, unreadable, graph: () => cy };
})();
