import assert from "node:assert/strict";
import { assign, createActor, fromPromise, setup } from "xstate";
import { FakeClock } from "../model/fake_clock.ts";
import {
  type ActorChange,
  actorLinks,
  summarizeContext,
  TransitionRecorder,
} from "./inspection.ts";

const machine = setup({
  types: {} as { context: { name: string; apiToken: string; n: number } },
  actors: { work: fromPromise(() => Promise.resolve("ok")) },
}).createMachine({
  id: "m",
  initial: "A",
  context: { name: "web", apiToken: "s3cr3t", n: 0 },
  states: {
    A: {
      on: {
        GO: "B",
        NOOP: {},
        FLIP: "E",
        COUNT: { actions: assign({ n: ({ context }) => context.n + 1 }) },
      },
    },
    E: { on: { FLIP: "A" } },
    B: { invoke: { src: "work", onDone: "C" } },
    C: { initial: "Inner", states: { Inner: {} }, on: { BACK: "A", END: "D" } },
    D: { type: "final" },
  },
});

function start(recorder: TransitionRecorder, id: string) {
  const actor = createActor(recorder.recordable(machine), { id });
  recorder.follow(id, actor);
  return actor.start();
}

Deno.test("TransitionRecorder records an actor's transitions with times and events", async () => {
  const clock = new FakeClock();
  const recorder = new TransitionRecorder({ clock });
  const actor = start(recorder, "pod/default/web");
  await clock.advance(1000);
  actor.send({ type: "NOOP" });
  actor.send({ type: "GO" });
  await new Promise((r) => setTimeout(r, 0));
  const detail = recorder.get("pod/default/web")!;
  assert.equal(detail.kind, "pod");
  assert.equal(detail.state, "C.Inner");
  assert.deepEqual(detail.states, ["C.Inner"]);
  assert.deepEqual(
    detail.transitions.map((t) => [t.event, t.from, t.to]),
    [
      ["xstate.init", null, "A"],
      ["GO", "A", "B"],
      ["xstate.done.actor.0.m.B", "B", "C.Inner"],
    ],
    "the invoked promise's own snapshots and the NOOP are not transitions",
  );
  assert.equal(detail.transitions[1].at, "2026-01-01T00:00:01.000Z");
  actor.stop();
  assert.equal(recorder.get("pod/default/web")!.status, "stopped");
});

Deno.test("TransitionRecorder keeps at most maxTransitions per actor, the newest", () => {
  const recorder = new TransitionRecorder({ maxTransitions: 3 });
  const actor = start(recorder, "x");
  for (let i = 0; i < 5; i++) {
    actor.send({ type: "FLIP" });
    actor.send({ type: "FLIP" });
  }
  const t = recorder.get("x")!.transitions;
  assert.deepEqual(t.map((x) => `${x.from} -> ${x.to}`), ["E -> A", "A -> E", "E -> A"]);
  actor.stop();
});

Deno.test("TransitionRecorder forgets finished actors first beyond maxActors", () => {
  const recorder = new TransitionRecorder({ maxActors: 2 });
  const changes: ActorChange[] = [];
  const unsubscribe = recorder.subscribe((c) => changes.push(c));
  const a = start(recorder, "pod/ns/a");
  const b = start(recorder, "pod/ns/b");
  b.stop();
  const c = start(recorder, "pod/ns/c");
  assert.deepEqual(recorder.list().map((x) => x.id), ["pod/ns/a", "pod/ns/c"]);
  assert.ok(changes.some((x) => x.type === "DELETED" && x.actor.id === "pod/ns/b"));
  const d = start(recorder, "pod/ns/d");
  assert.equal(recorder.list().length, 2, "without finished ones, the least recently changed go");
  assert.ok(!recorder.get("pod/ns/a"));
  unsubscribe();
  const before = changes.length;
  a.send({ type: "GO" });
  assert.equal(changes.length, before, "no calls after unsubscribing");
  for (const x of [a, c, d]) x.stop();
});

/** A clock one millisecond later at every reading, so that no two changes tie. */
class TickingClock extends FakeClock {
  #t = super.now();
  override now(): number {
    return this.#t++;
  }
}

Deno.test("TransitionRecorder forgets the same actors as a scan of all of them would", () => {
  // The reference: the longest-finished first, else the least recently changed (by time).
  const ref = new Map<string, { state: string; status: string; updated: number }>();
  let refNow = 0;
  const refDeleted: string[] = [];
  const refRecord = (id: string, state: string, status: string, max: number) => {
    const now = refNow++;
    const e = ref.get(id);
    if (e) {
      if (e.state !== state || e.status !== status) {
        Object.assign(e, { state, status, updated: now });
      }
      return;
    }
    ref.set(id, { state, status, updated: now });
    while (ref.size > max) {
      let victim: string | undefined;
      for (const [cid, c] of ref) {
        const v = victim === undefined ? undefined : ref.get(victim)!;
        const finished = c.status !== "active";
        const best = v !== undefined && v.status !== "active";
        if (!v || (finished && !best) || (finished === best && c.updated < v.updated)) victim = cid;
      }
      ref.delete(victim!);
      refDeleted.push(victim!);
    }
  };
  const maxActors = 50;
  const recorder = new TransitionRecorder({ clock: new TickingClock(), maxActors });
  const deleted: string[] = [];
  recorder.subscribe((c) => c.type === "DELETED" && deleted.push(c.actor.id));
  let seed = 7;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const states = ["Waiting", "Dispatching", "Running"];
  const statuses = ["active", "active", "active", "done", "stopped", "error"];
  for (let i = 0; i < 5000; i++) {
    // New actors, and changes (finishing, restarting, moving, or none) of recent ones.
    const id = `pod/default/p${random(2) ? i : Math.max(0, i - random(80))}`;
    const state = states[random(states.length)];
    const status = statuses[random(statuses.length)];
    recorder.record(id, "E", { value: state, status, context: { i } } as never);
    refRecord(id, state, status, maxActors);
  }
  assert.deepEqual(deleted, refDeleted);
  assert.deepEqual(recorder.list().map((a) => a.id), [...ref.keys()].sort());
  assert.ok(refDeleted.length > 1000, "the run evicted many actors");
});

Deno.test("TransitionRecorder shows a finished actor's last context, summarized", () => {
  const recorder = new TransitionRecorder({ maxActors: 3 });
  const at = (status: string, context: unknown) => ({ value: "Running", status, context }) as never;
  recorder.record("pod/default/a", "xstate.init", at("active", { name: "a", attempt: 1 }));
  recorder.record("pod/default/a", "NOOP", at("active", { name: "a", attempt: 2 }));
  assert.deepEqual(recorder.get("pod/default/a")!.context, { name: "a", attempt: 2 });
  recorder.record(
    "pod/default/a",
    "xstate.stop",
    at("stopped", { name: "a", attempt: 3, apiToken: "t" }),
  );
  const detail = recorder.get("pod/default/a")!;
  assert.equal(detail.status, "stopped");
  assert.deepEqual(detail.context, { name: "a", attempt: 3 });
  detail.context.name = "changed by a caller";
  assert.equal(recorder.get("pod/default/a")!.context.name, "a", "get() hands out copies");
  // Restarted from its snapshot: live again, and no longer first to be forgotten.
  recorder.record("pod/default/a", "xstate.init", at("active", { name: "a", attempt: 4 }));
  recorder.record("pod/default/b", "xstate.init", at("active", {}));
  recorder.record("pod/default/b", "xstate.stop", at("stopped", {}));
  recorder.record("pod/default/c", "xstate.init", at("active", {}));
  recorder.record("pod/default/d", "xstate.init", at("active", {}));
  assert.deepEqual(recorder.list().map((a) => a.id), [
    "pod/default/a",
    "pod/default/c",
    "pod/default/d",
  ]);
  assert.deepEqual(recorder.get("pod/default/a")!.context, { name: "a", attempt: 4 });
});

Deno.test("TransitionRecorder tells listeners of state changes, not of every event", () => {
  const recorder = new TransitionRecorder();
  const changes: string[] = [];
  recorder.subscribe((c) => changes.push(`${c.type} ${c.actor.state} ${c.actor.status}`));
  const actor = start(recorder, "a");
  actor.send({ type: "NOOP" });
  actor.send({ type: "GO" });
  actor.stop();
  assert.deepEqual(changes, ["ADDED A active", "MODIFIED B active", "MODIFIED B stopped"]);
});

Deno.test("summarizeContext() keeps scalars and names, cuts long texts and drops credentials", () => {
  const summary = summarizeContext({
    name: "web",
    apiToken: "s3cr3t",
    agentSecret: "x",
    node: { name: "n1", instanceId: "i-1", password: "p", addresses: [{ address: "10.0.0.1" }] },
    unitStatuses: [{ name: "main", state: {} }],
    lastPhaseChange: Date.UTC(2026, 0, 1),
    message: "x".repeat(500),
    nested: { deeper: { secret: "no" } },
  });
  assert.equal(summary.name, "web");
  assert.equal(summary["node.name"], "n1");
  assert.equal(summary["node.addresses"], "10.0.0.1");
  assert.equal(summary.unitStatuses, "main");
  assert.equal(summary.lastPhaseChange, "2026-01-01T00:00:00.000Z");
  assert.equal((summary.message as string).length, 120);
  const text = JSON.stringify(summary);
  for (const secret of ["s3cr3t", "apiToken", "agentSecret", "password", "deeper"]) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
});

Deno.test("TransitionRecorder links a node to its pod and a pod to its node, and says when that changes", () => {
  const nodeMachine = setup({
    types: {} as {
      context: { boundPod?: string };
      events: { type: "BIND"; pod: string } | { type: "CLAIM" };
    },
  }).createMachine({
    id: "node",
    initial: "Available",
    context: {},
    states: {
      Available: {
        on: {
          BIND: { actions: assign({ boundPod: ({ event }) => (event as { pod: string }).pod }) },
          CLAIM: "Claimed",
        },
      },
      Claimed: {},
    },
  });
  const recorder = new TransitionRecorder();
  const changes: string[] = [];
  recorder.subscribe((c) => changes.push(`${c.type} ${c.actor.state} ${c.actor.links?.pod}`));
  const node = createActor(recorder.recordable(nodeMachine), { id: "node/n1" });
  recorder.follow("node/n1", node);
  node.start();
  node.send({ type: "BIND", pod: "team/web" });
  node.send({ type: "CLAIM" });
  assert.deepEqual(changes, [
    "ADDED Available undefined",
    "MODIFIED Available pod/team/web",
    "MODIFIED Claimed pod/team/web",
  ]);
  assert.deepEqual(recorder.get("node/n1")!.links, { pod: "pod/team/web" });
  node.stop();
  assert.deepEqual(actorLinks("pod/default/web", { node: { name: "n1", addresses: [] } }), {
    node: "node/n1",
  });
  assert.equal(actorLinks("pod/default/web", { node: undefined }), undefined);
  assert.equal(actorLinks("replicaset/default/web", { boundPod: "default/web" }), undefined);
});

Deno.test("TransitionRecorder records an actor that failed as failed", () => {
  const failing = setup({
    actions: {
      boom: () => {
        throw new Error("boom");
      },
    },
  }).createMachine({
    initial: "A",
    states: { A: { on: { GO: { target: "B", actions: "boom" } } }, B: {} },
  });
  const recorder = new TransitionRecorder();
  assert.equal(recorder.recordable(failing), recorder.recordable(failing), "one wrapper per logic");
  const actor = createActor(recorder.recordable(failing), { id: "pod/default/bad" });
  recorder.follow("pod/default/bad", actor);
  actor.subscribe({ error: () => {} });
  actor.start();
  actor.send({ type: "GO" });
  const detail = recorder.get("pod/default/bad")!;
  assert.equal(detail.status, "error");
  assert.deepEqual(detail.transitions.map((t) => [t.event, t.to]), [["xstate.init", "A"]]);
});

Deno.test("TransitionRecorder records an actor only while it is the current one under its id", () => {
  const recorder = new TransitionRecorder();
  let current = "first";
  const first = createActor(recorder.recordable(machine), { id: "pod/default/web" });
  recorder.follow("pod/default/web", first, () => current === "first");
  first.start();
  first.send({ type: "FLIP" });
  // Replaced (restarted) under the same id: the old one's late stop is not recorded over it.
  current = "second";
  const second = createActor(recorder.recordable(machine), { id: "pod/default/web" });
  recorder.follow("pod/default/web", second, () => current === "second");
  second.start();
  first.stop();
  const detail = recorder.get("pod/default/web")!;
  assert.equal(detail.status, "active");
  assert.equal(detail.state, "A");
  assert.deepEqual(detail.transitions.map((t) => [t.event, t.from, t.to]), [
    ["xstate.init", null, "A"],
    ["FLIP", "A", "E"],
    ["xstate.init", "E", "A"],
  ]);
  second.stop();
  assert.equal(recorder.get("pod/default/web")!.status, "stopped");
});

Deno.test("TransitionRecorder does not bring back a forgotten actor whose state did not change", () => {
  const recorder = new TransitionRecorder({ maxActors: 2 });
  const started = ["pod/default/a", "pod/default/b", "pod/default/c"].map((id) => {
    const actor = createActor(recorder.recordable(machine), { id });
    recorder.follow(id, actor);
    return actor.start();
  });
  assert.deepEqual(recorder.list().map((a) => a.id), ["pod/default/b", "pod/default/c"]);
  // The forgotten one takes an event that changes its context only (a heartbeat): still gone,
  // and the newest stay.
  started[0].send({ type: "NOOP" });
  started[0].send({ type: "COUNT" });
  assert.deepEqual(recorder.list().map((a) => a.id), ["pod/default/b", "pod/default/c"]);
  // It moves: it is back, with the transition that brought it.
  started[0].send({ type: "GO" });
  const back = recorder.get("pod/default/a")!;
  assert.deepEqual(back.transitions.map((t) => [t.event, t.to]), [["GO", "B"]]);
  for (const a of started) a.stop();
});
