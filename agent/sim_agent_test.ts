import assert from "node:assert/strict";
import { AgentHub, type HubEvent } from "../actors/agent_hub.ts";
import type { Instance } from "../cloud/provider.ts";
import type { DesiredPod } from "../model/agent_protocol.ts";
import { FakeClock, settle } from "../model/fake_clock.ts";
import type { Unit } from "../model/pod.ts";
import { SimAgents } from "./sim_agent.ts";

function instance(node: string, address = "10.0.0.7"): Instance {
  return {
    id: `i-${node}`,
    nodeName: node,
    instanceType: "t3.nano",
    state: "running",
    spot: false,
    addresses: [{ type: "PrivateIP", address }],
    launchedAt: 0,
  };
}

function desired(
  units: Unit[],
  extra: Partial<DesiredPod["spec"]> = {},
  uid = "uid-1",
): DesiredPod {
  return {
    namespace: "default",
    name: "web",
    uid,
    spec: { units, ...extra } as DesiredPod["spec"],
    env: {},
  };
}

function setup(options: { unitStartDelayMs?: number } = {}) {
  const clock = new FakeClock();
  const hub = new AgentHub(clock);
  const events: HubEvent[] = [];
  hub.subscribe((e) => events.push(e));
  const fleet = new SimAgents(hub, { clock, ...options });
  return { clock, hub, events, fleet };
}

Deno.test("SimAgents: an agent connects, runs the pod it is given and stops it when told", async () => {
  const { hub, events, fleet, clock } = setup();
  try {
    fleet.start(instance("node-a"));
    await settle();
    assert.ok(hub.isConnected("node-a"));
    assert.deepEqual(events.map((e) => e.type), ["connected", "status"]);

    await hub.apply(
      "node-a",
      desired([{ name: "main", command: ["serve"] }, { name: "side", image: "nginx:1" }], {
        initUnits: [{ name: "setup", command: ["true"] }],
      }),
    );
    const status = hub.lastStatus("node-a")!;
    assert.equal(status.podUid, "uid-1");
    assert.equal(status.podIP, "10.0.0.7");
    const at = new Date(clock.now()).toISOString();
    assert.deepEqual(status.unitStatuses, [
      { name: "main", state: { running: { startedAt: at } }, restartCount: 0, ready: true },
      {
        name: "side",
        state: { running: { startedAt: at } },
        restartCount: 0,
        ready: true,
        image: "nginx:1",
      },
    ]);
    assert.deepEqual(status.initUnitStatuses[0].state, {
      terminated: { exitCode: 0, startedAt: at, finishedAt: at },
    });

    assert.match(await hub.logs("node-a", "main"), /^\[simulated\] unit main of pod default\/web/);
    await assert.rejects(hub.logs("node-a", "nope"), /unit "nope" not found in pod "web"/);

    await clock.advance(5_000);
    await hub.apply("node-a", null);
    const stopped = hub.lastStatus("node-a")!;
    assert.equal(stopped.podUid, "uid-1", "the stopped pod is still reported");
    assert.deepEqual(stopped.unitStatuses[0].state, {
      terminated: {
        exitCode: 143,
        startedAt: at,
        finishedAt: new Date(clock.now()).toISOString(),
        reason: "Killed by SIGTERM",
      },
    });
  } finally {
    fleet.close();
  }
});

Deno.test("SimAgents: the same pod applied again changes nothing; a new unit starts", async () => {
  const { hub, fleet, clock } = setup();
  try {
    fleet.start(instance("node-a"));
    await settle();
    const main = { name: "main", command: ["serve"] };
    await hub.apply("node-a", desired([main]));
    const first = hub.lastStatus("node-a")!.unitStatuses[0];
    await clock.advance(1_000);
    await hub.apply("node-a", desired([main, { name: "added", command: ["x"] }]));
    const [kept, added] = hub.lastStatus("node-a")!.unitStatuses;
    assert.equal(kept, first, "the running unit is left alone");
    assert.equal(added.state.running?.startedAt, new Date(clock.now()).toISOString());
  } finally {
    fleet.close();
  }
});

Deno.test("SimAgents: with unitStartDelayMs units wait, then all start on one timer", async () => {
  const { hub, fleet, clock } = setup({ unitStartDelayMs: 500 });
  try {
    for (const n of ["a", "b", "c"]) fleet.start(instance(`node-${n}`));
    await settle();
    await Promise.all(
      ["a", "b", "c"].map((n) =>
        hub.apply(`node-${n}`, desired([{ name: "main", command: ["serve"] }], {}, `uid-${n}`))
      ),
    );
    for (const n of ["a", "b", "c"]) {
      assert.equal(
        hub.lastStatus(`node-${n}`)!.unitStatuses[0].state.waiting?.reason,
        "Unit waiting",
      );
    }
    await clock.advance(499);
    assert.ok(hub.lastStatus("node-a")!.unitStatuses[0].state.waiting);
    await clock.advance(1);
    for (const n of ["a", "b", "c"]) {
      assert.ok(hub.lastStatus(`node-${n}`)!.unitStatuses[0].state.running, `node-${n} runs`);
    }
  } finally {
    fleet.close();
  }
});

Deno.test("SimAgents: one timer sends every agent's heartbeat once per period", async () => {
  const { fleet, clock, events } = setup();
  try {
    for (let i = 0; i < 25; i++) fleet.start(instance(`node-${i}`));
    await settle();
    assert.equal(clock.pendingTimers, 1, "one timer for all the agents");
    events.length = 0;
    await clock.advance(10_000);
    const beats = new Map<string, number>();
    for (const e of events) {
      if (e.type === "status") beats.set(e.node, (beats.get(e.node) ?? 0) + 1);
    }
    assert.equal(beats.size, 25, "every agent sent a heartbeat");
    assert.ok([...beats.values()].every((n) => n === 1), JSON.stringify([...beats]));
  } finally {
    fleet.close();
  }
});

Deno.test("SimAgents: heartbeats come a few at a time, never a whole fleet's share at once", async () => {
  const { fleet, clock, events } = setup();
  try {
    for (let i = 0; i < 1000; i++) fleet.start(instance(`node-${i}`));
    await settle();
    events.length = 0;
    // Each 100 ms tick sends its share: 1,000 agents every 10 s is 10 a tick.
    let most = 0;
    for (let t = 0; t < 100; t++) {
      const before = events.length;
      await clock.advance(100);
      most = Math.max(most, events.length - before);
    }
    assert.equal(events.filter((e) => e.type === "status").length, 1000, "one each in 10 s");
    assert.ok(most <= 10, `${most} heartbeats in one tick`);
  } finally {
    fleet.close();
  }
});

Deno.test("SimAgents: a stopped agent disconnects and sends nothing more", async () => {
  const { hub, fleet, events, clock } = setup();
  try {
    const stop = fleet.start(instance("node-a"));
    await settle();
    stop();
    await settle();
    assert.equal(hub.isConnected("node-a"), false);
    assert.equal(events.at(-1)?.type, "disconnected");
    assert.equal(fleet.size, 0);
    events.length = 0;
    await clock.advance(20_000);
    assert.deepEqual(events, []);
    assert.equal(clock.pendingTimers, 0, "the heartbeat timer ends with the last agent");
  } finally {
    fleet.close();
  }
});
