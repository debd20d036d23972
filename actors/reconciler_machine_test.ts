/** The reconciler machine: passes on changes, and the pause after a long pass. */
import assert from "node:assert/strict";
import { createActor } from "xstate";
import { FakeClock } from "../model/fake_clock.ts";
import {
  createReconcilerMachine,
  MAX_PACE_MS,
  PACE_AFTER_MS,
  type PassResult,
} from "./reconciler_machine.ts";

/** A reconciler whose passes the test ends, each after the fake time it says. */
function harness(pace?: { factor: number; minMs: number }) {
  const clock = new FakeClock();
  const passes: PromiseWithResolvers<PassResult<unknown, unknown>>[] = [];
  const machine = createReconcilerMachine<unknown, unknown>({
    id: "replicaset",
    restStates: ["Converging", "Settled"],
    clock,
    pace,
    reconcile: () => {
      const p = Promise.withResolvers<PassResult<unknown, unknown>>();
      passes.push(p);
      return p.promise;
    },
  });
  const actor = createActor(machine, { input: { namespace: "default", name: "web", uid: "u1" } });
  // New snapshots, as the supervisor counts them (observers also hear an unchanged one again).
  let snapshots = 0;
  let last: unknown;
  actor.subscribe({
    next: (s) => {
      if (s !== last) snapshots++;
      last = s;
    },
    error: () => {},
  });
  actor.start();
  /** Ends the latest pass `tookMs` after it started, in `state`. */
  const end = async (tookMs: number, state = "Settled", recheckAt?: number) => {
    await clock.advance(tookMs);
    passes.at(-1)!.resolve({ status: {}, state, recheckAt });
    await settle();
  };
  const value = () => actor.getSnapshot().value;
  return { clock, passes, actor, end, value, snapshots: () => snapshots };
}

/** Lets promise reactions (a pass's done event) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

Deno.test("reconciler: changes during a long pass bring one more pass, after a pause as long as that pass", async () => {
  const h = harness();
  assert.equal(h.passes.length, 1);
  for (let i = 0; i < 5; i++) h.actor.send({ type: "CHANGED" });
  await h.end(200);
  assert.equal(h.value(), "Coalescing");
  assert.equal(h.passes.length, 1, "no pass at once");
  for (let i = 0; i < 5; i++) h.actor.send({ type: "CHANGED" }); // taken by the coming pass
  await h.clock.advance(199);
  assert.equal(h.passes.length, 1);
  await h.clock.advance(1);
  assert.equal(h.value(), "Reconciling");
  assert.equal(h.passes.length, 2, "one pass for all the changes");
  await h.end(1);
  assert.equal(h.value(), "Settled", "nothing changed during it: it rests");
  h.actor.stop();
});

Deno.test("reconciler: after a short pass, changes during it bring the next pass at once", async () => {
  const h = harness();
  h.actor.send({ type: "CHANGED" });
  await h.end(PACE_AFTER_MS - 1);
  assert.equal(h.value(), "Reconciling");
  assert.equal(h.passes.length, 2);
  h.actor.stop();
});

Deno.test("reconciler: a long pass with more to do (recheck now) goes on at once", async () => {
  const h = harness();
  h.actor.send({ type: "CHANGED" });
  // A ReplicaSet pass that created as many pods as one pass may asks to look again now.
  await h.end(500, "Converging", h.clock.now() + 500);
  assert.equal(h.value(), "Reconciling");
  assert.equal(h.passes.length, 2);
  h.actor.stop();
});

Deno.test("reconciler: the pause is at most MAX_PACE_MS", async () => {
  const h = harness();
  h.actor.send({ type: "CHANGED" });
  await h.end(10 * MAX_PACE_MS);
  assert.equal(h.value(), "Coalescing");
  await h.clock.advance(MAX_PACE_MS);
  assert.equal(h.passes.length, 2);
  h.actor.stop();
});

Deno.test("reconciler: a change while already due for another pass makes no new snapshot", () => {
  const h = harness();
  const before = h.snapshots();
  h.actor.send({ type: "CHANGED" });
  assert.equal(h.snapshots(), before + 1);
  for (let i = 0; i < 10; i++) h.actor.send({ type: "CHANGED" });
  assert.equal(h.snapshots(), before + 1, "nothing to write for each pod that changed");
  h.actor.stop();
});

Deno.test("reconciler: paced, a pass while changes keep coming is followed by a pause `factor` times as long, at least `minMs`", async () => {
  const h = harness({ factor: 4, minMs: 50 });
  h.actor.send({ type: "CHANGED" });
  await h.end(5); // short: others would go on at once
  assert.equal(h.value(), "Coalescing");
  await h.clock.advance(49);
  assert.equal(h.passes.length, 1);
  await h.clock.advance(1);
  assert.equal(h.passes.length, 2, "after minMs");
  h.actor.send({ type: "CHANGED" });
  await h.end(100);
  await h.clock.advance(399);
  assert.equal(h.passes.length, 2);
  await h.clock.advance(1);
  assert.equal(h.passes.length, 3, "after 4 × 100 ms");
  h.actor.send({ type: "CHANGED" });
  await h.end(MAX_PACE_MS);
  await h.clock.advance(MAX_PACE_MS);
  assert.equal(h.passes.length, 4, "at most MAX_PACE_MS");
  await h.end(1);
  assert.equal(h.value(), "Settled", "no change during the pass: no pause, it rests");
  h.actor.send({ type: "CHANGED" });
  await settle();
  assert.equal(h.passes.length, 5, "a change at rest: a pass at once");
  h.actor.stop();
});
