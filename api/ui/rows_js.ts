/**
 * Browser code (served inside /ui/app.js) that words the view's rows: actor names split so
 * that the part telling siblings apart (a pod's random suffix) always shows, transitions with
 * repeats collapsed ("CHANGED ×12"), invoked actors' done/error events named as the chart
 * names them, the states an actor never leaves, short times. Everything but `nameParts` is pure, so tests run it outside a
 * browser (`rowsForTests`). Kept as a string for the reasons in `page.ts`.
 */
export const ROWS_JS = String.raw`
/**
 * An actor's name as the list shows it: its system id without the kind, and without the
 * default namespace; 'tail' is the last dash-separated part (a pod's or node's own suffix),
 * which is never cut, 'head' the rest, which is cut with an ellipsis when space runs out.
 */
function splitName(id) {
  var name = id.indexOf("/") < 0 ? id : id.slice(id.indexOf("/") + 1);
  if (name.indexOf("default/") === 0) name = name.slice(8);
  var cut = name.lastIndexOf("-");
  if (cut <= 0 || name.length - cut > 14) return { head: name, tail: "" };
  return { head: name.slice(0, cut + 1), tail: name.slice(cut + 1) };
}

/** The two spans of a name (see splitName); 'text' overrides the id's name. */
function nameParts(id, text) {
  var parts = splitName(text ? "x/" + text : id);
  var frag = document.createDocumentFragment();
  var head = document.createElement("span");
  head.className = "head";
  head.textContent = parts.head;
  frag.appendChild(head);
  if (parts.tail) {
    var tail = document.createElement("span");
    tail.className = "tail";
    tail.textContent = parts.tail;
    frag.appendChild(tail);
  }
  return frag;
}

function sameTransition(a, b) { return a.event === b.event && a.from === b.from && a.to === b.to; }

/**
 * Transitions newest first, with repeats collapsed: a run in which the same one transition, or
 * the same cycle of two or three (CHANGED then done, again and again), repeats becomes one row
 * per transition of the cycle, with 'count', 'at' (the newest) and 'firstAt' (the oldest).
 * 'transitions' is oldest first, as the API gives them.
 */
function collapseRepeats(transitions) {
  var list = transitions.slice().reverse(), rows = [], i = 0;
  var repeats = function (at, p) {
    var n = 1;
    for (;;) {
      var next = at + n * p;
      if (next + p > list.length) return n;
      for (var k = 0; k < p; k++) if (!sameTransition(list[at + k], list[next + k])) return n;
      n++;
    }
  };
  while (i < list.length) {
    var best = { p: 1, n: 1 };
    for (var p = 1; p <= 3; p++) {
      var n = repeats(i, p);
      if (n > 1 && n * p > best.n * best.p) best = { p: p, n: n };
    }
    for (var k = 0; k < best.p; k++) {
      var newest = list[i + k], oldest = list[i + k + (best.n - 1) * best.p];
      rows.push({
        at: newest.at, firstAt: oldest.at, count: best.n,
        event: newest.event, from: newest.from, to: newest.to,
      });
    }
    i += best.n * best.p;
  }
  return rows;
}

/** Every state of a chart by id. */
function statesById(chart) {
  if (chart.byId) return chart.byId;
  var out = {};
  var walk = function (s) { out[s.id] = s; s.states.forEach(walk); };
  walk(chart.root);
  chart.byId = out;
  return out;
}

/**
 * An event as the chart labels it: 'xstate.done.actor.0.pod.Dispatching' is "done: dispatch"
 * (the actor the Dispatching state invokes), 'xstate.init' is "start".
 */
function eventLabel(chart, event) {
  if (event === "xstate.init") return "start";
  var m = /^xstate\.(done|error)\.actor\.(?:\d+\.[^.]+\.)?(.+)$/.exec(event);
  if (!m) return event;
  var state = statesById(chart)[m[2]];
  return m[1] + ": " + (state && state.invokes.length === 1 ? state.invokes[0] : m[2]);
}

/**
 * The leaf states of a chart in which an actor does nothing more: no transition leaves them
 * or a state around them, and neither they nor such a state invoke anything or handle an
 * event (what the machine does in every state aside): a pod's Terminated, and final states.
 * An actor resting in one is finished even while it lives on (a pod's actor lasts until its
 * object is deleted), unlike a node pool that waits in Ready for work.
 */
function sinkStates(chart) {
  var out = {};
  var moves = function (id) {
    return chart.transitions.some(function (t) {
      return t.targets.length > 0 && (t.source === id || id.indexOf(t.source + ".") === 0);
    });
  };
  var walk = function (s, busy) {
    busy = busy ||
      (s !== chart.root && (s.invokes.length > 0 || s.starts.length > 0 || s.internal.length > 0));
    if (!s.states.length && s !== chart.root && !busy && !moves(s.id)) out[s.id] = true;
    s.states.forEach(function (k) { walk(k, busy); });
  };
  walk(chart.root, false);
  return out;
}

/** "02:18:48.389" of an RFC 3339 time; with 'withDate', "2026-12-06 02:18:48 UTC". */
function shortTime(iso, withDate) {
  var m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(iso);
  if (!m) return iso;
  return withDate ? m[1] + " " + m[2] + " UTC" : m[2] + (m[3] || "");
}
`;

/** For tests: evaluates ROWS_JS (no DOM needed) and returns its pure functions. */
export function rowsForTests(): {
  splitName(id: string): { head: string; tail: string };
  collapseRepeats<T extends { at: string; event: string; from: string | null; to: string }>(
    transitions: T[],
  ): (T & { count: number; firstAt: string })[];
  eventLabel(chart: unknown, event: string): string;
  sinkStates(chart: unknown): Record<string, true>;
  shortTime(iso: string, withDate?: boolean): string;
} {
  return new Function(
    `${ROWS_JS}\nreturn { splitName, collapseRepeats, eventLabel, sinkStates, shortTime };`,
  )();
}
