// The DistKV console. Plain JavaScript, no build step. Everything that
// comes from the server goes into the page as text (textContent), never
// as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

// el builds an element: attrs are properties (className, onclick, …) or,
// for data-* and aria-*, attributes; strings among the children become
// text nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("data-") || k.startsWith("aria-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
  }
  return e;
}

class APIError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : "HTTP " + status);
    this.status = status;
    this.body = body || {};
  }
}

// api calls the console's JSON API. Requests that change something carry
// the header the server checks against cross-site requests.
async function api(method, url, body) {
  const opt = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") {
    opt.headers["X-DistKV"] = "1";
    opt.headers["Content-Type"] = "application/json";
    opt.body = JSON.stringify(body || {});
  }
  let res;
  try {
    res = await fetch(url, opt);
  } catch (e) {
    throw new APIError(0, { error: "the console cannot be reached: " + e.message });
  }
  let data = {};
  try { data = await res.json(); } catch (e) { /* not JSON: keep the status */ }
  if (!res.ok) {
    const err = new APIError(res.status, data);
    if (data.login) showLogin(err.message);
    throw err;
  }
  return data;
}

const state = { session: null, watch: null, view: null };

function message(text, info) {
  const m = $("message");
  m.textContent = text || "";
  m.className = info ? "message info" : "message";
  m.hidden = !text;
}

function showLogin(why) {
  stopWatch();
  $("login").hidden = false;
  $("view").replaceChildren();
  $("nav").hidden = true;
  $("who").hidden = true;
  $("login-error").textContent = why && why.startsWith("not logged in") ? "" : (why || "");
  $("login-name").focus();
}

async function start() {
  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    try {
      await api("POST", "api/login", { name: $("login-name").value, password: $("login-password").value });
      $("login-password").value = "";
      await session();
    } catch (e) {
      $("login-error").textContent = e.message;
    }
  });
  $("logout").addEventListener("click", async () => {
    stopWatch();
    try { await api("POST", "api/logout", {}); } catch (e) { /* gone anyway */ }
    state.session = null;
    await session();
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("pagehide", stopWatch);
  await session();
}

async function session() {
  let s;
  try {
    s = await api("GET", "api/session");
  } catch (e) {
    message(e.message);
    return;
  }
  state.session = s;
  $("title").textContent = "DistKV · " + s.node;
  document.title = "DistKV " + s.node;
  $("banner").hidden = s.loginsOn;
  if (!s.loggedIn) {
    showLogin("");
    return;
  }
  $("login").hidden = true;
  $("nav").hidden = false;
  $("who").hidden = false;
  $("user").textContent = s.loginsOn ? s.user : "";
  $("logout").hidden = !s.loginsOn;
  route();
}

function route() {
  if (!state.session || !state.session.loggedIn) return;
  message("");
  stopWatch();
  const h = location.hash || "#/tree/:";
  let view = "tree";
  if (h.startsWith("#/errors")) view = "errors";
  else if (h.startsWith("#/runners")) view = "runners";
  else if (h.startsWith("#/network")) view = "network";
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === view);
  state.view = view;
  const v = $("view");
  v.replaceChildren(el("p", { className: "muted" }, "Loading…"));
  if (view === "tree") {
    let p = ":";
    try { p = decodeURIComponent(h.slice("#/tree/".length)) || ":"; } catch (e) { /* keep the root */ }
    showTree(p);
  } else if (view === "errors") showErrors();
  else if (view === "runners") showRunners();
  else showNetwork();
}

function treeLink(p) { return "#/tree/" + encodeURIComponent(p); }

// ---- tree ----

function stopWatch() {
  if (state.watch) {
    state.watch.close();
    state.watch = null;
  }
}

// showTree shows one node: its value (to edit or delete) and its children,
// a page at a time, kept live by a watch of the node and its children.
function showTree(p) {
  const node = { path: p, entry: null, rows: new Map(), next: null, more: false, loading: false };
  const live = el("span", { className: "live", id: "live" }, "connecting…");
  const crumbs = el("div", { className: "crumbs", id: "crumbs" });
  const entryBox = el("div", { className: "card", id: "entry" });
  const list = el("ul", { className: "rows", id: "children" });
  const more = el("button", { className: "plain", id: "more", type: "button", hidden: true, onclick: () => loadPage(node, list, more) }, "More");
  const childBox = el("div", { className: "card" }, el("h2", {}, "Children ", live), list, more, addChildForm(node));
  $("view").replaceChildren(crumbs, entryBox, childBox);
  crumbs.append(...breadcrumbs(p));
  node.entryBox = entryBox;

  // Scrolling to the end loads the next page.
  if ("IntersectionObserver" in window) {
    const io = new IntersectionObserver((es) => {
      if (es.some((e) => e.isIntersecting) && node.more && !node.loading) loadPage(node, list, more);
    });
    io.observe(more);
  }

  const es = new EventSource("api/watch?path=" + encodeURIComponent(p));
  state.watch = es;
  es.addEventListener("ready", async () => {
    live.textContent = "live";
    live.className = "live on";
    // Ready: the watch runs, so nothing that changes from now on is
    // missed. (Again after a reconnect: load afresh.)
    node.rows.clear();
    node.next = null;
    list.replaceChildren();
    try {
      await loadPage(node, list, more);
    } catch (e) { /* shown */ }
  });
  es.addEventListener("entry", (ev) => {
    const e = JSON.parse(ev.data);
    if (e.path === node.path) {
      // While the value is being edited it stays as read: saving it
      // then meets the change as a conflict.
      if (!node.editing) renderEntry(node, e);
      flash(entryBox);
      return;
    }
    const row = node.rows.get(e.path);
    if (row) {
      fillRow(row, e);
      flash(row);
    } else if (!node.more && e.hasValue) {
      addRow(node, list, e);
    }
  });
  es.addEventListener("failed", (ev) => {
    let msg = "the watch ended";
    try { msg = JSON.parse(ev.data).error; } catch (e) { /* keep */ }
    live.textContent = "not live: " + msg;
    live.className = "live";
    es.close();
  });
  es.onerror = () => {
    if (es.readyState === EventSource.CLOSED) {
      live.textContent = "not live";
      live.className = "live";
      session(); // the session may have ended: that shows the login
    } else {
      live.textContent = "reconnecting…";
      live.className = "live";
    }
  };
}

function breadcrumbs(p) {
  const out = [el("button", { className: "plain", type: "button", onclick: () => { location.hash = treeLink(":"); } }, ":")];
  if (p === ":") return out;
  // The server knows how a path splits; the page only cuts at the dots
  // and colons the text form puts between elements, and asks the server
  // for each prefix it links.
  const parts = splitPath(p);
  let acc = "";
  for (const part of parts) {
    acc += part.sep + part.text;
    const target = acc;
    out.push(el("span", { className: "muted" }, "›"));
    out.push(el("button", { className: "plain", type: "button", onclick: () => { location.hash = treeLink(target); } }, part.text));
  }
  return out;
}

// splitPath cuts a path's text form at its separators: "." before a
// string element and ":" that starts a typed one (escaped ones stay).
function splitPath(p) {
  const parts = [];
  let cur = "", sep = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === ":" && i + 1 < p.length && (p[i + 1] === "." || p[i + 1] === ":" || p[i + 1] === "_")) {
      cur += c + p[i + 1];
      i++;
      continue;
    }
    if (c === "." || (c === ":" && cur !== "")) {
      if (cur !== "") parts.push({ sep, text: cur });
      sep = c === "." ? "." : "";
      cur = c === ":" ? ":" : "";
      continue;
    }
    cur += c;
  }
  if (cur !== "") parts.push({ sep, text: cur });
  return parts;
}

async function loadPage(node, list, more) {
  if (node.loading) return;
  node.loading = true;
  more.disabled = true;
  try {
    let url = "api/tree?path=" + encodeURIComponent(node.path) + "&limit=100";
    if (node.next) url += "&after=" + encodeURIComponent(node.next);
    const page = await api("GET", url);
    if (page.entry) renderEntry(node, page.entry);
    for (const c of page.children) addRow(node, list, c);
    node.more = page.more;
    node.next = page.next || null;
    more.hidden = !page.more;
    if (!page.children.length && !node.next && !list.children.length) list.append(el("li", { className: "muted" }, "no children"));
  } catch (e) {
    message(e.message);
    throw e;
  } finally {
    node.loading = false;
    more.disabled = false;
  }
}

function addRow(node, list, c) {
  if (node.rows.has(c.path)) return;
  const empty = list.querySelector("li.muted");
  if (empty) empty.remove();
  const row = el("li", { "data-path": c.path });
  fillRow(row, c);
  node.rows.set(c.path, row);
  list.append(row);
}

function fillRow(row, c) {
  const b = el("button", { className: "row", type: "button", onclick: () => { location.hash = treeLink(c.path); } },
    el("span", { className: "name" }, c.name),
    el("span", { className: "value" }, c.hasValue ? c.value : "—"));
  row.replaceChildren(b);
  row.classList.toggle("deleted", !c.hasValue);
}

function flash(e) {
  e.classList.remove("flash");
  void e.offsetWidth;
  e.classList.add("flash");
}

function renderEntry(node, e) {
  node.entry = e;
  node.editing = false;
  const box = node.entryBox;
  const head = el("h2", {}, e.path);
  if (e.forbidden) {
    box.replaceChildren(head, el("p", { className: "muted", id: "value" }, "you may not read this value"));
    return;
  }
  if (!e.hasValue) {
    box.replaceChildren(head, el("p", { className: "muted", id: "value" }, "no value"), editButtons(node, e));
    return;
  }
  const link = e.chain && e.chain.length ? e.chain[0].node + " tick " + e.chain[0].tick : "";
  box.replaceChildren(head,
    el("pre", { className: "value", id: "value" }, e.value),
    el("p", { className: "muted", id: "chain" }, link ? "last change: " + link : ""),
    editButtons(node, e));
}

function editButtons(node, e) {
  const row = el("div", { className: "actions" });
  if (node.path === ":") return row;
  row.append(el("button", { type: "button", id: "edit", onclick: () => editEntry(node) }, e.hasValue ? "Edit" : "Set"));
  if (e.hasValue) {
    row.append(el("button", { type: "button", className: "danger", id: "delete", onclick: () => deleteEntry(node) }, "Delete"));
  }
  return row;
}

// editEntry turns the value into a text box: a literal, as `data set -e`
// takes it. Saving sends the chain as read: if someone changed the entry
// meanwhile, the server refuses and the page shows what it holds now.
function editEntry(node, text) {
  const e = node.entry;
  node.editing = true;
  const ta = el("textarea", { id: "edit-value", spellcheck: false, "aria-label": "value as a literal" });
  ta.value = text !== undefined ? text : (e.hasValue ? e.value : "");
  const err = el("p", { className: "error", id: "edit-error", role: "alert" });
  const save = el("button", { type: "submit", id: "save" }, "Save");
  const form = el("form", {}, el("h2", {}, e.path),
    el("p", { className: "muted" }, "A literal: 42, \"text\", b'bytes', [1, 2], {a: 1}, True, None."),
    ta, err,
    el("div", { className: "actions" }, save,
      el("button", { type: "button", className: "plain", onclick: () => renderEntry(node, node.entry) }, "Cancel")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    save.disabled = true;
    try {
      const done = await api("PUT", "api/entry", { path: e.path, value: ta.value, chain: e.chain || [] });
      message("Saved.", true);
      renderEntry(node, done);
    } catch (x) {
      if (x.body && x.body.conflict) showConflict(node, err, x, ta.value);
      else err.textContent = x.message;
    } finally {
      save.disabled = false;
    }
  });
  node.entryBox.replaceChildren(form);
  ta.focus();
}

// showConflict shows that the entry changed since it was read, and what
// it holds now; the edit stays, to be saved again over the new value.
function showConflict(node, err, x, text) {
  const cur = x.body.current;
  node.entry = cur || node.entry;
  editEntry(node, text);
  const box = $("edit-error");
  box.replaceChildren(el("span", { id: "conflict" }, "Conflict: someone changed this entry meanwhile. "),
    el("span", {}, cur && cur.hasValue ? "It holds now: " : "It has no value now."),
    cur && cur.hasValue ? el("code", { id: "conflict-value" }, cur.value) : null,
    el("span", {}, " Save again to overwrite it."));
}

async function deleteEntry(node) {
  const e = node.entry;
  if (!confirm("Delete the value of " + e.path + "?")) return;
  try {
    await api("DELETE", "api/entry", { path: e.path, chain: e.chain || [] });
    message("Deleted.", true);
    renderEntry(node, { path: e.path, hasValue: false });
  } catch (x) {
    if (x.body && x.body.conflict) {
      message("Conflict: the entry changed since you read it; it is shown as it is now. Delete again to delete it.");
      if (x.body.current) renderEntry(node, x.body.current);
    } else message(x.message);
  }
}

function addChildForm(node) {
  const name = el("input", { id: "new-name", placeholder: "name (a path element)", autocapitalize: "off", "aria-label": "new child's name" });
  const val = el("input", { id: "new-value", placeholder: "value, a literal", autocapitalize: "off", "aria-label": "new child's value" });
  const err = el("p", { className: "error", role: "alert" });
  const form = el("form", {}, el("h2", {}, "New child"), name, val, err, el("div", { className: "actions" }, el("button", { type: "submit" }, "Create")));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    const p = node.path === ":" ? name.value : node.path + (name.value.startsWith(":") ? "" : ".") + name.value;
    try {
      await api("PUT", "api/entry", { path: p, value: val.value, chain: [] });
      name.value = "";
      val.value = "";
    } catch (x) {
      err.textContent = x.body && x.body.conflict ? "That entry exists already." : x.message;
    }
  });
  return form;
}

// ---- errors ----

async function showErrors() {
  let d;
  try { d = await api("GET", "api/errors"); } catch (e) { $("view").replaceChildren(el("p", { className: "error" }, e.message)); return; }
  if (state.view !== "errors") return;
  const cards = d.records.map((r) => {
    const details = el("div", { hidden: true, className: "details" },
      r.traces.map((t) => el("div", {},
        el("h3", {}, t.node + (t.seen ? " · " + t.seen : "")),
        t.message ? el("p", {}, t.message) : null,
        t.comment ? el("p", { className: "muted" }, t.comment) : null,
        t.trace ? el("pre", {}, t.trace) : null,
        t.data ? el("pre", {}, t.data) : null)));
    const actions = el("div", { className: "actions" },
      el("button", { type: "button", className: "plain", onclick: () => { details.hidden = !details.hidden; } }, "Details"));
    if (!r.resolved) {
      actions.append(el("button", { type: "button", className: "resolve", onclick: async (ev) => {
        ev.target.disabled = true;
        try { await api("POST", "api/errors/resolve", { at: r.at }); showErrors(); } catch (e) { message(e.message); ev.target.disabled = false; }
      } }, "Resolve"));
    }
    return el("div", { className: "card error-record", "data-at": r.at, "data-resolved": String(r.resolved) },
      el("h2", {}, r.path, " ", el("span", { className: "tag" }, r.subsystem), " ",
        el("span", { className: r.resolved ? "tag ok" : "tag bad" }, r.resolved ? "resolved" : r.severity)),
      el("dl", {}, el("dt", {}, "count"), el("dd", {}, String(r.count)),
        el("dt", {}, "last seen"), el("dd", {}, r.lastSeen || "?"),
        el("dt", {}, "first seen"), el("dd", {}, r.firstSeen || "?"),
        el("dt", {}, "node"), el("dd", {}, r.node)),
      actions, details);
  });
  const inv = (d.invalid || []).map((i) => el("p", { className: "error" }, i.at + ": " + i.error));
  $("view").replaceChildren(...(cards.length ? cards : [el("p", { className: "muted" }, "No errors recorded.")]), ...inv);
}

// ---- runners ----

async function showRunners() {
  let d;
  try { d = await api("GET", "api/runners"); } catch (e) { $("view").replaceChildren(el("p", { className: "error" }, e.message)); return; }
  if (state.view !== "runners") return;
  const cards = d.jobs.map((j) => el("div", { className: "card job" },
    el("h2", {}, j.path),
    el("dl", {},
      el("dt", {}, "runs on"), el("dd", {}, j.mode === "single" ? "node " + j.node + ", group " + j.group : j.mode + " of group " + j.group),
      j.code ? [el("dt", {}, "code"), el("dd", {}, j.code)] : null,
      j.info ? [el("dt", {}, "info"), el("dd", {}, j.info)] : null,
      j.target ? [el("dt", {}, "target"), el("dd", {}, j.target)] : null,
      j.repeat ? [el("dt", {}, "repeat"), el("dd", {}, j.repeat + " s")] : null,
      j.error ? [el("dt", {}, "invalid"), el("dd", { className: "error" }, j.error)] : null),
    j.states.length ? j.states.map((s) => el("dl", { className: "state" },
      s.for ? [el("dt", {}, "node"), el("dd", {}, s.for)] : null,
      el("dt", {}, "state"), el("dd", {}, s.running ? "running on " + s.runner : (s.error ? "failed" : (s.started ? "done" : "waiting"))),
      s.started ? [el("dt", {}, "started"), el("dd", {}, s.started)] : null,
      s.stopped ? [el("dt", {}, "stopped"), el("dd", {}, s.stopped)] : null,
      s.result ? [el("dt", {}, "result"), el("dd", { className: "value" }, s.result)] : null,
      s.error ? [el("dt", {}, "error"), el("dd", { className: "error" }, s.error)] : null,
      s.backoffs ? [el("dt", {}, "failures in a row"), el("dd", {}, String(s.backoffs))] : null,
      s.next ? [el("dt", {}, "next run"), el("dd", {}, s.next)] : null))
      : el("p", { className: "muted" }, "never ran")));
  const extra = d.truncated ? [el("p", { className: "muted" }, "More jobs than shown.")] : [];
  $("view").replaceChildren(...(cards.length ? cards : [el("p", { className: "muted" }, "No runner jobs.")]), ...extra);
}

// ---- network ----

async function showNetwork() {
  let d;
  try { d = await api("GET", "api/network"); } catch (e) { $("view").replaceChildren(el("p", { className: "error" }, e.message)); return; }
  if (state.view !== "network") return;
  const head = el("div", { className: "card" }, el("h2", {}, "Server " + d.node),
    el("dl", {}, el("dt", {}, "tock"), el("dd", {}, String(d.tock)), el("dt", {}, "conflicts resolved"), el("dd", {}, String(d.conflicts))));
  const cards = d.nodes.map((n) => el("div", { className: "card node", "data-node": n.name },
    el("h2", {}, n.name, " ", el("span", { className: n.missingCount ? "tag bad" : "tag ok" }, n.state)),
    el("dl", {}, el("dt", {}, "newest tick"), el("dd", {}, String(n.tick)),
      n.missing ? [el("dt", {}, "missing here"), el("dd", {}, n.missing)] : null,
      n.remoteMissing ? [el("dt", {}, "others miss"), el("dd", {}, n.remoteMissing)] : null)));
  const links = el("div", { className: "card" }, el("h2", {}, "Links"),
    d.links.length === 0 ? el("p", {}, "No other server is known.") :
      el("ul", { id: "links" }, d.links.map((l) => el("li", { "data-link": l.name },
        l.name, " ", el("span", { className: l.connected ? "tag ok" : "tag bad" }, l.connected ? "connected" : "not connected"),
        " ", el("span", { className: "muted" }, l.addr)))));
  $("view").replaceChildren(head, links, ...cards);
}

start();
