/**
 * `deno task bench [N]`: N pods (default 1000) through create → Running on the simulated
 * cloud, with the real API (over HTTP), actors, KV persistence and node agents on a fake
 * unit runtime. Prints pods/s, p50/p99 create→Running latency and peak RSS.
 */
import { podManifest, startSimCluster } from "../tests/support/sim_cluster.ts";
import type { Pod } from "../model/pod.ts";

const N = Number(Deno.args[0] ?? 1000);
const CONCURRENCY = 32;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

let peakRss = Deno.memoryUsage().rss;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
}, 20);

// Room for every pod (the default nodes.maxNodes, 1,000, would keep the rest waiting).
const cluster = await startSimCluster({
  config: { nodes: { maxNodes: Math.max(1000, Math.ceil(N * 1.2)) } },
});
const created = new Map<string, number>();
const running = new Map<string, number>();
let allRunning!: () => void;
const done = new Promise<void>((r) => allRunning = r);
const unwatch = cluster.controller.store.watch((e) => {
  const pod = e.object as Pod;
  if (pod.kind !== "Pod" || pod.status?.phase !== "Running" || running.has(pod.metadata.name)) {
    return;
  }
  running.set(pod.metadata.name, performance.now());
  if (running.size === N) allRunning();
});

const start = performance.now();
let next = 0;
async function worker(): Promise<void> {
  while (next < N) {
    const name = `bench-${next++}`;
    created.set(name, performance.now());
    const r = await cluster.api("POST", "/api/v1/namespaces/default/pods", podManifest(name));
    if (r.status !== 201) throw new Error(`create ${name}: ${r.status} ${await r.text()}`);
    await r.body?.cancel();
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
const timeout = setTimeout(() => {
  console.error(`only ${running.size} of ${N} pods reached Running within 120 s`);
  Deno.exit(1);
}, 120_000);
await done;
clearTimeout(timeout);
const elapsed = (performance.now() - start) / 1000;
unwatch();
clearInterval(sampler);
peakRss = Math.max(peakRss, Deno.memoryUsage().rss);

const latencies = [...running.entries()].map(([name, t]) => t - created.get(name)!).sort((a, b) =>
  a - b
);
console.log(`pods:                 ${N} (concurrency ${CONCURRENCY}, sim cloud, in-memory KV)`);
console.log(
  `throughput:           ${(N / elapsed).toFixed(0)} pods/s (${elapsed.toFixed(2)} s in all)`,
);
console.log(`create→Running p50:   ${percentile(latencies, 50).toFixed(1)} ms`);
console.log(`create→Running p99:   ${percentile(latencies, 99).toFixed(1)} ms`);
console.log(`peak RSS:             ${(peakRss / 2 ** 20).toFixed(0)} MiB`);
await cluster.close();
