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
  await clock.advance(29_999);
  assert.equal(f.pass(status("b")), false);
  await clock.advance(1);
  assert.equal(f.pass(status("b")), true, "refreshed, so watchdogs see the agent alive");
  assert.equal(f.pass({ type: "connected", node: "n1" } as HubEvent), true);
  assert.equal(f.pass(status("b")), true, "a new connection's first status always goes");
  assert.equal(f.pass({ ...status("b"), node: "n2" } as HubEvent), true, "per node");
});
