// DevMemory knowledge-graph picture: a dependency-free canvas force layout.
// Reads the page's JSON (#graph-data: nodes with their latest memories, merged edges) and
// draws it: colour = entity type, size = degree; click a node for its memories.
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("graph-data").textContent);
  var body = document.body;
  var canvas = document.getElementById("graph");
  var ctx = canvas.getContext("2d");
  var colours = data.colours || {};

  // ---- model ---------------------------------------------------------------------------
  var nodes = data.nodes.map(function (n, i) {
    return Object.assign({ index: i, x: 0, y: 0, vx: 0, vy: 0, links: [], pinned: false }, n);
  });
  var byId = new Map(nodes.map(function (n) { return [n.id, n]; }));
  var edges = [];
  data.edges.forEach(function (e) {
    var s = byId.get(e.s), t = byId.get(e.t);
    if (!s || !t || s === t) return;
    var edge = { source: s, target: t, weight: e.w, types: e.types };
    edges.push(edge);
    s.links.push({ other: t, edge: edge });
    t.links.push({ other: s, edge: edge });
  });
  var maxWeight = edges.reduce(function (m, e) { return Math.max(m, e.weight); }, 0) || 1;
  nodes.forEach(function (n) {
    n.degree = n.links.length;
    n.r = Math.min(30, 4 + 2.6 * Math.sqrt(n.degree));
    n.links.sort(function (a, b) { return b.edge.weight - a.edge.weight; });
    n.haystack = [n.label, n.name].concat(n.aliases || []).join("\n").toLowerCase();
  });

  // auto: keep the whole graph in view (on resize too) until the user pans or zooms
  var view = { k: 1, x: 0, y: 0, w: 0, h: 0, dpr: 1, auto: true };
  var state = { hover: null, selected: null, matches: new Set(), hidden: new Set(), alpha: 0 };

  // ---- layout (velocity Verlet, as d3-force: charge, links, centring, collisions) -------
  function place() {
    var golden = Math.PI * (3 - Math.sqrt(5));
    nodes.forEach(function (n, i) {
      var r = 12 * Math.sqrt(0.5 + i), a = i * golden;
      n.x = r * Math.cos(a);
      n.y = r * Math.sin(a);
    });
  }

  function tick(alpha) {
    var i, j, a, b, dx, dy, d2, d, f, n = nodes.length;
    for (i = 0; i < n; i++) {
      a = nodes[i];
      for (j = i + 1; j < n; j++) {
        b = nodes[j];
        dx = b.x - a.x; dy = b.y - a.y;
        d2 = dx * dx + dy * dy;
        if (d2 < 1e-6) { dx = (Math.random() - 0.5) * 1e-3; dy = 1e-3; d2 = dx * dx + dy * dy; }
        f = -90 * alpha / d2;
        d = Math.sqrt(d2);
        var gap = a.r + b.r + 3;
        if (d < gap) f -= (gap - d) / d * 0.5;
        a.vx += dx * f; a.vy += dy * f;
        b.vx -= dx * f; b.vy -= dy * f;
      }
    }
    edges.forEach(function (e) {
      var s = e.source, t = e.target;
      dx = t.x + t.vx - s.x - s.vx; dy = t.y + t.vy - s.y - s.vy;
      d = Math.sqrt(dx * dx + dy * dy) || 1e-3;
      var want = 36 + s.r + t.r;
      f = (d - want) / d * alpha / Math.min(s.degree, t.degree) * 0.9;
      var share = s.degree / (s.degree + t.degree);
      t.vx -= dx * f * share; t.vy -= dy * f * share;
      s.vx += dx * f * (1 - share); s.vy += dy * f * (1 - share);
    });
    nodes.forEach(function (p) {
      p.vx -= p.x * 0.02 * alpha; p.vy -= p.y * 0.02 * alpha;
      if (p.pinned) { p.vx = 0; p.vy = 0; return; }
      p.vx *= 0.6; p.vy *= 0.6;
      p.x += p.vx; p.y += p.vy;
    });
  }

  function settle() {
    var ticks = nodes.length > 600 ? 120 : 300, decay = 1 - Math.pow(0.001, 1 / ticks), alpha = 1;
    for (var i = 0; i < ticks; i++) { tick(alpha); alpha *= 1 - decay; }
  }

  function animate() {
    if (state.alpha < 0.005) { state.alpha = 0; return; }
    tick(state.alpha);
    state.alpha *= 0.97;
    draw();
    requestAnimationFrame(animate);
  }

  function reheat(alpha) {
    var idle = state.alpha === 0;
    state.alpha = Math.max(state.alpha, alpha);
    if (idle) requestAnimationFrame(animate);
  }

  // ---- view ----------------------------------------------------------------------------
  function resize() {
    var box = canvas.parentElement.getBoundingClientRect();
    view.dpr = window.devicePixelRatio || 1;
    view.w = box.width; view.h = box.height;
    canvas.width = Math.round(box.width * view.dpr);
    canvas.height = Math.round(box.height * view.dpr);
    if (view.auto) fit(); else draw();
  }

  function fit() {
    var shown = nodes.filter(visible);
    if (!shown.length) { view.k = 1; view.x = view.w / 2; view.y = view.h / 2; return draw(); }
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    shown.forEach(function (n) {
      x0 = Math.min(x0, n.x - n.r); y0 = Math.min(y0, n.y - n.r);
      x1 = Math.max(x1, n.x + n.r); y1 = Math.max(y1, n.y + n.r);
    });
    view.k = Math.max(0.05, Math.min(2.5, Math.min((view.w - 60) / (x1 - x0 || 1), (view.h - 60) / (y1 - y0 || 1))));
    view.x = view.w / 2 - view.k * (x0 + x1) / 2;
    view.y = view.h / 2 - view.k * (y0 + y1) / 2;
    draw();
  }

  function centreOn(n) {
    view.auto = false;
    view.k = Math.max(view.k, 1.2);
    view.x = view.w / 2 - view.k * n.x;
    view.y = view.h / 2 - view.k * n.y;
  }

  function visible(n) { return !state.hidden.has(n.type); }

  function focusSet() {
    var f = state.hover || state.selected;
    if (!f) return null;
    var set = new Set([f]);
    f.links.forEach(function (l) { set.add(l.other); });
    return set;
  }

  function draw() {
    var focus = focusSet();
    ctx.setTransform(view.dpr, 0, 0, view.dpr, 0, 0);
    ctx.clearRect(0, 0, view.w, view.h);
    ctx.translate(view.x, view.y);
    ctx.scale(view.k, view.k);
    edges.forEach(function (e) {
      if (!visible(e.source) || !visible(e.target)) return;
      var lit = focus && focus.has(e.source) && focus.has(e.target) &&
        (e.source === (state.hover || state.selected) || e.target === (state.hover || state.selected));
      ctx.globalAlpha = focus && !lit ? 0.06 : 0.25 + 0.6 * e.weight / maxWeight;
      ctx.strokeStyle = lit ? "#334155" : "#9aa3b2";
      ctx.lineWidth = (0.6 + 3 * e.weight / maxWeight) / Math.sqrt(view.k);
      ctx.beginPath();
      ctx.moveTo(e.source.x, e.source.y);
      ctx.lineTo(e.target.x, e.target.y);
      ctx.stroke();
    });
    nodes.forEach(function (n) {
      if (!visible(n)) return;
      ctx.globalAlpha = focus && !focus.has(n) ? 0.18 : 1;
      ctx.beginPath();
      ctx.arc(n.x, n.y, n.r, 0, 2 * Math.PI);
      ctx.fillStyle = colours[n.type] || "#888";
      ctx.fill();
      ctx.lineWidth = (n === state.selected ? 3 : 1.2) / view.k;
      ctx.strokeStyle = n === state.selected ? "#111827" : state.matches.has(n) ? "#e11d48" : "#fff";
      if (state.matches.has(n)) ctx.lineWidth = 3 / view.k;
      ctx.stroke();
    });
    ctx.globalAlpha = 1;
    drawLabels(focus);
  }

  function drawLabels(focus) {
    // Biggest nodes first; a label that would overlap one already drawn is left out.
    var size = 12 / view.k, taken = [], order = nodes.slice().sort(function (a, b) { return b.r - a.r; });
    ctx.font = size + "px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    ctx.lineJoin = "round";
    order.forEach(function (n) {
      if (!visible(n)) return;
      var wanted = focus ? focus.has(n) : (n.r * view.k >= 7 || view.k >= 1.6 || state.matches.has(n));
      if (!wanted && n !== state.selected) return;
      var text = n.label.length > 32 ? n.label.slice(0, 31) + "…" : n.label;
      var w = ctx.measureText(text).width, x = n.x - w / 2, y = n.y + n.r + 2 / view.k;
      var box = { x0: x, y0: y, x1: x + w, y1: y + size };
      var clash = taken.some(function (t) { return box.x0 < t.x1 && t.x0 < box.x1 && box.y0 < t.y1 && t.y0 < box.y1; });
      if (clash && n !== state.selected && n !== state.hover) return;
      taken.push(box);
      ctx.lineWidth = 3 / view.k;
      ctx.strokeStyle = "rgba(247,248,250,0.95)";
      ctx.strokeText(text, n.x, y);
      ctx.fillStyle = "#1d2330";
      ctx.fillText(text, n.x, y);
    });
  }

  // ---- interaction ---------------------------------------------------------------------
  function toWorld(ev) {
    var box = canvas.getBoundingClientRect();
    return { x: (ev.clientX - box.left - view.x) / view.k, y: (ev.clientY - box.top - view.y) / view.k };
  }

  function nodeAt(p) {
    for (var i = nodes.length - 1; i >= 0; i--) {
      var n = nodes[i], dx = n.x - p.x, dy = n.y - p.y, r = n.r + 3 / view.k;
      if (visible(n) && dx * dx + dy * dy <= r * r) return n;
    }
    return null;
  }

  var drag = null;
  canvas.addEventListener("pointerdown", function (ev) {
    var p = toWorld(ev), n = nodeAt(p);
    drag = { node: n, sx: ev.clientX, sy: ev.clientY, vx: view.x, vy: view.y, moved: false };
    canvas.setPointerCapture(ev.pointerId);
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("pointermove", function (ev) {
    if (!drag) {
      var over = nodeAt(toWorld(ev));
      if (over !== state.hover) { state.hover = over; canvas.classList.toggle("over-node", !!over); draw(); }
      return;
    }
    if (Math.abs(ev.clientX - drag.sx) + Math.abs(ev.clientY - drag.sy) > 3) drag.moved = true;
    if (!drag.moved) return;
    if (drag.node) {
      var p = toWorld(ev);
      drag.node.x = p.x; drag.node.y = p.y; drag.node.pinned = true;
      reheat(0.2);
    } else {
      view.auto = false;
      view.x = drag.vx + ev.clientX - drag.sx;
      view.y = drag.vy + ev.clientY - drag.sy;
    }
    draw();
  });
  canvas.addEventListener("pointerup", function () {
    if (drag && !drag.moved) select(drag.node);
    if (drag && drag.node) drag.node.pinned = false;
    drag = null;
    canvas.classList.remove("dragging");
  });
  canvas.addEventListener("pointerleave", function () {
    if (state.hover) { state.hover = null; draw(); }
  });
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var box = canvas.getBoundingClientRect(), mx = ev.clientX - box.left, my = ev.clientY - box.top;
    var k = Math.max(0.05, Math.min(8, view.k * Math.exp(-ev.deltaY * 0.0015)));
    view.x = mx - (mx - view.x) * k / view.k;
    view.y = my - (my - view.y) * k / view.k;
    view.k = k;
    view.auto = false;
    draw();
  }, { passive: false });
  canvas.addEventListener("dblclick", function () { view.auto = true; fit(); });
  window.addEventListener("resize", resize);
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "/" && document.activeElement !== search) { ev.preventDefault(); search.focus(); }
    if (ev.key === "Escape") { search.value = ""; onSearch(); select(null); }
  });

  // ---- side panel ----------------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function dot(type) {
    var d = el("span", "dot");
    d.style.background = colours[type] || "#888";
    return d;
  }

  function entityButton(n, extra) {
    var b = el("button");
    b.type = "button";
    b.append(dot(n.type), el("span", "name", n.label));
    if (extra) b.append(el("span", "weight", extra));
    b.title = n.type + ": " + n.label;
    b.addEventListener("click", function () { select(n, true); });
    var li = el("li");
    li.append(b);
    return li;
  }

  function select(n, centre) {
    state.selected = n;
    if (n && centre) centreOn(n);
    renderDetails();
    draw();
  }

  function renderDetails() {
    var box = document.getElementById("details"), n = state.selected;
    box.replaceChildren();
    if (!n) {
      box.append(el("p", "muted", "Click an entity to see its memories and neighbours."));
      return;
    }
    var badge = el("span", "badge", n.type);
    badge.style.background = colours[n.type] || "#888";
    box.append(badge, el("h2", null, n.label),
      el("p", "muted", "in " + n.count + " memor" + (n.count === 1 ? "y" : "ies") + " · " +
        n.degree + " neighbour" + (n.degree === 1 ? "" : "s") + " shown"));
    if (n.aliases && n.aliases.length) box.append(el("p", "aliases", "also: " + n.aliases.join(", ")));
    box.append(el("h3", null, "Latest memories"));
    if (!n.memories.length) box.append(el("p", "muted", "none"));
    n.memories.forEach(function (m) {
      var item = el("div", "memory"), meta = el("div", "meta");
      meta.append(document.createTextNode((m.when || "").slice(0, 10) + " · " + m.kind + " · "), el("code", null, m.id));
      item.append(el("div", "title", m.title), meta, el("div", "snippet", m.snippet));
      box.append(item);
    });
    if (n.links.length) {
      box.append(el("h3", null, "Neighbours"));
      var list = el("ul", "list");
      n.links.slice(0, 60).forEach(function (l) {
        list.append(entityButton(l.other, l.edge.types.join(", ") + " · " + l.edge.weight.toFixed(2)));
      });
      if (n.links.length > 60) list.append(el("li", "muted", "… and " + (n.links.length - 60) + " more"));
      box.append(list);
    }
  }

  var search = document.getElementById("search");
  function onSearch() {
    var q = search.value.trim().toLowerCase(), results = document.getElementById("results");
    results.replaceChildren();
    state.matches = new Set();
    if (q) {
      var found = nodes.filter(function (n) { return visible(n) && n.haystack.indexOf(q) >= 0; });
      found.sort(function (a, b) {
        return (b.label.toLowerCase().indexOf(q) === 0) - (a.label.toLowerCase().indexOf(q) === 0) || b.count - a.count;
      });
      state.matches = new Set(found);
      found.slice(0, 12).forEach(function (n) { results.append(entityButton(n, n.count + " mem.")); });
      if (!found.length) results.append(el("li", "muted", "No entity matches."));
    }
    body.dataset.matches = String(state.matches.size);
    draw();
  }
  search.addEventListener("input", onSearch);
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && state.matches.size) select(Array.from(state.matches)[0], true);
  });

  function renderLegend() {
    var legend = document.getElementById("legend"), counts = {};
    nodes.forEach(function (n) { counts[n.type] = (counts[n.type] || 0) + 1; });
    Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a]; }).forEach(function (type) {
      var li = el("li");
      li.append(dot(type), document.createTextNode(type + " " + counts[type]));
      li.title = "Hide or show " + type + " entities";
      li.addEventListener("click", function () {
        if (state.hidden.has(type)) state.hidden.delete(type); else state.hidden.add(type);
        li.classList.toggle("off", state.hidden.has(type));
        draw();
      });
      legend.append(li);
    });
  }

  // #search=<text> fills the search box; #select=<name> opens an entity (links, tests).
  function openFromHash() {
    var params = new URLSearchParams(location.hash.slice(1));
    if (params.has("search")) { search.value = params.get("search"); onSearch(); }
    var wanted = (params.get("select") || "").toLowerCase();
    var found = wanted && nodes.find(function (n) { return n.label.toLowerCase() === wanted || n.name.toLowerCase() === wanted; });
    if (found) select(found, true);
  }

  // ---- start ---------------------------------------------------------------------------
  document.getElementById("counter").textContent = nodes.length + " entities · " + edges.length + " relations" +
    (data.total_entities > nodes.length ? " (of " + data.total_entities + " entities)" : "");
  document.getElementById("subtitle").textContent = data.subtitle || "";
  document.getElementById("empty").hidden = nodes.length > 0;
  place();
  settle();
  renderLegend();
  resize();
  fit();
  var start = data.center !== null && data.center !== undefined ? byId.get(data.center) : null;
  if (start) select(start);
  openFromHash();
  window.addEventListener("hashchange", openFromHash);
  body.dataset.nodeCount = String(nodes.length);
  body.dataset.edgeCount = String(edges.length);
  body.dataset.ready = "true";
})();
