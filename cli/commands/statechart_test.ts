import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { type ActorDetail, actorId, annotateChart, resolveMachine } from "./statechart.ts";

const actor: ActorDetail = {
  id: "pod/default/web",
  kind: "pod",
  state: "Running.Applied",
  status: "active",
  updatedAt: "2026-01-01T00:00:02.000Z",
  states: ["Running.Applied"],
  context: { name: "web", message: "two\nlines" },
  transitions: [
    { at: "2026-01-01T00:00:00.000Z", event: "xstate.init", from: null, to: "Waiting" },
    { at: "2026-01-01T00:00:01.000Z", event: "NODE_BOUND", from: "Waiting", to: "Dispatching" },
  ],
};

Deno.test("resolveMachine() accepts machine names, kind names and aliases", () => {
  assert.equal(resolveMachine("pod"), "pod");
  assert.equal(resolveMachine("Pods"), "pod");
  assert.equal(resolveMachine("po"), "pod");
  assert.equal(resolveMachine("rs"), "replicaset");
  assert.equal(resolveMachine("deploy"), "deployment");
  assert.equal(resolveMachine("svc"), "service");
  assert.equal(resolveMachine("pool"), "nodepool");
  assert.equal(resolveMachine("root"), "supervisor");
  assert.throws(() => resolveMachine("events"), UsageError);
});

Deno.test("actorId() builds system ids; single actors are named after their machine", () => {
  assert.equal(actorId("pod", "prod", "web"), "pod/prod/web");
  assert.equal(actorId("node", "prod", "n1"), "node/n1");
  assert.equal(actorId("supervisor", "default", "supervisor"), "supervisor");
  assert.throws(() => actorId("nodepool", "default", "x"), UsageError);
});

Deno.test("annotateChart() puts the actor's summary in comments after the header", () => {
  const dot = annotateChart('digraph "pod" {\n  "A";\n}\n', "dot", actor);
  const lines = dot.split("\n");
  assert.equal(lines[0], 'digraph "pod" {');
  assert.equal(
    lines[1],
    "  // actor pod/default/web: Running.Applied (active) since 2026-01-01T00:00:02.000Z",
  );
  assert.ok(lines.includes("  //   message: two lines"), "one line per entry");
  assert.ok(
    lines.includes("  //   2026-01-01T00:00:01.000Z  Waiting -> Dispatching  on NODE_BOUND"),
  );
  assert.ok(lines.includes("  //   2026-01-01T00:00:00.000Z  (start) -> Waiting  on xstate.init"));
  assert.equal(lines.at(-2), "}");
  const mermaid = annotateChart("stateDiagram-v2\n  A --> B\n", "mermaid", actor);
  assert.ok(mermaid.startsWith("stateDiagram-v2\n  %% actor pod/default/web"));
  assert.ok(mermaid.split("\n").slice(1, -2).every((l) => l.startsWith("  %% ")));
});
