import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { CapacityError } from "../model/errors.ts";
import { memoryReducerTotals } from "../model/memory_reducer.ts";
import { podManifest, type SimCluster, startSimCluster } from "../tests/support/sim_cluster.ts";

/** One metric family as parse-prometheus-text-format gives it. */
interface Family {
  name: string;
  type: string;
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}

/** The families of a scrape; `text` is what was served. */
type Scrape = Map<string, Family> & { text?: string };

async function scrape(cluster: SimCluster): Promise<Scrape> {
  const res = await cluster.api("GET", "/metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const families = parsePrometheus(text) as Family[];
  return Object.assign(new Map(families.map((f) => [f.name, f])), { text });
}

/**
 * The samples named `name` (a histogram's `_count` series), each with its labels. The parser
 * folds every series of a labelled histogram into one, so they are parsed as untyped samples.
 */
function samples(m: Scrape, name: string): Family["metrics"] {
  const lines = m.text!.split("\n").filter((l) =>
    l.startsWith(`${name}{`) || l.startsWith(`${name} `)
  );
  const [family] = parsePrometheus(lines.join("\n") + "\n") as Family[];
  assert.equal(family?.name, name);
  return family.metrics;
}

/** The value of the sample of `family` whose labels include `labels`. */
function value(families: Map<string, Family>, family: string, labels = {}): number {
  const f = families.get(family);
  assert.ok(f, `no family ${family}`);
  const m = f.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  assert.ok(m, `no ${family} sample with ${JSON.stringify(labels)}`);
  return Number(m.value ?? m.count);
}

async function createPod(cluster: SimCluster, name: string): Promise<void> {
  const res = await cluster.api("POST", "/api/v1/namespaces/default/pods", podManifest(name));
  assert.equal(res.status, 201);
  await res.body?.cancel();
}

Deno.test("GET /metrics gives pods and nodes by phase, launches, start latency, API and KV timings in the Prometheus text format", async () => {
  const cluster = await startSimCluster();
  try {
    for (const name of ["web-1", "web-2", "web-3"]) await createPod(cluster, name);
    await Promise.all(["web-1", "web-2", "web-3"].map((n) => cluster.waitForPod(n, "Running")));
    const missing = await cluster.api("GET", "/api/v1/namespaces/default/pods/nothing-here");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();

    const m = await scrape(cluster);
    assert.equal(m.get("milpa_pods")?.type, "GAUGE");
    assert.equal(value(m, "milpa_pods", { phase: "Running" }), 3);
    assert.equal(value(m, "milpa_pods", { phase: "Waiting" }), 0);
    assert.equal(value(m, "milpa_nodes", { phase: "Claimed" }), 3);
    assert.equal(value(m, "milpa_nodes", { phase: "Creating" }), 0);
    assert.equal(m.get("milpa_node_launches_total")?.type, "COUNTER");
    assert.equal(value(m, "milpa_node_launches_total"), 3);
    // The process's memory reducer (model/memory_reducer.ts), as it counted.
    const reduced = memoryReducerTotals();
    assert.equal(m.get("milpa_heap_compactions_total")?.type, "COUNTER");
    assert.equal(value(m, "milpa_heap_compactions_total"), reduced.count);
    assert.equal(m.get("milpa_heap_compaction_seconds_total")?.type, "COUNTER");
    assert.ok(Math.abs(value(m, "milpa_heap_compaction_seconds_total") - reduced.seconds) < 1e-6);
    for (const reason of ["capacity", "cloud_error", "instance_gone", "boot_timeout"]) {
      assert.equal(value(m, "milpa_node_launch_failures_total", { reason }), 0, reason);
    }

    const start = m.get("milpa_pod_start_duration_seconds")!;
    assert.equal(start.type, "HISTOGRAM");
    assert.equal(Number(start.metrics[0].count), 3, "one per pod that ran");
    assert.ok(Number(start.metrics[0].sum) > 0);
    assert.equal(Number(start.metrics[0].buckets!["+Inf"]), 3);

    const requests = m.get("milpa_http_request_duration_seconds")!;
    assert.equal(requests.type, "HISTOGRAM");
    const counts = samples(m, "milpa_http_request_duration_seconds_count");
    const count = (labels: Record<string, string>) =>
      counts.filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))
        .reduce((sum, s) => sum + Number(s.value), 0);
    // By route pattern: three pods, one series; a raw path never becomes a label.
    assert.equal(
      count({ method: "POST", route: "/api/v1/namespaces/:ns/:plural", code: "201" }),
      3,
    );
    assert.equal(
      count({ method: "GET", route: "/api/v1/namespaces/:ns/:plural/:name", code: "404" }),
      1,
    );
    const routes = counts.map((s) => s.labels!.route);
    assert.ok(!routes.some((r) => /web-|nothing-here/.test(r)), routes.join(", "));

    const commits = m.get("milpa_kv_commit_duration_seconds")!;
    assert.equal(commits.type, "HISTOGRAM");
    assert.ok(Number(commits.metrics[0].count) > 0, "KV commits timed");
    // How far KV's writer is behind: nothing waits once the pods are running and written.
    await cluster.controller.supervisor.flush();
    const quiet = await scrape(cluster);
    assert.equal(quiet.get("milpa_kv_queued_writes")?.type, "GAUGE");
    assert.ok(value(quiet, "milpa_kv_queued_writes") >= 0);
    assert.equal(quiet.get("milpa_kv_oldest_queued_write_seconds")?.type, "GAUGE");
    assert.ok(value(quiet, "milpa_kv_oldest_queued_write_seconds") < 5);

    // Gauges follow the objects: a deleted pod leaves Running.
    const gone = await cluster.api("DELETE", "/api/v1/namespaces/default/pods/web-3");
    await gone.body?.cancel();
    await cluster.waitForPod("web-3", "Terminated", 60_000);
    const after = await scrape(cluster);
    assert.equal(value(after, "milpa_pods", { phase: "Running" }), 2);
    assert.equal(value(after, "milpa_pods", { phase: "Terminated" }), 1);
    assert.equal(value(after, "milpa_pod_start_duration_seconds"), 3);
  } finally {
    await cluster.close();
  }
});

Deno.test("GET /metrics counts launch failures by reason: the cloud refusing, no capacity", async () => {
  const cluster = await startSimCluster({ timings: { launchRetryBaseMs: 20 } });
  try {
    // Refused once: the pod backs off, asks again and runs.
    const failures: Error[] = [new Error("the simulated cloud refused")];
    cluster.sim.configure({ failLaunch: () => failures.shift() });
    await createPod(cluster, "web");
    await cluster.waitForPod("web", "Running", 20_000);
    const m = await scrape(cluster);
    assert.equal(value(m, "milpa_node_launch_failures_total", { reason: "cloud_error" }), 1);
    assert.equal(value(m, "milpa_node_launch_failures_total", { reason: "capacity" }), 0);
    assert.equal(value(m, "milpa_node_launches_total"), 1);
    // No capacity at all: the pod waits, and each refusal is counted as such.
    cluster.sim.configure({ failLaunch: () => new CapacityError("no capacity left in the zone") });
    await createPod(cluster, "big");
    const capacity = await cluster.waitUntil(async () => {
      const n = value(await scrape(cluster), "milpa_node_launch_failures_total", {
        reason: "capacity",
      });
      return n > 0 ? n : undefined;
    }, "a capacity failure counted");
    assert.ok(capacity >= 1);
    assert.equal(value(await scrape(cluster), "milpa_node_launches_total"), 1);
  } finally {
    await cluster.close();
  }
});

Deno.test("GET /metrics needs a token that reads the whole cluster, as /api/v1/nodes does", async () => {
  const cluster = await startSimCluster();
  try {
    const token = async (body: unknown) => {
      const res = await cluster.api("POST", "/api/v1/tokens", body);
      assert.equal(res.status, 201);
      return (await res.json()).token as string;
    };
    const as = async (bearer?: string) => {
      const res = await fetch(`${cluster.controller.url}/metrics`, {
        headers: bearer ? { Authorization: `Bearer ${bearer}` } : {},
      });
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await as(), 401);
    assert.equal(await as(await token({ role: "view", namespace: "team" })), 403);
    assert.equal(await as(await token({ role: "view" })), 200);
  } finally {
    await cluster.close();
  }
});
