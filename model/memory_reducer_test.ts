import assert from "node:assert/strict";
import { FakeClock } from "./fake_clock.ts";
import {
  holdMemoryReducer,
  MemoryReducer,
  memoryReducerRunning,
  type ProcessSample,
  readProcess,
  v8Compactor,
} from "./memory_reducer.ts";

const MiB = 2 ** 20;

/** A process whose heap and CPU the test sets; compacting brings the heap down to `live`. */
class FakeProcess {
  heap = 100 * MiB;
  live = 100 * MiB;
  cpuMs = 0;
  /** Objects held; undefined: not counted. */
  objects: number | undefined;
  compactions = 0;
  read = (): ProcessSample => ({
    heapTotal: this.heap,
    rss: this.heap + 50 * MiB,
    cpuMs: this.cpuMs,
    ...(this.objects === undefined ? {} : { objects: this.objects }),
  });
  compact = (): void => {
    this.compactions++;
    this.heap = this.live;
  };
}

function reducer(p: FakeProcess, clock: FakeClock) {
  return new MemoryReducer(p.compact, { clock, read: p.read, periodMs: 2_000 });
}

Deno.test("MemoryReducer compacts a grown heap once the process was quiet two periods, never while busy", async () => {
  const clock = new FakeClock();
  const p = new FakeProcess();
  const r = reducer(p, clock);
  r.start();
  try {
    await clock.advance(2_000); // first look: the baseline, 100 MiB
    // A burst: the heap grows to 300 MiB, the process busy (a full core).
    p.heap = 300 * MiB;
    for (let i = 0; i < 5; i++) {
      p.cpuMs += 2_000;
      await clock.advance(2_000);
    }
    assert.equal(p.compactions, 0, "busy: never paused");
    // Quiet: one period is not enough, two are.
    p.cpuMs += 100;
    await clock.advance(2_000);
    assert.equal(p.compactions, 0);
    p.cpuMs += 100;
    await clock.advance(2_000);
    assert.equal(p.compactions, 1);
    assert.equal(r.totals.count, 1);
    assert.equal(p.heap, 100 * MiB);
    // Quiet and unchanged: nothing more to do.
    await clock.advance(120_000);
    assert.equal(p.compactions, 1);
  } finally {
    r.stop();
  }
});

Deno.test("MemoryReducer leaves a heap that grew less than half, a small heap, and waits a minute between two", async () => {
  const clock = new FakeClock();
  const p = new FakeProcess();
  const r = reducer(p, clock);
  r.check();
  await clock.advance(2_000);
  // Grew 40 %: V8's own collections keep a steady heap in that range.
  p.heap = 140 * MiB;
  for (let i = 0; i < 5; i++) r.check(), await clock.advance(2_000);
  assert.equal(p.compactions, 0);
  // Grown, and quiet for long enough already: compacted at the next look.
  p.heap = 200 * MiB;
  const done = r.check();
  assert.equal(p.compactions, 1);
  assert.equal(done?.before.heapTotal, 200 * MiB);
  assert.equal(done?.after.heapTotal, 100 * MiB);
  // Another burst right after: not again within the minute.
  p.heap = 400 * MiB;
  for (let i = 0; i < 20; i++) await clock.advance(2_000), r.check();
  assert.equal(p.compactions, 1);
  for (let i = 0; i < 20; i++) await clock.advance(2_000), r.check();
  assert.equal(p.compactions, 2);

  // Under the floor (64 MiB) growth does not matter.
  const small = new FakeProcess();
  small.heap = small.live = 10 * MiB;
  const s = reducer(small, clock);
  s.check();
  small.heap = 60 * MiB;
  for (let i = 0; i < 10; i++) await clock.advance(2_000), s.check();
  assert.equal(small.compactions, 0);
});

Deno.test("MemoryReducer compacts once quiet after a quarter of the objects, and 2,000 at least, were let go", async () => {
  const clock = new FakeClock();
  const p = new FakeProcess();
  // After a rollout of 10,000: 34,000 objects (the finished pods among them), 300 MiB of heap.
  p.heap = 300 * MiB;
  p.live = 200 * MiB;
  p.objects = 34_000;
  const r = reducer(p, clock);
  r.check();
  for (let i = 0; i < 5; i++) await clock.advance(2_000), r.check();
  assert.equal(p.compactions, 0, "the heap did not grow, and nothing was let go");
  // 20 % of them purged: not worth a pause.
  p.objects = 27_200;
  for (let i = 0; i < 5; i++) await clock.advance(2_000), r.check();
  assert.equal(p.compactions, 0);
  // The purge goes on while the process is busy: no pause then.
  p.objects = 24_000;
  p.cpuMs += 2_000;
  await clock.advance(2_000), r.check();
  p.cpuMs += 2_000;
  await clock.advance(2_000), r.check();
  assert.equal(p.compactions, 0, "busy");
  // Quiet two periods: compacted, heap down to what is live.
  await clock.advance(2_000), r.check();
  assert.equal(p.compactions, 0);
  await clock.advance(2_000);
  const done = r.check();
  assert.equal(p.compactions, 1);
  assert.equal(done?.before.objects, 24_000);
  assert.equal(p.heap, 200 * MiB);
  // The peak starts again from there: the same count, or a few less, is no reason.
  p.objects = 23_000;
  for (let i = 0; i < 60; i++) await clock.advance(2_000), r.check();
  assert.equal(p.compactions, 1);

  // A small store: 1,500 of 2,000 objects gone is under 2,000.
  const small = new FakeProcess();
  small.heap = 100 * MiB;
  small.objects = 2_000;
  const s = reducer(small, clock);
  s.check();
  small.objects = 500;
  for (let i = 0; i < 10; i++) await clock.advance(2_000), s.check();
  assert.equal(small.compactions, 0);
  // Without a count, objects are no reason either.
  const uncounted = new FakeProcess();
  const u = reducer(uncounted, clock);
  u.check();
  for (let i = 0; i < 10; i++) await clock.advance(2_000), u.check();
  assert.equal(uncounted.compactions, 0);
});

Deno.test("readProcess adds up the objects each counter holds, and leaves them out without counters", () => {
  assert.equal(readProcess().objects, undefined);
  assert.equal(readProcess([]).objects, undefined);
  assert.equal(readProcess([() => 3, () => 4]).objects, 7);
  const s = readProcess();
  assert.ok(s.heapTotal > 0 && s.rss > 0 && s.cpuMs > 0);
});

Deno.test("v8Compactor runs a real collection: garbage is freed", () => {
  const compact = v8Compactor();
  let garbage: unknown[] | undefined = Array.from({ length: 400_000 }, (_, i) => ({ i, s: [i] }));
  const before = Deno.memoryUsage().heapUsed;
  garbage = undefined;
  compact();
  const after = Deno.memoryUsage().heapUsed;
  assert.equal(garbage, undefined);
  assert.ok(before - after > 10 * MiB, `heap in use ${before / MiB} → ${after / MiB} MiB`);
});

Deno.test("holdMemoryReducer runs one reducer while anyone holds it", () => {
  assert.equal(memoryReducerRunning(), false);
  const a = holdMemoryReducer();
  const b = holdMemoryReducer();
  assert.equal(memoryReducerRunning(), true);
  a();
  a(); // a second release of the same hold changes nothing
  assert.equal(memoryReducerRunning(), true, "b still holds it");
  b();
  assert.equal(memoryReducerRunning(), false);
});
