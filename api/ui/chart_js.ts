/**
 * Browser code (served inside /ui/app.js) that draws a chart's JSON (`actors/statechart.ts`)
 * as SVG without any library: every compound state lays out its children in layers
 * (longest path from its initial state, back edges found by depth-first search), arrows
 * are quadratic curves clipped to the boxes, and active states get the class `active`.
 * Kept as a string for the reasons in `page.ts`; written without template literals.
 */
export const CHART_JS = String.raw`
var SVG_NS = "http://www.w3.org/2000/svg";
var GAP_X = 56, GAP_Y = 72, PAD = 30, HEAD_LINE = 16;

function svgEl(name, attrs, parent) {
  var e = document.createElementNS(SVG_NS, name);
  Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
  if (parent) parent.appendChild(e);
  return e;
}

var measurer = null;
function textWidth(text, size) {
  if (!measurer) {
    measurer = svgEl("svg", { width: 0, height: 0, "class": "measure" });
    document.body.appendChild(measurer);
  }
  var t = svgEl("text", { "font-size": size }, measurer);
  t.textContent = text;
  var w = t.getComputedTextLength();
  measurer.removeChild(t);
  return w;
}

function notesOf(s) {
  return s.invokes.map(function (i) { return "invoke " + i; }).concat(
    s.internal.map(function (t) { return "on " + t.label; }));
}

function within(id, ancestor) { return id === ancestor || id.indexOf(ancestor + ".") === 0; }

/** Sizes a state and, for a compound one, places its children (relative positions). */
function measure(s, chart) {
  var notes = notesOf(s);
  var textW = Math.max(textWidth(s.key, 12) + 8, Math.max.apply(null, [0].concat(
    notes.map(function (n) { return textWidth(n, 10.5); }))));
  var head = 20 + HEAD_LINE * notes.length + (s.states.length ? 14 : 0);
  if (!s.states.length) {
    return { state: s, notes: notes, w: Math.max(96, textW + 24), h: head + 10, kids: [] };
  }
  var inner = layoutChildren(s, chart);
  return {
    state: s, notes: notes, kids: inner.kids, head: head,
    w: Math.max(inner.w + 2 * PAD, textW + 24), h: head + inner.h + PAD,
  };
}

/** Places the children of a container in layers; returns its inner size. */
function layoutChildren(container, chart) {
  var kids = container.states.map(function (k) { return measure(k, chart); });
  var n = kids.length;
  var childOf = function (id) {
    for (var i = 0; i < n; i++) if (within(id, kids[i].state.id)) return i;
    return -1;
  };
  var edges = [];
  chart.transitions.forEach(function (t) {
    t.targets.forEach(function (target) {
      var a = childOf(t.source), b = childOf(target);
      if (a >= 0 && b >= 0 && a !== b) edges.push([a, b]);
    });
  });
  var mark = [], back = {}, adj = kids.map(function () { return []; });
  edges.forEach(function (e, i) { adj[e[0]].push([e[1], i]); });
  var dfs = function (v) {
    mark[v] = 1;
    adj[v].forEach(function (x) {
      if (mark[x[0]] === 1) back[x[1]] = true;
      else if (!mark[x[0]]) dfs(x[0]);
    });
    mark[v] = 2;
  };
  var first = kids.findIndex(function (k) { return k.state.id === container.initial; });
  if (first >= 0) dfs(first);
  for (var v = 0; v < n; v++) if (!mark[v]) dfs(v);
  var rank = kids.map(function () { return 0; });
  for (var it = 0; it < n; it++) {
    edges.forEach(function (e, i) {
      if (!back[i] && rank[e[1]] < rank[e[0]] + 1) rank[e[1]] = rank[e[0]] + 1;
    });
  }
  var layers = [];
  rank.forEach(function (r, i) { (layers[r] = layers[r] || []).push(i); });
  layers = layers.filter(Boolean);
  var order = {};
  layers.forEach(function (layer, li) {
    if (li > 0) {
      var centre = function (i) {
        var preds = edges.filter(function (e) { return e[1] === i && order[e[0]] !== undefined; });
        if (!preds.length) return i;
        return preds.reduce(function (sum, e) { return sum + order[e[0]]; }, 0) / preds.length;
      };
      layer.sort(function (a, b) { return centre(a) - centre(b) || a - b; });
    }
    layer.forEach(function (i, pos) { order[i] = pos; });
  });
  // Rows that many arrows cross get more room for their labels.
  var rowOf = {};
  layers.forEach(function (layer, li) { layer.forEach(function (i) { rowOf[i] = li; }); });
  var gapAfter = function (li) {
    var crossing = edges.filter(function (e) {
      return Math.min(rowOf[e[0]], rowOf[e[1]]) <= li && Math.max(rowOf[e[0]], rowOf[e[1]]) > li;
    }).length;
    return GAP_Y + Math.min(160, Math.max(0, crossing - 3) * 12);
  };
  var width = 0, y = 0, lastGap = 0;
  var rows = layers.map(function (layer, li) {
    var w = layer.reduce(function (sum, i) { return sum + kids[i].w; }, 0) + GAP_X * (layer.length - 1);
    var h = Math.max.apply(null, layer.map(function (i) { return kids[i].h; }));
    width = Math.max(width, w);
    var row = { layer: layer, w: w, h: h, y: y };
    lastGap = gapAfter(li);
    y += h + lastGap;
    return row;
  });
  rows.forEach(function (row) {
    var x = (width - row.w) / 2;
    row.layer.forEach(function (i) {
      kids[i].x = x;
      kids[i].y = row.y + (row.h - kids[i].h) / 2;
      x += kids[i].w + GAP_X;
    });
  });
  return { kids: kids, w: width, h: Math.max(0, y - lastGap) };
}

/** Draws one state box (and its children) at absolute (x, y); records boxes by id. */
function drawState(box, x, y, parent, boxes, active) {
  var s = box.state;
  var cls = "state" + (s.states.length ? " compound" : "") + (s.type === "final" ? " final" : "") +
    (active[s.id] ? " active" : "");
  var g = svgEl("g", { "class": cls, "data-id": s.id }, parent);
  svgEl("rect", { x: x, y: y, width: box.w, height: box.h, rx: 9 }, g);
  if (s.type === "final") svgEl("rect", { x: x + 3, y: y + 3, width: box.w - 6, height: box.h - 6, rx: 7 }, g);
  var text = svgEl("text", { x: x + box.w / 2, y: y + 17, "text-anchor": "middle" }, g);
  text.textContent = s.key;
  box.notes.forEach(function (note, i) {
    var t = svgEl("tspan", { x: x + box.w / 2, y: y + 17 + HEAD_LINE * (i + 1), "class": "note" }, text);
    t.textContent = note;
  });
  boxes[s.id] = { x: x, y: y, w: box.w, h: box.h, compound: s.states.length > 0 };
  var initial = null;
  box.kids.forEach(function (k) {
    var kx = x + PAD + k.x, ky = y + box.head + k.y;
    drawState(k, kx, ky, g, boxes, active);
    if (k.state.id === s.initial) initial = { x: kx, y: ky, h: k.h };
  });
  if (initial) drawInitial(initial.x, initial.y + initial.h / 2, g);
}

function drawInitial(x, y, parent) {
  svgEl("circle", { cx: x - 20, cy: y, r: 5, "class": "initial" }, parent);
  svgEl("path", { d: "M" + (x - 15) + "," + y + " L" + (x - 1) + "," + y, "class": "arrow-line", stroke: "#37474f", "marker-end": "url(#arrowhead)" }, parent);
}

/** Where the line from a box's centre towards (px, py) leaves the box. */
function clip(b, px, py) {
  var cx = b.x + b.w / 2, cy = b.y + b.h / 2, dx = px - cx, dy = py - cy;
  if (!dx && !dy) return { x: cx, y: cy };
  var scale = Math.min(dx ? (b.w / 2) / Math.abs(dx) : Infinity, dy ? (b.h / 2) / Math.abs(dy) : Infinity);
  return { x: cx + dx * scale, y: cy + dy * scale };
}

/** Transitions between the same two states share one arrow, as in the DOT output. */
function arrowsOf(chart) {
  var out = {}, list = [];
  chart.transitions.forEach(function (t) {
    t.targets.forEach(function (target) {
      var key = t.source + "\u0000" + target;
      if (!out[key]) list.push(out[key] = { source: t.source, target: target, labels: [], eventless: true });
      out[key].labels.push(t.label);
      out[key].eventless = out[key].eventless && t.trigger === "always";
    });
  });
  return list;
}

function overlaps(r, o, margin) {
  return r.x < o.x + o.w + margin && o.x < r.x + r.w + margin &&
    r.y < o.y + o.h + margin && o.y < r.y + r.h + margin;
}

function bezier(s, c, e, t) {
  var u = 1 - t;
  return { x: u * u * s.x + 2 * u * t * c.x + t * t * e.x, y: u * u * s.y + 2 * u * t * c.y + t * t * e.y };
}

/** A curve from one box to another that bends around the boxes in between, if it can. */
function route(a, boxes, twoWay) {
  var from = boxes[a.source], to = boxes[a.target];
  var fc = { x: from.x + from.w / 2, y: from.y + from.h / 2 }, tc = { x: to.x + to.w / 2, y: to.y + to.h / 2 };
  var dx = tc.x - fc.x, dy = tc.y - fc.y, len = Math.sqrt(dx * dx + dy * dy) || 1;
  var obstacles = Object.keys(boxes).filter(function (id) {
    return !within(a.source, id) && !within(a.target, id);
  }).map(function (id) { return boxes[id]; });
  var bends = twoWay ? [] : [0];
  [36, 70, 110, 150, 200, 260].forEach(function (b) { bends.push(b, -b); });
  var best = null;
  for (var i = 0; i < bends.length; i++) {
    var c = { x: (fc.x + tc.x) / 2 - (dy / len) * bends[i], y: (fc.y + tc.y) / 2 + (dx / len) * bends[i] };
    var s = clip(from, c.x, c.y), e = clip(to, c.x, c.y), hits = 0;
    for (var t = 0.1; t < 0.95; t += 0.08) {
      var p = bezier(s, c, e, t);
      obstacles.forEach(function (o) { if (overlaps({ x: p.x, y: p.y, w: 0, h: 0 }, o, 4)) hits++; });
    }
    if (!best || hits < best.hits) best = { s: s, c: c, e: e, hits: hits };
    if (!hits) break;
  }
  return best;
}

/** Draws an arrow; its label goes where it overlaps no box and no other label. */
function drawArrow(a, boxes, parent, twoWay, taken) {
  var from = boxes[a.source];
  var g = svgEl("g", { "class": "arrow" + (a.eventless ? " eventless" : ""), "data-source": a.source, "data-target": a.target }, parent);
  var d, spots, anchor = "middle";
  if (a.source === a.target) {
    var rx = from.x + from.w, top = from.y + from.h * 0.3, bottom = from.y + from.h * 0.7;
    d = "M" + rx + "," + top + " C" + (rx + 44) + "," + (top - 14) + " " + (rx + 44) + "," + (bottom + 14) + " " + rx + "," + bottom;
    spots = [{ x: rx + 46, y: from.y + from.h / 2 }];
    anchor = "start";
  } else {
    var r = route(a, boxes, twoWay);
    d = "M" + r.s.x + "," + r.s.y + " Q" + r.c.x + "," + r.c.y + " " + r.e.x + "," + r.e.y;
    spots = [0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8].map(function (t) { return bezier(r.s, r.c, r.e, t); });
  }
  svgEl("path", { d: d, "marker-end": "url(#arrowhead)" }, g);
  var label = svgEl("text", { "text-anchor": anchor }, g);
  var place = function (p) {
    label.setAttribute("x", p.x);
    label.setAttribute("y", p.y);
    label.textContent = "";
    a.labels.forEach(function (text, i) {
      var t = svgEl("tspan", { x: p.x, dy: i ? 12 : 3 - 6 * (a.labels.length - 1) }, label);
      t.textContent = text;
    });
    var bb = label.getBBox();
    return { x: bb.x - 2, y: bb.y - 1, w: bb.width + 4, h: bb.height + 2 };
  };
  var crowding = function (box) {
    return taken.filter(function (o) { return overlaps(box, o, 1); }).length +
      Object.keys(boxes).filter(function (id) {
        return !boxes[id].compound && overlaps(box, boxes[id], 1);
      }).length;
  };
  var best = null;
  for (var i = 0; i < spots.length && !(best && best.n === 0); i++) {
    var n = crowding(place(spots[i]));
    if (!best || n < best.n) best = { p: spots[i], n: n };
  }
  var spot = place(best.p);
  taken.push(spot);
  g.insertBefore(svgEl("rect", { x: spot.x, y: spot.y, width: spot.w, height: spot.h, rx: 3 }), label);
}

/** Draws 'chart' into 'host', highlighting the active leaf ids in 'current' and their ancestors. */
function drawChart(host, chart, current) {
  var active = {};
  (current || []).forEach(function (path) {
    var parts = path.split(".");
    for (var i = 1; i <= parts.length; i++) active[parts.slice(0, i).join(".")] = true;
  });
  host.textContent = "";
  var svg = svgEl("svg", { "class": "statechart", "data-machine": chart.id, role: "img" }, host);
  svgEl("title", {}, svg).textContent = "The " + chart.id + " state machine";
  var defs = svgEl("defs", {}, svg);
  var marker = svgEl("marker", { id: "arrowhead", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
  svgEl("path", { d: "M0,0 L10,5 L0,10 z" }, marker);
  var inner = layoutChildren(chart.root, chart);
  var boxes = {}, states = svgEl("g", { "class": "states" }, svg), margin = 40;
  var initial = null;
  inner.kids.forEach(function (k) {
    drawState(k, margin + k.x, margin + k.y, states, boxes, active);
    if (k.state.id === chart.root.initial) initial = { x: margin + k.x, y: margin + k.y + k.h / 2 };
  });
  if (initial) drawInitial(initial.x, initial.y, states);
  var arrows = svgEl("g", { "class": "arrows" }, svg);
  var pairs = {}, taken = [];
  arrowsOf(chart).forEach(function (a) { pairs[a.source + "\u0000" + a.target] = true; });
  arrowsOf(chart).forEach(function (a) {
    drawArrow(a, boxes, arrows, !!pairs[a.target + "\u0000" + a.source], taken);
  });
  // Arrows may bend beyond the boxes: the picture is whatever was drawn, plus a margin.
  var bb = svg.getBBox();
  var x0 = Math.floor(Math.min(0, bb.x - 10)), y0 = Math.floor(Math.min(0, bb.y - 10));
  var w = Math.ceil(Math.max(bb.x + bb.width, inner.w) + margin - x0);
  var h = Math.ceil(bb.y + bb.height + margin - y0);
  svg.setAttribute("width", w);
  svg.setAttribute("height", h);
  svg.setAttribute("viewBox", x0 + " " + y0 + " " + w + " " + h);
  return svg;
}
`;
