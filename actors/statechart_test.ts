import assert from "node:assert/strict";
import { and, fromPromise, not, setup } from "xstate";
import { MACHINE_KINDS, machineDefinitions } from "./definitions.ts";
import { activeIds, allStates, chartOf, delayText, statePaths } from "./statechart.ts";
import { renderChart, stateNotes, toDot, toMermaid } from "./statechart_render.ts";
import { RESUMES } from "./outcome.ts";

/** A small machine with every feature a chart shows. */
const sample = setup({
  actors: { fetch: fromPromise(() => Promise.resolve(1)) },
  guards: { ok: () => true, ready: () => true },
  delays: { boot: 1000 },
}).createMachine({
  id: "sample",
  initial: "Idle",
  on: { PING: { actions: [] } },
  states: {
    Idle: {
      on: { GO: { target: "Busy", guard: "ok" }, "*": { actions: [] } },
      after: { 5000: "Done", boot: { target: "Busy", guard: and(["ok", not("ready")]) } },
    },
    Busy: {
      initial: "Fetching",
      invoke: { src: "fetch", onDone: "Done", onError: "Idle" },
      states: {
        Fetching: { always: { guard: { type: "ok" }, target: "Parsing" } },
        Parsing: { on: { BACK: "#sample.Idle" } },
      },
    },
    Done: { type: "final" },
  },
});

Deno.test("chartOf() reads states, nesting, initial and final states", () => {
  const chart = chartOf(sample);
  assert.equal(chart.id, "sample");
  assert.equal(chart.root.initial, "Idle");
  assert.deepEqual(allStates(chart).map((s) => [s.id, s.type]), [
    ["Idle", "atomic"],
    ["Busy", "compound"],
    ["Busy.Fetching", "atomic"],
    ["Busy.Parsing", "atomic"],
    ["Done", "final"],
  ]);
  assert.equal(allStates(chart)[1].initial, "Busy.Fetching");
  assert.deepEqual(allStates(chart)[1].invokes, ["fetch"]);
});

Deno.test("chartOf() draws the work a state starts and resumes (actors/outcome.ts) as `starts`", () => {
  const machine = setup({ actions: { note: () => {}, launch: () => {} } }).createMachine({
    id: "m",
    initial: "Launching",
    states: {
      Launching: {
        entry: ["note", "launch"],
        tags: [RESUMES],
        on: { RESUME: { actions: "launch" }, LAUNCHED: "Up", PING: { actions: "note" } },
      },
      Up: {},
    },
  });
  const chart = chartOf(machine);
  const [launching] = allStates(chart);
  assert.deepEqual(launching.starts, ["launch"]);
  assert.deepEqual(launching.internal.map((t) => t.event), ["PING"], "RESUME is not drawn");
  assert.deepEqual(stateNotes(launching), ["starts launch", "on PING / note"]);
  assert.match(toMermaid(chart), /Launching : starts launch\n/);
});

Deno.test("chartOf() labels events, guards, delays, always and invoked actors", () => {
  const labels = chartOf(sample).transitions.map((t) =>
    `${t.source} -> ${t.targets.join(",")}: ${t.label} (${t.trigger})`
  );
  assert.deepEqual(labels.sort(), [
    "Busy -> Done: done: fetch (done)",
    "Busy -> Idle: error: fetch (error)",
    "Busy.Fetching -> Busy.Parsing: always [ok] (always)",
    "Busy.Parsing -> Idle: BACK (event)",
    "Idle -> Busy: GO [ok] (event)",
    "Idle -> Busy: after boot [and(ok, not(ready))] (after)",
    "Idle -> Done: after 5s (after)",
  ]);
  const chart = chartOf(sample);
  assert.deepEqual(chart.root.internal.map((t) => t.label), ["PING"]);
  assert.deepEqual(allStates(chart)[0].internal.map((t) => t.trigger), ["wildcard"]);
});

Deno.test("toMermaid() draws nesting, initial and final states and highlights the current state", () => {
  const text = toMermaid(chartOf(sample), { current: ["Busy.Parsing"] });
  const lines = text.split("\n").map((l) => l.trim());
  assert.equal(lines[0], "stateDiagram-v2");
  for (
    const line of [
      "[*] --> Idle",
      "state Busy {",
      "[*] --> Busy_Fetching",
      'state "Parsing" as Busy_Parsing',
      "Busy_Fetching --> Busy_Parsing : always [ok]",
      "Idle --> Busy : GO [ok], after boot [and(ok, not(ready))]",
      "Busy --> Done : done: fetch",
      "Done --> [*]",
      "Busy_Parsing --> Idle : BACK",
      "class Busy,Busy_Parsing current",
    ]
  ) assert.ok(lines.includes(line), `missing "${line}" in:\n${text}`);
  assert.ok(!text.includes("class ") || text.includes("classDef current"));
  assert.ok(
    !toMermaid(chartOf(sample)).includes("classDef"),
    "nothing highlighted without current",
  );
});

Deno.test("toDot() draws clusters for compound states and fills the current state", () => {
  const text = toDot(chartOf(sample), { current: ["Idle"] });
  assert.match(text, /^digraph "sample" \{/);
  assert.match(text, /subgraph "cluster_Busy" \{/);
  assert.match(text, /"Idle" \[label="Idle\\non \*", fillcolor="#ffd54f"/);
  assert.match(text, /"Done" \[label="Done", peripheries=2\]/);
  assert.match(text, /"Busy.__start" -> "Done" \[label="done: fetch", ltail="cluster_Busy"\]/);
  assert.match(text, /"Busy.Fetching" -> "Busy.Parsing" \[label="always \[ok\]", style=dashed\]/);
  assert.match(text, /"Idle" -> "Busy.__start" \[label="GO \[ok\]\\nafter boot/);
  assert.ok(text.trimEnd().endsWith("}"));
});

Deno.test("renderChart() json carries the chart and the current states", () => {
  const json = JSON.parse(renderChart(chartOf(sample), "json", { current: ["Idle"] }));
  assert.equal(json.id, "sample");
  assert.deepEqual(json.current, ["Idle"]);
  assert.equal(json.root.states.length, 3);
});

Deno.test("statePaths() and activeIds() turn snapshot values into highlighted ids", () => {
  assert.deepEqual(statePaths("Waiting"), ["Waiting"]);
  assert.deepEqual(statePaths({ Running: "Applied" }), ["Running.Applied"]);
  assert.deepEqual(statePaths({ P: { a: "x", b: "y" } }), ["P.a.x", "P.b.y"]);
  assert.deepEqual([...activeIds(["Running.Applied"])], ["Running", "Running.Applied"]);
  assert.equal(delayText(90_000), "90s");
  assert.equal(delayText(120_000), "2m");
  assert.equal(delayText(250), "250ms");
});

Deno.test("machineDefinitions() builds every machine without touching its dependencies", () => {
  const defs = machineDefinitions();
  assert.deepEqual([...defs.keys()], [...MACHINE_KINDS]);
  const states = (k: (typeof MACHINE_KINDS)[number]) =>
    allStates(chartOf(defs.get(k)!)).map((s) => s.id);
  assert.deepEqual(states("pod"), [
    "Waiting",
    "Waiting.Requesting",
    "Waiting.BackingOff",
    "Dispatching",
    "Running",
    "Running.Applied",
    "Running.Reapplying",
    "Leaving",
    "Leaving.Draining",
    "Leaving.Stopping",
    "Failing",
    "Failed",
    "Succeeded",
    "Terminated",
  ]);
  assert.ok(states("deployment").includes("Stalled"));
  assert.ok(states("service").includes("NoEndpoints"));
  assert.deepEqual(states("supervisor"), [
    "Restoring",
    "Supervising",
    "Stopping",
    "Stopped",
    "Failed",
  ]);
  assert.ok(states("nodepool").includes("Ready"));
});
