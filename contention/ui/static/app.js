"use strict";
// threadmon's page: polls the grouped view (api/summary), never the whole
// graph, so it stays light at any number of goroutines, and redraws. Every
// string from the API is put in the page as text (textContent), never as
// HTML. Reports are keyed by id and updated in place, so that a person
// reading one keeps their place across refreshes.
(function () {
  const started = performance.now();
  console.log("threadmon: script start");
  const hash = new URLSearchParams(location.hash.slice(1));
  const token = hash.get("token");
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 1500, GRAPH_PRIMS = 16, MORE = 200;

  async function get(path) {
    const r = await fetch("api/" + path, { headers, cache: "no-store" });
    if (!r.ok) throw new Error(path.split("?")[0] + ": HTTP " + r.status);
    return r.json();
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function button(text, cls, onClick, title) {
    const b = el("button", text, cls);
    b.type = "button";
    if (title) b.title = title;
    b.addEventListener("click", onClick);
    return b;
  }

  function dur(s) {
    if (!s) return "";
    if (s < 0.001) return (s * 1e6).toFixed(0) + " µs";
    if (s < 1) return (s * 1e3).toFixed(1) + " ms";
    if (s < 120) return s.toFixed(1) + " s";
    return (s / 60).toFixed(1) + " min";
  }
  const num = (n) => Number(n).toLocaleString("en-US");

  function clock(iso) {
    return iso && !iso.startsWith("0001") ? new Date(iso).toLocaleTimeString() : "never";
  }

  // In sidecar mode every node carries its target's id (the targets are
  // listed by api/targets): names are shown without the target's host,
  // which heads its group once, and a down target's nodes are stale
  // (greyed, with the time of its last good poll).
  let targets = new Map();
  function shortName(node, name) {
    const t = node.target === undefined ? null : targets.get(node.target);
    return t && name.startsWith(t.name + "/") ? name.slice(t.name.length + 1) : name;
  }
  function labelText(t) {
    return Object.entries(t.labels || {}).sort().map(([k, v]) => k + "=" + v).join(" ");
  }
  function groupTitle(t) {
    const l = labelText(t);
    return t.name + (l ? " · " + l : "") + (t.stale ? " · stale: down, last good poll " + clock(t.last_ok) : "");
  }
  function staleNote(node) {
    const t = targets.get(node.target);
    return t ? "stale: " + t.name + " is down; last good poll " + clock(t.last_ok) : "stale";
  }
  function byTarget(threads, prims) {
    if (!targets.size) return [{ target: null, threads, prims }];
    const out = [];
    for (const t of targets.values()) {
      const gt = threads.filter((x) => x.target === t.id), gp = prims.filter((x) => x.target === t.id);
      if (gt.length || gp.length) out.push({ target: t, threads: gt, prims: gp });
    }
    return out;
  }

  // What the person asked for: the search, the filter, the sort of each
  // table, the groups opened, and the thread or primitive drilled into.
  // They live in the address (#q=…&thread=…&primitive=…&group=…) too, so a
  // view can be shared.
  const ui = {
    q: hash.get("q") || "",
    filter: hash.get("filter") || "all",
    sort: { groups: { key: "rank", dir: 1 }, contended: { key: "wait_seconds", dir: -1 }, idle: { key: "wait_seconds", dir: -1 } },
    open: new Set(hash.getAll("group")), // groups opened by the person
    closed: new Set(), // groups open by default that the person closed
    more: new Map(), // group key: how many of its threads to list
    fetched: new Map(), // group key: its threads fetched beyond the summary's
    sel: hash.get("primitive") ? { type: "primitive", id: hash.get("primitive") } :
      hash.get("thread") ? { type: "thread", id: hash.get("thread") } : null,
    polls: 0,
    first: false,
    sites: null, // the waiters' sites of the open primitive, from one dump
  };
  let last = null; // the last summary drawn

  function saveHash() {
    const h = new URLSearchParams();
    if (token) h.set("token", token);
    if (ui.q) h.set("q", ui.q);
    if (ui.filter !== "all") h.set("filter", ui.filter);
    for (const k of ui.open) h.append("group", k);
    if (ui.sel) h.set(ui.sel.type, ui.sel.id);
    history.replaceState(null, "", "#" + h.toString());
  }

  function select(type, id) {
    ui.sel = ui.sel && ui.sel.type === type && ui.sel.id === id ? null : { type, id };
    stack.for = null;
    ui.sites = null;
    saveHash();
    refresh();
  }

  // ---- groups ------------------------------------------------------------

  function isOpen(g) {
    if (ui.open.has(g.key)) return true;
    return !ui.closed.has(g.key) && (g.deadlocked || g.count <= 2 && last && last.groups.length <= 12);
  }
  function toggle(g) {
    if (isOpen(g)) {
      ui.open.delete(g.key);
      ui.closed.add(g.key);
    } else {
      ui.closed.delete(g.key);
      ui.open.add(g.key);
    }
    saveHash();
    if (last) drawGroups(last);
  }
  function groupClass(g) {
    if (g.deadlocked) return "deadlocked";
    if (!g.wait_kind) return g.state;
    return g.idle ? "idle" : "contention";
  }
  function passes(g) {
    switch (ui.filter) {
      case "contention": return !!g.wait_kind && !g.idle;
      case "idle": return g.idle;
      case "running": return !g.wait_kind;
      case "deadlocked": return g.deadlocked;
    }
    return true;
  }
  const rankOf = (g) => g.deadlocked ? 0 : g.wait_kind && !g.idle ? 1 : g.idle ? 2 : 3;
  function sorter(table, keyOf) {
    const s = ui.sort[table];
    return (a, b) => {
      const x = keyOf(a, s.key), y = keyOf(b, s.key);
      if (x < y) return -s.dir;
      if (x > y) return s.dir;
      return 0;
    };
  }
  function groupKey(g, key) {
    switch (key) {
      case "rank": return rankOf(g) * 1e9 - g.count;
      case "title": return g.title.toLowerCase();
      case "what": return groupClass(g);
      default: return g[key];
    }
  }

  // sortable makes a table's headers sort it (data-sort on each th).
  function sortable(tableId, table, redraw) {
    for (const th of $(tableId).tHead.rows[0].cells) {
      const key = th.dataset.sort;
      if (!key) continue;
      const b = button(th.textContent, "sort", () => {
        const s = ui.sort[table];
        s.dir = s.key === key ? -s.dir : (key === "title" || key === "label" ? 1 : -1);
        s.key = key;
        redraw();
      }, "sort by " + th.textContent.toLowerCase());
      th.replaceChildren(b);
    }
  }
  function markSorted(tableId, table) {
    for (const th of $(tableId).tHead.rows[0].cells) {
      const s = ui.sort[table];
      th.setAttribute("aria-sort", th.dataset.sort === s.key ? (s.dir > 0 ? "ascending" : "descending") : "none");
    }
  }

  function threadButton(t, label) {
    const b = button(label === undefined ? shortName(t, t.name) : label, "open", () => select("thread", t.id), t.name + " · open this thread");
    b.setAttribute("aria-pressed", String(!!ui.sel && ui.sel.id === t.id));
    return b;
  }

  function drawGroups(s) {
    const body = $("groups").tBodies[0];
    const rows = [];
    const shown = s.groups.filter(passes).sort(sorter("groups", groupKey));
    let tgt = null;
    for (const g of shown) {
      if (targets.size && g.target !== tgt) {
        tgt = g.target;
        const t = targets.get(tgt);
        if (t) {
          const hr = el("tr", null, "target" + (t.stale ? " stale" : ""));
          const th = el("th", groupTitle(t));
          th.colSpan = 4;
          hr.append(th);
          rows.push(hr);
        }
      }
      const open = isOpen(g);
      const tr = el("tr", null, "group " + groupClass(g) + (g.stale ? " stale" : ""));
      tr.dataset.key = g.key;
      const t = button((open ? "▾ " : "▸ ") + g.title, "toggle", () => toggle(g), open ? "collapse" : "list its threads");
      t.setAttribute("aria-expanded", String(open));
      const c0 = el("td");
      c0.append(t);
      if (g.primitive) c0.append(" ", button("open " + (g.primitive_kind || "primitive"), "link", () => select("primitive", g.primitive)));
      const what = g.deadlocked ? "deadlocked" : !g.wait_kind ? g.state : g.idle ? "waiting to be notified" : "waiting to acquire";
      tr.append(c0, el("td", num(g.count), "num"), el("td", dur(g.max_seconds), "num"), el("td", what, "what-" + groupClass(g)));
      rows.push(tr);
      if (!open) continue;
      const members = ui.fetched.get(g.key) || g.threads;
      for (const m of members) {
        const r = el("tr", null, "member" + (g.deadlocked ? " deadlocked" : ""));
        const c = el("td");
        c.append(threadButton({ ...m, target: g.target }));
        c.append(el("span", " ident " + m.ident + (m.holds ? " · holds " + m.holds : ""), "hint"));
        r.append(c, el("td", ""), el("td", dur(m.seconds), "num"), el("td", ""));
        rows.push(r);
      }
      if (g.count > members.length) {
        const r = el("tr", null, "member");
        const c = el("td");
        c.colSpan = 4;
        const n = Math.min(MORE, g.count - members.length);
        c.append(button("show " + num(n) + " more of " + num(g.count - members.length), "link", () => more(g, members.length + n)));
        r.append(c);
        rows.push(r);
      }
    }
    if (s.groups_omitted) {
      const r = el("tr");
      const c = el("td", num(s.groups_omitted) + " smaller groups not listed: search to narrow", "none");
      c.colSpan = 4;
      r.append(c);
      rows.push(r);
    }
    if (!shown.length) {
      const r = el("tr");
      const c = el("td", ui.q ? "No thread matches “" + ui.q + "”." : "No thread.", "none");
      c.colSpan = 4;
      r.append(c);
      rows.push(r);
    }
    body.replaceChildren(...rows);
    markSorted("groups", "groups");
    const c = s.counts;
    $("thread-count").textContent = num(c.threads) + " threads: " + num(c.contention) + " waiting to acquire · " +
      num(c.idle) + " waiting to be notified · " + num(c.running) + " running" + (c.deadlocked ? " · " + num(c.deadlocked) + " deadlocked" : "") +
      (ui.q ? " · " + num(c.matched) + " match" : "");
  }

  async function more(g, n) {
    ui.more.set(g.key, n);
    ui.open.add(g.key);
    await fetchMore(g.key);
    if (last) drawGroups(last);
  }
  async function fetchMore(key) {
    const n = ui.more.get(key);
    const qs = new URLSearchParams({ group: key, limit: String(n) });
    if (ui.q) qs.set("q", ui.q);
    try {
      const g = await get("summary?" + qs);
      ui.fetched.set(key, g.threads);
    } catch (e) {
      ui.more.delete(key);
      ui.fetched.delete(key);
    }
  }

  // ---- the lock graph ----------------------------------------------------

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // fit sets a text element to s, cut with an ellipsis to fit width (the
  // full text is its tooltip).
  function fit(text, s, width) {
    text.textContent = s;
    if (text.getComputedTextLength() <= width) return;
    let lo = 0, hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      text.textContent = s.slice(0, mid) + "…";
      if (text.getComputedTextLength() <= width) lo = mid; else hi = mid - 1;
    }
    text.textContent = s.slice(0, lo) + "…";
  }

  // drawGraph draws the primitives waited on or held, each with its count
  // of waiters, and one by one only the threads that matter: deadlocked,
  // holding, selected (and all waiting threads of a small graph).
  function drawGraph(s) {
    const box = $("graph");
    const prims = s.primitives.slice(0, GRAPH_PRIMS);
    const drawn = new Set(prims.map((p) => p.id));
    const threads = s.threads.filter((t) => (t.wait && drawn.has(t.wait.primitive)) || t.holds.some((h) => drawn.has(h)) ||
      t.deadlocked || (ui.sel && ui.sel.id === t.id));
    // Each thread beside the first primitive it touches: fewer crossings.
    const at = new Map(prims.map((p, i) => [p.id, i]));
    const place = (t) => Math.min(...[t.wait ? t.wait.primitive : null, ...t.holds].map((id) => at.has(id) ? at.get(id) : 1e9));
    threads.sort((a, b) => place(a) - place(b));
    const red = new Set();
    for (const c of s.deadlocked) {
      c.threads.forEach((id) => red.add(id));
      c.primitives.forEach((id) => red.add(id));
    }
    if (!threads.length && !prims.length) {
      box.replaceChildren(el("p", "No thread waits or holds a primitive right now.", "none"));
      return;
    }
    const rowH = 34, width = 1000, boxW = 300, left = 20 + boxW, right = width - 20 - 2 * 170;
    const pos = new Map(), heads = [];
    let y = 10;
    for (const grp of byTarget(threads, prims)) {
      if (grp.target) {
        heads.push({ t: grp.target, y: y + 14 });
        y += 24;
      }
      const n = Math.max(grp.threads.length, grp.prims.length);
      grp.threads.forEach((t, i) => pos.set(t.id, { x: left, y: y + 13 + i * rowH + (n - grp.threads.length) * rowH / 2 }));
      grp.prims.forEach((p, i) => pos.set(p.id, { x: right, y: y + 13 + i * rowH + (n - grp.prims.length) * rowH / 2 }));
      y += n * rowH + 6;
    }
    const root = svg("svg", { viewBox: `0 0 ${width} ${y + 4}`, role: "img", "aria-label": "lock graph" });
    box.replaceChildren(root); // in the page, so that text can be measured
    for (const h of heads) {
      const gEl = svg("g", { class: "group" + (h.t.stale ? " stale" : "") });
      gEl.append(svg("line", { x1: 10, y1: h.y + 5, x2: width - 10, y2: h.y + 5 }));
      const text = svg("text", { x: 12, y: h.y });
      gEl.append(text);
      root.append(gEl);
      fit(text, groupTitle(h.t), width - 24);
      gEl.append(svg("title", {}, groupTitle(h.t)));
    }
    const line = (a, b, cls) => root.append(svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: cls }));
    for (const t of threads) {
      const a = pos.get(t.id);
      if (t.wait && pos.has(t.wait.primitive)) line(a, pos.get(t.wait.primitive), "wait" + (red.has(t.id) && red.has(t.wait.primitive) ? " red" : ""));
    }
    for (const p of prims) {
      for (const h of p.holders) {
        if (pos.has(h)) line(pos.get(p.id), pos.get(h), "held" + (red.has(p.id) && red.has(h) ? " red" : ""));
      }
    }
    const node = (n, cls, shape, full, shown, textX, textW, p, onClick) => {
      const sel = ui.sel && ui.sel.id === n.id;
      const gEl = svg("g", { class: cls + (red.has(n.id) ? " red" : "") + (n.stale ? " stale" : "") + (sel ? " selected" : ""), tabindex: "0" });
      gEl.append(shape);
      const text = svg("text", { x: textX, y: p.y + 4 });
      gEl.append(text);
      root.append(gEl);
      fit(text, shown, textW);
      gEl.append(svg("title", {}, full + (n.stale ? "\n" + staleNote(n) : "")));
      gEl.addEventListener("click", onClick);
      gEl.addEventListener("keydown", (e) => { if (e.key === "Enter") onClick(); });
    };
    for (const t of threads) {
      const p = pos.get(t.id);
      const blocked = t.blocked ? " · blocked on " + blockedText(t.blocked) : "";
      node(t, "thread" + (t.blocked ? " blocked" : ""), svg("rect", { x: p.x - boxW, y: p.y - 13, width: boxW, height: 26, rx: 4 }),
        t.name + blocked, shortName(t, t.name) + blocked, p.x - boxW + 6, boxW - 12, p, () => select("thread", t.id));
    }
    for (const q of prims) {
      const p = pos.get(q.id);
      const waiting = q.waiters ? " · " + num(q.waiters) + " waiting" : "";
      node(q, "prim", svg("ellipse", { cx: p.x + 170, cy: p.y, rx: 170, ry: 13 }),
        q.kind + " " + q.label + waiting + "\n" + q.state, q.kind + " " + shortName(q, q.label), p.x + 14, waiting ? 200 : 312, p,
        () => select("primitive", q.id));
      if (waiting) root.append(svg("text", { x: p.x + 326, y: p.y + 4, class: "count", "text-anchor": "end" }, num(q.waiters) + " waiting"));
    }
    const hidden = s.primitives_omitted + Math.max(0, s.primitives.length - GRAPH_PRIMS);
    if (hidden) box.append(el("p", num(hidden) + " more primitives waited on or held are not drawn: search to narrow.", "none"));
  }

  // ---- most contended, and idle waiting apart ------------------------------

  function drawTop(tableId, table, list, empty) {
    const body = $(tableId).tBodies[0];
    const rows = [];
    const shown = list.slice().sort(sorter(table, (c, k) => (k === "label" ? c.label.toLowerCase() : c[k])));
    for (const c of shown) {
      const tr = el("tr", null, c.stale ? "stale" : "");
      tr.append(el("td", c.label), el("td", c.kind), el("td", num(c.contentions), "num"), el("td", dur(c.wait_seconds), "num"), el("td", num(c.acquisitions), "num"));
      rows.push(tr);
    }
    if (!shown.length) {
      const tr = el("tr");
      const td = el("td", empty, "none");
      td.colSpan = 5;
      tr.append(td);
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    markSorted(tableId, table);
  }

  // ---- drill-down ----------------------------------------------------------

  // The opened thread's stack is fetched once, on demand, from api/stack (a
  // goroutine dump costs the service a pause, so the page never asks for one
  // while polling), and its block is kept across refreshes.
  const stack = { for: null, node: null };

  function stackBlock(title, text) {
    const d = el("details", null, "stack");
    d.open = true;
    const sum = el("summary", title);
    const copy = button("copy", "copy", (e) => {
      e.preventDefault();
      copyText(pre.textContent, copy);
    }, "copy to the clipboard");
    sum.append(" ", copy);
    const pre = el("pre", text, "stack");
    d.append(sum, pre);
    return d;
  }
  function copyText(text, b) {
    const label = b.dataset.label || (b.dataset.label = b.textContent);
    const done = () => {
      b.textContent = "copied";
      setTimeout(() => { b.textContent = label; }, 1500);
    };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(done, () => { b.textContent = "select and copy"; });
    }
  }

  async function drawDetail() {
    const panel = $("detail-panel"), info = $("detail"), st = $("detail-stack");
    if (!ui.sel) {
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    const { type, id } = ui.sel;
    let v;
    try {
      v = await get(type + "?id=" + encodeURIComponent(id));
    } catch (e) {
      info.replaceChildren(el("p", "cannot read " + type + " " + id + ": " + e.message, "none"), button("close", "link", () => select(type, id)));
      st.replaceChildren();
      return;
    }
    if (!ui.sel || ui.sel.id !== id) return;
    const parts = [];
    const head = el("h3");
    head.append(button("×", "close", () => select(type, id), "close"), " ");
    if (type === "primitive") {
      const p = v.primitive;
      head.append(p.kind + " " + p.label);
      parts.push(head, el("p", p.state, "mono"));
      parts.push(facts([["created at", v.created_at], ["waiting now", num(p.waiters) + (p.idle_waiters ? " (" + num(p.idle_waiters) + " waiting to be notified)" : "")],
        ["acquisitions", num(p.acquisitions)], ["waits", num(p.contentions)], ["total wait", dur(p.wait_seconds) || "0"]]));
      parts.push(el("h4", "Held by"), refs(v.holders, "nobody"));
      parts.push(el("h4", "Waiters, by how and where they wait"));
      if (!v.waiters.length) parts.push(el("p", "nobody waits on it", "none"));
      // Where they wait: from the waits' own stacks when captured, else
      // from one goroutine dump the person asks for (kept, not polled).
      let waiters = v.waiters;
      if (ui.sites && ui.sites.id === id) {
        waiters = ui.sites.waiters;
        parts.push(el("p", "where they waited at " + ui.sites.at + " (from a goroutine dump)", "hint"));
      } else if (v.waiters.some((w) => !w.site)) { // stacks are sampled: some waits have none
        parts.push(button("find where they wait (takes a goroutine dump)", "link", async () => {
          try {
            const d = await get("primitive?sites=1&id=" + encodeURIComponent(id));
            ui.sites = { id, waiters: d.waiters, at: new Date().toLocaleTimeString() };
          } catch (e) {
            ui.sites = null;
          }
          drawDetail();
        }));
      }
      for (const w of waiters) {
        const how = w.idle ? "waiting to be notified (" + w.wait_kind + ")" : "waiting to " + w.wait_kind;
        parts.push(el("p", num(w.count) + " " + how + (w.site ? " at " + w.site : "") + " · longest " + dur(w.max_seconds)));
        parts.push(refs(w.threads, ""));
      }
      parts.push(el("h4", "Wait times (waits that blocked, since start)"), histogram(v.waits));
      parts.push(el("h4", "Rates over the last minutes"), rates(v.history));
      st.replaceChildren();
    } else {
      const t = v.thread;
      head.append("Thread " + t.name);
      parts.push(head);
      const w = t.wait;
      let waits = "nothing (" + t.state + ")";
      if (w && v.waits_on) {
        const how = ["notify", "event", "barrier", "join", "waitgroup"].includes(w.kind) ? "to be notified (" + w.kind + ") by" : "to " + w.kind;
        waits = "waiting " + how + " " + v.waits_on.kind + " " + v.waits_on.label + " for " + dur(w.seconds);
      }
      const rows = [["ident", t.ident], ["state", t.state + (t.deadlocked ? " · deadlocked" : "")], ["waits", waits]];
      if (t.blocked) rows.push(["blocked on", blockedText(t.blocked)]);
      parts.push(facts(rows));
      if (v.waits_on) {
        const b = button("open " + v.waits_on.kind + " " + v.waits_on.label, "link", () => select("primitive", v.waits_on.id));
        parts.push(b, el("h4", "Held by"), refs(v.holders, "nobody"));
      }
      parts.push(el("h4", "Holds"));
      const ul = el("ul");
      for (const p of v.holds) {
        const li = el("li");
        li.append(button(p.kind + " " + p.label, "link", () => select("primitive", p.id)), el("span", p.waiters ? " · " + num(p.waiters) + " waiting" : "", "hint"));
        ul.append(li);
      }
      parts.push(v.holds.length ? ul : el("p", "nothing", "none"));
      if (stack.for !== id) {
        stack.for = id;
        st.replaceChildren(el("p", "loading the stack…", "none"));
        get("stack?id=" + encodeURIComponent(id)).then(([s]) => {
          if (stack.for === id) st.replaceChildren(stackBlock("Stack", s && s.stack ? s.stack : "(the goroutine has no stack: it ended)"));
        }, (e) => {
          if (stack.for === id) st.replaceChildren(el("p", "cannot read the stack: " + e.message, "none"));
        });
      }
    }
    // Unchanged, it is left alone: a selection in it survives the refresh.
    const next = el("div");
    next.append(...parts);
    if (next.textContent !== info.textContent || info.dataset.for !== type + id) {
      info.dataset.for = type + id;
      info.replaceChildren(...next.childNodes);
    }
  }
  function facts(rows) {
    const dl = el("dl");
    for (const [k, v] of rows) dl.append(el("dt", k), el("dd", v));
    return dl;
  }
  function refs(list, empty) {
    if (!list.length) return el("p", empty, "none");
    const p = el("p", null, "refs");
    for (const t of list) {
      p.append(threadButton(t, t.name + (t.seconds ? " (" + dur(t.seconds) + ")" : "")), " ");
      if (t.blocked) p.append(el("span", "blocked on " + blockedText(t.blocked), "hint"), " ");
    }
    return p;
  }
  // blockedText says what a holder is blocked on outside threadmon, and
  // where: "chan send at pkg/file.go:42, 2 min".
  function blockedText(b) {
    return b.op + (b.site ? " at " + b.site : "") + (b.since_minutes ? ", " + b.since_minutes + " min" : "") +
      (b.leaked ? " (leaked)" : "");
  }
  function histogram(bs) {
    if (!bs.length) return el("p", "no wait has blocked yet", "none");
    const w = 560, h = 120, bw = Math.floor((w - 20) / bs.length);
    const top = Math.max(...bs.map((b) => b.count + b.idle));
    const root = svg("svg", { viewBox: `0 0 ${w} ${h + 30}`, class: "chart", role: "img", "aria-label": "wait-time distribution" });
    bs.forEach((b, i) => {
      const x = 10 + i * bw, hc = (b.count / top) * h, hi = (b.idle / top) * h;
      root.append(svg("rect", { x, y: h - hc - hi, width: bw - 2, height: hi, class: "idle" }));
      root.append(svg("rect", { x, y: h - hc, width: bw - 2, height: hc, class: "bar" }));
      root.append(svg("text", { x: x + bw / 2, y: h + 14, "text-anchor": "middle" }, b.le_seconds < 0 ? "more" : "≤" + dur(b.le_seconds)));
      root.lastChild.append(svg("title", {}, num(b.count) + " waits to acquire, " + num(b.idle) + " waiting to be notified"));
    });
    return root;
  }
  function rates(ps) {
    if (ps.length < 2) return el("p", "not enough samples yet (one every 5 s while the page is open)", "none");
    const w = 560, h = 100, top = Math.max(1e-9, ...ps.map((p) => Math.max(p.acquisition_rate, p.contention_rate)));
    const root = svg("svg", { viewBox: `0 0 ${w} ${h + 24}`, class: "chart", role: "img", "aria-label": "acquisition and contention rates" });
    const pts = (k) => ps.map((p, i) => (10 + i * (w - 20) / (ps.length - 1)).toFixed(1) + "," + (h - (p[k] / top) * h + 2).toFixed(1)).join(" ");
    root.append(svg("polyline", { points: pts("acquisition_rate"), class: "acq" }), svg("polyline", { points: pts("contention_rate"), class: "cont" }));
    const l = ps[ps.length - 1];
    root.append(svg("text", { x: 10, y: h + 20 }, "acquisitions " + l.acquisition_rate.toFixed(1) + "/s · contentions " + l.contention_rate.toFixed(1) + "/s · mean wait " + (dur(l.mean_wait_seconds) || "0")));
    return root;
  }

  // ---- reports, keyed and updated in place ---------------------------------

  const shownReports = new Map(); // key: element

  function reportKey(kind, r) {
    const t = r.target === undefined ? "" : r.target + "/";
    switch (kind) {
      case "d": return "d:" + t + r.id;
      case "w": return "w:" + t + r.ident + "@" + r.since;
      default: return "o:" + t + r.cycle.join(">");
    }
  }
  function reportElement(kind, r) {
    const d = el("div", null, "report report-" + kind);
    d.dataset.born = String(ui.polls);
    let title;
    if (kind === "d") {
      title = "Deadlock: " + r.threads.map((t) => t.name).join(" → ");
    } else if (kind === "w") {
      const idle = ["notify", "event", "barrier", "join", "waitgroup"].includes(r.wait_kind);
      if (idle) d.classList.add("info");
      title = (idle ? "Info · long wait to be notified: " : "Long wait: ") + r.thread + " on " + r.waits_on + " for " + dur(r.seconds);
    } else {
      title = "Lock-order inversion: " + r.cycle.join(" → ");
    }
    d.append(el("h3", title));
    // The report's head reads at a glance; its stacks fold away.
    const text = r.text || "";
    let cut = text.indexOf("\nStacks of the threads listed above:");
    if (cut < 0) cut = text.indexOf("\n\tgoroutine ");
    if (cut < 0) cut = text.indexOf("\n  goroutine ");
    const head = cut > 0 ? text.slice(0, cut) : text;
    d.append(el("pre", head, "report-text"));
    if (cut > 0) {
      const st = stackBlock("Stacks", text.slice(cut + 1));
      st.open = kind === "d";
      d.append(st);
    }
    const copy = button("copy the report", "copy", () => copyText(text, copy), "copy the whole report to the clipboard");
    d.append(copy);
    return d;
  }
  function drawReports(deadlocks, longwaits, order) {
    const box = $("reports");
    const seen = new Set();
    const want = [];
    const add = (kind, list) => {
      for (const r of list) {
        const key = reportKey(kind, r);
        if (seen.has(key)) continue; // each deadlock shown once
        seen.add(key);
        let e = shownReports.get(key);
        if (!e) {
          e = reportElement(kind, r);
          shownReports.set(key, e);
        }
        e.classList.toggle("stale", !!r.stale);
        want.push(e);
      }
    };
    add("d", deadlocks);
    add("w", longwaits);
    add("o", order);
    for (const [k, e] of shownReports) {
      if (!seen.has(k)) {
        e.remove();
        shownReports.delete(k);
      }
    }
    // Insert the new ones where they belong, moving nothing already shown.
    const none = $("no-reports");
    none.hidden = want.length > 0;
    let prev = none;
    for (const e of want) {
      if (e.parentNode !== box) prev.after(e);
      prev = e;
    }
    const alert = $("alert");
    alert.hidden = deadlocks.length === 0;
    if (deadlocks.length) {
      $("alert-text").textContent = deadlocks.length + " deadlock(s): " +
        deadlocks.map((r) => r.threads.map((t) => t.name + " waits on " + t.waits_on).join("; ")).join(" | ");
    }
  }

  function drawTargets(list) {
    const panel = $("targets-panel");
    if (!list) return;
    targets = new Map(list.map((t) => [t.id, t]));
    panel.hidden = false;
    const body = $("targets").tBodies[0];
    const rows = [];
    for (const t of list) {
      const tr = el("tr", null, t.stale ? "stale" : "");
      const status = t.up ? "up" : "down: " + t.reason + (t.stale ? " · showing its data of " + clock(t.last_ok) + " (stale)" : "");
      tr.append(el("td", t.url), el("td", labelText(t)), el("td", status, t.up ? "state-running" : "state-waiting"));
      tr.append(el("td", clock(t.last_ok)));
      tr.append(el("td", dur(t.poll_seconds), "num"), el("td", num(t.threads), "num"), el("td", num(t.deadlocks), "num"));
      rows.push(tr);
    }
    body.replaceChildren(...rows);
  }

  // ---- leaks: on demand only (each check forces a GC in the target) ---------

  async function checkLeaks() {
    const st = $("leaks-status"), box = $("leaks");
    st.textContent = "checking…";
    let r;
    try {
      r = await get("leaks");
    } catch (e) {
      st.textContent = "not available here: " + e.message;
      return;
    }
    box.replaceChildren();
    if (!r.available) {
      st.textContent = r.message || "this Go has no goroutineleak profile";
      return;
    }
    const gs = r.goroutines || [];
    st.textContent = (gs.length ? num(gs.length) + " leaked" : "no leaked goroutine") + " · checked " +
      new Date(r.time).toLocaleTimeString() + (r.cached ? " (the last check; the next may run a minute after it)" : "");
    for (const g of gs) {
      const d = el("details", null, "leak");
      const s = el("summary", (g.thread || "goroutine " + g.ident) + " — " + g.status +
        (g.waits_on ? ", waiting (" + g.wait_kind + ") on " + g.waits_on : ""));
      d.append(s, el("pre", g.stack));
      box.append(d);
    }
  }
  $("leaks-check").addEventListener("click", checkLeaks);

  // ---- polling ---------------------------------------------------------------

  let busy = false;
  async function refresh() {
    if (busy) return;
    busy = true;
    try {
      await poll();
    } finally {
      busy = false;
    }
  }
  async function poll() {
    const tl = get("targets").catch(() => null);
    try {
      const qs = new URLSearchParams();
      if (ui.q) qs.set("q", ui.q);
      if (ui.sel && ui.sel.type === "thread") qs.set("thread", ui.sel.id);
      const [s, top, deadlocks, order, longwaits] = await Promise.all([get("summary?" + qs), get("contention?n=8"),
        get("deadlocks"), get("lockorder"), get("longwaits").catch(() => [])]);
      await Promise.all([...ui.more.keys()].map(fetchMore));
      drawTargets(await tl);
      ui.polls++;
      document.body.dataset.polls = String(ui.polls);
      last = s;
      drawGraph(s);
      drawGroups(s);
      drawTop("contended", "contended", top.by_wait, "Nothing has waited to acquire yet.");
      drawTop("idle", "idle", top.idle || [], "Nothing has waited to be notified yet.");
      drawReports(deadlocks, longwaits, order);
      await drawDetail();
      const st = $("status");
      st.className = "status";
      st.textContent = "updated " + new Date().toLocaleTimeString() + " · " + num(s.counts.threads) + " threads · " + num(s.counts.primitives) + " primitives";
      if (!ui.first) {
        ui.first = true;
        const ms = performance.now() - started;
        document.body.dataset.firstRenderMs = ms.toFixed(0);
        document.body.dataset.elements = String(document.getElementsByTagName("*").length);
        console.log("threadmon: first render " + ms.toFixed(0) + " ms, " + document.body.dataset.elements + " elements");
      }
    } catch (e) {
      const st = $("status");
      st.className = "status error";
      st.textContent = "cannot reach threadmon: " + e.message;
    }
  }

  // ---- controls ----------------------------------------------------------------

  const search = $("search");
  search.value = ui.q;
  let typing = 0;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(() => {
      ui.q = search.value.trim();
      ui.fetched.clear();
      ui.more.clear();
      saveHash();
      refresh();
    }, 250);
  });
  const filter = $("filter");
  filter.value = ui.filter;
  filter.addEventListener("change", () => {
    ui.filter = filter.value;
    saveHash();
    if (last) drawGroups(last);
  });
  sortable("groups", "groups", () => last && drawGroups(last));
  sortable("contended", "contended", () => refresh());
  sortable("idle", "idle", () => refresh());

  refresh();
  setInterval(refresh, POLL_MS);
})();
