"use strict";
// threadmon's page: polls the JSON API and redraws. Every string from the
// API is put in the page as text (textContent), never as HTML.
(function () {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const $ = (id) => document.getElementById(id);

  async function get(path) {
    const r = await fetch("api/" + path, { headers, cache: "no-store" });
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function dur(s) {
    if (s < 0.001) return (s * 1e6).toFixed(0) + " µs";
    if (s < 1) return (s * 1e3).toFixed(1) + " ms";
    if (s < 120) return s.toFixed(1) + " s";
    return (s / 60).toFixed(1) + " min";
  }

  function clock(iso) {
    return iso && !iso.startsWith("0001") ? new Date(iso).toLocaleTimeString() : "never";
  }

  // In sidecar mode every node carries its target's id (g.targets lists
  // them): names are shown without the target's host, which heads its group
  // once, and a down target's nodes are stale (greyed, with the time of its
  // last good poll).
  function targetsOf(g) {
    if (!g.targetMap) {
      g.targetMap = new Map();
      for (const t of g.targets || []) g.targetMap.set(t.id, t);
    }
    return g.targetMap;
  }
  function shortName(targets, node, name) {
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
  function staleNote(targets, node) {
    const t = targets.get(node.target);
    return t ? "stale: " + t.name + " is down; last good poll " + clock(t.last_ok) : "stale";
  }
  // groups splits nodes by target, in the targets' order (one group, with
  // no title, outside sidecar mode).
  function groups(targets, threads, prims) {
    if (!targets.size) return [{ target: null, threads, prims }];
    const out = [];
    for (const t of targets.values()) {
      const gt = threads.filter((x) => x.target === t.id), gp = prims.filter((x) => x.target === t.id);
      if (gt.length || gp.length) out.push({ target: t, threads: gt, prims: gp });
    }
    return out;
  }

  // deadlocked returns the ids of the threads and primitives of the
  // deadlocked components, as the server found them (g.deadlocked).
  function deadlocked(g) {
    const red = new Set();
    for (const c of g.deadlocked || []) {
      c.threads.forEach((id) => red.add(id));
      c.primitives.forEach((id) => red.add(id));
    }
    return red;
  }

  // The thread the user opened: its stack is fetched once, on demand, from
  // api/stack (a goroutine dump costs the service a pause, so the page never
  // asks for one while polling).
  const opened = { id: new URLSearchParams(location.hash.slice(1)).get("thread"), text: "" };
  let last = null; // the last graph and red set drawn

  async function openThread(id) {
    if (opened.id === id) {
      opened.id = null;
    } else {
      opened.id = id;
      opened.text = "loading the stack…";
      try {
        const [s] = await get("stack?id=" + encodeURIComponent(id));
        if (opened.id === id) opened.text = s && s.stack ? s.stack : "(the goroutine has no stack: it ended)";
      } catch (e) {
        if (opened.id === id) opened.text = "cannot read the stack: " + e.message;
      }
    }
    if (last) drawThreads(last.g, last.red);
  }

  function primLabel(g, id) {
    if (!g.primMap) g.primMap = new Map(g.primitives.map((x) => [x.id, x]));
    const p = g.primMap.get(id);
    return p ? p.kind + " " + shortName(targetsOf(g), p, p.label) : id;
  }

  function drawThreads(g, red) {
    const body = $("threads").tBodies[0];
    body.replaceChildren();
    const threads = g.threads.filter((t) => !t.dummy || t.wait || t.holds.length);
    $("thread-count").textContent = threads.length + " shown, " + g.threads.length + " live · open a name for its stack";
    const targets = targetsOf(g);
    for (const grp of groups(targets, threads, [])) {
      if (grp.target) {
        const hr = el("tr", null, "group" + (grp.target.stale ? " stale" : ""));
        const th = el("th", groupTitle(grp.target));
        th.colSpan = 6;
        hr.append(th);
        body.append(hr);
      }
      for (const t of grp.threads) drawThread(g, red, targets, body, t);
    }
  }

  function drawThread(g, red, targets, body, t) {
    const tr = el("tr");
    if (red.has(t.id)) tr.className = "deadlocked";
    if (t.stale) {
      tr.classList.add("stale");
      tr.title = staleNote(targets, t);
    }
    const name = el("button", shortName(targets, t, t.name), "open");
    name.type = "button";
    name.title = t.name + " · show the stack";
    name.setAttribute("aria-expanded", String(opened.id === t.id));
    name.addEventListener("click", () => openThread(t.id));
    const nameCell = el("td");
    nameCell.append(name);
    tr.append(nameCell, el("td", t.ident, "num"), el("td", t.state, "state-" + t.state));
    tr.append(el("td", t.wait ? t.wait.kind + " " + primLabel(g, t.wait.primitive) : ""));
    tr.append(el("td", t.wait ? dur(t.wait.seconds) : "", "num"));
    tr.append(el("td", t.holds.map((h) => primLabel(g, h)).join(", ")));
    body.append(tr);
    if (opened.id === t.id) {
      const row = el("tr", null, "stack");
      const td = el("td");
      td.colSpan = 6;
      td.append(el("pre", opened.text));
      row.append(td);
      body.append(row);
    }
  }

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

  function drawGraph(g, red) {
    const box = $("graph");
    const threads = g.threads.filter((t) => t.wait || t.holds.length);
    const used = new Set();
    for (const t of threads) {
      if (t.wait) used.add(t.wait.primitive);
      t.holds.forEach((h) => used.add(h));
    }
    const prims = g.primitives.filter((p) => used.has(p.id));
    if (!threads.length) {
      box.replaceChildren(el("p", "No thread waits or holds a primitive right now.", "none"));
      return;
    }
    const targets = targetsOf(g);
    const rowH = 34, width = 1000, boxW = 300, left = 20 + boxW, right = width - 20 - 2 * 170;
    const pos = new Map();
    const heads = [];
    let y = 10;
    for (const grp of groups(targets, threads, prims)) {
      if (grp.target) {
        heads.push({ t: grp.target, y: y + 14 });
        y += 24;
      }
      const n = Math.max(grp.threads.length, grp.prims.length);
      grp.threads.forEach((t, i) => pos.set(t.id, { x: left, y: y + 13 + i * rowH + (n - grp.threads.length) * rowH / 2 }));
      grp.prims.forEach((p, i) => pos.set(p.id, { x: right, y: y + 13 + i * rowH + (n - grp.prims.length) * rowH / 2 }));
      y += n * rowH + 6;
    }
    const height = y + 4;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "lock graph" });
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
    for (const e of g.edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      const isRed = red.has(e.from) && red.has(e.to);
      const cls = (e.type === "held_by" ? "held" : "wait") + (isRed ? " red" : "");
      root.append(svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: cls }));
    }
    const node = (n, cls, shape, full, shown, textX, textW, p) => {
      const gEl = svg("g", { class: cls + (red.has(n.id) ? " red" : "") + (n.stale ? " stale" : "") });
      gEl.append(shape);
      const text = svg("text", { x: textX, y: p.y + 4 });
      gEl.append(text);
      root.append(gEl);
      fit(text, shown, textW);
      gEl.append(svg("title", {}, full + (n.stale ? "\n" + staleNote(targets, n) : "")));
    };
    for (const t of threads) {
      const p = pos.get(t.id);
      node(t, "thread", svg("rect", { x: p.x - boxW, y: p.y - 13, width: boxW, height: 26, rx: 4 }),
        t.name, shortName(targets, t, t.name), p.x - boxW + 6, boxW - 12, p);
    }
    for (const q of prims) {
      const p = pos.get(q.id);
      node(q, "prim", svg("ellipse", { cx: p.x + 170, cy: p.y, rx: 170, ry: 13 }),
        q.kind + " " + q.label, q.kind + " " + shortName(targets, q, q.label), p.x + 14, 312, p);
    }
  }

  function drawContended(top) {
    const body = $("contended").tBodies[0];
    body.replaceChildren();
    for (const c of top.by_wait) {
      const tr = el("tr", null, c.stale ? "stale" : "");
      tr.append(el("td", c.label), el("td", c.kind), el("td", c.contentions, "num"), el("td", dur(c.wait_seconds), "num"), el("td", c.acquisitions, "num"));
      body.append(tr);
    }
    if (!top.by_wait.length) {
      const tr = el("tr");
      const td = el("td", "Nothing has waited yet.", "none");
      td.colSpan = 5;
      tr.append(td);
      body.append(tr);
    }
  }

  function drawReports(deadlocks, order) {
    const box = $("reports");
    box.replaceChildren();
    for (const r of deadlocks) {
      const d = el("div", null, "report" + (r.stale ? " stale" : ""));
      d.append(el("h3", (r.stale ? "(stale) " : "") + "Deadlock: " + r.threads.map((t) => t.name).join(" → ")));
      d.append(el("pre", r.text));
      box.append(d);
    }
    for (const r of order) {
      const d = el("div", null, "report");
      d.append(el("h3", "Lock-order inversion: " + r.cycle.join(" → ")));
      d.append(el("pre", r.text));
      box.append(d);
    }
    if (!box.children.length) box.append(el("p", "No deadlock found.", "none"));
    const alert = $("alert");
    alert.hidden = deadlocks.length === 0;
    if (deadlocks.length) {
      $("alert-text").textContent = deadlocks.length + " deadlock(s): " +
        deadlocks.map((r) => r.threads.map((t) => t.name + " waits on " + t.waits_on).join("; ")).join(" | ");
    }
  }

  function drawTargets(targets) {
    const panel = $("targets-panel");
    if (!targets) return;
    panel.hidden = false;
    const body = $("targets").tBodies[0];
    body.replaceChildren();
    for (const t of targets) {
      const tr = el("tr", null, t.stale ? "stale" : "");
      const status = t.up ? "up" : "down: " + t.reason + (t.stale ? " · showing its data of " + clock(t.last_ok) + " (stale)" : "");
      tr.append(el("td", t.url), el("td", labelText(t)), el("td", status, t.up ? "state-running" : "state-waiting"));
      tr.append(el("td", clock(t.last_ok)));
      tr.append(el("td", dur(t.poll_seconds), "num"), el("td", t.threads, "num"), el("td", t.deadlocks, "num"));
      body.append(tr);
    }
  }

  async function refresh() {
    get("targets").then(drawTargets, () => {});
    try {
      const [g, top, deadlocks, order] = await Promise.all([get("graph"), get("contention?n=8"), get("deadlocks"), get("lockorder")]);
      const red = deadlocked(g);
      last = { g, red };
      drawGraph(g, red);
      drawThreads(g, red);
      drawContended(top);
      drawReports(deadlocks, order);
      const s = $("status");
      s.className = "status";
      s.textContent = "updated " + new Date().toLocaleTimeString() + " · " + g.threads.length + " threads · " + g.primitives.length + " primitives";
    } catch (e) {
      const s = $("status");
      s.className = "status error";
      s.textContent = "cannot reach threadmon: " + e.message;
    }
  }

  if (opened.id) {
    const id = opened.id;
    opened.id = null;
    openThread(id);
  }
  refresh();
  setInterval(refresh, 1500);
})();
