/**
 * Browser code of the web view (served as /ui/app.js with `chart_js.ts`): lists the live
 * actors by kind from `GET /api/v1/actors?watch=true` (EventSource, so states change in
 * place without a reload), draws the selected machine, highlights the selected actor's
 * current state and shows its context and recent transitions. Every request goes to the
 * controller that served the page. Kept as a string for the reasons in `page.ts`.
 */
import { CHART_JS } from "./chart_js.ts";

const APP = String.raw`
var view = { kinds: [], charts: {}, actors: {}, selected: null, refresh: null };

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

function cell(row, text, cls) {
  var td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
}

function shortName(a) { return a.id.indexOf("/") < 0 ? a.id : a.id.slice(a.kind.length + 1); }

/** Adds or updates an actor's line in the list. */
function upsertActor(a) {
  view.actors[a.id] = a;
  var li = document.querySelector('li.actor[data-id="' + CSS.escape(a.id) + '"]');
  if (!li) {
    var group = document.querySelector('ul[data-kind="' + CSS.escape(a.kind) + '"]');
    if (!group) return;
    li = document.createElement("li");
    li.className = "actor";
    li.dataset.id = a.id;
    var button = document.createElement("button");
    button.className = "name";
    button.title = a.id;
    button.textContent = shortName(a);
    button.addEventListener("click", function () { select(a.kind, a.id); });
    var state = document.createElement("span");
    state.className = "state";
    li.appendChild(button);
    li.appendChild(state);
    var after = Array.prototype.find.call(group.children, function (x) { return x.dataset.id > a.id; });
    group.insertBefore(li, after || null);
    group.parentElement.hidden = false;
  }
  var span = li.querySelector(".state");
  if (span.textContent && span.textContent !== a.state) {
    li.classList.add("flash");
    setTimeout(function () { li.classList.remove("flash"); }, 800);
  }
  span.textContent = a.state;
  li.dataset.state = a.state;
  li.dataset.status = a.status;
  li.classList.toggle("finished", a.status !== "active");
  li.classList.toggle("selected", !!view.selected && view.selected.id === a.id);
  $("actors").querySelector(".empty").hidden = true;
}

function removeActor(a) {
  delete view.actors[a.id];
  var li = document.querySelector('li.actor[data-id="' + CSS.escape(a.id) + '"]');
  if (li) li.remove();
}

function buildLists() {
  var machines = $("machines"), actors = $("actors");
  view.kinds.forEach(function (kind) {
    var li = document.createElement("li");
    li.dataset.kind = kind;
    var b = document.createElement("button");
    b.textContent = kind;
    b.addEventListener("click", function () { select(kind, null); });
    li.appendChild(b);
    machines.appendChild(li);
    var section = document.createElement("section");
    section.hidden = true;
    var h = document.createElement("h3");
    h.textContent = kind;
    var ul = document.createElement("ul");
    ul.dataset.kind = kind;
    section.appendChild(h);
    section.appendChild(ul);
    actors.appendChild(section);
  });
}

function select(kind, id) {
  view.selected = { kind: kind, id: id };
  history.replaceState(null, "", id ? "#actor=" + id : "#machine=" + kind);
  document.querySelectorAll("nav li").forEach(function (li) {
    li.classList.toggle("selected", id ? li.dataset.id === id : li.dataset.kind === kind);
  });
  show();
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
      ? "In " + actor.state + " (" + actor.status + ") since " + actor.updatedAt
      : "Every state and transition, drawn from the machine's definition. Pick an actor to see where it is.";
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
    actor.transitions.slice().reverse().forEach(function (t) {
      var row = tr.insertRow();
      cell(row, t.at.replace("T", " ").replace("Z", ""), "mono");
      cell(row, t.event, "mono");
      cell(row, t.from === null ? "(start)" : t.from);
      cell(row, t.to);
    });
  }).catch(function (e) { $("subtitle").textContent = "Could not load: " + e.message; });
}

/** Follows actor changes; the browser reconnects by itself when the stream drops. */
function watch() {
  var status = $("connection");
  var source = new EventSource("/api/v1/actors?watch=true");
  source.onopen = function () { status.textContent = "live"; status.className = "connection live"; };
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
    buildLists();
    watch();
    var hash = decodeURIComponent(location.hash.slice(1));
    var id = hash.indexOf("actor=") === 0 ? hash.slice(6) : null;
    var kind = id ? id.split("/")[0] : hash.slice(8);
    if (view.kinds.indexOf(kind) < 0) { kind = view.kinds[0]; id = null; }
    select(kind, id);
  }).catch(function (e) { $("title").textContent = "Could not load: " + e.message; });
}

document.addEventListener("DOMContentLoaded", start);
`;

/** The whole script of the view. */
export const UI_JS = `(function () {\n"use strict";\n${CHART_JS}\n${APP}\n})();\n`;
