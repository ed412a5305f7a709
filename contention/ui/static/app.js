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
    const p = g.primitives.find((x) => x.id === id);
    return p ? p.kind + " " + p.label : id;
  }

  function drawThreads(g, red) {
    const body = $("threads").tBodies[0];
    body.replaceChildren();
    const threads = g.threads.filter((t) => !t.dummy || t.wait || t.holds.length);
    $("thread-count").textContent = threads.length + " shown, " + g.threads.length + " live · open a name for its stack";
    for (const t of threads) {
      const tr = el("tr");
      if (red.has(t.id)) tr.className = "deadlocked";
      const name = el("button", t.name, "open");
      name.type = "button";
      name.title = "show the stack";
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
  }

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
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
    const rowH = 34, width = 900, left = 170, right = width - 170;
    const height = Math.max(threads.length, prims.length) * rowH + 20;
    const pos = new Map();
    threads.forEach((t, i) => pos.set(t.id, { x: left, y: 20 + i * rowH + (height - 20 - threads.length * rowH) / 2 }));
    prims.forEach((p, i) => pos.set(p.id, { x: right, y: 20 + i * rowH + (height - 20 - prims.length * rowH) / 2 }));
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "lock graph" });
    for (const e of g.edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      const isRed = red.has(e.from) && red.has(e.to);
      const cls = (e.type === "held_by" ? "held" : "wait") + (isRed ? " red" : "");
      root.append(svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: cls }));
    }
    for (const t of threads) {
      const p = pos.get(t.id);
      const gEl = svg("g", { class: "thread" + (red.has(t.id) ? " red" : "") });
      gEl.append(svg("rect", { x: p.x - 150, y: p.y - 13, width: 150, height: 26, rx: 4 }));
      gEl.append(svg("text", { x: p.x - 144, y: p.y + 4 }, t.name.slice(0, 22)));
      root.append(gEl);
    }
    for (const q of prims) {
      const p = pos.get(q.id);
      const gEl = svg("g", { class: "prim" + (red.has(q.id) ? " red" : "") });
      gEl.append(svg("ellipse", { cx: p.x + 75, cy: p.y, rx: 80, ry: 13 }));
      gEl.append(svg("text", { x: p.x + 2, y: p.y + 4 }, (q.kind + " " + q.label).slice(0, 24)));
      root.append(gEl);
    }
    box.replaceChildren(root);
  }

  function drawContended(top) {
    const body = $("contended").tBodies[0];
    body.replaceChildren();
    for (const c of top.by_wait) {
      const tr = el("tr");
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
      const d = el("div", null, "report");
      d.append(el("h3", "Deadlock: " + r.threads.map((t) => t.name).join(" → ")));
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
      const tr = el("tr");
      tr.append(el("td", t.url), el("td", t.up ? "up" : "down: " + t.reason, t.up ? "state-running" : "state-waiting"));
      tr.append(el("td", t.last_ok && !t.last_ok.startsWith("0001") ? new Date(t.last_ok).toLocaleTimeString() : "never"));
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
