/** Persister on a scripted store and a fake clock. */
import assert from "node:assert/strict";
import { FakeClock } from "../model/fake_clock.ts";
import type { ActorStore, SnapshotWrite } from "../store/actor_store.ts";
import { ConflictError } from "../model/errors.ts";
import { log } from "../model/log.ts";
import { digest, DIGESTS_PER_TURN, Persister, persistRetryDelayMs } from "./persister.ts";

/** A store whose saves fail while `failing` is set; it keeps what was written. */
class ScriptedStore {
  failing = false;
  readonly saved: unknown[] = [];
  attempts = 0;
  /** Transactions asked for. */
  batches: string[][] = [];
  /** Refuses every write of these actors. */
  refuse = new Set<string>();
  save(_id: string, snapshot: unknown): Promise<void> {
    this.attempts++;
    if (this.failing) return Promise.reject(new Error("database is locked"));
    this.saved.push(snapshot);
    return Promise.resolve();
  }
  saveMany(writes: SnapshotWrite[]): Promise<void> {
    this.batches.push(writes.map((w) => w.systemId));
    const bad = writes.find((w) => this.refuse.has(w.systemId));
    if (bad) {
      this.attempts++;
      return Promise.reject(new Error(`value too large: ${bad.systemId}`));
    }
    return writes.reduce(
      (p, w) => p.then(() => this.save(w.systemId, JSON.parse(w.json))),
      Promise.resolve(),
    );
  }
}

/** Lets the persister take its batch (it waits for the next turn of the event loop). */
function tick(): Promise<void> {
  return new Promise((r) => setTimeout(r, 5));
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
  await tick();
  assert.deepEqual(errors, [["pod/default/web", "database is locked", 1]]);
  assert.equal(persister.failing, 1);
  await clock.advance(persistRetryDelayMs(1));
  await tick();
  assert.equal(store.attempts, 2);
  assert.deepEqual(errors.at(-1), ["pod/default/web", "database is locked", 2]);
  state = 2; // the actor moved on while its writes failed
  store.failing = false;
  await clock.advance(persistRetryDelayMs(2));
  await tick();
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
  await tick();
  persister.close();
  await persister.flush();
  assert.equal(store.attempts, 2);
  assert.equal(clock.pendingTimers, 0);
});

Deno.test("Persister.cancel() stops retrying a write that failed", async () => {
  const { clock, store, persister } = setup();
  store.failing = true;
  persister.schedule("pod/default/gone", () => ({ snapshot: "s" }));
  await tick();
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

Deno.test("Persister writes the snapshots scheduled together in one batch, and skips unchanged ones", async () => {
  const { store, persister } = setup();
  for (let i = 0; i < 50; i++) persister.schedule(`pod/default/p${i}`, () => ({ snapshot: "A" }));
  await persister.flush();
  assert.deepEqual(store.batches.length, 1);
  assert.equal(store.batches[0].length, 50);
  // The same state again (a heartbeat that changed nothing): nothing to write.
  for (let i = 0; i < 50; i++) persister.schedule(`pod/default/p${i}`, () => ({ snapshot: "A" }));
  await persister.flush();
  assert.equal(store.batches.length, 1);
  persister.schedule("pod/default/p7", () => ({ snapshot: "B" }));
  await persister.flush();
  assert.deepEqual(store.batches.at(-1), ["pod/default/p7"]);
});

Deno.test("Persister writes the rest of a batch when one snapshot is refused", async () => {
  const { clock, store, errors, persister } = setup();
  store.refuse.add("pod/default/bad");
  for (const name of ["a", "bad", "c"]) {
    persister.schedule(`pod/default/${name}`, () => ({ snapshot: name }));
  }
  await tick();
  await tick();
  assert.deepEqual(store.saved, ["a", "c"]);
  assert.deepEqual(errors.map(([id]) => id), ["pod/default/bad"]);
  assert.equal(persister.failing, 1);
  store.refuse.clear();
  await clock.advance(persistRetryDelayMs(1));
  await persister.flush();
  assert.deepEqual(store.saved, ["a", "c", "bad"]);
  assert.equal(persister.failing, 0);
});

Deno.test("Persister logs a write that lost a race at debug, other failures at warn, neither with a stack", async () => {
  const lines: string[] = [];
  const original = console.error;
  console.error = (line: string) => void lines.push(line);
  const level = log.level;
  log.level = "info";
  try {
    for (
      // close() tries a failing write once more: two attempts.
      const [error, expected] of [
        [new ConflictError("changed meanwhile"), 0],
        [new Error("disk full"), 2],
      ] as const
    ) {
      lines.length = 0;
      const clock = new FakeClock();
      const store = new ScriptedStore();
      store.save = () => Promise.reject(error);
      const persister = new Persister(store as unknown as ActorStore, { clock });
      persister.schedule("pod/default/web", () => ({ snapshot: 1 }));
      await tick();
      persister.close();
      await persister.flush();
      assert.equal(lines.length, expected, lines.join("\n"));
    }
    assert.match(
      lines[0],
      /Z WARN {2}persisting pod\/default\/web failed \(1 in a row\) error="Error: disk full"$/,
    );
    log.level = "debug";
    lines.length = 0;
    const store = new ScriptedStore();
    store.save = () => Promise.reject(new ConflictError("changed meanwhile"));
    const persister = new Persister(store as unknown as ActorStore, { clock: new FakeClock() });
    persister.schedule("pod/default/web", () => ({ snapshot: 1 }));
    await tick();
    persister.close();
    await persister.flush();
    assert.match(
      lines[0],
      /Z DEBUG persisting pod\/default\/web failed \(1 in a row\) error="ConflictError: changed meanwhile"\n {4}ConflictError/,
    );
  } finally {
    console.error = original;
    log.level = level;
  }
});

Deno.test("Persister lets others run while it digests a large batch, and skips what was cancelled meanwhile", async () => {
  const { store, persister } = setup();
  const calls: string[] = [];
  const n = DIGESTS_PER_TURN * 3;
  for (let i = 0; i < n; i++) {
    persister.schedule(`pod/default/p${i}`, () => {
      calls.push(`p${i}`);
      // The first snapshot taken: a timer set now must run before the batch is through.
      if (i === 0) {
        setTimeout(() => {
          calls.push("timer");
          void persister.cancel(`pod/default/p${n - 1}`);
        }, 0);
      }
      return { snapshot: i };
    });
  }
  await persister.flush();
  const at = calls.indexOf("timer");
  assert.ok(at > 0 && at < n, `the timer ran after ${at - 1} of ${n} snapshots`);
  assert.ok(!calls.includes(`p${n - 1}`), "the cancelled actor's snapshot is not taken");
  assert.equal(store.saved.length, n - 1);
});

Deno.test("digest() is equal for equal writes and differs when the snapshot or the status does", () => {
  const snap = JSON.stringify({ value: "Running", context: { name: "web", n: 1 } });
  assert.equal(digest(snap, '{"phase":"Running"}'), digest(snap.slice(0), '{"phase":"Running"}'));
  assert.equal(digest(snap), digest(snap));
  const others = [
    digest(snap),
    digest(snap, '{"phase":"Running"}'),
    digest(snap, '{"phase":"Pending"}'),
    digest(snap.replace('"n":1', '"n":2')),
    digest(snap.replace('"n":1', '"n":2'), '{"phase":"Running"}'),
    // The same characters split differently between snapshot and status.
    digest("ab", "c"),
    digest("a", "bc"),
    digest("", ""),
    digest(""),
  ];
  assert.equal(new Set(others).size, others.length, others.join(" "));
  // Many near-identical snapshots (a counter in the context): no two alike.
  const many = new Set(
    Array.from({ length: 100_000 }, (_, i) => digest(snap.replace('"n":1', `"n":${i}`))),
  );
  assert.equal(many.size, 100_000);
});
