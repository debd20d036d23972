/**
 * Browser code of the web view (served as /ui/app.js with `chart_js.ts` and `rows_js.ts`):
 * lists the live actors by kind from `GET /api/v1/actors?watch=true` (EventSource, so states
 * change in place without a reload), finished ones hidden unless asked for; draws the selected
 * machine, highlights the selected actor's current state and shows its context, the actors it
 * points at (a node's pod, a pod's node) and its recent transitions, repeats collapsed. The
 * location hash (`#actor=<id>`, `#machine=<kind>`) says what is selected, so links and the
 * back button work. Every request goes to the controller that served the page. Kept as a
 * string for the reasons in `page.ts`.
 */
import { CHART_JS } from "./chart_js.ts";
import { ROWS_JS } from "./rows_js.ts";

const APP = String.raw`
var view = {
  kinds: [], charts: {}, actors: {}, selected: null, refresh: null,
  counts: {}, sinks: {}, showFinished: false,
};

function $(id) { return document.getElementById(id); }

function getJSON(url) {
  return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (res) {
      if (res.status === 401) { location.assign("/ui/login"); throw new Error("logged out"); }
      return res.json().then(function (body) {
        if (!res.ok) throw new Error(body.message || res.statusText);
        return body;
      });
    });
}

function actorPath(id) { return id.split("/").map(encodeURIComponent).join("/"); }

function chartOf(kind) {
  if (!view.charts[kind]) {
    view.charts[kind] = getJSON("/api/v1/statecharts/" + encodeURIComponent(kind) + "?format=json");
  }
  return view.charts[kind];
}

function el(name, cls, text) {
  var e = document.createElement(name);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function cell(row, text, cls, title) {
  var td = el("td", cls, text);
  if (title) td.title = title;
  row.appendChild(td);
  return td;
}

/** A link that selects actor 'id' (through the location hash). */
function actorLink(id, text) {
  var a = el("a", "actor-link");
  a.href = "#actor=" + id;
  a.title = id;
  a.appendChild(nameParts(id, text));
  return a;
}

/** Stopped, done, or resting in a state it never leaves (a Terminated pod). */
function isFinished(a) {
  var sinks = view.sinks[a.kind] || {};
  return a.status !== "active" || a.state.split(", ").every(function (s) { return sinks[s]; });
}

/** Keeps the per-kind counts of live and finished actors, and the headings that show them. */
function count(a, delta) {
  var c = view.counts[a.kind] = view.counts[a.kind] || { live: 0, finished: 0 };
  c[isFinished(a) ? "finished" : "live"] += delta;
  var section = document.querySelector('section[data-kind="' + CSS.escape(a.kind) + '"]');
  if (section) {
    section.querySelector(".count").textContent = c.live + (c.finished ? " + " + c.finished + " finished" : "");
    section.hidden = c.live + c.finished === 0;
    section.classList.toggle("all-finished", c.live === 0);
  }
  var finished = 0;
  Object.keys(view.counts).forEach(function (k) { finished += view.counts[k].finished; });
  $("finished-count").textContent = String(finished);
  $("actors").querySelector(".empty").hidden = Object.keys(view.actors).length > 0;
}

/** Adds or updates an actor's line in the list. */
function upsertActor(a) {
  var old = view.actors[a.id];
  view.actors[a.id] = a;
  var li = document.querySelector('li.actor[data-id="' + CSS.escape(a.id) + '"]');
  if (!li) {
    var group = document.querySelector('ul[data-kind="' + CSS.escape(a.kind) + '"]');
    if (!group) return;
    li = el("li", "actor");
    li.dataset.id = a.id;
    var button = el("button", "name");
    button.type = "button";
    button.title = a.id;
    button.appendChild(nameParts(a.id));
    button.addEventListener("click", function () { go(a.id); });
    li.appendChild(button);
    li.appendChild(el("span", "state"));
    var after = Array.prototype.find.call(group.children, function (x) { return x.dataset.id > a.id; });
    group.insertBefore(li, after || null);
  }
  if (old) count(old, -1);
  count(a, 1);
  var span = li.querySelector(".state");
  if (span.textContent && span.textContent !== a.state) {
    li.classList.add("flash");
    setTimeout(function () { li.classList.remove("flash"); }, 800);
  }
  span.textContent = a.state;
  span.title = a.state + " (" + a.status + ") since " + a.updatedAt;
  li.dataset.state = a.state;
  li.dataset.status = a.status;
  li.classList.toggle("finished", isFinished(a));
  li.classList.toggle("selected", !!view.selected && view.selected.id === a.id);
  // A node shows the pod it runs, as a link to that pod's actor.
  var pod = a.links && a.links.pod;
  var link = li.querySelector(".runs");
  if (link && link.dataset.target !== pod) { link.remove(); link = null; }
  if (pod && !link) {
    link = el("div", "runs");
    link.dataset.target = pod;
    link.title = "runs " + pod;
    link.appendChild(el("span", null, "↳"));
    link.appendChild(actorLink(pod));
    li.appendChild(link);
  }
}

function removeActor(a) {
  var old = view.actors[a.id];
  delete view.actors[a.id];
  var li = document.querySelector('li.actor[data-id="' + CSS.escape(a.id) + '"]');
  if (li) li.remove();
  if (old) count(old, -1);
}

function buildLists() {
  var machines = $("machines"), actors = $("actors");
  view.kinds.forEach(function (kind) {
    var li = el("li");
    li.dataset.kind = kind;
    var b = el("button", null, kind);
    b.type = "button";
    b.addEventListener("click", function () { go(null, kind); });
    li.appendChild(b);
    machines.appendChild(li);
    var section = el("section");
    section.dataset.kind = kind;
    section.hidden = true;
    var h = el("h3", null, kind + " ");
    h.appendChild(el("span", "count"));
    var ul = el("ul");
    ul.dataset.kind = kind;
    section.appendChild(h);
    section.appendChild(ul);
    actors.appendChild(section);
  });
  var toggle = $("show-finished");
  view.showFinished = localStorage.getItem("milpa.showFinished") === "1";
  toggle.checked = view.showFinished;
  actors.classList.toggle("show-finished", view.showFinished);
  toggle.addEventListener("change", function () {
    view.showFinished = toggle.checked;
    localStorage.setItem("milpa.showFinished", toggle.checked ? "1" : "0");
    actors.classList.toggle("show-finished", toggle.checked);
  });
}

/** Selects an actor (or, with no id, a machine) through the location hash. */
function go(id, kind) {
  var hash = id ? "#actor=" + id : "#machine=" + kind;
  if (location.hash === hash) fromHash(); else location.hash = hash;
}

/** Selects what the location hash names; the first machine when it names nothing known. */
function fromHash() {
  var hash = decodeURIComponent(location.hash.slice(1));
  var id = hash.indexOf("actor=") === 0 ? hash.slice(6) : null;
  var kind = id ? id.split("/")[0] : hash.slice(8);
  if (view.kinds.indexOf(kind) < 0) { kind = view.kinds[0]; id = null; }
  select(kind, id);
}

function select(kind, id) {
  view.selected = { kind: kind, id: id };
  document.querySelectorAll("nav li").forEach(function (li) {
    li.classList.toggle("selected", id ? li.dataset.id === id : li.dataset.kind === kind);
  });
  show();
}

/** "Runs pod web", "On node 1a2b…": the actors the selected one points at, as links. */
function showLinks(actor) {
  var p = $("links");
  p.textContent = "";
  var links = (actor && actor.links) || {};
  var words = { pod: "Runs pod ", node: "On node " };
  Object.keys(links).forEach(function (role) {
    var span = el("span", "link");
    span.appendChild(document.createTextNode(words[role] || role + " "));
    span.appendChild(actorLink(links[role], links[role].split("/").slice(1).join("/")));
    p.appendChild(span);
  });
  p.hidden = !p.childNodes.length;
}

/** Draws the selected machine and, for an actor, its state, context and transitions. */
function show() {
  var sel = view.selected;
  if (!sel) return Promise.resolve();
  var detail = sel.id ? getJSON("/api/v1/actors/" + actorPath(sel.id)) : Promise.resolve(null);
  return Promise.all([chartOf(sel.kind), detail]).then(function (r) {
    if (view.selected !== sel) return;
    var chart = r[0], actor = r[1];
    drawChart($("chart"), chart, actor ? actor.states : []);
    $("title").textContent = actor ? actor.id : "The " + sel.kind + " machine";
    $("subtitle").textContent = actor
      ? "In " + actor.state + " (" + actor.status + ") since " + shortTime(actor.updatedAt, true)
      : "Every state and transition, drawn from the machine's definition. Pick an actor to see where it is.";
    showLinks(actor);
    $("details").hidden = !actor;
    if (!actor) return;
    var ctx = $("context").tBodies[0], tr = $("transitions").tBodies[0];
    ctx.textContent = "";
    Object.keys(actor.context).forEach(function (k) {
      var row = ctx.insertRow();
      cell(row, k);
      cell(row, String(actor.context[k]));
    });
    tr.textContent = "";
    collapseRepeats(actor.transitions).forEach(function (t) {
      var row = tr.insertRow();
      var when = t.count > 1
        ? t.count + " times from " + t.firstAt + " to " + t.at
        : t.at;
      cell(row, shortTime(t.at), "mono time", when);
      var ev = cell(row, eventLabel(chart, t.event), "mono event", t.event);
      if (t.count > 1) ev.appendChild(el("span", "times", " ×" + t.count));
      cell(row, t.from === null ? "(start)" : t.from);
      cell(row, t.to);
      if (t.count > 1) row.className = "repeated";
    });
  }).catch(function (e) { $("subtitle").textContent = "Could not load: " + e.message; });
}

/** Follows actor changes; the browser reconnects by itself when the stream drops. */
function watch() {
  var status = $("connection");
  var source = new EventSource("/api/v1/actors?watch=true");
  source.onopen = function () {
    status.textContent = "live";
    status.className = "connection live";
    // A new stream starts with every actor again: forget the ones listed before.
    Object.keys(view.actors).forEach(function (id) { removeActor(view.actors[id]); });
  };
  source.onerror = function () { status.textContent = "reconnecting…"; status.className = "connection down"; };
  var changed = function (ev) {
    var a = JSON.parse(ev.data);
    if (ev.type === "DELETED") removeActor(a); else upsertActor(a);
    if (view.selected && view.selected.id === a.id) {
      clearTimeout(view.refresh);
      view.refresh = setTimeout(show, 100);
    }
  };
  ["ADDED", "MODIFIED", "DELETED"].forEach(function (t) { source.addEventListener(t, changed); });
}

function start() {
  getJSON("/api/v1/statecharts").then(function (list) {
    view.kinds = list.items.map(function (i) { return i.kind; });
    return Promise.all(view.kinds.map(chartOf));
  }).then(function (charts) {
    charts.forEach(function (chart, i) { view.sinks[view.kinds[i]] = sinkStates(chart); });
    buildLists();
    watch();
    window.addEventListener("hashchange", fromHash);
    fromHash();
  }).catch(function (e) { $("title").textContent = "Could not load: " + e.message; });
}

document.addEventListener("DOMContentLoaded", start);
`;

/** The whole script of the view. */
export const UI_JS = `(function () {\n"use strict";\n${CHART_JS}\n${ROWS_JS}\n${APP}\n})();\n`;
