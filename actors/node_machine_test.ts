/** The node machine on fake effects: launch, clean and terminate the test settles, a manual clock. */
import assert from "node:assert/strict";
import { type Actor, waitFor } from "xstate";
import { isoTime } from "../model/clock.ts";
import { CapacityError } from "../model/errors.ts";
import { newNodeStatus } from "../model/node.ts";
import { isCapacityError } from "./effects.ts";
import { MachineHarness, withHarness as withAny } from "./machine_harness.ts";
import {
  createNodeMachine,
  type LaunchOutcome,
  type LaunchResult,
  type NodeInput,
  type NodeMachine,
  nodeStatusOf,
} from "./node_machine.ts";

type Deferred<T, I> = PromiseWithResolvers<T> & { input: I };

const INPUT: NodeInput = {
  name: "n1",
  instanceType: "t3.nano",
  spot: false,
  privateIPOnly: false,
  volumeSizeGiB: 8,
  boundPod: "default/web",
};
const LAUNCHED: LaunchResult = {
  instanceId: "i-1",
  addresses: [{ type: "PrivateIP", address: "10.0.0.2" }],
};
const AT = "2026-01-01T00:00:00.000Z";

/** Fake effects and the node actors started on them. */
class Harness extends MachineHarness<NodeMachine> {
  readonly launches: Deferred<LaunchResult, NodeInput>[] = [];
  readonly cleans: Deferred<void, { name: string; boundPod?: string }>[] = [];
  readonly terminated: string[] = [];
  /** Nodes whose credentials were revoked, in order. */
  readonly revoked: string[] = [];
  /** How each launch went, as the controller's metrics hear it. */
  readonly outcomes: LaunchOutcome[] = [];
  connected = false;
  /** Nodes whose stored state terminate waited for, and what that wait resolves with. */
  readonly persistedAsked: string[] = [];
  persistedGate: Promise<void> = Promise.resolve();
  /** What terminate() does after recording the call. */
  terminate: (id: string) => Promise<void> = () => Promise.resolve();
  readonly machine: NodeMachine;

  constructor(
    t: { bootTimeoutMs?: number; healthyTimeoutMs?: number; watchdogPeriodMs?: number } = {},
  ) {
    super(t.watchdogPeriodMs);
    this.machine = createNodeMachine({
      clock: this.clock,
      send: this.send,
      launch: (input) => {
        const d = { ...Promise.withResolvers<LaunchResult>(), input };
        this.launches.push(d);
        return d.promise;
      },
      terminate: (id) => {
        this.terminated.push(id);
        return this.terminate(id);
      },
      revoke: (name) => {
        this.revoked.push(name);
        return Promise.resolve();
      },
      persisted: (name) => {
        this.persistedAsked.push(name);
        return this.persistedGate;
      },
      clean: (input) => {
        const d = { ...Promise.withResolvers<void>(), input };
        this.cleans.push(d);
        return d.promise;
      },
      isCapacityError,
      event: this.record,
      bootTimeoutMs: t.bootTimeoutMs ?? 300_000,
      healthyTimeoutMs: t.healthyTimeoutMs ?? 90_000,
      isConnected: () => this.connected,
      onLaunch: (outcome) => this.outcomes.push(outcome),
    });
  }

  start(input: NodeInput = INPUT, snapshot?: unknown) {
    return this.startActor(input, snapshot);
  }
}

function withHarness(
  fn: (h: Harness) => Promise<void>,
  t?: ConstructorParameters<typeof Harness>[0],
): Promise<void> {
  return withAny(() => new Harness(t), fn);
}

const phase = (a: Actor<NodeMachine>) => a.getSnapshot().value;

function until(a: Actor<NodeMachine>, state: string) {
  return waitFor(a, (s) => s.value === state, { timeout: 2_000 });
}

/** Launches the node and connects its agent: Available. */
async function available(h: Harness, a: Actor<NodeMachine>): Promise<void> {
  h.launches[0].resolve(LAUNCHED);
  await until(a, "Created");
  a.send({ type: "AGENT_CONNECTED" });
  assert.equal(phase(a), "Available");
}

async function claimed(h: Harness, a: Actor<NodeMachine>): Promise<void> {
  await available(h, a);
  a.send({ type: "CLAIM", pod: "default/web" });
  assert.equal(phase(a), "Claimed");
}

Deno.test("node machine launches in Creating and is Created once the launch resolved", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    assert.equal(phase(a), "Creating");
    assert.deepEqual(h.launches.map((l) => l.input), [INPUT]);
    await h.clock.advance(1_000);
    h.launches[0].resolve(LAUNCHED);
    const s = await until(a, "Created");
    assert.equal(s.context.instanceId, "i-1");
    assert.deepEqual(s.context.addresses, LAUNCHED.addresses);
    assert.equal(s.context.bootDeadline, h.clock.now() + 300_000);
    assert.deepEqual(h.events.map((e) => [e.status, e.message]), [
      ["node-created", "Instance i-1 (t3.nano) launched"],
    ]);
    assert.deepEqual(h.toPool(), []);
  });
});

Deno.test("node machine on a CapacityError terminates and tells the pool, capacityError set", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    h.launches[0].reject(new CapacityError("no t3.nano in us-east-1a"));
    const s = await until(a, "Terminated");
    assert.equal(s.status, "done");
    assert.equal(s.context.message, "launch failed: no t3.nano in us-east-1a");
    assert.equal(s.context.capacityError, true);
    assert.deepEqual(h.terminated, [], "no instance, nothing to terminate");
    assert.deepEqual(h.toPool(), [{
      type: "NODE_GONE",
      node: "n1",
      pod: "default/web",
      reason: "launch failed: no t3.nano in us-east-1a",
      capacityError: true,
    }]);
    assert.equal(nodeStatusOf(s).message, "launch failed: no t3.nano in us-east-1a");
  });
});

Deno.test("node machine on another launch error terminates with capacityError false", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    h.launches[0].reject(new Error("boom"));
    const s = await until(a, "Terminated");
    assert.equal(s.context.capacityError, false);
    assert.equal(h.toPool()[0].capacityError, false);
    assert.equal(h.toPool()[0].reason, "launch failed: boom");
    assert.equal(h.toPool()[0].launchError, "launch failed: boom", "a failed launch for the pool");
  });
});

Deno.test("node machine whose instance stops before its agent connected is a failed launch", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    h.launches[0].resolve(LAUNCHED);
    await until(a, "Created");
    a.send({ type: "INSTANCE_GONE", reason: "agent process exited with code 1" });
    const s = await until(a, "Terminated");
    assert.deepEqual(h.terminated, ["i-1"], "what is left of it is terminated");
    assert.equal(h.toPool().at(-1)?.launchError, "launch failed: agent process exited with code 1");
    assert.equal(nodeStatusOf(s).message, "launch failed: agent process exited with code 1");
  });
});

Deno.test("node machine whose instance stops while the launch is still running ends after it", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    a.send({ type: "INSTANCE_GONE", reason: "agent process exited with code 1" });
    assert.equal(phase(a), "Creating");
    h.launches[0].resolve(LAUNCHED);
    await until(a, "Terminated");
    assert.equal(h.toPool().at(-1)?.launchError, "launch failed: agent process exited with code 1");
  });
});

Deno.test("node machine whose instance stops while Claimed terminates without a launch failure", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await claimed(h, a);
    a.send({ type: "INSTANCE_GONE", reason: "agent process killed by SIGKILL" });
    await until(a, "Terminated");
    const gone = h.toPool().at(-1)!;
    assert.equal(gone.type, "NODE_GONE");
    assert.equal(gone.reason, "instance stopped: agent process killed by SIGKILL");
    assert.equal(gone.launchError, undefined);
  });
});

Deno.test("node machine AGENT_CONNECTED after the launch makes it Available and tells the pool", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await available(h, a);
    assert.deepEqual(h.toPool(), [{
      type: "NODE_AVAILABLE",
      node: "n1",
      pod: "default/web",
      instanceId: "i-1",
      addresses: LAUNCHED.addresses,
    }]);
    assert.equal(a.getSnapshot().context.agentConnected, true);
  });
});

Deno.test("node machine AGENT_CONNECTED before the launch finished makes it Available once launched", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    a.send({ type: "AGENT_CONNECTED" });
    assert.equal(phase(a), "Creating");
    h.launches[0].resolve(LAUNCHED);
    await until(a, "Available");
    assert.equal(h.toPool()[0].type, "NODE_AVAILABLE");
    assert.equal(h.toPool()[0].instanceId, "i-1");
  });
});

Deno.test("node machine whose agent the hub already has goes Available when launched", async () => {
  await withHarness(async (h) => {
    h.connected = true;
    const a = h.start();
    h.launches[0].resolve(LAUNCHED);
    await until(a, "Available");
  });
});

Deno.test("node machine BIND changes the pod it is booted for", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    a.send({ type: "BIND", pod: "default/other" });
    assert.equal(a.getSnapshot().context.boundPod, "default/other");
    h.launches[0].resolve(LAUNCHED);
    await until(a, "Created");
    a.send({ type: "BIND", pod: undefined });
    assert.equal(a.getSnapshot().context.boundPod, undefined);
    assert.equal(nodeStatusOf(a.getSnapshot()).boundPodName, undefined);
  });
});

Deno.test("node machine CLAIM makes an Available node Claimed by the pod", async () => {
  await withHarness(async (h) => {
    const a = h.start({ ...INPUT, boundPod: undefined });
    await available(h, a);
    a.send({ type: "CLAIM", pod: "default/web" });
    assert.equal(phase(a), "Claimed");
    assert.equal(nodeStatusOf(a.getSnapshot()).boundPodName, "default/web");
  });
});

Deno.test("node machine RELEASE of a used node cleans, terminates once and ends Terminated", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await claimed(h, a);
    a.send({ type: "RELEASE", used: true });
    assert.equal(phase(a), "Cleaning");
    assert.deepEqual(h.cleans.map((c) => c.input), [{ name: "n1", boundPod: "default/web" }]);
    assert.deepEqual(h.terminated, [], "nothing is terminated before the logs are saved");
    h.cleans[0].resolve();
    const s = await until(a, "Terminated");
    assert.equal(s.status, "done");
    assert.deepEqual(h.terminated, ["i-1"]);
    assert.equal(s.context.message, undefined);
    assert.deepEqual(h.toPool().at(-1), {
      type: "NODE_GONE",
      node: "n1",
      pod: "default/web",
      reason: undefined,
      capacityError: false,
    });
    const terminating = h.events.find((e) => e.status === "node-terminating")!;
    assert.equal(terminating.message, "Terminating instance i-1");
    assert.equal(terminating.type, "Normal");
  });
});

Deno.test("node machine revokes a used node's credentials after cleaning, before terminating", async () => {
  await withHarness(async (h) => {
    const terminating = Promise.withResolvers<void>();
    h.terminate = () => terminating.promise;
    const a = h.start();
    await claimed(h, a);
    a.send({ type: "RELEASE", used: true });
    await h.clock.advance(0);
    assert.deepEqual(h.revoked, [], "the agent still hands over its logs while Cleaning");
    h.cleans[0].resolve();
    await until(a, "Terminating");
    await h.clock.advance(0);
    assert.deepEqual(h.terminated, ["i-1"]);
    assert.deepEqual(h.revoked, ["n1"], "revoked by the time the instance is terminated");
    terminating.resolve();
    await until(a, "Terminated");
    assert.deepEqual(h.revoked, ["n1"]);
  });
});

Deno.test("node machine revokes the credentials of a node whose launch failed", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    h.launches[0].reject(new Error("boom"));
    await until(a, "Terminated");
    assert.deepEqual(h.terminated, []);
    assert.deepEqual(h.revoked, ["n1"], "a launch may have issued a token before it failed");
  });
});

Deno.test("node machine terminates a used node even when cleaning failed", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await claimed(h, a);
    a.send({ type: "RELEASE", used: true });
    h.cleans[0].reject(new Error("agent gone"));
    await until(a, "Terminated");
    assert.deepEqual(h.terminated, ["i-1"]);
  });
});

Deno.test("node machine RELEASE of an unused node makes it Available again, unbound", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await claimed(h, a);
    a.send({ type: "RELEASE", used: false });
    assert.equal(phase(a), "Available");
    assert.equal(a.getSnapshot().context.boundPod, undefined);
    assert.deepEqual(h.toPool().at(-1), {
      type: "NODE_AVAILABLE",
      node: "n1",
      pod: undefined,
      instanceId: "i-1",
      addresses: LAUNCHED.addresses,
    });
    assert.deepEqual(h.cleans, []);
  });
});

for (const from of ["Created", "Available", "Claimed", "Cleaning"] as const) {
  Deno.test(`node machine TERMINATE in ${from} terminates the instance`, async () => {
    await withHarness(async (h) => {
      const a = h.start();
      h.launches[0].resolve(LAUNCHED);
      await until(a, "Created");
      if (from !== "Created") a.send({ type: "AGENT_CONNECTED" });
      if (from === "Claimed" || from === "Cleaning") a.send({ type: "CLAIM", pod: "default/web" });
      if (from === "Cleaning") a.send({ type: "RELEASE", used: true });
      assert.equal(phase(a), from);
      a.send({ type: "TERMINATE", reason: "termination was requested" });
      const s = await until(a, "Terminated");
      assert.deepEqual(h.terminated, ["i-1"]);
      assert.equal(s.context.message, "termination was requested");
      assert.equal(h.toPool().at(-1)?.reason, "termination was requested");
      const terminating = h.events.find((e) => e.status === "node-terminating")!;
      assert.equal(terminating.message, "Terminating instance i-1: termination was requested");
      assert.equal(terminating.type, "Warning");
    });
  });
}

Deno.test("node machine TERMINATE in Creating whose launch fails ends Terminated, nothing to terminate", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    a.send({ type: "TERMINATE", reason: "not needed" });
    h.launches[0].reject(new Error("boom"));
    const s = await until(a, "Terminated");
    assert.equal(s.status, "done");
    assert.deepEqual(h.terminated, []);
    assert.equal(h.toPool().at(-1)?.type, "NODE_GONE");
  });
});

Deno.test({
  name: "node machine TERMINATE while launching terminates the instance the launch made",
  fn: async () => {
    await withHarness(async (h) => {
      const a = h.start();
      a.send({ type: "TERMINATE", reason: "termination was requested" });
      h.launches[0].resolve(LAUNCHED);
      await h.launches[0].promise;
      await until(a, "Terminated");
      assert.deepEqual(h.terminated, ["i-1"]);
    });
  },
});

Deno.test("node machine stopped while retrying a terminate leaves no timer behind", async () => {
  await withHarness(async (h) => {
    const consoleError = console.error;
    console.error = () => {};
    try {
      h.terminate = () => Promise.reject(new Error("throttled"));
      const a = h.start();
      await claimed(h, a);
      a.send({ type: "TERMINATE", reason: "test" });
      await h.clock.advance(3_000);
      assert.equal(h.terminated.length, 3, "tried at 0, 1 and 3 s");
      a.stop();
      await h.clock.advance(0);
      assert.equal(h.clock.pendingTimers, 0, "a stopped controller must be able to exit");
      await h.clock.advance(60_000);
      assert.equal(h.terminated.length, 3);
    } finally {
      console.error = consoleError;
    }
  });
});

Deno.test("node machine retries a failed terminate until it succeeds", async () => {
  await withHarness(async (h) => {
    const errors: unknown[] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      let calls = 0;
      h.terminate = () =>
        ++calls === 1 ? Promise.reject(new Error("throttled")) : Promise.resolve();
      const a = h.start();
      await claimed(h, a);
      a.send({ type: "TERMINATE", reason: "test" });
      await h.clock.advance(999);
      assert.equal(phase(a), "Terminating", "the retry waits 1 s");
      await h.clock.advance(1);
      await until(a, "Terminated");
      assert.deepEqual(h.terminated, ["i-1", "i-1"]);
      assert.equal(errors.length, 1);
    } finally {
      console.error = consoleError;
    }
  });
});

Deno.test("node machine terminates a node whose agent does not connect within the boot timeout", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    h.launches[0].resolve(LAUNCHED);
    await until(a, "Created");
    await h.clock.advance(1_000);
    assert.equal(phase(a), "Created", "exactly the timeout is not yet too long");
    await h.clock.advance(5);
    const s = await until(a, "Terminated");
    assert.equal(s.context.message, "agent did not connect within 1s of boot");
    assert.deepEqual(h.terminated, ["i-1"]);
    assert.equal(h.toPool().at(-1)?.type, "NODE_GONE");
    assert.equal(h.toPool().at(-1)?.launchError, "agent did not connect within 1s of boot");
  }, { bootTimeoutMs: 1_000, watchdogPeriodMs: 5 });
});

Deno.test("node machine in Created finds on a tick an agent that connected unseen", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    h.launches[0].resolve(LAUNCHED);
    await until(a, "Created");
    // The agent connects, but no AGENT_CONNECTED reaches the actor (it was missed).
    h.connected = true;
    await h.clock.advance(5);
    assert.equal(phase(a), "Available");
    assert.equal(a.getSnapshot().context.agentConnected, true);
  }, { watchdogPeriodMs: 5 });
});

Deno.test("node machine terminates an Available node whose agent is gone and sent no heartbeat", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await available(h, a);
    await h.clock.advance(800);
    a.send({ type: "HEARTBEAT" });
    await h.clock.advance(800);
    assert.equal(phase(a), "Available", "a heartbeat 800 ms ago is recent enough");
    await h.clock.advance(205);
    const s = await until(a, "Terminated");
    assert.equal(s.context.message, "no heartbeat for 1s");
    assert.deepEqual(h.terminated, ["i-1"]);
  }, { healthyTimeoutMs: 1_000, watchdogPeriodMs: 5 });
});

Deno.test("node machine keeps an Available node whose agent is connected, heartbeats or not", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await available(h, a);
    h.connected = true;
    await h.clock.advance(10_000);
    assert.equal(phase(a), "Available");
  }, { healthyTimeoutMs: 1_000, watchdogPeriodMs: 5 });
});

Deno.test("a node actor publishes the status the pool created its node with", async () => {
  await withHarness((h) => {
    const created = Date.parse(AT) - 2_000;
    const a = h.start({ ...INPUT, since: created });
    assert.equal(
      JSON.stringify(nodeStatusOf(a.getSnapshot())),
      JSON.stringify(newNodeStatus(isoTime(created), INPUT.boundPod)),
    );
    assert.equal("since" in a.getSnapshot().context, false, "not kept in the snapshot");
    const standby = h.start({ ...INPUT, name: "spare", boundPod: undefined, since: created });
    assert.equal(
      JSON.stringify(nodeStatusOf(standby.getSnapshot())),
      JSON.stringify(newNodeStatus(isoTime(created))),
    );
    return Promise.resolve();
  });
});

Deno.test("nodeStatusOf() derives phase, instance, addresses, bound pod and message", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    assert.deepEqual(nodeStatusOf(a.getSnapshot()), {
      phase: "Creating",
      addresses: [],
      boundPodName: "default/web",
      lastPhaseChange: AT,
    });
    await h.clock.advance(1_000);
    await claimed(h, a);
    assert.deepEqual(nodeStatusOf(a.getSnapshot()), {
      phase: "Claimed",
      instanceID: "i-1",
      addresses: LAUNCHED.addresses,
      boundPodName: "default/web",
      lastPhaseChange: "2026-01-01T00:00:01.000Z",
    });
    a.send({ type: "TERMINATE", reason: "bye" });
    const s = await until(a, "Terminated");
    assert.equal(nodeStatusOf(s).phase, "Terminated");
    assert.equal(nodeStatusOf(s).message, "bye");
  });
});

Deno.test("node machine restored from a persisted Available snapshot re-sends nothing", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await available(h, a);
    const persisted = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();
    const sent = h.sent.length;
    const b = h.start(INPUT, persisted);
    assert.equal(phase(b), "Available");
    assert.equal(b.getSnapshot().context.instanceId, "i-1");
    assert.equal(h.sent.length, sent);
    assert.equal(h.launches.length, 1);
  });
});

Deno.test("node machine restored from a snapshot with an invoked launch (before 2026-12-07) launches once", async () => {
  await withHarness(async (h) => {
    // As the node machine stored it while its launch was an XState invoke (a child actor).
    const persisted = {
      status: "active",
      value: "Creating",
      historyValue: {},
      context: {
        ...INPUT,
        addresses: [],
        agentConnected: false,
        lastPhaseChange: 1767225600000,
      },
      children: {
        "0.node.Creating": {
          snapshot: { status: "active", input: INPUT },
          src: "launch",
          syncSnapshot: false,
        },
      },
    };
    const b = h.start(INPUT, persisted);
    assert.deepEqual(h.launches.map((l) => l.input), [INPUT]);
    h.launches[0].resolve(LAUNCHED);
    const s = await until(b, "Created");
    assert.equal(s.context.instanceId, "i-1");
    assert.deepEqual((b.getPersistedSnapshot() as { children?: unknown }).children, {});
  });
});

Deno.test("node machine restored while Cleaning cleans again, then terminates", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    await claimed(h, a);
    a.send({ type: "RELEASE", used: true });
    assert.equal(phase(a), "Cleaning");
    const cleaning = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();
    const b = h.start(INPUT, cleaning);
    assert.equal(h.cleans.length, 2, "the pod's logs are saved again");
    h.cleans[1].reject(new Error("agent gone"));
    await until(b, "Terminated");
    assert.deepEqual(h.terminated, ["i-1"]);
  });
});

Deno.test("node machine restored while Creating launches again; its boot deadline survives a restore", async () => {
  await withHarness(async (h) => {
    const a = h.start();
    const creating = JSON.parse(JSON.stringify(a.getPersistedSnapshot()));
    a.stop();
    const b = h.start(INPUT, creating);
    assert.equal(h.launches.length, 2, "the launch (idempotent by client token) runs again");
    h.launches[1].resolve(LAUNCHED);
    await until(b, "Created");
    const created = JSON.parse(JSON.stringify(b.getPersistedSnapshot()));
    b.stop();
    // The controller was down for longer than the boot timeout.
    await h.clock.advance(1_005);
    const c = h.start(INPUT, created);
    await h.clock.advance(5);
    await until(c, "Terminated");
    assert.equal(c.getSnapshot().context.message, "agent did not connect within 1s of boot");
  }, { bootTimeoutMs: 1_000, watchdogPeriodMs: 5 });
});

Deno.test("node machine terminates the instance only once its Terminating state is stored", async () => {
  await withHarness(async (h) => {
    const stored = Promise.withResolvers<void>();
    h.persistedGate = stored.promise;
    const a = h.start();
    await claimed(h, a);
    a.send({ type: "TERMINATE", reason: "test" });
    assert.equal(phase(a), "Terminating");
    await h.clock.advance(0);
    assert.deepEqual(h.persistedAsked, ["n1"]);
    assert.deepEqual(h.terminated, [], "not before the intent is stored");
    stored.resolve();
    await until(a, "Terminated");
    assert.deepEqual(h.terminated, ["i-1"]);
  });
});

Deno.test("node machine tells onLaunch how each launch went, failures by their reason", async () => {
  /** What onLaunch heard once `play` ran and, unless `ends` is false, the node ended. */
  const outcome = async (
    play: (h: Harness, a: Actor<NodeMachine>) => Promise<void>,
    ends = true,
  ): Promise<LaunchOutcome[]> => {
    let seen: LaunchOutcome[] = [];
    await withHarness(async (h) => {
      const a = h.start();
      await play(h, a);
      if (ends) await until(a, "Terminated");
      seen = h.outcomes;
    }, { bootTimeoutMs: 1_000, watchdogPeriodMs: 5 });
    return seen;
  };
  assert.deepEqual(await outcome((h, a) => claimed(h, a), false), ["launched"]);
  assert.deepEqual(
    await outcome((h) => Promise.resolve(h.launches[0].reject(new CapacityError("none left")))),
    ["capacity"],
  );
  assert.deepEqual(
    await outcome((h) => Promise.resolve(h.launches[0].reject(new Error("refused")))),
    ["cloud_error"],
  );
  assert.deepEqual(
    await outcome(async (h, a) => {
      h.launches[0].resolve(LAUNCHED);
      await until(a, "Created");
      a.send({ type: "INSTANCE_GONE", reason: "agent process exited with code 1" });
    }),
    ["launched", "instance_gone"],
  );
  assert.deepEqual(
    await outcome(async (h, a) => {
      h.launches[0].resolve(LAUNCHED);
      await until(a, "Created");
      await h.clock.advance(1_005);
    }),
    ["launched", "boot_timeout"],
  );
});
