/** The node pool's decisions, on a real ObjectStore (`:memory:` KV) with recorded sends and spawns. */
import assert from "node:assert/strict";
import { setImmediate } from "node:timers";
import { uuidVersion } from "../model/uuid.ts";
import { createActor, waitFor } from "xstate";
import { FakeClock } from "../model/fake_clock.ts";
import type { StandbyNodes } from "../model/config.ts";
import type { Node, NodePhase } from "../model/node.ts";
import type { Pod, PodPhase, PodSpec } from "../model/pod.ts";
import type { EventInput } from "../store/events.ts";
import { ObjectStore } from "../store/object_store.ts";
import type { NodeInput } from "./node_machine.ts";
import {
  createPoolMachine,
  loadRetryDelayMs,
  MAX_BOOTS_PER_PASS,
  NodePool,
  type PodState,
  type PoolEvent,
  UNAVAILABLE_MS,
} from "./node_pool.ts";

type Sent = { to: string; event: { type: string; [k: string]: unknown } };

const ADDRS = [{ type: "PrivateIP" as const, address: "10.0.0.9" }];

/** A pool with its store, clock and what it sent and spawned. */
class Harness {
  readonly sent: Sent[] = [];
  readonly spawned: NodeInput[] = [];
  readonly pool: NodePool;
  #waiters: { match: (s: Sent) => boolean; resolve: () => void }[] = [];

  readonly events: EventInput[] = [];
  /** What each pod's actor would say; by default a live pod holding the node last bound to it. */
  readonly podStates = new Map<string, PodState | undefined>();
  /** What each node's actor would say; by default what the pool believes. */
  readonly nodePhases = new Map<string, NodePhase | undefined>();
  readonly #bound = new Map<string, string>();

  constructor(
    readonly store: ObjectStore,
    readonly clock: FakeClock,
    standby: StandbyNodes[],
    maxNodes?: number,
  ) {
    this.pool = new NodePool({
      maxNodes,
      store,
      clock,
      nodeState: (name) => {
        const phase = this.nodePhases.has(name)
          ? this.nodePhases.get(name)
          : this.pool.nodes.get(name)?.phase;
        return phase && { phase, instanceId: `i-${name}`, addresses: ADDRS };
      },
      podState: (pod) =>
        this.podStates.has(pod)
          ? this.podStates.get(pod)
          : { ended: false, node: this.#bound.get(pod) },
      send: (to, event) => {
        const s = { to, event };
        this.sent.push(s);
        if (event.type === "NODE_BOUND") {
          this.#bound.set(to.slice("pod/".length), (event.node as { name: string }).name);
        }
        for (const w of this.#waiters.filter((w) => w.match(s))) {
          this.#waiters.splice(this.#waiters.indexOf(w), 1);
          w.resolve();
        }
      },
      spawnNode: (input) => this.spawned.push(input),
      event: (e) => this.events.push(e),
      standbyNodes: standby,
      defaultVolumeSize: "8Gi",
    });
  }

  /** Handles events one after another and waits until the pool is idle. */
  async handle(...events: PoolEvent[]): Promise<void> {
    for (const e of events) void this.pool.enqueue(e);
    await this.pool.drain();
  }

  /** Resolves once the pool sent a message that `match`es (at once if it already did). */
  sentWhere(match: (s: Sent) => boolean, what: string): Promise<void> {
    if (this.sent.some(match)) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), 2_000);
    this.#waiters.push({
      match,
      resolve: () => {
        clearTimeout(timer);
        resolve();
      },
    });
    return promise;
  }

  to(target: string): Sent["event"][] {
    return this.sent.filter((s) => s.to === target).map((s) => s.event);
  }

  ofType(type: string): Sent[] {
    return this.sent.filter((s) => s.event.type === type);
  }

  nodes(): Promise<Node[]> {
    return this.store.list<Node>("nodes");
  }

  async addPod(
    name: string,
    spec: Partial<PodSpec> = {},
    phase: PodPhase = "Waiting",
  ): Promise<string> {
    await this.store.create<Pod>({
      kind: "Pod",
      apiVersion: "v1",
      metadata: { name, namespace: "default" },
      spec: { units: [{ name: "main", image: "nginx" }], instanceType: "t3.nano", ...spec },
      status: { phase },
    });
    return `default/${name}`;
  }

  /** Stores a node object as its actor would have left it. */
  async addNode(
    name: string,
    phase: NodePhase,
    opts: { instanceType?: string; spot?: boolean; boundPod?: string; since?: number } = {},
  ): Promise<void> {
    await this.store.create<Node>({
      kind: "Node",
      apiVersion: "v1",
      metadata: { name },
      spec: { instanceType: opts.instanceType ?? "t3.nano", spot: opts.spot ?? false },
      status: {
        phase,
        instanceID: `i-${name}`,
        addresses: ADDRS,
        ...(opts.boundPod ? { boundPodName: opts.boundPod } : {}),
        lastPhaseChange: new Date(opts.since ?? this.clock.now()).toISOString(),
      },
    });
  }
}

async function withPool(
  fn: (h: Harness) => Promise<void>,
  standby: StandbyNodes[] = [],
  maxNodes?: number,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  const h = new Harness(new ObjectStore(kv, clock), clock, standby, maxNodes);
  try {
    await fn(h);
  } finally {
    await h.pool.drain();
    kv.close();
  }
}

Deno.test("NodePool gives a waiting pod a new node object bound to it and spawns its actor once", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web", { instanceType: "c5.large" });
    await h.handle({ type: "POD_WAITING", pod });
    const nodes = await h.nodes();
    assert.equal(nodes.length, 1);
    const n = nodes[0];
    assert.equal(n.spec.instanceType, "c5.large");
    assert.equal(n.spec.spot, false);
    assert.deepEqual(n.spec.resources, { privateIPOnly: false, volumeSize: "8Gi" });
    assert.equal(n.status?.phase, "Creating");
    assert.equal(n.status?.boundPodName, pod);
    assert.deepEqual(h.spawned, [{
      name: n.metadata.name,
      instanceType: "c5.large",
      spot: false,
      privateIPOnly: false,
      volumeSizeGiB: 8,
      boundPod: pod,
      // Its actor starts with the node's creation time, so that its first status is the stored one.
      since: Date.parse(n.status!.lastPhaseChange!),
    }]);
    assert.ok(h.pool.waiting.has(pod));
    // Asking again while the node boots boots nothing more.
    await h.handle({ type: "POD_WAITING", pod });
    assert.equal(h.spawned.length, 1);
    assert.equal((await h.nodes()).length, 1);
  });
});

Deno.test("NodePool names nodes with time-ordered UUIDs (version 7): later nodes sort after earlier ones", async () => {
  await withPool(async (h) => {
    const names: string[] = [];
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const pod = await h.addPod(`web-${i}`, {});
      times.push(h.clock.now());
      await h.handle({ type: "POD_WAITING", pod });
      names.push(h.spawned.at(-1)!.name);
      await h.clock.advance(1_000);
    }
    assert.deepEqual(names.map(uuidVersion), [7, 7, 7]);
    assert.deepEqual([...names].sort(), names);
    // The time in a name is the pool's clock when it made the node.
    assert.deepEqual(names.map((n) => parseInt(n.slice(0, 8) + n.slice(9, 13), 16)), times);
  });
});

Deno.test("NodePool goes on while a node's object is stored, and a pass meanwhile takes the node for booting, not gone", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    const other = await h.addPod("api");
    // The node objects' writes are held: the pool must not wait for them, nor lose them.
    const gate = Promise.withResolvers<void>();
    const commit = h.store.commit.bind(h.store);
    h.store.commit = async (ops, opts) => {
      if (ops.some((o) => o.object.kind === "Node")) await gate.promise;
      return await commit(ops, opts);
    };
    // (drain() waits for the stores too: let the queue run on its own.)
    const settle = () => new Promise((r) => setTimeout(r, 20));
    void h.pool.enqueue({ type: "POD_WAITING", pod });
    void h.pool.enqueue({ type: "POD_WAITING", pod: other });
    await settle();
    assert.equal(h.pool.nodes.size, 2, "both booted without waiting for the store");
    assert.equal(h.spawned.length, 0, "no actor before the object is stored");
    const [first] = [...h.pool.nodes.keys()];
    h.nodePhases.set(first, undefined); // no actor yet
    void h.pool.enqueue({ type: "RECONCILE" });
    void h.pool.enqueue({ type: "RECONCILE" });
    await settle();
    assert.equal(h.pool.nodes.size, 2, "a node being stored is not gone");
    // Told to go before its actor exists: the message waits for the actor.
    void h.pool.enqueue({ type: "POD_RELEASED", pod });
    await settle();
    assert.equal(h.sent.filter((s) => s.to === `node/${first}`).length, 0);
    gate.resolve();
    await h.pool.drain();
    assert.equal(h.spawned.length, 2);
    assert.equal((await h.nodes()).length, 2, "no node booted twice");
    const bind = h.sent.findIndex((s) => s.to === `node/${first}` && s.event.type === "BIND");
    assert.ok(bind >= 0, "the release reached the node's actor");
  });
});

Deno.test("NodePool boots the node a pod asks for: spot, private IP only, volume size", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web", {
      spot: { policy: "Always" },
      resources: { privateIPOnly: true, volumeSize: "20Gi" },
    });
    await h.handle({ type: "POD_WAITING", pod });
    const [n] = await h.nodes();
    assert.equal(n.spec.spot, true);
    assert.deepEqual(n.spec.resources, { privateIPOnly: true, volumeSize: "20Gi" });
    assert.equal(h.spawned[0].spot, true);
    assert.equal(h.spawned[0].privateIPOnly, true);
    assert.equal(h.spawned[0].volumeSizeGiB, 20);
  });
});

Deno.test("NodePool boots nothing for a pod that is gone or finished", async () => {
  await withPool(async (h) => {
    const done = await h.addPod("done", {}, "Succeeded");
    const deleting = await h.addPod("deleting", { phase: "Terminated" });
    await h.handle(
      { type: "POD_WAITING", pod: "default/missing" },
      { type: "POD_WAITING", pod: done },
      { type: "POD_WAITING", pod: deleting },
    );
    assert.deepEqual(h.spawned, []);
    assert.deepEqual([...h.pool.waiting], []);
  });
});

Deno.test("NodePool claims an Available node for the pod it was booted for", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    const name = h.spawned[0].name;
    await h.handle({
      type: "NODE_AVAILABLE",
      node: name,
      pod,
      instanceId: "i-1",
      addresses: ADDRS,
    });
    assert.deepEqual(h.to(`node/${name}`), [{ type: "CLAIM", pod }]);
    assert.deepEqual(h.to("pod/default/web"), [{
      type: "NODE_BOUND",
      node: { name, instanceId: "i-1", addresses: ADDRS },
    }]);
    assert.ok(!h.pool.waiting.has(pod));
    assert.equal(h.pool.nodes.get(name)?.phase, "Claimed");
  });
});

Deno.test("NodePool gives a waiting pod a fitting standby node instead of booting one", async () => {
  await withPool(async (h) => {
    await h.addNode("standby", "Available");
    await h.pool.load();
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    assert.deepEqual(h.spawned, []);
    assert.deepEqual(h.to("node/standby"), [{ type: "BIND", pod }, { type: "CLAIM", pod }]);
    assert.deepEqual(h.to("pod/default/web"), [{
      type: "NODE_BOUND",
      node: { name: "standby", instanceId: "i-standby", addresses: ADDRS },
    }]);
  });
});

Deno.test("NodePool binds a booting standby node and claims it once it is Available", async () => {
  await withPool(async (h) => {
    await h.addNode("standby", "Creating");
    await h.pool.load();
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    assert.deepEqual(h.spawned, []);
    assert.deepEqual(h.to("node/standby"), [{ type: "BIND", pod }]);
    await h.handle({ type: "NODE_AVAILABLE", node: "standby", pod, instanceId: "i-s" });
    assert.deepEqual(h.to("node/standby").at(-1), { type: "CLAIM", pod });
    assert.equal(h.to("pod/default/web")[0].type, "NODE_BOUND");
  });
});

Deno.test("NodePool boots a new node when no standby node fits the pod", async () => {
  await withPool(async (h) => {
    await h.addNode("big", "Available", { instanceType: "m5.large" });
    await h.addNode("spot", "Available", { spot: true });
    await h.pool.load();
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    assert.equal(h.spawned.length, 1);
    assert.deepEqual(h.to("node/big"), []);
    assert.deepEqual(h.to("node/spot"), []);
  });
});

Deno.test("NodePool releases a claimed node as used when its pod lets go", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    const name = h.spawned[0].name;
    await h.handle({ type: "NODE_AVAILABLE", node: name, pod, instanceId: "i-1" });
    await h.handle({ type: "POD_RELEASED", pod, node: name });
    assert.deepEqual(h.to(`node/${name}`).at(-1), { type: "RELEASE", used: true });
    assert.ok(!h.pool.nodes.has(name));
    // A second release (the pod machine repeating itself) changes nothing.
    await h.handle({ type: "POD_RELEASED", pod, node: name });
    assert.equal(h.ofType("RELEASE").length, 1);
  });
});

Deno.test("NodePool terminates a node released before it came up, once it is Available", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    const name = h.spawned[0].name;
    await h.handle({ type: "POD_RELEASED", pod });
    assert.deepEqual(h.to(`node/${name}`), [{ type: "BIND", pod: undefined }]);
    assert.ok(!h.pool.waiting.has(pod));
    await h.handle({ type: "NODE_AVAILABLE", node: name, instanceId: "i-1" });
    assert.deepEqual(h.to(`node/${name}`).at(-1), { type: "TERMINATE", reason: "not needed" });
    assert.ok(!h.pool.nodes.has(name));
    assert.deepEqual(h.to("pod/default/web"), []);
  });
});

Deno.test("NodePool keeps a node released before it came up as standby when the config wants one", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    const name = h.spawned[0].name;
    await h.handle({ type: "POD_RELEASED", pod });
    await h.handle({ type: "NODE_AVAILABLE", node: name, instanceId: "i-1" });
    assert.equal(h.ofType("TERMINATE").length, 0);
    assert.equal(h.pool.nodes.get(name)?.phase, "Available");
    assert.equal(h.pool.nodes.get(name)?.boundPod, undefined);
    // It now counts as the standby node: reconcile boots no other.
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, 1);
  }, [{ instanceType: "t3.nano", count: 1 }]);
});

Deno.test("NodePool gives a node released before it came up to another waiting pod that fits", async () => {
  await withPool(
    async (h) => {
      const { b, name } = await releasedBeforeUp(h);
      assert.equal(h.to("pod/default/b")[0].reason, "NodeLimit");
      await bindSent(h, name, b);
      assert.equal(h.pool.nodes.get(name)?.boundPod, b);
      await h.handle({ type: "NODE_AVAILABLE", node: name, instanceId: "i-1" });
      assert.deepEqual(h.to(`node/${name}`).at(-1), { type: "CLAIM", pod: b });
      assert.equal(h.to("pod/default/b")[1].type, "NODE_BOUND");
      assert.equal(h.spawned.length, 1);
    },
    [],
    1,
  );
});

/**
 * With maxNodes 1: pod a gets a node booted, pod b waits at the limit, then a lets its node go
 * before it came up. Returns b and that node.
 */
async function releasedBeforeUp(h: Harness): Promise<{ b: string; name: string }> {
  const a = await h.addPod("a");
  await h.handle({ type: "POD_WAITING", pod: a });
  const name = h.spawned[0].name;
  const b = await h.addPod("b");
  await h.handle({ type: "POD_WAITING", pod: b }); // at maxNodes: waits without a node
  await h.handle({ type: "POD_RELEASED", pod: a, node: name });
  return { b, name };
}

/** Resolves once the pool bound `pod` to `node` (sent it BIND pod). */
function bindSent(h: Harness, node: string, pod: string): Promise<void> {
  return h.sentWhere(
    (s) => s.to === `node/${node}` && s.event.type === "BIND" && s.event.pod === pod,
    `BIND ${pod} to ${node}`,
  );
}

Deno.test({
  name: "NodePool has placed a released node when drain() resolves",
  fn: async () => {
    await withPool(
      async (h) => {
        const { b, name } = await releasedBeforeUp(h);
        assert.deepEqual(h.to(`node/${name}`), [{ type: "BIND", pod: undefined }, {
          type: "BIND",
          pod: b,
        }]);
        await bindSent(h, name, b); // let the stray placement finish before the KV closes
      },
      [],
      1,
    );
  },
});

Deno.test("NodePool tells the pod its claimed node went away", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    const name = h.spawned[0].name;
    await h.handle({ type: "NODE_AVAILABLE", node: name, instanceId: "i-1" });
    await h.handle({ type: "NODE_GONE", node: name, pod, reason: "no heartbeat for 90s" });
    assert.deepEqual(h.to("pod/default/web").at(-1), {
      type: "NODE_LOST",
      reason: `node ${name} went away: no heartbeat for 90s`,
    });
    assert.ok(!h.pool.nodes.has(name));
    assert.equal(h.spawned.length, 1, "the pod machine asks again for a node itself");
  });
});

Deno.test("NodePool boots a new node when the one booting for a waiting pod is gone", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    const first = h.spawned[0].name;
    await h.handle({ type: "NODE_GONE", node: first, pod, reason: "launch failed: boom" });
    assert.equal(h.spawned.length, 2);
    assert.notEqual(h.spawned[1].name, first);
    assert.equal(h.spawned[1].boundPod, pod);
    assert.ok(!h.pool.nodes.has(first));
    assert.deepEqual(h.to("pod/default/web"), []);
  });
});

Deno.test("NodePool boots no node of a type that had a capacity error, for UNAVAILABLE_MS", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    const first = h.spawned[0].name;
    await h.handle({ type: "NODE_GONE", node: first, pod, capacityError: true });
    assert.equal(h.spawned.length, 1, "no boot right after the capacity error");
    assert.ok(h.pool.waiting.has(pod), "the pod still waits");
    // Spot capacity is a different pool of capacity.
    const spot = await h.addPod("spot", { spot: { policy: "Always" } });
    await h.handle({ type: "POD_WAITING", pod: spot });
    assert.equal(h.spawned.length, 2);
    assert.equal(h.spawned[1].spot, true);

    await h.clock.advance(UNAVAILABLE_MS - 1);
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, 2);
    await h.clock.advance(1);
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, 3);
    assert.equal(h.spawned[2].boundPod, pod);
  });
});

Deno.test("NodePool reconcile boots standby nodes up to each count, unbound", async () => {
  await withPool(async (h) => {
    await h.handle({ type: "RECONCILE" });
    assert.deepEqual(
      h.spawned.map((s) => [s.instanceType, s.spot, s.boundPod, s.volumeSizeGiB]),
      [
        ["t3.nano", false, undefined, 8],
        ["t3.nano", false, undefined, 8],
        ["c5.large", true, undefined, 8],
      ],
    );
    const nodes = await h.nodes();
    assert.equal(nodes.length, 3);
    assert.ok(nodes.every((n) => n.status?.boundPodName === undefined));
    // Booting standby nodes count: the next pass boots nothing.
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, 3);
  }, [{ instanceType: "t3.nano", count: 2 }, { instanceType: "c5.large", spot: true, count: 1 }]);
});

Deno.test("NodePool reconcile terminates unbound Available nodes beyond the standby counts", async () => {
  await withPool(async (h) => {
    for (const n of ["a", "b", "c"]) await h.addNode(n, "Available");
    await h.addNode("other", "Available", { instanceType: "m5.large" });
    await h.addNode("booting", "Creating", { instanceType: "m5.large" });
    await h.addNode("bound", "Available", { instanceType: "m5.large", boundPod: "default/x" });
    await h.addNode("claimed", "Claimed", { boundPod: "default/y" });
    await h.pool.load();
    await h.handle({ type: "RECONCILE" });
    assert.deepEqual(
      h.ofType("TERMINATE").map((s) => s.to).sort(),
      ["node/c", "node/other"],
    );
    assert.deepEqual(h.spawned, []);
    assert.deepEqual([...h.pool.nodes.keys()].sort(), ["a", "b", "booting", "bound", "claimed"]);
  }, [{ instanceType: "t3.nano", count: 2 }]);
});

Deno.test("NodePool reconcile boots at most MAX_BOOTS_PER_PASS standby nodes per pass", async () => {
  await withPool(async (h) => {
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, MAX_BOOTS_PER_PASS);
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, MAX_BOOTS_PER_PASS + 5);
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, MAX_BOOTS_PER_PASS + 5);
  }, [{ instanceType: "t3.nano", count: MAX_BOOTS_PER_PASS + 5 }]);
});

Deno.test("NodePool reconcile boots nodes for waiting pods without one, at most MAX_BOOTS_PER_PASS per pass", async () => {
  await withPool(async (h) => {
    await h.pool.load();
    // Pods the pass finds waiting without a node (say, for a type that had no capacity).
    for (let i = 0; i < MAX_BOOTS_PER_PASS + 2; i++) h.pool.waiting.add(await h.addPod(`p${i}`));
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, MAX_BOOTS_PER_PASS);
    assert.ok(h.spawned.every((s) => s.boundPod?.startsWith("default/p")));
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, MAX_BOOTS_PER_PASS + 2);
    assert.equal(new Set(h.spawned.map((s) => s.boundPod)).size, MAX_BOOTS_PER_PASS + 2);
  });
});

Deno.test("NodePool binds a pod that asks again to the node claimed for it (a crash lost the pod's state)", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    await h.clock.advance(1_000);
    await h.addNode("n1", "Claimed", { boundPod: pod });
    await h.pool.load();
    // Its actor starts afresh (no snapshot was stored) and asks for a node.
    await h.handle({ type: "POD_WAITING", pod });
    assert.deepEqual(h.to("pod/default/web"), [{
      type: "NODE_BOUND",
      node: { name: "n1", instanceId: "i-n1", addresses: ADDRS },
    }]);
    assert.deepEqual(h.spawned, [], "no new node");
    assert.deepEqual(h.to("node/n1"), [], "the claim stands");
    assert.equal(h.pool.waiting.size, 0);
  });
});

Deno.test("NodePool gives a new node to a pod younger than its name's claimed node, and lets the used one go", async () => {
  await withPool(async (h) => {
    await h.addNode("n1", "Claimed", { boundPod: "default/web" });
    await h.clock.advance(1_000);
    const pod = await h.addPod("web"); // another pod of the same name, created after the claim
    await h.pool.load();
    await h.handle({ type: "POD_WAITING", pod });
    assert.deepEqual(h.to("node/n1"), [{ type: "RELEASE", used: true }]);
    assert.equal(h.spawned.length, 1);
    assert.equal(h.spawned[0].boundPod, pod);
    assert.equal(h.to("pod/default/web").length, 0, "told when its new node is up");
  });
});

Deno.test("NodePool claims a node that comes up bound to a pod already on it (the claim lost in a crash), and gives it to no other", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web", {}, "Running");
    const other = await h.addPod("other");
    await h.addNode("n1", "Created", { boundPod: pod });
    h.podStates.set(pod, { ended: false, node: "n1" }); // restored Running on n1
    await h.pool.load();
    await h.handle({ type: "POD_WAITING", pod: other });
    await h.handle({ type: "NODE_AVAILABLE", node: "n1", instanceId: "i-n1" });
    assert.deepEqual(h.to("node/n1"), [{ type: "CLAIM", pod }]);
    assert.equal(h.pool.nodes.get("n1")?.phase, "Claimed");
    assert.deepEqual(h.to("pod/default/web"), [], "it has its node");
    assert.equal(h.spawned.length, 1, "the other pod gets a node of its own");
    assert.equal(h.spawned[0].boundPod, other);
  });
});

Deno.test("NodePool load claims an Available node its pod is running on (the claim lost in a crash)", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web", {}, "Running");
    await h.addNode("n1", "Available", { boundPod: pod });
    h.podStates.set(pod, { ended: false, node: "n1" });
    await h.pool.load();
    await h.pool.drain();
    assert.deepEqual(h.to("node/n1"), [{ type: "CLAIM", pod }]);
    await h.handle({ type: "POD_RELEASED", pod, node: "n1" });
    assert.deepEqual(h.to("node/n1").at(-1), { type: "RELEASE", used: true }, "used: not reused");
  });
});

Deno.test("NodePool load boots a node for every pod found waiting without one, at once", async () => {
  // What a kill -9 in a scale-up leaves: pods whose actors asked for a node and are restored
  // where they were (they do not ask again), and no node for them (not stored yet).
  await withPool(async (h) => {
    const waiting = [];
    for (let i = 0; i < 3 * MAX_BOOTS_PER_PASS; i++) waiting.push(await h.addPod(`p${i}`));
    await h.addPod("later");
    await h.store.mutate<Pod>("pods", "default", "later", (p) => ({
      ...p,
      status: { ...p.status!, reason: "LaunchBackOff" },
    }));
    const held = await h.addPod("held");
    await h.addNode("n-held", "Creating", { boundPod: held });
    await h.pool.load();
    await h.pool.drain();
    assert.deepEqual(
      h.spawned.map((s) => s.boundPod).sort(),
      waiting.sort(),
      "one new node for each waiting pod without one; none for a pod backing off or one with a node",
    );
    assert.equal((await h.nodes()).length, waiting.length + 1);
  });
});

Deno.test({
  name: "NodePool reconcile gives a waiting pod a fitting standby node instead of booting one",
  fn: async () => {
    await withPool(async (h) => {
      await h.addNode("standby", "Available");
      const pod = await h.addPod("web");
      await h.pool.load();
      await h.handle({ type: "RECONCILE" });
      assert.deepEqual(h.spawned, []);
      assert.deepEqual(h.to("node/standby").at(-1), { type: "CLAIM", pod });
    });
  },
});

Deno.test("NodePool.load() rebuilds its view from node objects and Waiting pods", async () => {
  await withPool(async (h) => {
    await h.addNode("creating", "Creating", { boundPod: "default/web" });
    await h.addNode("claimed", "Claimed", {
      instanceType: "c5.large",
      spot: true,
      boundPod: "default/job",
    });
    await h.addNode("standby", "Available");
    await h.addNode("gone", "Terminated");
    await h.addPod("web");
    await h.addPod("job", {}, "Running");
    await h.addPod("deleting", { phase: "Terminated" });
    await h.pool.load();
    assert.deepEqual([...h.pool.nodes.keys()].sort(), ["claimed", "creating", "standby"]);
    assert.deepEqual(h.pool.nodes.get("claimed"), {
      name: "claimed",
      phase: "Claimed",
      instanceType: "c5.large",
      spot: true,
      privateIPOnly: false,
      boundPod: "default/job",
      instanceId: "i-claimed",
      addresses: ADDRS,
    });
    assert.deepEqual([...h.pool.waiting], ["default/web"]);
    // The rebuilt view drives decisions: the booting node is claimed for its pod.
    await h.handle({ type: "NODE_AVAILABLE", node: "creating", instanceId: "i-creating" });
    assert.deepEqual(h.to("node/creating"), [{ type: "CLAIM", pod: "default/web" }]);
    assert.deepEqual(h.spawned, []);
  });
});

Deno.test("NodePool.load() after useObjects() builds its view from those objects, once, without listing", async () => {
  await withPool(async (h) => {
    await h.addNode("creating", "Creating", { boundPod: "default/web" });
    await h.addNode("standby", "Available");
    await h.addPod("web");
    const objects = { nodes: await h.nodes(), pods: await h.store.list<Pod>("pods") };
    // Stored after the objects were read: a view built from a new list would have them.
    await h.addNode("later", "Available");
    await h.addPod("late");
    const list = h.store.list.bind(h.store);
    let lists = 0;
    h.store.list = ((...args: Parameters<typeof list>) => {
      lists++;
      return list(...args);
    }) as typeof h.store.list;
    h.pool.useObjects(objects);
    await h.pool.load();
    assert.equal(lists, 0, "nothing listed");
    assert.deepEqual([...h.pool.nodes.keys()].sort(), ["creating", "standby"]);
    assert.deepEqual([...h.pool.waiting], ["default/web"]);
    // Given objects serve one load; the next lists.
    await h.pool.load();
    assert.equal(lists, 2, "nodes and pods listed");
    assert.deepEqual([...h.pool.nodes.keys()].sort(), ["creating", "later", "standby"]);
    assert.deepEqual([...h.pool.waiting].sort(), ["default/late", "default/web"]);
  });
});

Deno.test("pool machine loads, then handles the events that arrived meanwhile, in order", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    const actor = createActor(createPoolMachine(h.pool, { clock: h.clock, event: () => {} }));
    try {
      actor.start();
      assert.equal(actor.getSnapshot().value, "Loading");
      actor.send({ type: "POD_WAITING", pod });
      await waitFor(actor, (s) => s.value === "Ready", { timeout: 2_000 });
      await h.pool.drain();
      assert.equal(h.spawned.length, 1);
      assert.equal(h.spawned[0].boundPod, pod);
    } finally {
      actor.stop();
    }
  });
});

Deno.test("pool machine whose load fails retries it after a delay, then handles what arrived meanwhile", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    const list = h.store.list.bind(h.store);
    let failures = 1;
    h.store.list = ((...args: Parameters<ObjectStore["list"]>) =>
      failures-- > 0 ? Promise.reject(new Error("database is locked")) : list(...args)) as never;
    const actor = createActor(
      createPoolMachine(h.pool, {
        clock: h.clock,
        event: (e) =>
          h.events.push(e),
      }),
    );
    try {
      actor.start();
      actor.send({ type: "POD_WAITING", pod });
      await waitFor(actor, (s) => s.value === "Failed", { timeout: 2_000 });
      assert.equal(h.events.at(-1)?.status, "nodepool-load-failed");
      assert.match(h.events.at(-1)?.message ?? "", /database is locked; retrying in 1s/);
      await h.clock.advance(loadRetryDelayMs(1) - 1);
      assert.equal(actor.getSnapshot().value, "Failed");
      await h.clock.advance(1);
      await waitFor(actor, (s) => s.value === "Ready", { timeout: 2_000 });
      await h.pool.drain();
      assert.equal(h.spawned.length, 1, "the pod that asked while the pool was down gets a node");
      assert.equal(h.spawned[0].boundPod, pod);
    } finally {
      actor.stop();
    }
  });
});

Deno.test("NodePool reports a node that failed to boot to its waiting pod, and boots no other", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("web");
    await h.handle({ type: "POD_WAITING", pod });
    const node = h.spawned[0].name;
    await h.handle({
      type: "NODE_GONE",
      node,
      pod,
      reason: "launch failed: InvalidAMIID.NotFound",
      capacityError: false,
      launchError: "launch failed: InvalidAMIID.NotFound",
    });
    assert.deepEqual(h.to("pod/default/web").at(-1), {
      type: "LAUNCH_FAILED",
      message: "launch failed: InvalidAMIID.NotFound",
    });
    assert.equal(h.spawned.length, 1, "the pod asks again after its backoff");
    assert.deepEqual([...h.pool.waiting], []);
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, 1, "not even in a reconcile pass");
    await h.handle({ type: "POD_WAITING", pod });
    assert.equal(h.spawned.length, 2);
  });
});

Deno.test("NodePool keeps at most maxNodes nodes alive; waiting pods say why and boot as nodes go", async () => {
  await withPool(
    async (h) => {
      const pods: string[] = [];
      for (let i = 0; i < 8; i++) pods.push(await h.addPod(`web-${i}`));
      await h.handle(...pods.map((pod) => ({ type: "POD_WAITING" as const, pod })));
      assert.equal(h.spawned.length, 5);
      assert.equal(h.pool.liveNodes, 5);
      const limited = h.ofType("WAIT_REASON");
      assert.deepEqual(limited.map((s) => s.to), [
        "pod/default/web-5",
        "pod/default/web-6",
        "pod/default/web-7",
      ]);
      assert.equal(limited[0].event.reason, "NodeLimit");
      assert.match(String(limited[0].event.message), /nodes.maxNodes \(5\)/);
      await h.handle({ type: "RECONCILE" });
      assert.equal(h.spawned.length, 5);
      assert.equal(h.ofType("WAIT_REASON").length, 3, "told once");

      // web-0's node comes up and is claimed; the pod ends and releases it: still alive (cleaning).
      const first = h.spawned[0];
      await h.handle({ type: "NODE_AVAILABLE", node: first.name, instanceId: "i-0" });
      await h.handle({ type: "POD_RELEASED", pod: first.boundPod!, node: first.name });
      assert.equal(h.spawned.length, 5, "a released node counts until it is gone");
      await h.handle({ type: "NODE_GONE", node: first.name, pod: first.boundPod });
      assert.equal(h.spawned.length, 6);
      assert.equal(h.spawned[5].boundPod, "default/web-5", "the longest waiting pod goes first");
    },
    [],
    5,
  );
});

Deno.test("NodePool releases a node whose pod is gone, ended or elsewhere after two passes", async () => {
  await withPool(async (h) => {
    h.podStates.set("default/running", { ended: false, node: "n-running" });
    h.podStates.set("default/ended", { ended: true, node: "n-ended" });
    h.podStates.set("default/moved", { ended: false, node: "n-new" });
    h.podStates.set("default/waits", { ended: false });
    h.podStates.set("default/gone", undefined);
    h.podStates.set("default/gone-too", undefined);
    h.podStates.set("default/booting-for", { ended: false });
    await h.addNode("n-running", "Claimed", { boundPod: "default/running" });
    await h.addNode("n-ended", "Claimed", { boundPod: "default/ended" });
    await h.addNode("n-moved", "Claimed", { boundPod: "default/moved" });
    await h.addNode("n-waits", "Claimed", { boundPod: "default/waits" });
    await h.addNode("n-gone", "Claimed", { boundPod: "default/gone" });
    await h.addNode("n-booting", "Creating", { boundPod: "default/gone-too" });
    await h.addNode("n-booting-for", "Creating", { boundPod: "default/booting-for" });
    await h.pool.load();
    await h.handle({ type: "RECONCILE" });
    assert.deepEqual(h.ofType("RELEASE"), [], "one pass is not enough: a bind may be in flight");
    await h.handle({ type: "RECONCILE" });
    assert.deepEqual(h.ofType("RELEASE").map((s) => s.to).sort(), [
      "node/n-ended",
      "node/n-gone",
      "node/n-moved",
      "node/n-waits",
    ]);
    assert.deepEqual(h.to("node/n-booting"), [
      { type: "BIND", pod: undefined },
    ], "an unused node is unbound (and kept for reuse until it is up)");
    assert.deepEqual(h.to("node/n-running"), []);
    assert.deepEqual(h.to("node/n-booting-for"), [], "a node booting for a waiting pod is kept");
    assert.equal(h.events.filter((e) => e.status === "node-released").length, 5);
  });
});

Deno.test("NodePool boots a new node for a waiting pod whose claimed node it released", async () => {
  await withPool(async (h) => {
    const pod = await h.addPod("waits");
    h.podStates.set(pod, { ended: false }); // its actor waits, holding no node
    await h.addNode("n-waits", "Claimed", { boundPod: pod });
    await h.pool.load();
    await h.handle({ type: "RECONCILE" }, { type: "RECONCILE" });
    assert.deepEqual(h.to("node/n-waits"), [{ type: "RELEASE", used: true }]);
    assert.deepEqual(h.spawned.map((s) => s.boundPod), [pod], "it still waits, and gets a node");
  });
});

Deno.test("NodePool backs off standby boots after a standby node fails to boot", async () => {
  await withPool(async (h) => {
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, 1);
    await h.handle({
      type: "NODE_GONE",
      node: h.spawned[0].name,
      capacityError: false,
      launchError: "launch failed: UnauthorizedOperation",
    });
    assert.equal(h.events.at(-1)?.status, "standby-launch-failed");
    await h.clock.advance(9_999);
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, 1, "no standby boot within 10 s");
    await h.clock.advance(1);
    await h.handle({ type: "RECONCILE" });
    assert.equal(h.spawned.length, 2);
  }, [{ instanceType: "t3.nano", count: 1 }]);
});

Deno.test("NodePool catches up with node actors: an Available node it missed, a node whose actor is gone", async () => {
  await withPool(async (h) => {
    const web = await h.addPod("web");
    const job = await h.addPod("job", {}, "Running");
    await h.addNode("booting", "Created", { boundPod: web });
    await h.addNode("claimed", "Claimed", { boundPod: job });
    await h.pool.load();
    // The controller died after "booting" came up and before the pool heard of it.
    h.nodePhases.set("booting", "Available");
    // "claimed" ended while the controller was down and its NODE_GONE was lost.
    h.nodePhases.set("claimed", undefined);
    await h.handle({ type: "RECONCILE" });
    assert.deepEqual(h.to("node/booting"), [{ type: "CLAIM", pod: web }]);
    assert.deepEqual(h.to("pod/default/web"), [{
      type: "NODE_BOUND",
      node: { name: "booting", instanceId: "i-booting", addresses: ADDRS },
    }]);
    assert.deepEqual(h.to("pod/default/job").map((e) => e.type), ["NODE_LOST"]);
    assert.equal(h.pool.nodes.has("claimed"), false);
  });
});

Deno.test("NodePool handles a node's NODE_AVAILABLE once, also after a pass caught up with it", async () => {
  await withPool(async (h) => {
    const web = await h.addPod("web");
    const other = await h.addPod("other");
    await h.addNode("booting", "Created", { boundPod: web });
    await h.pool.load();
    await h.handle({ type: "POD_WAITING", pod: other });
    h.nodePhases.set("booting", "Available");
    await h.handle({ type: "RECONCILE" }); // claims "booting" for web
    // The node's own NODE_AVAILABLE, sent when it came up, arrives after the pass.
    await h.handle({ type: "NODE_AVAILABLE", node: "booting", instanceId: "i-booting" });
    assert.deepEqual(h.to("node/booting"), [{ type: "CLAIM", pod: web }]);
    assert.equal(h.ofType("NODE_BOUND").filter((s) => s.to === "pod/default/other").length, 0);
  });
});

Deno.test("NodePool.reconcile() over many nodes lets other work run between parts of its pass", async () => {
  await withPool(async (h) => {
    for (let i = 0; i < 1_200; i++) {
      const pod = await h.addPod(`p${i}`, {}, "Running");
      await h.addNode(`n${i}`, "Claimed", { boundPod: pod });
    }
    await h.pool.load();
    // Other work: a task that queues itself again each turn of the event loop (a request, an
    // actor's next step); it runs during the pass only if the pass gives up the loop.
    let ranDuringPass = 0;
    let passing = true;
    const tick = () => {
      if (!passing) return;
      ranDuringPass++;
      setImmediate(tick);
    };
    setImmediate(tick);
    await h.pool.reconcile();
    passing = false;
    // 1,200 nodes, twice over (catch-up, then orphans): a turn for others every 500.
    assert.ok(ranDuringPass >= 2, `a timer ran ${ranDuringPass} times during the pass`);
  });
});
