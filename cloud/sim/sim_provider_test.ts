import { setImmediate } from "node:timers";
import assert from "node:assert/strict";
import { CapacityError, UnavailableError } from "../../model/errors.ts";
import { SimInstanceStore } from "../../store/sim_instances.ts";
import { launchRequest } from "../provider_contract.ts";
import type { Instance } from "../provider.ts";
import { AGENT_START_SLICE, randomLaunchFailures, SimProvider } from "./sim_provider.ts";

Deno.test("SimProvider: an instance is pending for bootDelayMs, then runs and its agent starts", async () => {
  const started: string[] = [];
  const sim = new SimProvider({
    bootDelayMs: 40,
    startAgent: (i) => void started.push(i.nodeName),
  });
  try {
    const t0 = Date.now();
    const i = await sim.launch(launchRequest("node-a"));
    assert.equal(i.state, "pending");
    assert.deepEqual(started, []);
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(i.state, "running");
    assert.deepEqual(started, ["node-a"]);
    assert.ok(Date.now() - t0 >= 40);
    // Terminated while booting: no agent.
    const b = await sim.launch(launchRequest("node-b"));
    await sim.terminate(b.id);
    await new Promise((r) => setTimeout(r, 80));
    assert.deepEqual(started, ["node-a"]);
  } finally {
    sim.reset();
  }
});

Deno.test("SimProvider.startAgents() starts held agents a slice per turn of the event loop, stopping once closed", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const started: string[] = [];
    const startAgent = (i: Instance) => {
      started.push(i.nodeName);
      return () => {};
    };
    const first = await SimProvider.open({ store: new SimInstanceStore(kv), startAgent });
    const count = AGENT_START_SLICE * 2 + 10;
    for (let i = 0; i < count; i++) await first.launch(launchRequest(`node-${i}`));
    await first.close();
    const second = await SimProvider.open({ store: new SimInstanceStore(kv), startAgent });
    const done = second.startAgents();
    // The first slice at once; other work (a task queued now) runs between the next slices.
    assert.equal(started.length, AGENT_START_SLICE);
    const meanwhile = await new Promise<number>((r) => setImmediate(() => r(started.length)));
    assert.equal(meanwhile, AGENT_START_SLICE * 2);
    await done;
    assert.equal(started.length, count);
    assert.equal(new Set(started).size, count);

    // Closed while starting: the agents of later slices stay stopped.
    started.length = 0;
    const third = await SimProvider.open({ store: new SimInstanceStore(kv), startAgent });
    const stopped = third.startAgents();
    await third.close();
    await stopped;
    assert.equal(started.length, AGENT_START_SLICE);
  } finally {
    kv.close();
  }
});

Deno.test("SimProvider.open: instances outlive the provider; their agents start again on startAgents()", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const agents = new Map<string, number>();
    const startAgent = (i: Instance) => {
      agents.set(i.nodeName, (agents.get(i.nodeName) ?? 0) + 1);
      return () => agents.set(i.nodeName, agents.get(i.nodeName)! - 1);
    };
    const first = await SimProvider.open({ store: new SimInstanceStore(kv), startAgent });
    // Agents wait for startAgents() (the controller serving): launched ones too.
    const a = await first.launch(launchRequest("node-a"));
    const b = await first.launch(launchRequest("node-b"));
    assert.equal(agents.size, 0);
    first.startAgents();
    assert.deepEqual([...agents], [["node-a", 1], ["node-b", 1]]);
    await first.terminate(b.id);
    assert.equal(agents.get("node-b"), 0);
    await first.close();
    agents.clear();

    // A restarted controller's provider, over the same KV.
    const second = await SimProvider.open({ store: new SimInstanceStore(kv), startAgent });
    assert.deepEqual((await second.listInstances()).map((i) => i.id), [a.id]);
    // A node restored in Creating launches again with its token: it gets the same instance.
    const again = await second.launch(launchRequest("node-a"));
    assert.equal(again.id, a.id);
    assert.deepEqual(again.addresses, a.addresses);
    assert.equal(agents.size, 0);
    second.startAgents();
    assert.deepEqual([...agents], [["node-a", 1]]);
    // New instances get new numbers, not those of terminated ones.
    const c = await second.launch(launchRequest("node-c"));
    assert.ok(![a.id, b.id].includes(c.id));
    assert.notDeepEqual(c.addresses, b.addresses);
    await second.close();
  } finally {
    kv.close();
  }
});

Deno.test("SimProvider with record: false keeps no calls and forgets terminated instances", async () => {
  const sim = new SimProvider({ record: false });
  for (let n = 0; n < 100; n++) {
    const i = await sim.launch(launchRequest(`node-${n}`));
    await sim.terminate(i.id);
  }
  await sim.listInstances();
  assert.equal(sim.calls.length, 0);
  assert.equal(sim.instances.size, 0);
  // The default (tests) records both.
  const recorded = new SimProvider();
  const i = await recorded.launch(launchRequest("node-a"));
  await recorded.terminate(i.id);
  assert.equal(recorded.instances.get(i.id)?.state, "terminated");
  assert.deepEqual(recorded.calls.map((c) => c.method), ["launch", "terminate"]);
});

Deno.test("randomLaunchFailures fails the given share of launches, as a cloud error or no capacity", () => {
  assert.equal(randomLaunchFailures(0, "error"), undefined);
  let r = 0;
  const values = [0.1, 0.5, 0.29, 0.3];
  const fail = randomLaunchFailures(0.3, "error", () => values[r++])!;
  const results = values.map(() => fail(launchRequest("n")));
  assert.deepEqual(results.map((e) => e !== undefined), [true, false, true, false]);
  assert.ok(results[0] instanceof UnavailableError);
  assert.match(results[0]!.message, /^InternalError: .*launchFailureRate 0.3/);
  const capacity = randomLaunchFailures(1, "capacity")!(
    launchRequest("n", { instanceType: "c5.large" }),
  );
  assert.ok(capacity instanceof CapacityError);
  assert.match(capacity.message, /InsufficientInstanceCapacity: .*c5.large/);
});
