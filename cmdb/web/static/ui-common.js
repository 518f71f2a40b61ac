// What the service desk pages share: the REST client (a token kept for this tab only),
// the header (navigation, token form, search), and small rendering helpers. Plain JS over
// /api/v1; nothing loads from outside this server.
"use strict";

window.cmdbUi = (() => {
  const API = "/api/v1";
  const TOKEN_KEY = "cmdb.token";
  const $ = (sel, root = document) => root.querySelector(sel);

  function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  }

  async function api(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json" };
    if (token()) headers.Authorization = `Bearer ${token()}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(API + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await resp.json().catch(() => null);
    if (!resp.ok) {
      const err = (data && data.error) || {};
      const where = err.where ? ` (${err.where})` : "";
      const e = new Error(`${err.message || resp.statusText}${where}`);
      e.status = resp.status;
      throw e;
    }
    return data;
  }

  // An element with text content only (never innerHTML: every value comes from the CMDB).
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("data-")) node.setAttribute(k, v);
      else if (k === "onclick") node.addEventListener("click", v);
      else node.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === undefined || c === null || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function ciLink(id, name) {
    return el("a", { href: `/ui/ci/${encodeURIComponent(id)}`, text: name || id });
  }

  function changeLink(id) {
    return el("a", { href: `/ui/changes/${encodeURIComponent(id)}`, text: id });
  }

  function mapUrl({ focus, fail = [], question, start, end, run } = {}) {
    const q = new URLSearchParams();
    if (focus) q.set("focus", focus);
    for (const f of fail) q.append("fail", f);
    if (question) q.set("question", question);
    if (start) q.set("start", start);
    if (end) q.set("end", end);
    if (run) q.set("run", "1");
    return `/ui/map?${q}`;
  }

  function minutes(m) {
    if (m === null || m === undefined) return "";
    const a = Math.abs(m);
    const text = a < 120 ? `${Math.round(a * 10) / 10} min` : `${(a / 60).toFixed(1)} h`;
    return m < 0 ? `-${text}` : text;
  }

  // "2026-12-07T10:00:00Z" -> "2026-12-07 10:00 UTC": the API speaks UTC, so do the pages.
  function when(iso, seconds = false) {
    if (!iso) return "";
    return `${iso.slice(0, 10)} ${iso.slice(11, seconds ? 19 : 16)} UTC`;
  }

  function words(value) {
    return String(value || "").toLowerCase().replaceAll("_", " ");
  }

  function badge(text, cls) {
    return el("span", { class: `badge ${cls || ""}`, text });
  }

  function showError(e) {
    const box = $("#error");
    if (!box) return;
    box.textContent = e.status === 401 ? `${e.message}: paste an API token above` : e.message;
    box.hidden = false;
    clearTimeout(showError.timer);
    showError.timer = setTimeout(() => (box.hidden = true), 10000);
  }

  async function checkAccess() {
    const note = $("#mode-note");
    if (!note) return true;
    try {
      await api("/auth/whoami");
      note.textContent = token() ? "using the token of this tab" : "LOCAL DEVELOPMENT: no token needed";
      note.className = token() ? "note" : "note warn";
      return true;
    } catch (e) {
      note.textContent = e.status === 401 ? "a token is needed" : `the API answered: ${e.message}`;
      note.className = "note warn";
      return false;
    }
  }

  // The header every page carries: where to go, the token form, and a CI search.
  function header(title, onToken) {
    const h = el(
      "header",
      {},
      el("h1", {}, el("a", { href: "/ui", text: "graph-cmdb" }), ` · ${title}`),
      el(
        "nav",
        {},
        el("a", { href: "/ui", text: "Services" }),
        el("a", { href: "/ui/map", text: "Impact map" }),
        el("a", { href: "/docs", text: "API docs" }),
        el("a", { href: "/redoc", text: "ReDoc" }),
        el("a", { href: "/graphql", text: "GraphQL" }),
      ),
      el(
        "form",
        { id: "find-form", autocomplete: "off", role: "search" },
        el("input", { id: "find", type: "search", placeholder: "find a CI: srv-01, Booking…", "aria-label": "find a CI" }),
        el("button", { type: "submit", text: "Find" }),
      ),
      el(
        "form",
        { id: "token-form", autocomplete: "off" },
        el("input", { id: "token", type: "password", placeholder: "API token (this tab only)", size: "22", "aria-label": "API token" }),
        el("button", { type: "submit", text: "Use" }),
        el("button", { type: "button", id: "token-clear", text: "Forget" }),
      ),
      el("span", { id: "mode-note", class: "note", "aria-live": "polite", text: "checking access…" }),
    );
    document.body.prepend(h);
    const results = el("ul", { id: "find-results", class: "find-results", hidden: true });
    h.after(results);
    $("#token-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const value = $("#token").value.trim();
      if (value) sessionStorage.setItem(TOKEN_KEY, value);
      $("#token").value = "";
      if ((await checkAccess()) && onToken) onToken();
    });
    $("#token-clear").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      checkAccess();
    });
    $("#find-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      find($("#find").value.trim()).catch(showError);
    });
  }

  async function find(q) {
    const list = $("#find-results");
    list.replaceChildren();
    if (!q) {
      list.hidden = true;
      return;
    }
    const page = await api(`/cis?name_contains=${encodeURIComponent(q)}&limit=15`);
    list.hidden = false;
    if (!page.items.length) list.append(el("li", { text: `nothing named like '${q}'` }));
    for (const ci of page.items) {
      list.append(
        el("li", { class: "result", "data-name": ci.name }, ciLink(ci.id, ci.name), el("span", { class: "cls", text: ci.class })),
      );
    }
  }

  function ready() {
    document.body.dataset.ready = "yes";
  }

  return { api, token, el, ciLink, changeLink, mapUrl, minutes, when, words, badge, showError, checkAccess, header, ready, $ };
})();
