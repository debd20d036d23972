/** Pod and node lifecycle through the real API and actors, on the simulated cloud. */
import assert from "node:assert/strict";
import type { Node } from "../model/node.ts";
import { newPodStatus, type Pod } from "../model/pod.ts";
import { applyDefaults } from "../model/defaults.ts";
import { CapacityError } from "../model/errors.ts";
import type { Event as MilpaEvent } from "../model/event.ts";
import { podId } from "../actors/ids.ts";
import { systemClock } from "../model/clock.ts";
import { ObjectStore } from "../store/object_store.ts";
import { podManifest, startSimCluster } from "./support/sim_cluster.ts";

const fast = { watchdogPeriodMs: 50, purgePeriodMs: 100, reconcilePeriodMs: 100 };

Deno.test("a created pod gets its own right-sized node and runs", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    const res = await c.api("POST", "/api/v1/namespaces/default/pods", {
      ...podManifest("web"),
      spec: { units: [{ name: "main", command: ["serve"] }], resources: { memory: "0.4Gi" } },
    });
    assert.equal(res.status, 201);
    const created = await res.json() as Pod;
    assert.equal(created.spec.instanceType, "t3.nano");
    assert.equal(created.status?.phase, "Waiting");
    const pod = await c.waitForPod("web", "Running");
    const nodes = await c.controller.store.list<Node>("nodes");
    assert.equal(nodes.length, 1);
    assert.equal(nodes[0].status?.phase, "Claimed");
    assert.equal(nodes[0].spec.instanceType, "t3.nano");
    assert.equal(nodes[0].status?.boundPodName, "default/web");
    assert.equal(pod.status?.boundNodeName, nodes[0].metadata.name);
    assert.ok(pod.status?.unitStatuses?.[0].state.running, "unit is running");
    assert.equal(c.sim.calls.filter((x) => x.method === "launch").length, 1);
  } finally {
    await c.close();
  }
});

Deno.test("deleting a pod terminates it and its node", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    await c.api("POST", "/api/v1/namespaces/default/pods", podManifest("web"));
    await c.waitForPod("web", "Running");
    const del = await c.api("DELETE", "/api/v1/namespaces/default/pods/web");
    assert.equal(del.status, 200);
    await c.waitForPod("web", "Terminated");
    await c.waitUntil(
      async () => (await c.controller.store.list("nodes")).length === 0,
      "no nodes",
    );
    assert.equal(c.sim.calls.filter((x) => x.method === "terminate").length, 1);
    // A second delete of a finished pod removes it at once.
    assert.equal((await c.api("DELETE", "/api/v1/namespaces/default/pods/web")).status, 200);
    assert.equal((await c.api("GET", "/api/v1/namespaces/default/pods/web")).status, 404);
  } finally {
    await c.close();
  }
});

Deno.test("a pod whose units exit 0 ends Succeeded and its node goes", async () => {
  const c = await startSimCluster({
    timings: fast,
    script: () => ({ exitAfterMs: 20, exitCode: 0 }),
  });
  try {
    await c.api(
      "POST",
      "/api/v1/namespaces/default/pods",
      podManifest("job", { restartPolicy: "Never" }),
    );
    const pod = await c.waitForPod("job", "Succeeded");
    assert.equal(pod.status?.unitStatuses?.[0].state.terminated?.exitCode, 0);
    await c.waitUntil(
      async () => (await c.controller.store.list("nodes")).length === 0,
      "no nodes",
    );
  } finally {
    await c.close();
  }
});

Deno.test("a unit exiting 1 under Never fails the pod for good", async () => {
  const c = await startSimCluster({
    timings: fast,
    script: () => ({ exitAfterMs: 20, exitCode: 1 }),
  });
  try {
    await c.api(
      "POST",
      "/api/v1/namespaces/default/pods",
      podManifest("job", { restartPolicy: "Never" }),
    );
    const pod = await c.waitForPod("job", "Failed");
    assert.equal(pod.status?.unitStatuses?.[0].state.terminated?.exitCode, 1);
    assert.match(pod.status?.message ?? "", /exited with code 1/);
    await c.waitUntil(
      async () => (await c.controller.store.list("nodes")).length === 0,
      "no nodes",
    );
    assert.equal(c.sim.calls.filter((x) => x.method === "launch").length, 1, "not retried");
  } finally {
    await c.close();
  }
});

Deno.test("a start failure is retried on fresh nodes, three attempts in all", async () => {
  const c = await startSimCluster({
    timings: fast,
    script: () => ({ startError: 'exec "nope": not found' }),
  });
  try {
    await c.api("POST", "/api/v1/namespaces/default/pods", podManifest("bad"));
    const pod = await c.waitForPod("bad", "Failed");
    assert.equal(pod.status?.startFailures, 3);
    assert.match(pod.status?.message ?? "", /not found/);
    assert.equal(c.sim.calls.filter((x) => x.method === "launch").length, 3);
    await c.waitUntil(
      async () => (await c.controller.store.list("nodes")).length === 0,
      "no nodes",
    );
  } finally {
    await c.close();
  }
});

Deno.test("standby nodes are kept warm and a fitting pod takes one", async () => {
  const c = await startSimCluster({
    timings: fast,
    config: { nodes: { standbyNodes: [{ instanceType: "t3.nano", count: 2 }] } },
  });
  try {
    const standby = (n: number) =>
      c.waitUntil(async () => {
        const nodes = await c.controller.store.list<Node>("nodes");
        const avail = nodes.filter((x) =>
          x.status?.phase === "Available" && !x.status.boundPodName
        );
        return avail.length === n ? avail : undefined;
      }, `${n} standby nodes`);
    const [first] = await standby(2);
    await c.api(
      "POST",
      "/api/v1/namespaces/default/pods",
      podManifest("web", { instanceType: "t3.nano" }),
    );
    const pod = await c.waitForPod("web", "Running");
    assert.ok(
      (await standby(2)).every((n) => n.metadata.name !== pod.status?.boundNodeName),
      "the pool boots a replacement standby node",
    );
    assert.ok([first.metadata.name].length === 1);
  } finally {
    await c.close();
  }
});

Deno.test("a restarted controller re-attaches to running agents without relaunching", async () => {
  const kv = await Deno.openKv(":memory:");
  const c1 = await startSimCluster({ timings: fast, kv });
  await c1.api(
    "POST",
    "/api/v1/namespaces/default/pods",
    podManifest("web", { restartPolicy: "Never" }),
  );
  const before = await c1.waitForPod("web", "Running");
  const runtime = [...c1.runtimes.values()][0];
  await c1.close({ stopAgents: false, keepKv: true });
  const c2 = await startSimCluster({ timings: fast, kv, agents: c1.agents, runtimes: c1.runtimes });
  try {
    assert.equal(
      (await c2.controller.store.get("pods", "default", "web"))?.status?.phase,
      "Running",
    );
    // The unit ends after the restart: the new controller hears it through the same agent.
    runtime.exit("main", 0);
    const after = await c2.waitForPod("web", "Succeeded");
    assert.equal(after.status?.boundNodeName, before.status?.boundNodeName);
    assert.equal(c2.sim.calls.filter((x) => x.method === "launch").length, 0, "no new node");
    assert.equal(runtime.launchCount("main"), 1, "unit not restarted");
  } finally {
    await c2.close();
  }
});

Deno.test("a restart while a pod is being dispatched dispatches it again: it runs on its node", async () => {
  const kv = await Deno.openKv(":memory:");
  const c1 = await startSimCluster({ timings: fast, kv });
  // The agent never answers the first controller's dispatch.
  c1.controller.hub.apply = () => new Promise<void>(() => {});
  let node: string | undefined;
  try {
    await c1.api("POST", "/api/v1/namespaces/default/pods", podManifest("web"));
    await c1.waitUntil(async () => {
      await c1.controller.supervisor.flush();
      const stored = (await kv.get<{ v: string }>(["s", "pod/default/web"])).value;
      return stored !== null && JSON.parse(stored.v).value === "Dispatching";
    }, "the pod's actor stored in Dispatching");
    node = (await c1.controller.store.list<Node>("nodes"))[0].metadata.name;
  } finally {
    await c1.close({ stopAgents: false, keepKv: true });
  }
  const c2 = await startSimCluster({ timings: fast, kv, agents: c1.agents, runtimes: c1.runtimes });
  try {
    const pod = await c2.waitForPod("web", "Running");
    assert.equal(pod.status?.boundNodeName, node);
    assert.equal(c2.sim.calls.filter((x) => x.method === "launch").length, 0, "no new node");
  } finally {
    await c2.close();
  }
});

Deno.test("a node deleted while the controller was down is terminated once it restarts", async () => {
  const kv = await Deno.openKv(":memory:");
  const c1 = await startSimCluster({ timings: fast, kv });
  await c1.api("POST", "/api/v1/namespaces/default/pods", podManifest("web"));
  const pod = await c1.waitForPod("web", "Running");
  const node = pod.status!.boundNodeName!;
  await c1.close({ stopAgents: false, keepKv: true });
  // What `milpactl delete node` stores, written while no controller runs.
  await new ObjectStore(kv, systemClock).mutate<Node>("nodes", undefined, node, (n) => ({
    ...n,
    spec: { ...n.spec, terminate: true },
  }));
  const c2 = await startSimCluster({ timings: fast, kv, agents: c1.agents, runtimes: c1.runtimes });
  try {
    await c2.waitUntil(
      () => Promise.resolve(c2.sim.calls.some((x) => x.method === "terminate")),
      `node ${node} terminated`,
    );
  } finally {
    await c2.close();
  }
});

Deno.test("a deleted pod's units show as terminated, and its events tell the story", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    await c.api("POST", "/api/v1/namespaces/default/pods", podManifest("web"));
    await c.waitForPod("web", "Running");
    await c.api("DELETE", "/api/v1/namespaces/default/pods/web");
    const pod = await c.waitForPod("web", "Terminated");
    const t = pod.status?.unitStatuses?.[0].state.terminated;
    assert.equal(t?.reason, "Killed by SIGTERM", "stopped by the agent, as it reported");
    assert.ok(t?.startedAt, "when the stopped run had started");
    const events = await c.waitUntil(async () => {
      const r = await c.api("GET", "/api/v1/namespaces/default/events");
      const list = await r.json() as {
        items: { status: string; involvedObject: { name: string } }[];
      };
      const mine = list.items.filter((e) => e.involvedObject.name === "web").map((e) => e.status);
      return mine.includes("pod-terminated") ? mine : undefined;
    }, "pod events");
    assert.deepEqual(events, ["pod-running", "pod-stopping", "pod-terminated"]);
  } finally {
    await c.close();
  }
});

Deno.test("a type without capacity makes the pod try the next cheapest fit; a named type waits", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    c.sim.configure({
      failLaunch: (req) =>
        req.instanceType === "t3.nano"
          ? new CapacityError("InsufficientInstanceCapacity")
          : undefined,
    });
    await c.api("POST", "/api/v1/namespaces/default/pods", {
      ...podManifest("web"),
      spec: { units: [{ name: "main", command: ["serve"] }], resources: { memory: "0.4Gi" } },
    });
    const pod = await c.waitForPod("web", "Running");
    assert.equal(pod.spec.instanceType, "t3.nano", "the pod keeps what was chosen");
    const node = await c.controller.store.get<Node>("nodes", undefined, pod.status!.boundNodeName!);
    assert.equal(node?.spec.instanceType, "t3.micro", "the next cheapest type with 0.4Gi");

    await c.api(
      "POST",
      "/api/v1/namespaces/default/pods",
      podManifest("named", { instanceType: "t3.nano" }),
    );
    await new Promise((r) => setTimeout(r, 300));
    const named = await c.controller.store.get<Pod>("pods", "default", "named");
    assert.equal(named?.status?.phase, "Waiting", "a type the user named is never replaced");
  } finally {
    await c.close();
  }
});

Deno.test("secrets: a pod gets only the keys it references, and imagePullSecrets as credentials", async () => {
  const c = await startSimCluster({ timings: fast });
  const applied: unknown[] = [];
  const unsubscribe = c.controller.hub.subscribe(() => {});
  try {
    const r = await c.api("POST", "/api/v1/namespaces/default/secrets", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db" },
      stringData: { password: "s3cret", unused: "never sent" },
    });
    const stored = await r.json();
    assert.equal(r.status, 201, JSON.stringify(stored));
    assert.equal(stored.data.password, btoa("s3cret"), "stringData is stored as base64 data");
    assert.equal(stored.stringData, undefined);
    await c.api("POST", "/api/v1/namespaces/default/secrets", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "pull" },
      stringData: { server: "https://registry.example:5000", username: "u", password: "p" },
    });
    // Watch what the agent is sent.
    const orig = c.controller.hub.apply.bind(c.controller.hub);
    c.controller.hub.apply = (node, pod) => {
      applied.push(pod);
      return orig(node, pod);
    };
    await c.api("POST", "/api/v1/namespaces/default/pods", {
      ...podManifest("app"),
      spec: {
        imagePullSecrets: ["pull"],
        units: [{
          name: "main",
          command: ["serve"],
          env: [{
            name: "DB_PASSWORD",
            valueFrom: { secretKeyRef: { name: "db", key: "password" } },
          }],
        }],
      },
    });
    await c.waitForPod("app", "Running");
    const sent = applied[0] as { spec: Pod["spec"]; credentials: unknown };
    assert.deepEqual(sent.spec.units[0].env, [{ name: "DB_PASSWORD", value: "s3cret" }]);
    assert.ok(
      !JSON.stringify(sent).includes("never sent"),
      "unreferenced keys stay in the controller",
    );
    assert.deepEqual(sent.credentials, {
      "registry.example:5000": { username: "u", password: "p" },
    });

    // A missing secret is a start failure that names it.
    await c.api("POST", "/api/v1/namespaces/default/pods", {
      ...podManifest("broken"),
      spec: {
        restartPolicy: "Never",
        units: [{
          name: "main",
          command: ["serve"],
          env: [{ name: "X", valueFrom: { secretKeyRef: { name: "nope", key: "k" } } }],
        }],
      },
    });
    const broken = await c.waitForPod("broken", "Failed");
    assert.match(broken.status?.message ?? "", /secret "nope" not found/);
  } finally {
    unsubscribe();
    await c.close();
  }
});

Deno.test("heartbeats are not stored: snapshots leave liveness times out, and repeated statuses write nothing", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    const res = await c.api("POST", "/api/v1/namespaces/default/pods", podManifest("beat"));
    assert.equal(res.status, 201);
    const pod = await c.waitForPod("beat", "Running");
    const node = pod.status!.boundNodeName!;
    await c.controller.supervisor.flush();
    const live = c.controller.supervisor.actor("pod/default/beat")!.getSnapshot().context;
    assert.equal(typeof live.lastStatusAt, "number", "the live actor keeps it");
    const stored = (await c.kv.get<{ v: string }>(["s", "pod/default/beat"])).value!;
    assert.equal("lastStatusAt" in JSON.parse(stored.v).context, false);
    const storedNode = (await c.kv.get<{ v: string }>(["s", `node/${node}`])).value!;
    assert.equal("lastHeartbeat" in JSON.parse(storedNode.v).context, false);
    // The agent repeats its status (as every heartbeat does): nothing new to store.
    const before = (await c.kv.get(["o", "pods", "default", "beat"])).versionstamp;
    const snapBefore = (await c.kv.get(["s", "pod/default/beat"])).versionstamp;
    for (let i = 0; i < 5; i++) {
      c.agents.get(node)!.heartbeat();
      await new Promise((r) => setTimeout(r, 20));
    }
    await c.controller.supervisor.flush();
    // Unchanged statuses are passed on once per a third of the healthy timeout only.
    assert.equal(
      c.controller.supervisor.actor("pod/default/beat")!.getSnapshot().context.lastStatusAt,
      live.lastStatusAt,
    );
    assert.equal((await c.kv.get(["o", "pods", "default", "beat"])).versionstamp, before);
    assert.equal((await c.kv.get(["s", "pod/default/beat"])).versionstamp, snapBefore);
    // Nor is whether the agent is connected: a disconnect changes the live actor only (a
    // restarted controller has no connections anyway).
    assert.equal("agentConnected" in JSON.parse(storedNode.v).context, false);
    const nodeSnapBefore = (await c.kv.get(["s", `node/${node}`])).versionstamp;
    c.agents.get(node)!.stop();
    await c.controller.supervisor.flush();
    const nodeActor = c.controller.supervisor.actor(`node/${node}`)!;
    assert.equal(nodeActor.getSnapshot().context.agentConnected, false);
    assert.equal((await c.kv.get(["s", `node/${node}`])).versionstamp, nodeSnapBefore);
  } finally {
    await c.close();
  }
});

Deno.test("neither a new node's actor nor a new pod's stores its first state, or rewrites its object", async () => {
  // Launches take a while: both actors are in their first state until the node boots.
  const c = await startSimCluster({ timings: fast, launchLatencyMs: 1_000 });
  const events: string[] = [];
  const stop = c.controller.store.watch((e) => {
    if (e.object.kind === "Pod" || e.object.kind === "Node") {
      events.push(`${e.type} ${e.object.kind} ${(e.object as Pod | Node).status?.phase}`);
    }
  });
  try {
    const res = await c.api("POST", "/api/v1/namespaces/default/pods", podManifest("first"));
    assert.equal(res.status, 201);
    const created = await res.json() as Pod;
    // The node's first state (Creating, launching) is what a new actor of its object starts in:
    // a restart launches again with the same client token, as from a stored Creating state.
    const node = await c.waitUntil(async () => {
      const [n] = await c.controller.store.list<Node>("nodes");
      return n && c.controller.supervisor.actor(`node/${n.metadata.name}`) ? n : undefined;
    }, "the node's actor");
    await c.controller.supervisor.flush();
    assert.equal(
      (await c.kv.get(["s", `node/${node.metadata.name}`])).value,
      null,
      "no node snapshot",
    );
    assert.equal(
      c.controller.supervisor.actor(`node/${node.metadata.name}`)!.getSnapshot().value,
      "Creating",
      "the launch is still held",
    );
    // The pod's first state is what a new actor of the object starts in: nothing to store.
    assert.deepEqual(
      c.controller.supervisor.actor("pod/default/first")!.getSnapshot().value,
      { Waiting: "Requesting" },
    );
    assert.equal((await c.kv.get(["s", "pod/default/first"])).value, null, "no pod snapshot");
    assert.deepEqual(events, ["ADDED Pod Waiting", "ADDED Node Creating"]);
    const pod = (await c.api("GET", "/api/v1/namespaces/default/pods/first").then((r) =>
      r.json()
    )) as Pod;
    assert.equal(pod.metadata.resourceVersion, created.metadata.resourceVersion);
    assert.deepEqual(pod.status, created.status);
    await c.waitForPod("first", "Running");
    assert.ok((await c.kv.get(["s", "pod/default/first"])).value, "stored once it changed");
    assert.ok((await c.kv.get(["s", `node/${node.metadata.name}`])).value, "so is the node's");
  } finally {
    stop();
    await c.close();
  }
});

Deno.test("a restart that finds a waiting pod without a snapshot starts its actor afresh: it runs on one node", async () => {
  const kv = await Deno.openKv(":memory:");
  // What a controller leaves of a pod created just before it died: the object, Waiting since
  // its creation, and no snapshot.
  const since = new Date(Date.now() - 5_000).toISOString();
  const pod = applyDefaults(podManifest("early")) as Pod;
  await new ObjectStore(kv, systemClock).create<Pod>({
    ...pod,
    spec: { ...pod.spec, instanceType: "t3.nano", phase: "Running" },
    status: newPodStatus(since),
  });
  const c = await startSimCluster({ timings: fast, kv });
  try {
    const running = await c.waitForPod("early", "Running");
    assert.equal(c.sim.calls.filter((x) => x.method === "launch").length, 1, "one node");
    assert.equal((await c.controller.store.list("nodes")).length, 1);
    assert.ok(running.status?.boundNodeName);
  } finally {
    await c.close();
  }
});

Deno.test("a restart that finds a pod without its state but its node claimed binds it to that node again", async () => {
  // What a kill -9 can leave: the node's claim stored, the pod's move off Waiting not (its
  // object still says Waiting, no snapshot). Its actor starts afresh and asks for a node.
  const kv = await Deno.openKv(":memory:");
  const c1 = await startSimCluster({ timings: fast, kv });
  await c1.api("POST", "/api/v1/namespaces/default/pods", podManifest("web"));
  const before = await c1.waitForPod("web", "Running");
  await c1.close({ stopAgents: false, keepKv: true });
  const store = new ObjectStore(kv, systemClock);
  await store.mutate<Pod>("pods", "default", "web", (p) => ({
    ...p,
    status: newPodStatus(p.metadata.creationTimestamp!),
  }));
  await kv.delete(["s", podId("default", "web")]);
  const c2 = await startSimCluster({ timings: fast, kv, agents: c1.agents, runtimes: c1.runtimes });
  try {
    const after = await c2.waitForPod("web", "Running", 5_000);
    assert.equal(after.status?.boundNodeName, before.status?.boundNodeName, "the same node");
    assert.equal(c2.sim.calls.filter((x) => x.method === "launch").length, 0, "no new node");
    assert.equal((await c2.controller.store.list("nodes")).length, 1);
  } finally {
    await c2.close();
  }
});

Deno.test("a node whose object could not be removed is finished by the next start, not launched again", async () => {
  const c1 = await startSimCluster({ timings: fast });
  const kv = c1.kv;
  let c2: Awaited<ReturnType<typeof startSimCluster>> | undefined;
  try {
    assert.equal(
      (await c1.api("POST", "/api/v1/namespaces/default/pods", podManifest("gone"))).status,
      201,
    );
    const node = (await c1.waitForPod("gone", "Running")).status!.boundNodeName!;
    // Node objects cannot be deleted now: what a controller dying at that moment leaves behind.
    const store = c1.controller.store;
    const del = store.delete.bind(store);
    store.delete = (kind, ns, name, rv) =>
      kind === "nodes" ? Promise.reject(new Error("the disk went away")) : del(kind, ns, name, rv);
    assert.equal((await c1.api("DELETE", "/api/v1/namespaces/default/pods/gone")).status, 200);
    await c1.waitForPod("gone", "Terminated");
    await c1.waitUntil(
      () => Promise.resolve(!c1.controller.supervisor.actor(`node/${node}`)),
      "the node's actor ended",
    );
    await c1.controller.supervisor.flush();
    assert.ok(await store.get("nodes", undefined, node), "the node's object stayed");
    assert.ok((await kv.get(["s", `node/${node}`])).value, "and so did its actor's snapshot");
    await c1.close({ keepKv: true });
    c2 = await startSimCluster({ timings: fast, kv });
    const c = c2;
    await c.waitUntil(
      async () => (await c.controller.store.list("nodes")).length === 0,
      "the node's object removed",
    );
    await c.waitUntil(
      async () => (await kv.get(["s", `node/${node}`])).value === null,
      "its snapshot removed",
    );
    assert.equal(c.sim.calls.filter((x) => x.method === "launch").length, 0, "no new instance");
  } finally {
    if (c2) await c2.close();
    else await c1.close();
  }
});

Deno.test("a restarted controller does not write the snapshots it restored again", async () => {
  const c1 = await startSimCluster({ timings: fast });
  const kv = c1.kv;
  let c2: Awaited<ReturnType<typeof startSimCluster>> | undefined;
  try {
    const res = await c1.api("POST", "/api/v1/namespaces/default/pods", podManifest("kept"));
    assert.equal(res.status, 201);
    const pod = await c1.waitForPod("kept", "Running");
    const node = pod.status!.boundNodeName!;
    await c1.controller.supervisor.flush();
    const stamps = async () =>
      (await kv.getMany([["s", "pod/default/kept"], ["s", `node/${node}`]])).map((e) =>
        e.versionstamp
      );
    const before = await stamps();
    await c1.close({ keepKv: true });
    // Restored and left alone (no agent reconnects, nothing happens): nothing to write.
    c2 = await startSimCluster({ timings: fast, kv });
    assert.ok(c2.controller.supervisor.actor("pod/default/kept"));
    await new Promise((r) => setTimeout(r, 100));
    await c2.controller.supervisor.flush();
    assert.deepEqual(await stamps(), before);
  } finally {
    if (c2) await c2.close();
    else await c1.close();
  }
});

Deno.test("a restart decodes the pods and nodes once: for their actors, the pool and the metrics", async () => {
  const c1 = await startSimCluster({ timings: fast });
  const kv = c1.kv;
  let c2: Awaited<ReturnType<typeof startSimCluster>> | undefined;
  const list = ObjectStore.prototype.list;
  const lists: string[] = [];
  try {
    for (const name of ["a", "b"]) {
      await c1.api("POST", "/api/v1/namespaces/default/pods", podManifest(name));
    }
    await c1.waitForPod("a", "Running");
    await c1.waitForPod("b", "Running");
    await c1.close({ keepKv: true });
    ObjectStore.prototype.list = function (this: ObjectStore, kind, opts) {
      lists.push(typeof kind === "string" ? kind : kind.plural);
      return list.call(this, kind, opts);
    } as typeof list;
    c2 = await startSimCluster({ timings: fast, kv });
    // The pool's view and the metrics' count are those of the restore.
    const metrics = await (await c2.api("GET", "/metrics")).text();
    ObjectStore.prototype.list = list;
    assert.match(metrics, /milpa_pods\{phase="Running"\} 2\n/);
    assert.match(metrics, /milpa_nodes\{phase="Claimed"\} 2\n/);
    assert.equal(c2.controller.supervisor.pool.nodes.size, 2);
    // One list of each kind, the restore's (kinds by name: "Pod"; by plural: "pods").
    assert.deepEqual(lists.map((k) => k.toLowerCase().replace(/s$/, "")).sort(), [
      "deployment",
      "node",
      "pod",
      "replicaset",
      "service",
    ]);
  } finally {
    ObjectStore.prototype.list = list;
    if (c2) await c2.close();
    else await c1.close();
  }
});

Deno.test("an actor that fails is restarted from its snapshot; the root and other actors go on", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    for (const name of ["web", "db"]) {
      await c.api("POST", "/api/v1/namespaces/default/pods", podManifest(name));
    }
    const web = await c.waitForPod("web", "Running");
    await c.waitForPod("db", "Running");
    const supervisor = c.controller.supervisor;
    const before = supervisor.actor(podId("default", "web"));
    // A status the machine cannot read makes its guards throw: the actor fails.
    supervisor.send(podId("default", "web"), {
      type: "AGENT_STATUS",
      podUid: web.metadata.uid,
      unitStatuses: null,
      initUnitStatuses: null,
    } as never);
    await c.waitUntil(
      async () =>
        (await c.controller.store.list<MilpaEvent>("events"))
          .some((e) => e.status === "actor-restarted" && e.involvedObject.name === "web"),
      "the restart event",
    );
    // All actors share the root's system: the failure reached the root, which went on.
    assert.equal(supervisor.root.getSnapshot().value, "Supervising");
    assert.equal(supervisor.root.getSnapshot().status, "active");
    assert.equal(supervisor.actor(podId("default", "db"))?.getSnapshot().status, "active");
    await c.waitUntil(
      () => Promise.resolve(supervisor.actor(podId("default", "web")) !== before),
      "a new actor for web",
    );
    const again = supervisor.actor(podId("default", "web"))!;
    assert.equal(again.system, supervisor.root.system);
    assert.ok(again.getSnapshot().matches("Running"), JSON.stringify(again.getSnapshot().value));
    assert.equal(
      (await c.waitForPod("web", "Running")).status?.boundNodeName,
      web.status?.boundNodeName,
    );
  } finally {
    await c.close();
  }
});
