/**
 * The user-facing simulated cloud (`cloud: {sim: {}}`): the controller as main.ts starts it,
 * on an on-disk KV, with simulated agents. Pods run; a restarted controller finds every
 * instance still there (no pod or node lost, none launched again); launch failures look like
 * a cloud's.
 */
import assert from "node:assert/strict";
import { SimAgents } from "../agent/sim_agent.ts";
import { type Controller, startController } from "../controller.ts";
import type { Timings } from "../actors/supervisor.ts";
import type { Event } from "../model/event.ts";
import { newNodeStatus, type Node } from "../model/node.ts";
import { newPodStatus, type Pod } from "../model/pod.ts";
import { systemClock } from "../model/clock.ts";
import { ObjectStore } from "../store/object_store.ts";
import { resolveConfig } from "../model/config.ts";
import { memoryReducerObjects } from "../model/memory_reducer.ts";
import { podManifest } from "./support/sim_cluster.ts";

const fast: Partial<Timings> = { watchdogPeriodMs: 50, purgePeriodMs: 100, reconcilePeriodMs: 100 };

/** A controller on `home` (KV in `home/state.kv`) with `cloud.sim` as given. */
async function start(
  home: string,
  sim: Record<string, unknown> = {},
  extra: { config?: Record<string, unknown>; timings?: Partial<Timings> } = {},
): Promise<Controller> {
  const kv = await Deno.openKv(`${home}/state.kv`);
  try {
    return await startController({
      config: resolveConfig({ ...extra.config, cloud: { sim } }),
      kv,
      home,
      listen: "127.0.0.1:0",
      timings: { ...fast, ...extra.timings },
      simAgents: (hub, config) => new SimAgents(hub, { unitStartDelayMs: config.unitStartDelayMs }),
    });
  } catch (e) {
    kv.close();
    throw e;
  }
}

async function api(c: Controller, method: string, path: string, body?: unknown) {
  const res = await fetch(`${c.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${c.token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** Polls `check` until it returns a value. */
async function waitFor<T>(
  check: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 4_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function podIn(c: Controller, name: string) {
  return c.store.get<Pod>("pods", "default", name);
}

/** Pod `name` once it is Running. */
function runningPod(c: Controller, name: string, what: string): Promise<Pod> {
  return waitFor(async () => {
    const p = await podIn(c, name);
    return p?.status?.phase === "Running" ? p : undefined;
  }, what);
}

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "milpa-sim-cloud-" });
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("cloud.sim: a pod boots a simulated node, runs, logs a line, and its node goes with it", async () => {
  await withHome(async (home) => {
    const c = await start(home, { bootDelayMs: 30 });
    try {
      assert.equal(c.cloud.name, "sim");
      assert.equal(
        (await api(c, "POST", "/api/v1/namespaces/default/pods", podManifest("web")))
          .status,
        201,
      );
      const pod = await runningPod(c, "web", "web to run");
      const unit = pod.status!.unitStatuses![0];
      assert.ok(unit.state.running?.startedAt, "its unit reports running");
      // The process's memory reducer follows what the controller's store holds (the pod, its
      // node, their events...), so that a purge of many is followed by a compaction.
      assert.ok(c.store.objectCount >= 2);
      assert.equal(memoryReducerObjects(), c.store.objectCount);
      assert.match(pod.status!.addresses?.[0]?.address ?? "", /^10\./);
      const [instance] = await c.cloud.listInstances();
      assert.equal(instance.nodeName, pod.status!.boundNodeName);
      assert.ok(Date.now() - instance.launchedAt >= 30, "it booted for bootDelayMs");

      const logs = await fetch(`${c.url}/api/v1/namespaces/default/pods/web/log`, {
        headers: { Authorization: `Bearer ${c.token}` },
      });
      assert.equal(logs.status, 200);
      assert.match(await logs.text(), /\[simulated\] unit main of pod default\/web/);

      await api(c, "DELETE", "/api/v1/namespaces/default/pods/web");
      await waitFor(
        async () => (await c.cloud.listInstances()).length === 0 ? true : undefined,
        "the node's instance to be terminated",
      );
    } finally {
      await c.close();
    }
    assert.equal(memoryReducerObjects(), undefined, "a closed controller is not counted");
  });
});

Deno.test("cloud.sim: a restarted controller finds its pods running on the same instances, launching none", async () => {
  await withHome(async (home) => {
    const c1 = await start(home, { bootDelayMs: 10 });
    const names = ["a", "b", "c"];
    let before: Map<string, string>;
    let instancesBefore: string[];
    try {
      for (const n of names) {
        await api(c1, "POST", "/api/v1/namespaces/default/pods", podManifest(n));
      }
      before = await waitFor(async () => {
        const pods = await Promise.all(names.map((n) => podIn(c1, n)));
        if (!pods.every((p) => p?.status?.phase === "Running")) return undefined;
        return new Map(pods.map((p) => [p!.metadata.name, p!.status!.boundNodeName!]));
      }, "three pods to run");
      instancesBefore = (await c1.cloud.listInstances()).map((i) => i.id).sort();
      assert.equal(instancesBefore.length, 3);
    } finally {
      // The controller and its simulated agents stop, as with kill -9; the instances stay on record.
      await c1.close();
    }

    const c2 = await start(home, { bootDelayMs: 10 });
    try {
      const instances = await c2.cloud.listInstances();
      assert.deepEqual(instances.map((i) => i.id).sort(), instancesBefore, "the same instances");
      // The restored agents reconnect and the pods keep running on their nodes.
      await waitFor(async () => {
        const pods = await Promise.all(names.map((n) => podIn(c2, n)));
        return pods.every((p) =>
            p?.status?.phase === "Running" && c2.hub.isConnected(p.status.boundNodeName!) &&
            p.status.unitStatuses?.[0]?.state.running
          )
          ? true
          : undefined;
      }, "the pods to report running through the reconnected agents");
      for (const n of names) {
        const p = await podIn(c2, n);
        assert.equal(p?.status?.boundNodeName, before.get(n), `${n} stays on its node`);
      }
      // Give a relaunch (or a lost node's replacement) the time to show.
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(
        (await c2.cloud.listInstances()).map((i) => i.id).sort(),
        instancesBefore,
        "no instance launched or terminated",
      );
      const nodes = await c2.store.list<Node>("nodes");
      assert.deepEqual(nodes.map((n) => n.metadata.name).sort(), [...before.values()].sort());
      for (const n of names) assert.equal((await podIn(c2, n))?.status?.phase, "Running");
    } finally {
      await c2.close();
    }
  });
});

Deno.test("cloud.sim: a restart that finds a launched node without its actor's state launches it again by its client token: the same instance", async () => {
  // What a kill -9 can leave now that a new node's first state is not stored: its object
  // (Creating, for its pod), the instance on the cloud's record, and no snapshot of either actor.
  await withHome(async (home) => {
    const c1 = await start(home, { bootDelayMs: 10 });
    let node: string;
    let instances: string[];
    try {
      await api(c1, "POST", "/api/v1/namespaces/default/pods", podManifest("web"));
      const pod = await runningPod(c1, "web", "the pod to run");
      node = pod.status!.boundNodeName!;
      instances = (await c1.cloud.listInstances()).map((i) => i.id);
      assert.equal(instances.length, 1);
    } finally {
      await c1.close();
    }
    const kv = await Deno.openKv(`${home}/state.kv`);
    try {
      const store = new ObjectStore(kv, systemClock);
      const n = (await store.get<Node>("nodes", undefined, node))!;
      await store.update<Node>({
        ...n,
        status: newNodeStatus(n.metadata.creationTimestamp!, "default/web"),
      });
      await store.mutate<Pod>("pods", "default", "web", (p) => ({
        ...p,
        status: newPodStatus(p.metadata.creationTimestamp!),
      }));
      await kv.delete(["s", `node/${node}`]);
      await kv.delete(["s", "pod/default/web"]);
    } finally {
      kv.close();
    }

    const c2 = await start(home, { bootDelayMs: 10 });
    try {
      const pod = await runningPod(c2, "web", "the pod to run again");
      assert.equal(pod.status?.boundNodeName, node, "on the same node");
      assert.deepEqual((await c2.cloud.listInstances()).map((i) => i.id), instances, "no new one");
      assert.equal((await c2.store.list("nodes")).length, 1);
    } finally {
      await c2.close();
    }
  });
});

Deno.test("cloud.sim: a restart gives every pod that waited for a node its node at once, not a few a pass", async () => {
  // 22 pods wait at maxNodes (their actors asked, were told why, and stored that); the
  // controller restarts with room for all. Their restored actors do not ask again, and the
  // pool's periodic pass (a minute away here) boots at most 10 nodes.
  await withHome(async (home) => {
    const c1 = await start(home, {}, { config: { nodes: { maxNodes: 2 } } });
    try {
      await api(c1, "POST", "/api/v1/namespaces/default/deployments", {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web" },
        spec: {
          replicas: 24,
          template: {
            metadata: { labels: { app: "web" } },
            spec: { units: [{ name: "main", command: ["serve"] }] },
          },
        },
      });
      await waitFor(async () => {
        const pods = await c1.store.list<Pod>("pods");
        const limited = pods.filter((p) => p.status?.reason === "NodeLimit");
        const running = pods.filter((p) => p.status?.phase === "Running");
        return limited.length === 22 && running.length === 2 ? true : undefined;
      }, "2 running, 22 waiting for a node");
    } finally {
      await c1.close();
    }
    const c2 = await start(home, {}, {
      config: { nodes: { maxNodes: 100 } },
      timings: { reconcilePeriodMs: 60_000 },
    });
    try {
      await waitFor(
        async () => {
          const pods = await c2.store.list<Pod>("pods");
          return pods.length === 24 && pods.every((p) => p.status?.phase === "Running")
            ? true
            : undefined;
        },
        "all 24 running",
        10_000,
      );
      const nodes = await c2.store.list<Node>("nodes");
      assert.equal(nodes.length, 24, "one node each");
      assert.equal((await c2.cloud.listInstances()).length, 24, "one instance each");
    } finally {
      await c2.close();
    }
  });
});

Deno.test("cloud.sim: launchFailureRate 1 makes launches fail as a cloud error: the pod backs off, then fails", async () => {
  await withHome(async (home) => {
    const c = await start(home, { launchFailureRate: 1 }, {
      config: { nodes: { maxLaunchAttempts: 2 } },
      timings: { launchRetryBaseMs: 100 },
    });
    try {
      await api(c, "POST", "/api/v1/namespaces/default/pods", podManifest("web"));
      const backingOff = await waitFor(async () => {
        const p = await podIn(c, "web");
        return p?.status?.reason === "LaunchBackOff" ? p : undefined;
      }, "the pod to back off");
      assert.equal(backingOff.status?.phase, "Waiting");
      assert.equal(backingOff.status?.launchFailures, 1);
      const failed = await waitFor(async () => {
        const p = await podIn(c, "web");
        return p?.status?.phase === "Failed" ? p : undefined;
      }, "the pod to fail");
      assert.match(
        failed.status?.message ?? "",
        /node launch failed 2 times: launch failed: InternalError: .*simulated: cloud.sim.launchFailureRate 1/,
      );
      const events = (await api(c, "GET", "/api/v1/namespaces/default/events")).body as {
        items: Event[];
      };
      const failures = events.items.filter((e) =>
        e.involvedObject.name === "web" && e.status === "pod-launch-failed"
      );
      assert.equal(failures.length, 2);
      assert.ok(failures.every((e) => e.type === "Warning" && /InternalError/.test(e.message!)));
      assert.deepEqual(await c.cloud.listInstances(), []);
    } finally {
      await c.close();
    }
  });
});

Deno.test("cloud.sim: launchFailureKind capacity makes the pod wait for a type with capacity, not fail", async () => {
  await withHome(async (home) => {
    const c = await start(home, { launchFailureRate: 1, launchFailureKind: "capacity" }, {
      config: { nodes: { maxLaunchAttempts: 1 } },
    });
    try {
      await api(c, "POST", "/api/v1/namespaces/default/pods", podManifest("web"));
      const events = await waitFor(async () => {
        const items = ((await api(c, "GET", "/api/v1/events")).body as { items: Event[] }).items;
        return items.some((e) => /InsufficientInstanceCapacity/.test(e.message ?? ""))
          ? items
          : undefined;
      }, "a capacity failure to show in the events");
      assert.ok(events.length > 0);
      await new Promise((r) => setTimeout(r, 300));
      const pod = await podIn(c, "web");
      assert.equal(pod?.status?.phase, "Waiting", "no capacity is not a failure of the pod");
      assert.deepEqual(await c.cloud.listInstances(), []);
    } finally {
      await c.close();
    }
  });
});

Deno.test("cloud.sim: startController refuses cloud.sim without simulated agents", async () => {
  await withHome(async (home) => {
    const kv = await Deno.openKv(`${home}/state.kv`);
    try {
      await assert.rejects(
        startController({
          config: resolveConfig({ cloud: { sim: {} } }),
          kv,
          home,
          listen: "127.0.0.1:0",
        }),
        /cloud.sim needs simulated agents/,
      );
    } finally {
      kv.close();
    }
  });
});
