/** ReplicaSets and Deployments through the real API and actors on the simulated cloud. */
import assert from "node:assert/strict";
import type { Deployment, ReplicaSet } from "../model/deployment.ts";
import type { Pod } from "../model/pod.ts";
import { controllerOf, isActivePod, readySince } from "../model/workload.ts";
import { ObjectStore } from "../store/object_store.ts";
import { type SimCluster, startSimCluster } from "./support/sim_cluster.ts";

const fast = { watchdogPeriodMs: 50, purgePeriodMs: 100, reconcilePeriodMs: 100 };

function template(env = "one") {
  return {
    metadata: { labels: { app: "web" } },
    spec: {
      units: [{ name: "main", command: ["serve"], env: [{ name: "MY_MILPA_VAR", value: env }] }],
    },
  };
}

function deployment(replicas: number, env = "one", extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: { replicas, maxSurge: 1, maxUnavailable: 0, template: template(env), ...extra },
  };
}

/** Changes an object through the API (no resourceVersion: actors write status all the time). */
async function change<T extends { metadata: { resourceVersion?: string } }>(
  c: SimCluster,
  path: string,
  fn: (o: T) => T,
): Promise<void> {
  const cur = await (await c.api("GET", path)).json() as T;
  const next = fn(cur);
  delete next.metadata.resourceVersion;
  const r = await c.api("PUT", path, next);
  assert.equal(r.status, 200, await r.text());
}

async function activePods(c: SimCluster): Promise<Pod[]> {
  return (await c.controller.store.list<Pod>("pods")).filter(isActivePod);
}

async function waitRunning(c: SimCluster, n: number, what = `${n} running pods`): Promise<Pod[]> {
  return await c.waitUntil(async () => {
    const pods = await activePods(c);
    return pods.length === n && pods.every((p) => p.status?.phase === "Running") ? pods : undefined;
  }, what);
}

Deno.test("a ReplicaSet keeps its replicas, replaces a deleted pod and scales down", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    const r = await c.api("POST", "/api/v1/namespaces/default/replicasets", {
      apiVersion: "v1",
      kind: "ReplicaSet",
      metadata: { name: "web-rs" },
      spec: { replicas: 3, template: template() },
    });
    assert.equal(r.status, 201, await r.clone().text());
    const pods = await waitRunning(c, 3);
    for (const p of pods) {
      assert.match(p.metadata.name, /^web-rs-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.equal(controllerOf(p)?.name, "web-rs");
    }
    const rs = await c.waitUntil(async () => {
      const rs = await c.controller.store.get<ReplicaSet>("replicasets", "default", "web-rs");
      return rs?.status?.availableReplicas === 3 ? rs : undefined;
    }, "rs status");
    assert.equal(rs.status?.replicas, 3);

    const victim = pods[0].metadata.name;
    await c.api("DELETE", `/api/v1/namespaces/default/pods/${victim}`);
    await c.waitForPod(victim, "Terminated");
    const after = await waitRunning(c, 3, "a replacement");
    assert.ok(!after.some((p) => p.metadata.name === victim));

    await change<ReplicaSet>(c, "/api/v1/namespaces/default/replicasets/web-rs", (rs) => ({
      ...rs,
      spec: { ...rs.spec, replicas: 1 },
    }));
    await waitRunning(c, 1, "scaled down to 1");

    assert.equal(
      (await c.api("DELETE", "/api/v1/namespaces/default/replicasets/web-rs")).status,
      200,
    );
    await c.waitUntil(
      async () => (await activePods(c)).length === 0,
      "pods of the deleted rs gone",
    );
    await c.waitUntil(
      async () => (await c.controller.store.list("nodes")).length === 0,
      "no nodes",
    );
  } finally {
    await c.close();
  }
});

Deno.test("a Deployment rolls out within maxSurge 1 / maxUnavailable 0 and rolls back", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    assert.equal(
      (await c.api("POST", "/api/v1/namespaces/default/deployments", deployment(2))).status,
      201,
    );
    await waitRunning(c, 2);
    const complete = (env: string) =>
      c.waitUntil(
        async () => {
          const d = await c.controller.store.get<Deployment>("deployments", "default", "web");
          const pods = await activePods(c);
          const done = d?.status?.updatedReplicas === 2 && d.status.availableReplicas === 2 &&
            d.status.replicas === 2 && pods.length === 2 &&
            pods.every((p) =>
              p.spec.units[0].env?.[0].value === env && readySince(p) !== undefined
            );
          return done ? d : undefined;
        },
        `rollout to ${env}`,
        20_000,
      );
    await complete("one");
    // Watch every change while rolling out: never fewer than 2 available, never more than 3 pods.
    const violations: string[] = [];
    const unwatch = c.controller.store.watch(() => {
      void activePods(c).then((pods) => {
        const available = pods.filter((p) => readySince(p) !== undefined).length;
        if (pods.length > 3) violations.push(`${pods.length} pods`);
        if (available < 2) violations.push(`${available} available`);
      });
    });
    await change<Deployment>(c, "/api/v1/namespaces/default/deployments/web", (d) => ({
      ...d,
      spec: { ...d.spec, template: template("two") },
    }));
    const rolled = await complete("two");
    const sets = await c.controller.store.list<ReplicaSet>("replicasets");
    assert.equal(sets.length, 2);
    assert.deepEqual(sets.map((rs) => rs.spec.replicas).sort(), [0, 2]);
    assert.ok(sets.every((rs) => rs.metadata.name.startsWith("web-")));
    assert.equal(
      rolled.status?.conditions?.find((x) => x.type === "Progressing")?.reason,
      "NewReplicaSetAvailable",
    );

    const back = await c.api("POST", "/api/v1/namespaces/default/deployments/web/rollback", {});
    assert.equal(back.status, 200, await back.clone().text());
    await complete("one");
    unwatch();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(violations, []);

    await c.api("DELETE", "/api/v1/namespaces/default/deployments/web");
    await c.waitUntil(
      async () => (await c.controller.store.list("replicasets")).length === 0,
      "rs gone",
    );
    await c.waitUntil(async () => (await activePods(c)).length === 0, "pods gone");
    await c.waitUntil(
      async () => (await c.controller.store.list("nodes")).length === 0,
      "nodes gone",
    );
  } finally {
    await c.close();
  }
});

Deno.test("scaling a Deployment 0 → 20 → 0 leaves no node behind", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    await c.api("POST", "/api/v1/namespaces/default/deployments", deployment(0));
    const scale = (n: number) =>
      change<Deployment>(c, "/api/v1/namespaces/default/deployments/web", (d) => ({
        ...d,
        spec: { ...d.spec, replicas: n },
      }));
    await scale(20);
    await waitRunning(c, 20);
    await scale(0);
    await c.waitUntil(async () => (await activePods(c)).length === 0, "no pods");
    await c.waitUntil(
      async () => (await c.controller.store.list("nodes")).length === 0,
      "no nodes",
    );
  } finally {
    await c.close();
  }
});

Deno.test("a restarted controller's ReplicaSet acts on a scale-down it missed while down", async () => {
  const kv = await Deno.openKv(":memory:");
  const c1 = await startSimCluster({ timings: fast, kv });
  const rs = {
    apiVersion: "v1",
    kind: "ReplicaSet",
    metadata: { name: "web" },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { units: [{ name: "main", command: ["serve"] }] },
      },
    },
  };
  const r = await c1.api("POST", "/api/v1/namespaces/default/replicasets", rs);
  await r.body?.cancel();
  const running = () =>
    c1.controller.store.list<Pod>("pods").then((ps) =>
      ps.filter((p) => isActivePod(p) && p.status?.phase === "Running")
    );
  await c1.waitUntil(async () => (await running()).length === 2, "2 running");
  // Resting (Settled), so that only being told to look again makes it pass after the restart.
  await c1.waitUntil(
    () =>
      Promise.resolve(
        c1.controller.supervisor.actor("replicaset/default/web")?.getSnapshot().value === "Settled",
      ),
    "the ReplicaSet settled",
  );
  await c1.close({ stopAgents: false, keepKv: true });
  // Written just before the crash: the ReplicaSet's actor never heard of it.
  await new ObjectStore(kv).mutate<ReplicaSet>("replicasets", "default", "web", (cur) => ({
    ...cur,
    spec: { ...cur.spec, replicas: 1 },
  }));
  const c2 = await startSimCluster({ timings: fast, kv, agents: c1.agents, runtimes: c1.runtimes });
  try {
    await c2.waitUntil(async () => {
      const pods = await c2.controller.store.list<Pod>("pods");
      return pods.filter(isActivePod).length === 1;
    }, "one pod left");
  } finally {
    await c2.close();
  }
});

Deno.test("a controller stopped while its actors are busy stores none of them as stopped", async () => {
  const kv = await Deno.openKv(":memory:");
  const c1 = await startSimCluster({ timings: fast, kv });
  const r = await c1.api("POST", "/api/v1/namespaces/default/replicasets", {
    apiVersion: "v1",
    kind: "ReplicaSet",
    metadata: { name: "busy" },
    spec: {
      replicas: 5,
      selector: { matchLabels: { app: "busy" } },
      template: {
        metadata: { labels: { app: "busy" } },
        spec: { units: [{ name: "main", command: ["serve"] }] },
      },
    },
  });
  await r.body?.cancel();
  await c1.waitUntil(
    async () => (await c1.controller.store.list<Pod>("pods")).length === 5,
    "5 pods",
  );
  await c1.close({ keepKv: true });
  const stored: string[] = [];
  for await (const e of kv.list<{ v?: string }>({ prefix: ["s"] })) {
    if (e.value.v) stored.push(`${String(e.key[1])}: ${JSON.parse(e.value.v).status}`);
  }
  kv.close();
  assert.ok(stored.length > 0);
  assert.deepEqual(
    stored.filter((s) => !s.endsWith(": active")),
    [],
    "a stopped snapshot restores as an actor that never moves again",
  );
});
