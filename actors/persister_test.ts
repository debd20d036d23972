/** Persister on a scripted store and a fake clock. */
import assert from "node:assert/strict";
import { FakeClock } from "../model/fake_clock.ts";
import type { ActorStore } from "../store/actor_store.ts";
import { Persister, persistRetryDelayMs } from "./persister.ts";

/** A store whose saves fail while `failing` is set; it keeps what was written. */
class ScriptedStore {
  failing = false;
  readonly saved: unknown[] = [];
  attempts = 0;
  save(_id: string, snapshot: unknown): Promise<void> {
    this.attempts++;
    if (this.failing) return Promise.reject(new Error("database is locked"));
    this.saved.push(snapshot);
    return Promise.resolve();
  }
}

function setup() {
  const clock = new FakeClock();
  const store = new ScriptedStore();
  const errors: [string, string, number][] = [];
  const persister = new Persister(store as unknown as ActorStore, {
    clock,
    onError: (id, e, n) => errors.push([id, (e as Error).message, n]),
  });
  return { clock, store, errors, persister };
}

Deno.test("Persister retries a refused write with a growing delay and writes the newest state", async () => {
  const { clock, store, errors, persister } = setup();
  let state = 1;
  store.failing = true;
  persister.schedule("pod/default/web", () => ({ snapshot: state }));
  await clock.advance(0);
  assert.deepEqual(errors, [["pod/default/web", "database is locked", 1]]);
  assert.equal(persister.failing, 1);
  await clock.advance(persistRetryDelayMs(1));
  assert.equal(store.attempts, 2);
  assert.deepEqual(errors.at(-1), ["pod/default/web", "database is locked", 2]);
  state = 2; // the actor moved on while its writes failed
  store.failing = false;
  await clock.advance(persistRetryDelayMs(2));
  await persister.flush();
  assert.deepEqual(store.saved, [2], "the retry writes the state as it is now");
  assert.equal(persister.failing, 0);
});

Deno.test("persistRetryDelayMs() is 100 ms doubling to 5 s", () => {
  assert.deepEqual([1, 2, 3, 6, 7, 20].map(persistRetryDelayMs), [
    100,
    200,
    400,
    3_200,
    5_000,
    5_000,
  ]);
});

Deno.test("Persister.close() gives up a failing write after one more attempt, so flush() ends", async () => {
  const { clock, store, persister } = setup();
  store.failing = true;
  persister.schedule("node/n1", () => ({ snapshot: "s" }));
  await clock.advance(0);
  persister.close();
  await clock.advance(0);
  await persister.flush();
  assert.equal(store.attempts, 2);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("Persister.cancel() stops retrying a write that failed", async () => {
  const { clock, store, persister } = setup();
  store.failing = true;
  persister.schedule("pod/default/gone", () => ({ snapshot: "s" }));
  await clock.advance(0);
  const cancelled = persister.cancel("pod/default/gone");
  await clock.advance(persistRetryDelayMs(1));
  await cancelled;
  await clock.advance(60_000);
  assert.equal(store.attempts, 1);
});

Deno.test("Persister.persisted() resolves once the state scheduled in the same turn is written", async () => {
  const { store, persister } = setup();
  const gate = Promise.withResolvers<void>();
  const save = store.save.bind(store);
  store.save = async (id: string, snapshot: unknown) => {
    await gate.promise;
    return save(id, snapshot);
  };
  let done = false;
  // As the supervisor does: the transition's observer schedules right after it.
  const waiting = persister.persisted("node/n1").then(() => done = true);
  persister.schedule("node/n1", () => ({ snapshot: "Terminating" }));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(done, false, "not before the write");
  gate.resolve();
  await waiting;
  assert.deepEqual(store.saved, ["Terminating"]);
});
