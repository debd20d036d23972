import assert from "node:assert/strict";
import { FakeClock } from "../model/fake_clock.ts";
import type { StatusMessage } from "../model/agent_protocol.ts";
import type { HubEvent } from "./agent_hub.ts";
import { StatusFilter } from "./routing.ts";

const status = (phase: string): HubEvent => ({
  type: "status",
  node: "n1",
  status: {
    type: "status",
    podUid: "uid-1",
    unitStatuses: [{ name: "main", state: { running: { startedAt: phase } }, restartCount: 0 }],
    initUnitStatuses: [],
  } as unknown as StatusMessage,
});

Deno.test("StatusFilter passes changed statuses, and a repeated one once per refresh", async () => {
  const clock = new FakeClock();
  const f = new StatusFilter(clock, 30_000);
  assert.equal(f.pass(status("a")), true, "the first");
  assert.equal(f.pass(status("a")), false, "a heartbeat that changed nothing");
  assert.equal(f.pass(status("b")), true, "a change");
  // Heartbeats every 10 s for 10 minutes: one passes in each 30 s slot of the node.
  const passed: number[] = [];
  for (let t = 0; t < 600_000; t += 10_000) {
    await clock.advance(10_000);
    if (f.pass(status("b"))) passed.push(clock.now());
  }
  assert.ok(passed.length >= 19 && passed.length <= 21, `${passed.length} refreshes`);
  for (let i = 1; i < passed.length; i++) {
    const gap = passed[i] - passed[i - 1];
    assert.ok(gap >= 20_000 && gap <= 40_000, `refreshed ${gap} ms apart`);
  }
  // Heard from just now (a change), a node waits half a period before it refreshes, whatever
  // its slot: heartbeats every second for a minute.
  await clock.advance(1_000);
  assert.equal(f.pass(status("c")), true, "a change");
  const changedAt = clock.now();
  const refreshed: number[] = [];
  for (let t = 0; t < 60_000; t += 1_000) {
    await clock.advance(1_000);
    if (f.pass(status("c"))) refreshed.push(clock.now() - changedAt);
  }
  assert.ok(refreshed.length === 2 || refreshed.length === 3, `refreshed at ${refreshed}`);
  assert.ok(refreshed[0] >= 15_000 && refreshed[0] <= 30_000, `first refresh at ${refreshed[0]}`);
  assert.equal(f.pass({ type: "connected", node: "n1" } as HubEvent), true);
  assert.equal(f.pass(status("b")), true, "a new connection's first status always goes");
  assert.equal(f.pass({ ...status("b"), node: "n2" } as HubEvent), true, "per node");
});

Deno.test("StatusFilter spreads the refreshes of nodes that started together over the period", async () => {
  const clock = new FakeClock();
  const f = new StatusFilter(clock, 30_000);
  // 3,000 agents connect within the same 10 s (a burst) and each sends a heartbeat every 10 s.
  const nodes = Array.from(
    { length: 3000 },
    (_, i) => ({ name: crypto.randomUUID(), at: i % 100 }),
  );
  const perThird = [0, 0, 0];
  for (let tick = 0; tick < 1200; tick++) { // 120 s in 100 ms ticks
    await clock.advance(100);
    for (const n of nodes) {
      if (tick % 100 !== n.at) continue;
      const passed = f.pass({ ...status("a"), node: n.name } as HubEvent);
      // From 60 s on, every pass is a refresh: count them by third of a 30 s period.
      if (passed && tick >= 600 && tick < 900) perThird[Math.floor((tick - 600) / 100)]++;
    }
  }
  assert.equal(perThird[0] + perThird[1] + perThird[2], 3000, "each node once per period");
  for (const n of perThird) assert.ok(n > 700 && n < 1300, `refreshes by third: ${perThird}`);
});
