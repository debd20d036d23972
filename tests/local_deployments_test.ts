/**
 * The Deployment tutorials on the local cloud: nginx scaled and self-healing, the backend's
 * rolling update and rollback within maxSurge 1 / maxUnavailable 0, a controller killed in the
 * middle of a rollout, and scaling 0 → 20 → 0.
 */
import assert from "node:assert/strict";
import type { Deployment, ReplicaSet } from "../model/deployment.ts";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import { isActivePod, readySince } from "../model/workload.ts";
import { LocalCloud } from "./support/local_cloud.ts";

type List<T> = { items: T[] };
/** The tutorial files users are told to edit (MY_MILPA_VAR, replicas), as shipped. */
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const hasNginx = await new Deno.Command("nginx", { args: ["-v"], stderr: "null" }).output().then(
  (o) => o.success,
  () => false,
);

async function pods(cloud: LocalCloud): Promise<Pod[]> {
  return (await cloud.api<List<Pod>>("/api/v1/namespaces/default/pods")).items;
}

Deno.test({
  name:
    "the nginx Deployment: create, scale to 3, replace a deleted pod, delete it all (needs nginx)",
  ignore: !hasNginx,
  async fn() {
    const cloud = await LocalCloud.start();
    const file = `${FIXTURES}nginx-deploy.yml`;
    try {
      assert.equal(
        (await cloud.ok("create", "-f", file)).trim(),
        "deployment/nginx-deployment created",
      );
      const running = (n: number) =>
        cloud.eventually(
          async () => {
            const live = (await pods(cloud)).filter(isActivePod);
            return live.length === n && live.every((p) => readySince(p) !== undefined)
              ? live
              : undefined;
          },
          `${n} ready nginx pods`,
          60_000,
        );
      const [first] = await running(1);
      const rs =
        (await cloud.api<List<ReplicaSet>>("/api/v1/namespaces/default/replicasets")).items;
      assert.equal(rs.length, 1);
      assert.match(rs[0].metadata.name, /^nginx-deployment-[bcdfghjklmnpqrstvwxz2456789]{10}$/);
      assert.match(
        first.metadata.name,
        new RegExp(`^${rs[0].metadata.name}-[bcdfghjklmnpqrstvwxz2456789]{5}$`),
      );
      assert.match(
        await cloud.ok("get", "deployments"),
        /^NAME\s+DESIRED\s+CURRENT\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nnginx-deployment\s+1\s+1\s+1\s+1\s/,
      );
      assert.match(
        await cloud.ok("get", "rs"),
        /^NAME\s+DESIRED\s+CURRENT\s+AGE\nnginx-deployment-\S+\s+1\s+1\s/,
      );

      await cloud.ok("scale", "--replicas=3", "-f", file);
      const three = await running(3);
      const victim = three[0].metadata.name;
      await cloud.ok("delete", "po", victim);
      await cloud.eventually(
        async () => /\sTerminated\s/.test(await cloud.ok("get", "po", victim)),
        "Terminated",
      );
      const after = await running(3);
      assert.ok(!after.some((p) => p.metadata.name === victim), "a replacement took its place");

      await cloud.ok("delete", "-f", file);
      await cloud.eventually(
        async () => (await pods(cloud)).filter(isActivePod).length === 0,
        "no pods",
      );
      await cloud.eventually(
        async () => (await cloud.api<List<Node>>("/api/v1/nodes")).items.length === 0,
        "no nodes",
      );
      assert.equal(
        (await cloud.api<List<ReplicaSet>>("/api/v1/namespaces/default/replicasets")).items.length,
        0,
      );
      assert.equal(
        (await cloud.api<List<Deployment>>("/api/v1/namespaces/default/deployments")).items.length,
        0,
      );
    } finally {
      await cloud.close();
    }
  },
});

Deno.test("delete --cascade=false keeps the ReplicaSet and its pods", async () => {
  const cloud = await LocalCloud.start();
  try {
    await cloud.ok("create", "-f", `${FIXTURES}backend-deploy.yml`);
    await cloud.eventually(
      async () => (await pods(cloud)).filter((p) => readySince(p)).length === 2,
      "2 ready",
    );
    await cloud.ok("delete", "deploy", "backend-deployment", "--cascade=false");
    // Give the garbage collector its chance to (wrongly) act.
    await new Promise((r) => setTimeout(r, 1500));
    const sets =
      (await cloud.api<List<ReplicaSet>>("/api/v1/namespaces/default/replicasets")).items;
    assert.equal(sets.length, 1);
    assert.equal(sets[0].metadata.ownerReferences?.length ?? 0, 0, "orphaned");
    assert.equal((await pods(cloud)).filter(isActivePod).length, 2);
  } finally {
    await cloud.close();
  }
});

/** Rolls backend-deployment to MY_MILPA_VAR=`value`, polling every 200 ms for the bounds. */
async function rollTo(
  cloud: LocalCloud,
  change: () => Promise<unknown>,
  value: string,
  onPoll?: (elapsedMs: number) => Promise<void>,
): Promise<{ ms: number; minAvailable: number; maxPods: number }> {
  let minAvailable = Infinity;
  let maxPods = 0;
  const t0 = Date.now();
  await change();
  for (;;) {
    const all = (await pods(cloud)).filter(isActivePod);
    const available = all.filter((p) => readySince(p) !== undefined);
    minAvailable = Math.min(minAvailable, available.length);
    maxPods = Math.max(maxPods, all.length);
    const done = all.length === 2 && available.length === 2 &&
      all.every((p) =>
        p.spec.units[0].env?.find((e) => e.name === "MY_MILPA_VAR")?.value === value
      );
    if (done) break;
    if (Date.now() - t0 > 90_000) throw new Error(`rollout to ${value} did not finish`);
    await onPoll?.(Date.now() - t0);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { ms: Date.now() - t0, minAvailable, maxPods };
}

/** What each backend pod answers on port 8080, through a node's namespace (VPC-only Service). */
async function served(cloud: LocalCloud): Promise<string[]> {
  const out: string[] = [];
  for (const p of (await pods(cloud)).filter(isActivePod)) {
    const ip = p.status?.addresses?.[0]?.address;
    const r = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(2000) }).catch(() =>
      undefined
    );
    out.push(r ? (await r.text()).match(/MY_MILPA_VAR=(\S+)/)?.[1] ?? "?" : "unreachable");
  }
  return out.sort();
}

async function withValue(cloud: LocalCloud, value: string): Promise<string> {
  const text = (await Deno.readTextFile(`${FIXTURES}backend-deploy.yml`)).replace(
    "variable_value_1",
    value,
  )
    // Open the hello port to the test (the host) too, to read what the pods serve.
    .replace(/sourceRanges:\n\s+- VPC/, "sourceRanges:\n    - 0.0.0.0/0");
  const file = `${cloud.home}/backend-${value}.yml`;
  await Deno.writeTextFile(file, text);
  return file;
}

Deno.test("backend-deploy rolls out and back with never fewer than 2 available and never more than 3 pods", async () => {
  const cloud = await LocalCloud.start();
  try {
    await cloud.ok("create", "-f", await withValue(cloud, "variable_value_1"));
    await rollTo(cloud, () => Promise.resolve(), "variable_value_1");
    const up = await rollTo(
      cloud,
      async () => cloud.ok("update", "-f", await withValue(cloud, "variable_value_2")),
      "variable_value_2",
    );
    console.log(
      `rollout took ${
        (up.ms / 1000).toFixed(1)
      } s (min available ${up.minAvailable}, max pods ${up.maxPods})`,
    );
    assert.ok(up.minAvailable >= 2, `never fewer than 2 available (saw ${up.minAvailable})`);
    assert.ok(up.maxPods <= 3, `never more than 3 pods (saw ${up.maxPods})`);
    assert.deepEqual(
      await cloud.eventually(async () => {
        const s = await served(cloud);
        return s.every((v) => v === "variable_value_2") ? s : undefined;
      }, "both serve the new value"),
      ["variable_value_2", "variable_value_2"],
    );
    const sets =
      (await cloud.api<List<ReplicaSet>>("/api/v1/namespaces/default/replicasets")).items;
    assert.deepEqual(sets.map((s) => s.spec.replicas).sort(), [0, 2], "the old ReplicaSet is at 0");
    assert.match(
      await cloud.ok("rollout", "status", "deploy/backend-deployment"),
      /successfully rolled out/,
    );

    const back = await rollTo(
      cloud,
      () => cloud.ok("rollout", "undo", "deploy/backend-deployment"),
      "variable_value_1",
    );
    console.log(
      `rollback took ${
        (back.ms / 1000).toFixed(1)
      } s (min available ${back.minAvailable}, max pods ${back.maxPods})`,
    );
    assert.ok(back.minAvailable >= 2 && back.maxPods <= 3);
    assert.deepEqual(
      await cloud.eventually(async () => {
        const s = await served(cloud);
        return s.every((v) => v === "variable_value_1") ? s : undefined;
      }, "both serve the old value"),
      ["variable_value_1", "variable_value_1"],
    );
  } finally {
    await cloud.close();
  }
});

Deno.test("kill -9 of the controller mid-rollout: the rollout finishes within bounds, nothing lost or doubled", async () => {
  const cloud = await LocalCloud.start();
  try {
    await cloud.ok("create", "-f", await withValue(cloud, "variable_value_1"));
    await rollTo(cloud, () => Promise.resolve(), "variable_value_1");
    let killed = false;
    const r = await rollTo(
      cloud,
      async () => cloud.ok("update", "-f", await withValue(cloud, "variable_value_2")),
      "variable_value_2",
      async () => {
        if (killed) return;
        const all = (await pods(cloud)).filter(isActivePod);
        if (all.length === 3) {
          // A new pod exists next to the two old ones: the rollout is under way.
          killed = true;
          await cloud.killController();
          await cloud.startController();
        }
      },
    );
    assert.ok(killed, "the controller was killed during the rollout");
    assert.ok(r.minAvailable >= 2 && r.maxPods <= 3, `bounds held: ${JSON.stringify(r)}`);
    const nodes = await cloud.eventually(async () => {
      const n = (await cloud.api<List<Node>>("/api/v1/nodes")).items;
      return n.length === 2 ? n : undefined;
    }, "2 nodes");
    const live = (await pods(cloud)).filter(isActivePod);
    assert.deepEqual(
      live.map((p) => p.status?.boundNodeName).sort(),
      nodes.map((n) => n.metadata.name).sort(),
    );
    await cloud.eventually(
      async () => (await cloud.agentPids()).length === 2,
      "2 agents, no orphan",
    );
  } finally {
    await cloud.close();
  }
});

Deno.test("scaling a Deployment 0 → 20 → 0 leaves no node or process behind", async () => {
  const cloud = await LocalCloud.start();
  try {
    const file = `${cloud.home}/sleepers.json`;
    const write = (replicas: number) =>
      Deno.writeTextFile(
        file,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Deployment",
          metadata: { name: "sleepers" },
          spec: {
            replicas,
            template: {
              metadata: { labels: { app: "sleepers" } },
              spec: { units: [{ name: "sleep", command: ["sleep", "3600"] }] },
            },
          },
        }),
      );
    await write(0);
    await cloud.ok("apply", "-f", file);
    await cloud.ok("scale", "deploy", "sleepers", "--replicas=20");
    await cloud.eventually(
      async () => {
        const live = (await pods(cloud)).filter(isActivePod);
        return live.length === 20 && live.every((p) => p.status?.phase === "Running");
      },
      "20 running",
      120_000,
    );
    assert.equal((await cloud.agentPids()).length, 20);
    await cloud.ok("scale", "deploy", "sleepers", "--replicas=0");
    await cloud.eventually(
      async () => (await cloud.api<List<Node>>("/api/v1/nodes")).items.length === 0,
      "no nodes",
      60_000,
    );
    await cloud.eventually(async () => (await cloud.nodeProcesses()).length === 0, "no processes");
    assert.equal((await pods(cloud)).filter(isActivePod).length, 0);
  } finally {
    await cloud.close();
  }
});
