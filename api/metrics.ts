/**
 * The controller's Prometheus metrics, served at `GET /metrics` in the text format
 * (`api/prometheus.ts`), from a Registry of their own:
 *
 * - `milpa_pods{phase}`, `milpa_nodes{phase}`: objects by published phase. Counted from the
 *   store's watch, one map entry per object, so an event costs O(1) and a scrape O(phases).
 * - `milpa_node_launches_total`, `milpa_node_launch_failures_total{reason}`: from the node
 *   actors (`onLaunch`); reasons `capacity`, `cloud_error`, `instance_gone`, `boot_timeout`.
 * - `milpa_pod_start_duration_seconds`: creation → first Running of each pod, by the pod's
 *   own `lastPhaseChange`.
 * - `milpa_http_request_duration_seconds{method,route,code}`: until the response headers (a
 *   watch or log stream counts until it starts); `route` is the matched route pattern
 *   (`/api/v1/namespaces/:ns/:plural/:name`; `/*` when a middleware answered or nothing
 *   matched), never the raw path, so series stay bounded.
 * - `milpa_kv_commit_duration_seconds`: each KV transaction of the group committer.
 * - `milpa_kv_queued_writes`, `milpa_kv_oldest_queued_write_seconds`: its backlog, at the scrape.
 */
import { Hono, type MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { Counter, Gauge, Histogram, Registry } from "./prometheus.ts";
import type { LaunchOutcome } from "../actors/node_machine.ts";
import type { PodsAndNodes } from "../actors/node_pool.ts";
import type { Clock } from "../model/clock.ts";
import { systemClock } from "../model/clock.ts";
import { memoryReducerTotals } from "../model/memory_reducer.ts";
import type { MilpaObject } from "../model/meta.ts";
import type { Node, NodePhase } from "../model/node.ts";
import type { Pod, PodPhase } from "../model/pod.ts";
import type { ObjectStore, WatchEvent } from "../store/object_store.ts";

const POD_PHASES: PodPhase[] = [
  "Waiting",
  "Dispatching",
  "Running",
  "Succeeded",
  "Failed",
  "Terminated",
];
const NODE_PHASES: NodePhase[] = [
  "Creating",
  "Created",
  "Available",
  "Claimed",
  "Cleaning",
  "Terminating",
  "Terminated",
];
const FAILURE_REASONS: Exclude<LaunchOutcome, "launched">[] = [
  "capacity",
  "cloud_error",
  "instance_gone",
  "boot_timeout",
];

/** What one object counts as. */
interface Tracked {
  phase: string;
  uid?: string;
  /** Whether the pod was seen Running (its start was measured, or it ran before we looked). */
  ran: boolean;
}

/** Objects of one kind by phase, kept up to date one change at a time. */
class PhaseCounts {
  readonly #objects = new Map<string, Tracked>();
  readonly counts = new Map<string, number>();

  constructor(phases: string[]) {
    for (const p of phases) this.counts.set(p, 0);
  }

  get(key: string): Tracked | undefined {
    return this.#objects.get(key);
  }

  has(key: string): boolean {
    return this.#objects.has(key);
  }

  set(key: string, t: Tracked): void {
    this.delete(key);
    this.#objects.set(key, t);
    this.counts.set(t.phase, (this.counts.get(t.phase) ?? 0) + 1);
  }

  delete(key: string): void {
    const old = this.#objects.get(key);
    if (!old) return;
    this.#objects.delete(key);
    this.counts.set(old.phase, this.counts.get(old.phase)! - 1);
  }
}

/** Where the pods' and nodes' phases come from. */
export interface MetricsDeps {
  store: ObjectStore;
  /** @default systemClock */
  clock?: Clock;
  /** The KV group committer's backlog (`GroupCommitter.backlog`). */
  kvBacklog?: () => { writes: number; oldestMs: number };
}

const keyOf = (o: MilpaObject) => `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** The controller's metrics; `text()` is what `GET /metrics` serves. */
export class ControllerMetrics {
  /** Only these metrics: nothing registered elsewhere in the process is served. */
  readonly registry = new Registry();
  readonly #pods = new PhaseCounts(POD_PHASES);
  readonly #nodes = new PhaseCounts(NODE_PHASES);
  readonly #launches: Counter;
  readonly #launchFailures: Counter<"reason">;
  readonly #podStart: Histogram;
  readonly #requests: Histogram<"method" | "route" | "code">;
  readonly #kvCommits: Histogram;
  readonly #clock: Clock;
  readonly #unwatch: () => void;
  /** Objects deleted while the first list was read (it may still return them). */
  #deletedWhileSeeding: Set<string> | undefined = new Set();
  #seeded: Promise<void> | undefined;
  readonly #store: ObjectStore;

  /** Starts following the store now; the objects already there are read once, in the background. */
  constructor(deps: MetricsDeps) {
    this.#clock = deps.clock ?? systemClock;
    const registry = this.registry;
    const pods = this.#pods;
    const nodes = this.#nodes;
    new Gauge({
      name: "milpa_pods",
      help: "Pods by phase (status.phase, as `milpactl get pods` shows it).",
      labelNames: ["phase"],
      registry,
      collect() {
        for (const [phase, n] of pods.counts) this.set({ phase }, n);
      },
    });
    new Gauge({
      name: "milpa_nodes",
      help: "Nodes by phase (status.phase).",
      labelNames: ["phase"],
      registry,
      collect() {
        for (const [phase, n] of nodes.counts) this.set({ phase }, n);
      },
    });
    new Counter({
      name: "milpa_heap_compactions_total",
      help:
        "Compacting collections the controller ran once quiet after a burst or a purge, to give " +
        "the heap's empty pages back (model/memory_reducer.ts); each pauses it.",
      registry,
      collect() {
        this.reset();
        this.inc(memoryReducerTotals().count);
      },
    });
    new Counter({
      name: "milpa_heap_compaction_seconds_total",
      help: "Seconds the controller spent paused in those compactions.",
      registry,
      collect() {
        this.reset();
        this.inc(memoryReducerTotals().seconds);
      },
    });
    this.#launches = new Counter({
      name: "milpa_node_launches_total",
      help: "Node launches the cloud answered with an instance.",
      registry,
    });
    this.#launchFailures = new Counter({
      name: "milpa_node_launch_failures_total",
      help: "Node launches that gave no working node, by reason: capacity, cloud_error " +
        "(the cloud refused), instance_gone (stopped before its agent connected), boot_timeout " +
        "(its agent never connected).",
      labelNames: ["reason"],
      registry,
    });
    for (const reason of FAILURE_REASONS) this.#launchFailures.inc({ reason }, 0);
    this.#podStart = new Histogram({
      name: "milpa_pod_start_duration_seconds",
      help: "Seconds from a pod's creation until it was first Running.",
      buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
      registry,
    });
    this.#requests = new Histogram({
      name: "milpa_http_request_duration_seconds",
      help: "Seconds until the API sent the response headers, by method, matched route " +
        "pattern and status code.",
      labelNames: ["method", "route", "code"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registry,
    });
    const backlog = deps.kvBacklog;
    if (backlog) {
      new Gauge({
        name: "milpa_kv_queued_writes",
        help: "Writes waiting for a KV transaction (actors' snapshots and statuses, events, " +
          "clients' writes): how far KV's writer is behind.",
        registry,
        collect() {
          this.set(backlog().writes);
        },
      });
      new Gauge({
        name: "milpa_kv_oldest_queued_write_seconds",
        help: "Seconds the oldest write waiting for a KV transaction has waited (0: none waits). " +
          "Statuses reach the API only once written: objects' statuses lag by about this much.",
        registry,
        collect() {
          this.set(backlog().oldestMs / 1000);
        },
      });
    }
    this.#kvCommits = new Histogram({
      name: "milpa_kv_commit_duration_seconds",
      help: "Seconds each Deno KV transaction took to commit (group commit: one transaction " +
        "carries the writes queued meanwhile).",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registry,
    });
    this.#unwatch = deps.store.watch((e) => this.#changed(e));
    this.#store = deps.store;
  }

  /**
   * Counts the pods and nodes there are (once; text() does it if nobody did), from `objects`
   * when given: what the store held at some moment since this was made (the supervisor gives
   * those it restored its actors from, so they are not read again); else it lists them.
   */
  seed(objects?: PodsAndNodes): Promise<void> {
    if (!this.#seeded) {
      this.#seeded = this.#seed(this.#store, objects);
      // A failed first read fails each scrape (text()), not the process.
      this.#seeded.catch(() => {});
    }
    return this.#seeded;
  }

  /** Counts how a node launch went (for `onLaunch` of the node actors). */
  nodeLaunch(outcome: LaunchOutcome): void {
    if (outcome === "launched") this.#launches.inc();
    else this.#launchFailures.inc({ reason: outcome });
  }

  /** Records one KV commit's duration (for `GroupCommitter.onCommit`). */
  kvCommit(seconds: number): void {
    this.#kvCommits.observe(seconds);
  }

  /** Middleware timing every request until its response headers, by its matched route. */
  requests(): MiddlewareHandler {
    return async (c, next) => {
      const started = performance.now();
      try {
        await next();
      } finally {
        // The handler that answered (or threw: the auth check's `*` for a 401).
        const route = c.req.routeIndex === undefined ? "" : routePath(c);
        this.#requests.observe(
          { method: c.req.method, route: route || "(none)", code: String(c.res.status) },
          (performance.now() - started) / 1000,
        );
      }
    };
  }

  /** The text `GET /metrics` serves; resolves once the objects there at start were counted. */
  async text(): Promise<string> {
    await this.seed();
    return await this.registry.metrics();
  }

  /** The content type of `text()`. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops following the store. */
  close(): void {
    this.#unwatch();
  }

  async #seed(store: ObjectStore, objects?: PodsAndNodes): Promise<void> {
    const [pods, nodes] = objects
      ? [objects.pods, objects.nodes]
      : await Promise.all([store.list<Pod>("pods"), store.list<Node>("nodes")]);
    const deleted = this.#deletedWhileSeeding!;
    this.#deletedWhileSeeding = undefined;
    // What a watch event said already is newer than the list.
    for (const p of pods) {
      const key = keyOf(p);
      if (this.#pods.has(key) || deleted.has(key)) continue;
      const phase = p.status?.phase ?? "Waiting";
      this.#pods.set(key, {
        phase,
        uid: p.metadata.uid,
        ran: phase !== "Waiting" && phase !== "Dispatching",
      });
    }
    for (const n of nodes) {
      const key = keyOf(n);
      if (this.#nodes.has(key) || deleted.has(key)) continue;
      this.#nodes.set(key, { phase: n.status?.phase ?? "Creating", ran: false });
    }
  }

  #changed(e: WatchEvent): void {
    const o = e.object;
    if (o.kind !== "Pod" && o.kind !== "Node") return;
    const key = keyOf(o);
    const counts = o.kind === "Pod" ? this.#pods : this.#nodes;
    if (e.type === "DELETED") {
      counts.delete(key);
      this.#deletedWhileSeeding?.add(key);
      return;
    }
    if (o.kind === "Node") {
      counts.set(key, { phase: (o as Node).status?.phase ?? "Creating", ran: false });
      return;
    }
    const pod = o as Pod;
    const phase = pod.status?.phase ?? "Waiting";
    const before = counts.get(key);
    // Unknown before (not yet counted at start): whether it ran already cannot be told.
    const known = e.type === "ADDED" || (before !== undefined && before.uid === pod.metadata.uid);
    const ran = (known ? before?.ran ?? false : phase !== "Waiting" && phase !== "Dispatching") ||
      phase === "Running";
    if (known && phase === "Running" && !before?.ran) this.#observeStart(pod);
    counts.set(key, { phase, uid: pod.metadata.uid, ran });
  }

  /** Creation → Running of a pod that just became Running for the first time. */
  #observeStart(pod: Pod): void {
    const created = Date.parse(pod.metadata.creationTimestamp ?? "");
    const running = Date.parse(pod.status?.lastPhaseChange ?? "") || this.#clock.now();
    if (Number.isFinite(created) && running >= created) {
      this.#podStart.observe((running - created) / 1000);
    }
  }
}

/** `GET /metrics`; mounted behind the API's token check (a cluster-wide read, as `/api/v1/nodes`). */
export function metricsRoutes(metrics: ControllerMetrics): Hono {
  const app = new Hono();
  app.get("/metrics", async (c) => {
    c.header("Content-Type", metrics.contentType);
    return c.body(await metrics.text());
  });
  return app;
}
