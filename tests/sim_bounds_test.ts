/**
 * The controller's bounds on the simulated cloud: nodes.maxNodes, failed launches retried with
 * a growing delay then given up, replicas capped, and a drained pod that backs a Service.
 */
import assert from "node:assert/strict";
import type { Event } from "../model/event.ts";
import type { Pod } from "../model/pod.ts";
import { podManifest, startSimCluster } from "./support/sim_cluster.ts";

const fast = { watchdogPeriodMs: 50, purgePeriodMs: 100, reconcilePeriodMs: 100 };

function deployment(name: string, replicas: number, labels = { app: name }) {
  return {
    apiVersion: "v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas,
      template: {
        metadata: { labels },
        spec: { units: [{ name: "main", command: ["serve"] }] },
      },
    },
  };
}

async function podsOf(
  c: Awaited<ReturnType<typeof startSimCluster>>,
): Promise<Pod[]> {
  return await c.controller.store.list<Pod>("pods", { namespace: "default" });
}

Deno.test("nodes.maxNodes: a deployment of 8 runs 5 pods, 3 wait saying why, and run as others go", async () => {
  const c = await startSimCluster({ timings: fast, config: { nodes: { maxNodes: 5 } } });
  try {
    const res = await c.api("POST", "/api/v1/namespaces/default/deployments", deployment("web", 8));
    assert.equal(res.status, 201);
    await res.body?.cancel();
    const split = await c.waitUntil(async () => {
      const pods = (await podsOf(c)).filter((p) => p.spec.phase !== "Terminated");
      const running = pods.filter((p) => p.status?.phase === "Running");
      const limited = pods.filter((p) =>
        p.status?.phase === "Waiting" && p.status.reason === "NodeLimit"
      );
      return running.length === 5 && limited.length === 3 ? { running, limited } : undefined;
    }, "5 running, 3 waiting for a node");
    assert.match(
      split.limited[0].status!.message!,
      /waiting for a node: nodes.maxNodes \(5\) nodes are alive/,
    );
    assert.equal((await c.sim.listInstances()).length, 5);

    // Three running pods go: the three that waited get their nodes.
    for (const p of split.running.slice(0, 3)) {
      const r = await c.api("DELETE", `/api/v1/namespaces/default/pods/${p.metadata.name}`);
      await r.body?.cancel();
    }
    const waited = split.limited.map((p) => p.metadata.name);
    await c.waitUntil(async () => {
      const pods = await podsOf(c);
      return waited.every((n) =>
        pods.find((p) => p.metadata.name === n)?.status?.phase === "Running"
      );
    }, "the pods that waited to run");
    assert.ok((await c.sim.listInstances()).length <= 5, "never more than maxNodes");
  } finally {
    await c.close();
  }
});

Deno.test("a pod whose node fails to boot retries with a growing delay, then fails with the cloud's message", async () => {
  const c = await startSimCluster({
    timings: { ...fast, launchRetryBaseMs: 200 },
    config: { nodes: { maxLaunchAttempts: 3 } },
  });
  try {
    const launches: number[] = [];
    c.sim.configure({
      failLaunch: () => {
        launches.push(Date.now());
        return new Error("InvalidAMIID.NotFound: The image id '[ami-0bad]' does not exist");
      },
    });
    const res = await c.api("POST", "/api/v1/namespaces/default/pods", podManifest("web"));
    await res.body?.cancel();
    const backingOff = await c.waitUntil(async () => {
      const p = await c.controller.store.get<Pod>("pods", "default", "web");
      return p?.status?.reason === "LaunchBackOff" ? p : undefined;
    }, "the pod backing off");
    assert.equal(backingOff.status?.launchFailures, 1);
    assert.ok(backingOff.status?.nextLaunchAt);
    const failed = await c.waitForPod("web", "Failed", 10_000);
    assert.equal(
      failed.status?.message,
      "node launch failed 3 times: launch failed: InvalidAMIID.NotFound: The image id '[ami-0bad]' does not exist",
    );
    assert.equal(launches.length, 3, "three launches, then no more");
    // 200 ms, then 400 ms between attempts (a little more for the work in between).
    assert.ok(launches[1] - launches[0] >= 200, `${launches[1] - launches[0]} ms`);
    assert.ok(launches[2] - launches[1] >= 400, `${launches[2] - launches[1]} ms`);
    const events = await c.api("GET", "/api/v1/namespaces/default/events");
    const mine = (await events.json() as { items: Event[] }).items.filter((e) =>
      e.involvedObject.name === "web" && e.status === "pod-launch-failed"
    );
    assert.equal(mine.length, 3, "each failure is an event");
    assert.ok(mine.every((e) => e.type === "Warning" && /InvalidAMIID/.test(e.message ?? "")));
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(launches.length, 3);
    assert.deepEqual(await c.sim.listInstances(), []);
  } finally {
    await c.close();
  }
});

Deno.test("replicas above 10,000 are refused with 422 naming spec.replicas", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    const res = await c.api(
      "POST",
      "/api/v1/namespaces/default/deployments",
      deployment("huge", 100_000_000),
    );
    assert.equal(res.status, 422);
    const body = await res.json() as { message: string };
    assert.match(body.message, /spec\.replicas: must be at most 10000/);
    assert.equal((await c.controller.store.list("deployments")).length, 0);
  } finally {
    await c.close();
  }
});

Deno.test("a deleted pod that backs a Service leaves it, drains, and only then stops", async () => {
  const c = await startSimCluster({
    timings: fast,
    config: { serviceDiscovery: { drainSeconds: 1 } },
  });
  try {
    let r = await c.api(
      "POST",
      "/api/v1/namespaces/default/pods",
      podManifest("web", {}, { app: "web" }),
    );
    await r.body?.cancel();
    r = await c.api("POST", "/api/v1/namespaces/default/services", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
    });
    await r.body?.cancel();
    await c.waitUntil(
      () => Promise.resolve(c.sim.services.get("default/web")?.dns?.endpoints.length === 1),
      "the pod in DNS",
    );
    const deletedAt = Date.now();
    r = await c.api("DELETE", "/api/v1/namespaces/default/pods/web");
    await r.body?.cancel();
    const draining = await c.waitUntil(async () => {
      const p = await c.controller.store.get<Pod>("pods", "default", "web");
      return p?.status?.termination?.state === "Draining" ? p : undefined;
    }, "the pod draining");
    assert.equal(draining.status?.phase, "Running");
    await c.waitUntil(
      () => Promise.resolve(c.sim.services.get("default/web")?.dns?.endpoints.length === 0),
      "the pod out of DNS",
    );
    assert.equal(
      c.sim.services.get("default/web")?.firewall?.instances.length,
      1,
      "its firewall stays open while it drains",
    );
    const runtime = [...c.runtimes.values()][0];
    assert.deepEqual(runtime.runningUnits(), ["main"], "still running");
    const gone = await c.waitForPod("web", "Terminated", 10_000);
    assert.ok(Date.now() - deletedAt >= 1_000, "drained for drainSeconds");
    assert.equal(gone.status?.unitStatuses?.[0].state.terminated?.reason, "Killed by SIGTERM");
  } finally {
    await c.close();
  }
});
