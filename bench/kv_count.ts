/**
 * KV commits and mutations per pod lifecycle, for `deno task bench --scale` (run as a process
 * of its own by bench/scale.ts; `deno run -A bench/kv_count.ts [N]` alone prints the JSON).
 *
 * N pods go through create (POST /api/v1/batch) → Running → DELETE → pod Terminated and its
 * node gone from the store, on the in-process simulated cluster (tests/support/sim_cluster.ts:
 * `:memory:` KV, default timings) whose Deno.Kv is wrapped in a counter. Counted from the first
 * create until the store has been quiet for a while after the last node went: every
 * `atomic().commit()` and the set/delete/sum/min/max mutations it carried (check-only commits
 * count as commits with no mutation), plus direct `kv.set`/`kv.delete` (a commit of one
 * mutation each), and the reads (`get`, `getMany`, `list` entries) besides.
 */
import { podManifest, startSimCluster } from "../tests/support/sim_cluster.ts";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import { chunks } from "./scale_lib.ts";

/** What the counter saw. */
export interface KvCounts {
  commits: number;
  /** Commits whose checks failed (a lost race; the caller usually tries again). */
  failedCommits: number;
  mutations: number;
  /** Direct kv.set / kv.delete calls (also counted in commits and mutations). */
  direct: number;
  gets: number;
  getManyKeys: number;
  listCalls: number;
  listEntries: number;
}

/** A Deno.Kv whose writes and reads are counted while `counting` is true. */
export function countingKv(kv: Deno.Kv): { kv: Deno.Kv; counts: KvCounts; counting: boolean } {
  const state = {
    counting: false,
    counts: {
      commits: 0,
      failedCommits: 0,
      mutations: 0,
      direct: 0,
      gets: 0,
      getManyKeys: 0,
      listCalls: 0,
      listEntries: 0,
    } as KvCounts,
    kv: undefined as unknown as Deno.Kv,
  };
  const c = state.counts;
  const wrapAtomic = (op: Deno.AtomicOperation): Deno.AtomicOperation => {
    let mutations = 0;
    const proxy: Deno.AtomicOperation = new Proxy(op, {
      get(target, prop) {
        const v = Reflect.get(target, prop, target);
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          if (prop === "commit") {
            return (v as () => Promise<Deno.KvCommitResult | Deno.KvCommitError>).apply(target)
              .then((res) => {
                if (state.counting) {
                  c.commits++;
                  c.mutations += mutations;
                  if (!res.ok) c.failedCommits++;
                }
                return res;
              });
          }
          if (prop === "mutate") mutations += args.length;
          else if (["set", "delete", "sum", "min", "max"].includes(prop as string)) mutations++;
          const r = (v as (...a: unknown[]) => unknown).apply(target, args);
          return r === target ? proxy : r;
        };
      },
    });
    return proxy;
  };
  state.kv = new Proxy(kv, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      const f = v as (...a: unknown[]) => unknown;
      switch (prop) {
        case "atomic":
          return () => wrapAtomic(f.apply(target, []) as Deno.AtomicOperation);
        case "set":
        case "delete":
          return (...args: unknown[]) => {
            if (state.counting) {
              c.commits++;
              c.mutations++;
              c.direct++;
            }
            return f.apply(target, args);
          };
        case "get":
          return (...args: unknown[]) => {
            if (state.counting) c.gets++;
            return f.apply(target, args);
          };
        case "getMany":
          return (...args: unknown[]) => {
            if (state.counting) c.getManyKeys += (args[0] as unknown[]).length;
            return f.apply(target, args);
          };
        case "list":
          return (...args: unknown[]) => {
            if (state.counting) c.listCalls++;
            const iter = f.apply(target, args) as Deno.KvListIterator<unknown>;
            return {
              get cursor() {
                return iter.cursor;
              },
              next: async () => {
                const r = await iter.next();
                if (!r.done && state.counting) c.listEntries++;
                return r;
              },
              [Symbol.asyncIterator]() {
                return this;
              },
              get [Symbol.toStringTag]() {
                return "KvListIterator";
              },
            };
          };
        default:
          return f.bind(target);
      }
    },
  });
  return state;
}

/** The per-pod figures of one run. */
export interface KvLifecycleResult {
  pods: number;
  seconds: number;
  counts: KvCounts;
  commitsPerPod: number;
  mutationsPerPod: number;
  readsPerPod: number;
}

/** Runs `n` pods through their lifecycle on a counted in-process cluster. */
export async function measureKvLifecycle(
  n: number,
  log: (m: string) => void = () => {},
  timeoutMs = 120_000,
): Promise<KvLifecycleResult> {
  const counted = countingKv(await Deno.openKv(":memory:"));
  const cluster = await startSimCluster({
    kv: counted.kv,
    config: { nodes: { maxNodes: Math.max(1000, n) } },
  });
  try {
    const names = Array.from({ length: n }, (_, i) => `kv-${i}`);
    const phase = new Map<string, string | undefined>();
    let lastChange = performance.now();
    const unwatch = cluster.controller.store.watch((e) => {
      lastChange = performance.now();
      if (e.object.kind === "Pod") {
        const p = e.object as Pod;
        phase.set(p.metadata.name, e.type === "DELETED" ? "Gone" : p.status?.phase);
      }
    });
    const waitFor = async (what: string, done: () => boolean | Promise<boolean>) => {
      const deadline = performance.now() + timeoutMs;
      while (!(await done())) {
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const start = performance.now();
    counted.counting = true;
    let next = 0;
    const batches = chunks(names, 25);
    const createWorker = async () => {
      while (next < batches.length) {
        const items = batches[next++].map((name) => podManifest(name));
        const r = await cluster.api("POST", "/api/v1/batch", { operation: "create", items });
        if (r.status !== 200) throw new Error(`batch create: ${r.status} ${await r.text()}`);
        await r.body?.cancel();
      }
    };
    await Promise.all(Array.from({ length: 8 }, createWorker));
    log(`kv: ${n} pods created`);
    await waitFor(`${n} pods Running`, () => names.every((p) => phase.get(p) === "Running"));
    log(`kv: ${n} pods Running`);
    let nextDelete = 0;
    const deleteWorker = async () => {
      while (nextDelete < names.length) {
        const name = names[nextDelete++];
        const r = await cluster.api("DELETE", `/api/v1/namespaces/default/pods/${name}`);
        if (r.status !== 200) throw new Error(`delete ${name}: ${r.status} ${await r.text()}`);
        await r.body?.cancel();
      }
    };
    await Promise.all(Array.from({ length: 16 }, deleteWorker));
    log(`kv: ${n} pods deleted`);
    await waitFor(
      `${n} pods Terminated and their nodes gone`,
      async () =>
        names.every((p) => phase.get(p) === "Terminated" || phase.get(p) === "Gone") &&
        (await cluster.controller.store.list<Node>("nodes")).length === 0,
    );
    // Snapshots and events still on their way: wait until the store is quiet for 1 s.
    await waitFor("a quiet store", () => performance.now() - lastChange > 1000);
    counted.counting = false;
    unwatch();
    const seconds = (performance.now() - start) / 1000;
    const c = counted.counts;
    return {
      pods: n,
      seconds,
      counts: { ...c },
      commitsPerPod: c.commits / n,
      mutationsPerPod: c.mutations / n,
      readsPerPod: (c.gets + c.getManyKeys + c.listEntries) / n,
    };
  } finally {
    counted.counting = false;
    await cluster.close();
  }
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 1000);
  const result = await measureKvLifecycle(n, (m) => console.error(m));
  console.log(JSON.stringify(result));
}
