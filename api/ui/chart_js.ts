/**
 * Browser code (served inside /ui/app.js) that draws a chart's JSON (`actors/statechart.ts`)
 * as SVG without any library: every compound state lays out its children in layers
 * (longest path from its initial state, back edges found by depth-first search), arrows
 * are quadratic curves clipped to the boxes, and active states get the class `active`. A
 * compound state is made wide enough for the labels of the arrows inside it, and a label goes
 * beside its arrow, on the side the arrow bends to, where it covers no box and no other label.
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
    s.starts.map(function (a) { return "starts " + a; }),
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
  var room = labelRoom(s, chart, inner);
  return {
    state: s, notes: notes, kids: inner.kids, head: head, pad: PAD + room.left,
    w: Math.max(inner.w + 2 * PAD + room.left + room.right, textW + 24), h: head + inner.h + PAD,
  };
}

function labelWidth(labels) {
  return Math.max.apply(null, labels.map(function (l) { return textWidth(l, 10); }));
}

/**
 * Room (left and right, beyond PAD) a compound state needs for the labels of the arrows inside
 * it: beside a two-way pair's curves, on the right of an arrow between the state's right border
 * and one of its children, centred on a one-way arrow between two children.
 */
function labelRoom(s, chart, inner) {
  var half = inner.w / 2 + PAD, need = 0, right = 0;
  var arrows = arrowsOf(chart), pairs = {};
  arrows.forEach(function (a) { pairs[a.source + "\u0000" + a.target] = true; });
  var kidOf = function (id) {
    for (var i = 0; i < inner.kids.length; i++) if (within(id, inner.kids[i].state.id)) return inner.kids[i];
    return null;
  };
  arrows.forEach(function (a) {
    if (!within(a.source, s.id) || !within(a.target, s.id)) return;
    var from = kidOf(a.source), to = kidOf(a.target), w = labelWidth(a.labels);
    if (from && to && from === to) return; // drawn inside that child
    if (!from || !to) {
      var kid = from || to;
      right = Math.max(right, kid.x + kid.w - inner.w / 2 + w + 24);
    } else if (pairs[a.target + "\u0000" + a.source]) {
      need = Math.max(need, w + 34);
    } else {
      need = Math.max(need, w / 2 + 8);
    }
  });
  return {
    left: Math.max(0, Math.ceil(need - half)),
    right: Math.max(0, Math.ceil(Math.max(need, right) - half)),
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
  boxes[s.id] = { x: x, y: y, w: box.w, h: box.h, compound: s.states.length > 0, head: box.head || box.h };
  var initial = null;
  box.kids.forEach(function (k) {
    var kx = x + box.pad + k.x, ky = y + box.head + k.y;
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

/** Whether arrow 'a' joins a compound state and one of its own descendants. */
function nested(a) {
  return a.source !== a.target && (within(a.target, a.source) || within(a.source, a.target));
}

/**
 * Where a label may go along a curve from s to e bending towards c: beside the curve on the
 * side it bends to (text growing away from it), else centred on it; middle positions first.
 */
function labelSpots(s, c, e) {
  var mid = { x: (s.x + e.x) / 2, y: (s.y + e.y) / 2 };
  var nx = c.x - mid.x, ny = c.y - mid.y, bent = Math.abs(nx) + Math.abs(ny) > 4;
  var beside = function (p) {
    if (!bent) return null;
    if (Math.abs(nx) >= Math.abs(ny)) {
      return nx > 0 ? { x: p.x + 5, y: p.y, anchor: "start" } : { x: p.x - 5, y: p.y, anchor: "end" };
    }
    return { x: p.x, y: p.y + (ny > 0 ? 9 : -9), anchor: "middle", below: ny > 0 };
  };
  var spots = [];
  [0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.18, 0.82].forEach(function (t, i) {
    var p = bezier(s, c, e, t), side = beside(p);
    if (side) spots.push({ x: side.x, y: side.y, anchor: side.anchor, below: side.below, cost: i });
    spots.push({ x: p.x, y: p.y, anchor: "middle", cost: i + (bent ? 3 : 0) });
    if (!bent) {
      spots.push({ x: p.x + 6, y: p.y, anchor: "start", cost: i + 2 });
      spots.push({ x: p.x - 6, y: p.y, anchor: "end", cost: i + 2 });
    }
  });
  return spots;
}

/** Draws an arrow's path; returns where its label may go and points along it. */
function drawArrow(a, boxes, parent, twoWay) {
  var from = boxes[a.source], to = boxes[a.target];
  var g = svgEl("g", { "class": "arrow" + (a.eventless ? " eventless" : ""), "data-source": a.source, "data-target": a.target }, parent);
  var d, spots, curve;
  if (a.source === a.target) {
    var rx = from.x + from.w, top = from.y + from.h * 0.3, bottom = from.y + from.h * 0.7;
    d = "M" + rx + "," + top + " C" + (rx + 44) + "," + (top - 14) + " " + (rx + 44) + "," + (bottom + 14) + " " + rx + "," + bottom;
    spots = [{ x: rx + 46, y: from.y + from.h / 2, anchor: "start", cost: 0 }];
    curve = { s: { x: rx, y: top }, c: { x: rx + 40, y: from.y + from.h / 2 }, e: { x: rx, y: bottom } };
  } else if (nested(a)) {
    // Between a compound state's right border and its child's right side, inside the state.
    var outer = within(a.target, a.source) ? from : to, inner = outer === from ? to : from;
    var y = inner.y + inner.h / 2;
    var s = { x: outer === from ? outer.x + outer.w : inner.x + inner.w, y: y };
    var e = { x: outer === from ? inner.x + inner.w : outer.x + outer.w, y: y };
    d = "M" + s.x + "," + s.y + " L" + e.x + "," + e.y;
    curve = { s: s, c: { x: (s.x + e.x) / 2, y: y }, e: e };
    spots = labelSpots(s, { x: curve.c.x, y: y - 20 }, e);
  } else {
    curve = route(a, boxes, twoWay);
    d = "M" + curve.s.x + "," + curve.s.y + " Q" + curve.c.x + "," + curve.c.y + " " + curve.e.x + "," + curve.e.y;
    spots = labelSpots(curve.s, curve.c, curve.e);
  }
  svgEl("path", { d: d, "marker-end": "url(#arrowhead)" }, g);
  var points = [];
  for (var t = 0.04; t < 1; t += 0.04) points.push(bezier(curve.s, curve.c, curve.e, t));
  return { a: a, spots: spots, points: points };
}

/**
 * Writes an arrow's label where it covers the fewest boxes, other labels and other arrows
 * (in that order of badness), close to the middle of its arrow.
 */
function drawLabel(drawn, boxes, taken, all, layer) {
  var a = drawn.a, lines = a.labels.length;
  // Above every arrow: a later arrow's line never runs over a label.
  var g = svgEl("g", { "class": "label", "data-source": a.source, "data-target": a.target }, layer);
  var label = svgEl("text", {}, g);
  var place = function (p) {
    label.setAttribute("x", p.x);
    label.setAttribute("y", p.y);
    label.setAttribute("text-anchor", p.anchor);
    label.textContent = "";
    // Centred on the spot; beside a curve above or below it, the block grows away from it.
    var first = p.below === undefined ? 3 - 6 * (lines - 1) : p.below ? 8 : -2 - 12 * (lines - 1);
    a.labels.forEach(function (text, i) {
      var t = svgEl("tspan", { x: p.x, dy: i ? 12 : first }, label);
      t.textContent = text;
    });
    var bb = label.getBBox();
    return { x: bb.x - 2, y: bb.y - 1, w: bb.width + 4, h: bb.height + 2 };
  };
  var obstacles = Object.keys(boxes).map(function (id) {
    var b = boxes[id];
    // A compound state's title and notes, not the space inside it, which arrows cross.
    return b.compound ? { x: b.x, y: b.y, w: b.w, h: b.head } : b;
  });
  var crossed = function (box) {
    return all.filter(function (other) {
      return other !== drawn && other.points.some(function (p) {
        return p.x > box.x && p.x < box.x + box.w && p.y > box.y && p.y < box.y + box.h;
      });
    }).length;
  };
  var badness = function (box) {
    return 100 * (taken.filter(function (o) { return overlaps(box, o, 2); }).length +
      obstacles.filter(function (o) { return overlaps(box, o, 1); }).length) + 12 * crossed(box);
  };
  var best = null;
  for (var i = 0; i < drawn.spots.length; i++) {
    if (best && drawn.spots[i].cost >= best.n) continue; // cannot do better
    var n = badness(place(drawn.spots[i])) + drawn.spots[i].cost;
    if (!best || n < best.n) best = { p: drawn.spots[i], n: n };
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
  // Every arrow first, then the labels, so that a label knows every arrow it could cover.
  var drawn = arrowsOf(chart).map(function (a) {
    return drawArrow(a, boxes, arrows, !!pairs[a.target + "\u0000" + a.source]);
  });
  var labels = svgEl("g", { "class": "labels" }, svg);
  drawn.forEach(function (d) { drawLabel(d, boxes, taken, drawn, labels); });
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
