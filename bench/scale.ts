/**
 * `deno task bench --scale`: the scale benchmark (docs/benchmarks.md).
 *
 * Every figure but the KV count comes from a controller run as a user runs it: a process of its
 * own (`deno run -A main.ts --config sim.yml`, state in the on-disk KV of a temporary
 * MILPA_HOME, https with its own CA) on the simulated cloud, driven over the API by this process
 * (create batches, a pods watch) and by the real tools (milpactl, wrk).
 *
 * Phases, each on a fresh controller: `kv` (in process, counted KV), `small` (1k pods),
 * `big` (10k pods: throughput, RSS, `milpactl get pods`, wrk on one pod, kill -9 and restart),
 * `deploy` (a Deployment of 10k replicas: create → all available → scaled to 0), `crash` (kill -9
 * 5 s into a Deployment's scale-up to 10k, restart: until all available, one node per pod), `svc`
 * (a Deployment of 10k behind a Service and a LoadBalancer Service: all available, then rolled
 * out to a new template), `rate` (an open-loop 500 pods/s for 20 s). A phase that runs out of time reports what it reached,
 * marked FAIL, and the next phase runs.
 */
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import type { KvLifecycleResult } from "./kv_count.ts";
import {
  chunks,
  comparePlacement,
  type Figure,
  figuresJson,
  formatTable,
  type OneNodeCheck,
  oneNodePerPod,
  parseScaleArgs,
  parseWrk,
  percentile,
  placementIntact,
  type PlacementSnapshot,
  SCALE_USAGE,
  type ScaleOptions,
} from "./scale_lib.ts";

const REPO = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const T0 = performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long the controller rests, idle, before its RSS is read. */
const REST_MS = 10_000;

function log(message: string): void {
  console.error(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(6)} s] ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Controllers

/** The V8 flags `deno task start` gives the controller (deno.json), so the bench runs it alike. */
function startFlags(): string[] {
  const tasks = JSON.parse(Deno.readTextFileSync(`${REPO}/deno.json`)).tasks as Record<
    string,
    string
  >;
  return tasks.start.match(/--v8-flags=\S+/g) ?? [];
}

/** A free loopback port (never 54555, which a developer's controller may hold). */
function freePort(): number {
  for (;;) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    if (port !== 54555) return port;
  }
}

/** What milpactl reads: $MILPA_HOME/client.yaml. */
interface ClientConfig {
  endpoint: string;
  token: string;
  certificateAuthority?: string;
}

/** Every process and directory this run made, for the clean-up. */
const live = { procs: new Set<ControllerProc>(), dirs: new Set<string>(), keep: false };

/** A controller process in a process group of its own (`setsid`), on one MILPA_HOME and port. */
class ControllerProc {
  child!: Deno.ChildProcess;
  exited = false;
  #status?: Promise<Deno.CommandStatus>;

  constructor(
    readonly home: string,
    readonly port: number,
    readonly entry: string,
    readonly configPath: string,
  ) {}

  get pid(): number {
    return this.child.pid;
  }

  /** Starts it; output goes to $MILPA_HOME/controller.log. */
  async spawn(): Promise<void> {
    const open = () => Deno.open(`${this.home}/controller.log`, { append: true, create: true });
    const [outFile, errFile] = [await open(), await open()];
    this.child = new Deno.Command("setsid", {
      args: [
        Deno.execPath(),
        "run",
        "-A",
        ...startFlags(),
        this.entry,
        "--config",
        this.configPath,
      ],
      cwd: REPO,
      env: {
        MILPA_HOME: this.home,
        MILPA_LISTEN: `127.0.0.1:${this.port}`,
        NO_COLOR: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    live.procs.add(this);
    // Each pipe closes its file when the stream ends.
    const piped = Promise.allSettled([
      this.child.stdout.pipeTo(outFile.writable),
      this.child.stderr.pipeTo(errFile.writable),
    ]);
    this.#status = this.child.status.then(async (s) => {
      this.exited = true;
      live.procs.delete(this);
      await piped;
      return s;
    });
  }

  /** Resolves when /healthz answers 200 (the API serves once every actor is restored). */
  async waitServing(client: Deno.HttpClient, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (this.exited) throw new Error(`the controller exited; see ${this.home}/controller.log`);
      try {
        const r = await fetch(`https://127.0.0.1:${this.port}/healthz`, {
          client,
          signal: AbortSignal.timeout(2000),
        });
        await r.body?.cancel();
        if (r.status === 200) return;
      } catch { /* not listening yet */ }
      await sleep(10);
    }
    throw new Error(`the controller did not serve within ${timeoutMs} ms`);
  }

  /** The resident set size of the process, and its peak, in MiB. */
  async rss(): Promise<{ rss: number; hwm: number }> {
    const text = await Deno.readTextFile(`/proc/${this.pid}/status`);
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
    return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
  }

  /** CPU seconds the process used so far (user + system). */
  async cpuSeconds(): Promise<number> {
    const stat = await Deno.readTextFile(`/proc/${this.pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in ticks (USER_HZ)
  }

  /**
   * Waits until the process used under `busy` of a core over a second (it finished what it
   * was doing), for at most `maxMs`; returns the seconds waited.
   */
  async settle(maxMs: number, busy = 0.15): Promise<number> {
    const t = performance.now();
    let cpu = await this.cpuSeconds();
    while (performance.now() - t < maxMs) {
      await sleep(1000);
      const now = await this.cpuSeconds();
      if (now - cpu < busy) break;
      cpu = now;
    }
    return (performance.now() - t) / 1000;
  }

  /** `kill -9` of its process group; resolves once it is gone. */
  async kill9(): Promise<void> {
    if (this.exited) return;
    try {
      Deno.kill(-this.pid, "SIGKILL");
    } catch { /* gone */ }
    await this.#status;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited) return;
    try {
      Deno.kill(-this.pid, "SIGTERM");
    } catch { /* gone */ }
    const timer = setTimeout(() => {
      try {
        Deno.kill(-this.pid, "SIGKILL");
      } catch { /* gone */ }
    }, graceMs);
    await this.#status;
    clearTimeout(timer);
  }
}

/** A controller to benchmark: its process, its MILPA_HOME and an API client. */
class Bench {
  proc!: ControllerProc;
  client!: ClientConfig;
  http!: Deno.HttpClient;

  private constructor(readonly home: string, readonly entry: string, readonly config: string) {}

  /** A fresh MILPA_HOME and a controller on it, serving. */
  static async start(label: string, opts: ScaleOptions): Promise<Bench> {
    const home = await Deno.makeTempDir({ prefix: `milpa-bench-${label}-` });
    live.dirs.add(home);
    const entry = `${REPO}/main.ts`;
    const config = `${home}/sim.yml`;
    await Deno.writeTextFile(config, stringifyYaml(serverConfig(opts)));
    const b = new Bench(home, entry, config);
    const t = performance.now();
    await b.launch(freePort());
    log(
      `${label}: controller pid ${b.proc.pid} serving at ${b.client.endpoint} after ` +
        `${((performance.now() - t) / 1000).toFixed(1)} s (MILPA_HOME ${home})`,
    );
    return b;
  }

  /** Starts the controller on this MILPA_HOME and waits until it serves and wrote client.yaml. */
  async launch(port: number): Promise<void> {
    await Deno.remove(`${this.home}/client.yaml`).catch(() => {});
    this.proc = new ControllerProc(this.home, port, this.entry, this.config);
    await this.proc.spawn();
    const deadline = performance.now() + 60_000;
    for (;;) {
      if (this.proc.exited) {
        throw new Error(`the controller exited at start; see ${this.home}/controller.log`);
      }
      try {
        // Written after the controller serves; it may be caught half written.
        const c = parseYaml(await Deno.readTextFile(`${this.home}/client.yaml`)) as ClientConfig;
        if (c?.endpoint && c.token && c.certificateAuthority?.includes("END CERTIFICATE")) {
          this.client = c;
          break;
        }
      } catch { /* not yet */ }
      if (performance.now() > deadline) throw new Error("no client.yaml within 60 s");
      await sleep(25);
    }
    this.#closeHttp();
    // HTTP/1.1, as milpactl speaks (cli/client.ts): Deno's fetch over HTTP/2 stalls ~45 ms at
    // its flow-control window updates, which held the pods watch behind (docs/benchmarks.md).
    this.http = Deno.createHttpClient({
      http2: false,
      caCerts: this.client.certificateAuthority ? [this.client.certificateAuthority] : [],
    });
  }

  /** An authenticated request. */
  api(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    return fetch(`${this.client.endpoint}${path}`, {
      method,
      client: this.http,
      headers: {
        Authorization: `Bearer ${this.client.token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  }

  async list<T>(path: string): Promise<T[]> {
    const r = await this.api("GET", path, undefined, AbortSignal.timeout(60_000));
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
    return ((await r.json()) as { items: T[] }).items;
  }

  #closeHttp(): void {
    try {
      this.http?.close();
    } catch { /* closed */ }
    this.http = undefined as unknown as Deno.HttpClient;
  }

  async close(): Promise<void> {
    await this.proc?.stop();
    this.#closeHttp();
    if (!live.keep) {
      await Deno.remove(this.home, { recursive: true }).catch(() => {});
      live.dirs.delete(this.home);
    }
  }
}

/** server.yml of the benchmark's controllers. */
function serverConfig(opts: ScaleOptions): Record<string, unknown> {
  // Room for every pod of the biggest run and, in a rollout, for the new pods beside the old ones
  // (a pod behind a Service drains for serviceDiscovery.drainSeconds, 30 s, on its node): up to
  // twice the pods, and the surge. With 1.2 times, the svc phase's rollout of 10,000 waited ~40 s
  // of its 85–90 s for nodes, the controller idle.
  const maxNodes = Math.min(
    100_000,
    Math.max(1000, Math.ceil(Math.max(opts.n, opts.nSmall) * 2.5)),
  );
  return {
    // The sim cloud boots nodes at once: the figures are the controller's, not a cloud's.
    cloud: { sim: { bootDelayMs: 0 } },
    nodes: { maxNodes },
  };
}

// ---------------------------------------------------------------------------------------------
// Load: pod creation and the pods watch

/** Pods seen through `GET .../pods?watch=1`: each one's phase and when it was first Running. */
class PodWatch {
  readonly phases = new Map<string, string>();
  readonly runningAt = new Map<string, number>();
  readonly #abort = new AbortController();
  #up!: () => void;
  readonly up = new Promise<void>((r) => this.#up = r);
  #loop?: Promise<void>;
  reconnects = 0;

  constructor(private readonly bench: Bench) {}

  start(): Promise<void> {
    this.#loop = this.#run();
    return this.up;
  }

  async #run(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        const r = await this.bench.api(
          "GET",
          "/api/v1/namespaces/default/pods?watch=1",
          undefined,
          this.#abort.signal,
        );
        if (r.status !== 200 || !r.body) {
          log(`pods watch: ${r.status} ${await r.text()}`);
        } else {
          await this.#read(r.body);
        }
      } catch (e) {
        if (this.#abort.signal.aborted) return;
        log(`pods watch ended: ${(e as Error).message}`);
      }
      if (this.#abort.signal.aborted) return;
      this.reconnects++;
      await sleep(100);
    }
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    let buffer = "";
    for await (const chunk of body.pipeThrough(new TextDecoderStream())) {
      this.#up();
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = "";
        let data = "";
        for (const line of frame.split("\n")) {
          if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data += line.slice(6);
        }
        if (!data) continue;
        const pod = JSON.parse(data) as Pod;
        if (event === "ERROR" || (pod.kind as string) === "Status") {
          log(`pods watch: ${data.slice(0, 200)}; watching again`);
          return;
        }
        const name = pod.metadata.name;
        if (event === "DELETED") {
          this.phases.delete(name);
          continue;
        }
        const phase = pod.status?.phase ?? "";
        this.phases.set(name, phase);
        if (phase === "Running" && !this.runningAt.has(name)) {
          this.runningAt.set(name, performance.now());
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop?.catch(() => {});
  }
}

/** Sends one create batch; retries what the controller refused for load (5xx, 429). */
async function createBatch(b: Bench, names: string[], signal: AbortSignal): Promise<string> {
  const items = names.map((name) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels: { bench: "scale" } },
    spec: { units: [{ name: "main", command: ["serve"] }] },
  }));
  for (let attempt = 1;; attempt++) {
    let status = 0;
    let text = "";
    try {
      const r = await b.api("POST", "/api/v1/batch", { operation: "create", items }, signal);
      status = r.status;
      text = await r.text();
    } catch (e) {
      if (signal.aborted) return `aborted`;
      text = (e as Error).message;
    }
    if (status === 200) return "";
    // A retry whose first try went through finds them there: they are created.
    if (status === 409 && attempt > 1 && text.includes("already exists")) return "";
    if (attempt >= 5 || (status >= 400 && status < 500 && status !== 429)) {
      return `${status} ${text.slice(0, 300)}`;
    }
    await sleep(100 * attempt);
  }
}

/** Waits until `done()` or the deadline (performance.now() time); true when done. */
async function waitUntil(done: () => boolean, deadline: number, progress?: () => string) {
  let lastLog = performance.now();
  while (!done()) {
    if (performance.now() >= deadline) return false;
    if (progress && performance.now() - lastLog > 5000) {
      lastLog = performance.now();
      log(progress());
    }
    await sleep(20);
  }
  return true;
}

/** What a throughput or latency run measured. */
interface RunResult {
  n: number;
  running: number;
  /** Seconds from the first create to the last Running (or to the deadline when not all ran). */
  seconds: number;
  podsPerSec: number;
  /** create→Running, ms, ascending; pods never Running are not in it. */
  latencies: number[];
  complete: boolean;
  createErrors: string[];
  /** Seconds the creates took (all requests answered). */
  createSeconds: number;
  /** Seconds until the first pod was Running. */
  firstRunningSeconds: number;
}

function summarize(
  names: string[],
  sentAt: Map<string, number>,
  watch: PodWatch,
  start: number,
  complete: boolean,
  createErrors: string[],
  createSeconds: number,
): RunResult {
  const latencies: number[] = [];
  let last = start;
  for (const name of names) {
    const t = watch.runningAt.get(name);
    if (t === undefined) continue;
    latencies.push(t - sentAt.get(name)!);
    last = Math.max(last, t);
  }
  latencies.sort((a, b) => a - b);
  const first = Math.min(...names.map((n) => watch.runningAt.get(n) ?? Infinity));
  const end = complete ? last : performance.now();
  const seconds = (end - start) / 1000;
  return {
    n: names.length,
    running: latencies.length,
    seconds,
    podsPerSec: latencies.length / seconds,
    latencies,
    complete,
    createErrors,
    createSeconds,
    firstRunningSeconds: (first - start) / 1000,
  };
}

/** Closed loop: `clients` clients each sending batches of `batch` pods, one after another. */
async function throughputRun(b: Bench, prefix: string, n: number, opts: ScaleOptions) {
  const watch = new PodWatch(b);
  await watch.start();
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const batches = chunks(names, opts.batch);
  const sentAt = new Map<string, number>();
  const errors: string[] = [];
  const abort = new AbortController();
  const start = performance.now();
  const deadline = start + opts.phaseTimeout * 1000;
  const timer = setTimeout(() => abort.abort(), opts.phaseTimeout * 1000);
  let next = 0;
  let createdAt = 0;
  const creating = Promise.all(Array.from({ length: opts.clients }, async () => {
    while (next < batches.length && !abort.signal.aborted) {
      const batch = batches[next++];
      const t = performance.now();
      for (const name of batch) sentAt.set(name, t);
      const err = await createBatch(b, batch, abort.signal);
      if (err) errors.push(err);
    }
  })).then(() => createdAt = performance.now());
  const expected = () => names.length - errors.length * opts.batch;
  const complete = await waitUntil(
    () => createdAt > 0 && countRunning(watch, names) >= expected(),
    deadline,
    () => `${prefix}: ${sentAt.size} sent, ${countRunning(watch, names)} of ${n} Running`,
  );
  clearTimeout(timer);
  abort.abort();
  await creating;
  const result = summarize(
    names,
    sentAt,
    watch,
    start,
    complete && errors.length === 0,
    errors,
    ((createdAt || performance.now()) - start) / 1000,
  );
  await watch.stop();
  return result;
}

/** How a run went, for the progress log. */
function describeRun(r: RunResult): string {
  const first = Number.isFinite(r.firstRunningSeconds)
    ? `${r.firstRunningSeconds.toFixed(1)} s`
    : "never";
  return `${r.running} of ${r.n} Running in ${r.seconds.toFixed(1)} s (creates answered after ` +
    `${r.createSeconds.toFixed(1)} s, first Running after ${first}` +
    (r.createErrors.length
      ? `; ${r.createErrors.length} batches refused, first: ${r.createErrors[0]}`
      : "") +
    ")";
}

/** What a Deployment run measured. */
interface DeploymentRun {
  n: number;
  /** Seconds from the create until every pod was Running (the pods watch), and until the Deployment said every replica was available. */
  runningSeconds: number;
  availableSeconds: number;
  running: number;
  available: number;
  complete: boolean;
  /** Then scaled to 0: seconds until no pod ran and no node was left, and what was left then. */
  down?: { seconds: number; left: number };
}

/** Creates Deployment `name` of `n` replicas in one request, as `milpactl create -f` sends it. */
async function createDeployment(b: Bench, name: string, n: number): Promise<void> {
  const r = await b.api("POST", "/api/v1/namespaces/default/deployments", {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default" },
    spec: {
      replicas: n,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { units: [{ name: "main", command: ["serve"] }] },
      },
    },
  });
  if (r.status !== 201 && r.status !== 200) {
    throw new Error(`creating the Deployment: ${r.status} ${await r.text()}`);
  }
  await r.body?.cancel();
}

/** Polls Deployment `name` until its status counts `n` available, or the deadline: the count. */
async function waitAvailable(b: Bench, name: string, n: number, deadline: number) {
  let available = 0;
  for (;;) {
    const d = await b.api("GET", `/api/v1/namespaces/default/deployments/${name}`).catch(() =>
      undefined
    );
    available = d?.status === 200
      ? ((await d.json()) as { status?: { availableReplicas?: number } }).status
        ?.availableReplicas ?? 0
      : (await d?.body?.cancel(), 0);
    if (available >= n || performance.now() >= deadline) return available;
    await sleep(50);
  }
}

/**
 * Creates a Deployment of `n` replicas (one request, as `milpactl create -f` sends it) and
 * waits until the pods watch shows `n` of its pods Running and the Deployment's status counts
 * `n` available (its ReplicaSet creates the pods, BURST a pass).
 */
async function deploymentRun(b: Bench, n: number, opts: ScaleOptions): Promise<DeploymentRun> {
  const watch = new PodWatch(b);
  await watch.start();
  const name = "bench-web";
  const start = performance.now();
  const deadline = start + opts.phaseTimeout * 1000;
  try {
    await createDeployment(b, name, n);
    const prefix = `${name}-`;
    const running = () => {
      let c = 0;
      for (const [pod, phase] of watch.phases) {
        if (phase === "Running" && pod.startsWith(prefix)) c++;
      }
      return c;
    };
    const allRunning = await waitUntil(
      () => running() >= n,
      deadline,
      () => `deploy: ${fmt(running())} of ${fmt(n)} Running`,
    );
    const runningSeconds = (performance.now() - start) / 1000;
    const available = await waitAvailable(b, name, n, deadline);
    const availableSeconds = (performance.now() - start) / 1000;
    const complete = allRunning && available >= n;
    const ran = running();
    const down = complete ? await scaleToZero(b, name, opts) : undefined;
    return {
      n,
      runningSeconds,
      availableSeconds,
      running: ran,
      available,
      complete,
      down,
    };
  } finally {
    await watch.stop();
  }
}

/**
 * Scales Deployment `name` to 0 (read, set spec.replicas, PUT with the read resourceVersion, as
 * `milpactl scale` does) and waits until no pod of the namespace is Waiting, Dispatching or
 * Running and no node is left, by the controller's /metrics.
 */
async function scaleToZero(b: Bench, name: string, opts: ScaleOptions) {
  const path = `/api/v1/namespaces/default/deployments/${name}`;
  const start = performance.now();
  const deadline = start + opts.phaseTimeout * 1000;
  for (;;) {
    const d = await (await b.api("GET", path)).json() as { spec: { replicas?: number } };
    const r = await b.api("PUT", path, { ...d, spec: { ...d.spec, replicas: 0 } });
    if (r.status === 200) break;
    const text = await r.text();
    if (r.status !== 409) throw new Error(`scaling the Deployment to 0: ${r.status} ${text}`);
  }
  let left = Infinity;
  for (;;) {
    const g = await gauges(b);
    left = g.pods.Waiting + g.pods.Dispatching + g.pods.Running + g.nodes;
    if (left === 0 || performance.now() >= deadline) break;
    await sleep(100);
  }
  return { seconds: (performance.now() - start) / 1000, left };
}

/** A ClusterIP Service `app` and a LoadBalancer Service `app-lb`, both in front of pods `app`. */
async function createServices(b: Bench, app: string): Promise<void> {
  for (const [name, type] of [[app, undefined], [`${app}-lb`, "LoadBalancer"]] as const) {
    const r = await b.api("POST", "/api/v1/namespaces/default/services", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace: "default" },
      spec: {
        ...(type ? { type } : {}),
        selector: { app },
        ports: [{ name: "http", protocol: "TCP", port: 80, nodePort: 8080 }],
      },
    });
    if (r.status !== 201 && r.status !== 200) {
      throw new Error(`creating Service ${name}: ${r.status} ${await r.text()}`);
    }
    await r.body?.cancel();
  }
}

/**
 * Gives Deployment `name` a new template (its unit's command), as `milpactl apply` of a changed
 * manifest does, and waits until its status counts `n` pods of the new template, `n` available
 * and no other pod: the seconds that took, and whether it got there before the deadline.
 */
async function rollOut(b: Bench, name: string, n: number, seconds: number) {
  const path = `/api/v1/namespaces/default/deployments/${name}`;
  const start = performance.now();
  let generation = 0;
  for (;;) {
    const d = await (await b.api("GET", path)).json() as {
      spec: { template: { spec: { units: { command?: string[] }[] } } };
    };
    const units = d.spec.template.spec.units.map((u) => ({ ...u, command: ["serve", "--v2"] }));
    const r = await b.api("PUT", path, {
      ...d,
      spec: {
        ...d.spec,
        template: { ...d.spec.template, spec: { ...d.spec.template.spec, units } },
      },
    });
    const text = await r.text();
    if (r.status === 200) {
      generation = (JSON.parse(text) as { metadata: { generation: number } }).metadata.generation;
      break;
    }
    if (r.status !== 409) throw new Error(`rolling out the Deployment: ${r.status} ${text}`);
  }
  const deadline = start + seconds * 1000;
  let s: DeploymentStatusFigures = {};
  for (;;) {
    const r = await b.api("GET", path).catch(() => undefined);
    if (r?.status === 200) {
      s = ((await r.json()) as { status?: DeploymentStatusFigures }).status ?? {};
    } else await r?.body?.cancel();
    const done = (s.observedGeneration ?? 0) >= generation && s.updatedReplicas === n &&
      s.availableReplicas === n && s.replicas === n;
    if (done || performance.now() >= deadline) {
      return { seconds: (performance.now() - start) / 1000, done, status: s };
    }
    await sleep(100);
  }
}

/** A Deployment status's counts, for a log line. */
function statusCounts(s: DeploymentStatusFigures): string {
  return `${fmt(s.replicas ?? 0)} pods, ${fmt(s.updatedReplicas ?? 0)} updated, ` +
    `${fmt(s.availableReplicas ?? 0)} available`;
}

/** What rollOut() reads of a Deployment's status. */
interface DeploymentStatusFigures {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
}

/**
 * The `svc` phase: a Deployment of `n` behind a ClusterIP Service and a LoadBalancer Service
 * (each pass of each reads every pod they select; a pod counts as available once the balancer
 * admitted it), created and waited for until all available, then rolled out to a new template.
 */
async function serviceRun(b: Bench, n: number, opts: ScaleOptions) {
  const name = "bench-svc";
  await createServices(b, name);
  const start = performance.now();
  await createDeployment(b, name, n);
  const available = await waitAvailable(b, name, n, start + opts.phaseTimeout * 1000);
  const availableSeconds = (performance.now() - start) / 1000;
  if (available < n) return { available, availableSeconds };
  // A rollout of 10,000 takes longer than a scale-up: up to 5 min before it counts as failed.
  return { available, availableSeconds, rollout: await rollOut(b, name, n, 300) };
}

/** The controller's pod gauges by phase (/metrics), and its nodes in all. */
async function gauges(b: Bench): Promise<{ pods: Record<string, number>; nodes: number }> {
  const text = await (await b.api("GET", "/metrics")).text();
  const pods: Record<string, number> = { Waiting: 0, Dispatching: 0, Running: 0 };
  let nodes = 0;
  for (const line of text.split("\n")) {
    const m = /^milpa_(pods|nodes)\{phase="(\w+)"\} (\d+)/.exec(line);
    if (m?.[1] === "pods") pods[m[2]] = Number(m[3]);
    else if (m) nodes += Number(m[3]);
  }
  return { pods, nodes };
}

/** kill -9 this long into the `crash` phase's scale-up. */
const CRASH_AFTER_MS = 5_000;

/**
 * The `crash` phase: a Deployment of `n` created, the controller killed (-9) CRASH_AFTER_MS
 * later, in the middle of its scale-up, and started again. Times, from the kill, until the
 * Deployment counts `n` available, then until every live pod has a node of its own and no other
 * node is live (`oneNodePerPod`).
 */
async function crashRun(b: Bench, n: number, opts: ScaleOptions) {
  const name = "bench-crash";
  await createDeployment(b, name, n);
  await sleep(CRASH_AFTER_MS);
  const atKill = await gauges(b);
  await b.proc.kill9();
  const t = performance.now();
  await relaunch(b);
  const deadline = t + opts.phaseTimeout * 1000;
  const available = await waitAvailable(b, name, n, deadline);
  const availableSeconds = (performance.now() - t) / 1000;
  let check: OneNodeCheck;
  for (;;) {
    check = await nodeCheck(b);
    const clean = check.livePods === n && check.podsWithoutNode.length === 0 &&
      check.nodesShared.length === 0 && check.nodesWithoutPod.length === 0;
    if (clean || performance.now() >= deadline) break;
    await sleep(500);
  }
  return {
    atKill,
    available,
    availableSeconds,
    check,
    settledSeconds: (performance.now() - t) / 1000,
  };
}

/** Pods (namespace default) and nodes, for `oneNodePerPod`. */
async function nodeCheck(b: Bench): Promise<OneNodeCheck> {
  const pods = await b.list<Pod>("/api/v1/namespaces/default/pods");
  const nodes = await b.list<Node>("/api/v1/nodes");
  const ended = ["Succeeded", "Failed", "Terminated"];
  return oneNodePerPod(
    pods.map((p) => ({
      name: p.metadata.name,
      live: p.spec.phase !== "Terminated" && !ended.includes(p.status?.phase ?? ""),
      bound: p.status?.boundNodeName ?? "",
    })),
    nodes.map((nd) => ({
      name: nd.metadata.name,
      live: !["Cleaning", "Terminating", "Terminated"].includes(nd.status?.phase ?? ""),
      bound: nd.status?.boundPodName ?? "",
    })),
  );
}

function countRunning(watch: PodWatch, names: string[]): number {
  let c = 0;
  for (const name of names) if (watch.runningAt.has(name)) c++;
  return c;
}

/** Requests the open loop has in flight at most: its connections (HTTP/1.1 over TLS). */
const OPEN_LOOP_CONNECTIONS = 32;

/**
 * Open loop: batches of `batch` pods at fixed times so that `rate` pods/s are offered for
 * `seconds`, whether or not earlier requests were answered; each pod's latency counts from
 * the time its batch was due (so a late send counts against the controller too). Requests go
 * out over at most OPEN_LOOP_CONNECTIONS connections, as a pool of clients would: a batch due
 * while all are busy waits for one (and its wait counts), instead of each opening a TLS
 * connection of its own.
 */
async function openLoopRun(b: Bench, prefix: string, opts: ScaleOptions) {
  const watch = new PodWatch(b);
  await watch.start();
  const batch = Math.max(1, Math.min(opts.batch, Math.round(opts.rate / 50))); // ≥ 50 sends/s
  const n = Math.round(opts.rate * opts.rateSeconds);
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const batches = chunks(names, batch);
  const interval = (batch / opts.rate) * 1000;
  const sentAt = new Map<string, number>();
  const errors: string[] = [];
  const abort = new AbortController();
  const start = performance.now();
  const deadline = start + Math.max(opts.phaseTimeout, opts.rateSeconds + 30) * 1000;
  const inflight: Promise<void>[] = [];
  // A semaphore over the connections.
  let free = OPEN_LOOP_CONNECTIONS;
  const waiting: (() => void)[] = [];
  const send = async (names: string[]) => {
    if (free > 0) free--;
    else await new Promise<void>((r) => waiting.push(r));
    try {
      const e = await createBatch(b, names, abort.signal);
      if (e) errors.push(e);
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
  let i = 0;
  let maxLagMs = 0;
  while (i < batches.length) {
    const due = start + i * interval;
    const now = performance.now();
    if (due > now) {
      await sleep(Math.min(due - now, 5));
      continue;
    }
    maxLagMs = Math.max(maxLagMs, now - due);
    for (const name of batches[i]) sentAt.set(name, due);
    inflight.push(send(batches[i]));
    i++;
  }
  const offeredSeconds = (performance.now() - start) / 1000;
  log(
    `${prefix}: offered ${n} pods in ${offeredSeconds.toFixed(1)} s (sender lag ≤ ${
      maxLagMs.toFixed(0)
    } ms)`,
  );
  let answered = 0;
  const createsDone = Promise.all(inflight).then(() => answered = performance.now());
  const complete = await waitUntil(
    () => answered > 0 && countRunning(watch, names) >= names.length - errors.length * batch,
    deadline,
    () => `${prefix}: ${countRunning(watch, names)} of ${n} Running`,
  );
  abort.abort();
  await createsDone;
  const result = summarize(
    names,
    sentAt,
    watch,
    start,
    complete && errors.length === 0,
    errors,
    ((answered || performance.now()) - start) / 1000,
  );
  await watch.stop();
  return { ...result, offeredSeconds, maxLagMs, waitedSeconds: (performance.now() - start) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Measurements of a controller with many pods

/** Pods and nodes as the API lists them. */
async function placement(
  b: Bench,
): Promise<PlacementSnapshot & { running: number; nodePhases: Record<string, number> }> {
  const pods = await b.list<Pod>("/api/v1/namespaces/default/pods");
  const nodes = await b.list<Node>("/api/v1/nodes");
  const count = (phases: (string | undefined)[]) => {
    const out: Record<string, number> = {};
    for (const p of phases) out[p ?? "none"] = (out[p ?? "none"] ?? 0) + 1;
    return out;
  };
  return {
    pods: new Map(pods.map((p) => [p.metadata.name, p.status?.boundNodeName ?? ""])),
    nodes: new Map(nodes.map((n) => [n.metadata.name, n.status?.boundPodName ?? ""])),
    running: pods.filter((p) => p.status?.phase === "Running").length,
    nodePhases: count(nodes.map((n) => n.status?.phase)),
  };
}

/** `milpactl get pods`, end to end (Deno start-up included): seconds and lines printed. */
async function milpactlGetPods(b: Bench): Promise<{ seconds: number; lines: number; ok: boolean }> {
  const t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${REPO}/cli/milpactl.ts`, "get", "pods"],
    cwd: REPO,
    env: { MILPA_HOME: b.home, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const seconds = (performance.now() - t) / 1000;
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) log(`milpactl get pods failed: ${new TextDecoder().decode(out.stderr)}`);
  return { seconds, lines: text.split("\n").filter(Boolean).length, ok: out.success };
}

/** wrk on GET of one pod, with the API token (wrk does not check the certificate). */
async function wrkGetOne(b: Bench, pod: string, seconds: number) {
  const out = await new Deno.Command("wrk", {
    args: [
      "-t2",
      "-c50",
      `-d${seconds}s`,
      "--latency",
      "-H",
      `Authorization: Bearer ${b.client.token}`,
      `${b.client.endpoint}/api/v1/namespaces/default/pods/${pod}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return parseWrk(text);
}

/** Starts the controller again (after kill -9) on the same MILPA_HOME and port. */
async function relaunch(b: Bench): Promise<void> {
  const port = b.proc.port;
  await b.launch(port).catch(async (e) => {
    // Only a controller that could not listen (the port still held) gets another port.
    const log_ = await Deno.readTextFile(`${b.home}/controller.log`).catch(() => "");
    if (!b.proc.exited || !/AddrInUse|address already in use/i.test(log_)) throw e;
    log(`restart: port ${port} still in use; trying another port`);
    await b.launch(freePort());
  });
}

/**
 * kill -9 the controller, start it again on the same MILPA_HOME and port, and time until the
 * API serves (every actor is restored before it does: controller.ts) and lists every pod
 * that was Running as Running again with the same nodes; then checks again 5 s later.
 */
async function restart(b: Bench, opts: ScaleOptions) {
  const before = await placement(b);
  log(
    `big: before kill -9: ${before.pods.size} pods (${before.running} Running), ${before.nodes.size} nodes`,
  );
  await b.proc.kill9();
  const t = performance.now();
  await relaunch(b);
  const apiSeconds = (performance.now() - t) / 1000;
  log(`big: restarted controller pid ${b.proc.pid} serving after ${apiSeconds.toFixed(2)} s`);
  const deadline = t + opts.phaseTimeout * 1000;
  // Every pod that was Running is Running again, and no node went.
  const restored = (s: Awaited<ReturnType<typeof placement>>) =>
    s.running >= before.running && comparePlacement(before, s).nodesLost.length === 0;
  // The state a list shows is that of when it was asked for: the time counts until the ask
  // of the first list that shows every pod back (not the time the list takes to arrive).
  let asked = performance.now();
  let after = await placement(b);
  while (!restored(after) && performance.now() < deadline) {
    await sleep(50);
    asked = performance.now();
    after = await placement(b);
  }
  const readySeconds = (asked - t) / 1000;
  const checkSeconds = (performance.now() - asked) / 1000;
  // What the restarted controller's actor list shows (the recorder keeps at most 1000 actors).
  const actors = await b.list<{ kind: string; status: string }>("/api/v1/actors");
  const actorsListed: Record<string, number> = {};
  for (const a of actors) {
    if (a.status === "active") actorsListed[a.kind] = (actorsListed[a.kind] ?? 0) + 1;
  }
  await sleep(5000);
  const later = await placement(b);
  const check = comparePlacement(before, later);
  return {
    before,
    apiSeconds,
    readySeconds,
    checkSeconds,
    allRunning: restored(after),
    laterRunning: later.running,
    nodesAdded: later.nodes.size - before.nodes.size,
    actorsListed,
    check,
    intact: placementIntact(check) && later.running >= before.running,
  };
}

// ---------------------------------------------------------------------------------------------
// The run

function readCommit(): string {
  try {
    const head = Deno.readTextFileSync(`${REPO}/.git/HEAD`).trim();
    if (!head.startsWith("ref: ")) return head.slice(0, 12);
    return Deno.readTextFileSync(`${REPO}/.git/${head.slice(5)}`).trim().slice(0, 12);
  } catch {
    return "unknown";
  }
}

const fmt = (n: number) => n.toLocaleString("en-US");

/** The 1-minute load average (other work on the machine skews every figure). */
function loadAverage(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
}

async function cleanUp(): Promise<void> {
  await Promise.all([...live.procs].map((p) => p.kill9()));
  if (!live.keep) {
    for (const d of live.dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
  }
}

/** Runs the scale benchmark; returns the exit code (1 when a phase broke). */
export async function runScale(args: string[]): Promise<number> {
  let opts: ScaleOptions;
  try {
    const parsed = parseScaleArgs(args);
    if (parsed === "help") {
      console.log(SCALE_USAGE);
      return 0;
    }
    opts = parsed;
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  live.keep = opts.keep;
  const onSignal = () => {
    log("interrupted: stopping the controllers");
    cleanUp().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const run = (p: string) => !opts.only || opts.only.has(p as never);
  const controllerDesc = "main.ts, cloud.sim";
  const N = fmt(opts.n);
  const NS = fmt(opts.nSmall);
  log(
    `scale benchmark: ${N} pods (small run ${NS}), controller ${controllerDesc}, ` +
      `https, on-disk KV; ${opts.clients} clients × ${opts.batch} pods per batch`,
  );
  const figures: Figure[] = [];
  const extra: Record<string, unknown> = { load_average_at_start: loadAverage() };
  let broken = false;
  const phase = async (name: string, fn: () => Promise<void>) => {
    if (!run(name)) return;
    log(`phase ${name}`);
    try {
      await fn();
    } catch (e) {
      broken = true;
      log(`phase ${name} broke: ${(e as Error).stack ?? e}`);
      extra[`${name}_error`] = String((e as Error).message ?? e);
    }
  };
  /** A phase on a controller of its own, started for it and stopped after it. */
  const controllerPhase = (name: string, fn: (b: Bench) => Promise<void>) =>
    phase(name, async () => {
      const b = await Bench.start(name, opts);
      try {
        await fn(b);
      } finally {
        await b.close();
      }
    });

  try {
    // --- KV writes per pod lifecycle (in process, counted KV) ---------------------------------
    await phase("kv", async () => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${REPO}/bench/kv_count.ts`, String(opts.nSmall)],
        cwd: REPO,
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "inherit",
      }).output();
      const text = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
      if (!out.success) throw new Error(`bench/kv_count.ts failed: ${text}`);
      const r = JSON.parse(text) as KvLifecycleResult;
      const note = `${fmt(r.pods)} pods create→Running→delete→node gone, in-process sim ` +
        `cluster (:memory: KV), ${r.seconds.toFixed(1)} s`;
      figures.push(
        {
          key: "kv_commits_per_pod",
          name: "KV commits per pod lifecycle",
          value: r.commitsPerPod,
          unit: "commits",
          target: "",
          note: `${note}; ${r.counts.failedCommits} failed checks`,
        },
        {
          key: "kv_mutations_per_pod",
          name: "KV mutations per pod lifecycle",
          value: r.mutationsPerPod,
          unit: "mutations",
          target: "",
          note: `set/delete/sum inside commits + direct kv.set/delete`,
        },
        {
          key: "kv_reads_per_pod",
          name: "KV reads per pod lifecycle",
          value: r.readsPerPod,
          unit: "keys read",
          target: "",
          note: "get + getMany keys + list entries",
        },
      );
      extra.kv_counts = r.counts;
    });

    // --- 1k pods -------------------------------------------------------------------------------
    let small: RunResult | undefined;
    await phase("small", async () => {
      const b = await Bench.start("small", opts);
      try {
        small = await throughputRun(b, "s", opts.nSmall, opts);
        log(`small: ${describeRun(small)}`);
        const rss = await b.proc.rss();
        extra.rss_mb_1k = Math.round(rss.rss);
        extra.first_running_s_1k = small.firstRunningSeconds;
        extra.creates_answered_s_1k = small.createSeconds;
      } finally {
        await b.close();
      }
      figures.push(
        runFigure("pods_per_s_1k", `create→Running throughput, ${NS} pods`, small, opts),
        latencyFigure("p50_ms_1k", `  p50 create→Running, ${NS} pods (closed loop)`, small, 50),
        latencyFigure("p99_ms_1k", `  p99 create→Running, ${NS} pods (closed loop)`, small, 99),
      );
    });

    // --- 10k pods ------------------------------------------------------------------------------
    await controllerPhase("big", async (b) => {
      const big = await throughputRun(b, "b", opts.n, opts);
      log(`big: ${describeRun(big)}`);
      extra.first_running_s_10k = big.firstRunningSeconds;
      extra.creates_answered_s_10k = big.createSeconds;
      const f = runFigure(
        "pods_per_s_10k",
        `create→Running throughput, ${N} pods`,
        big,
        opts,
        "≥ 2,000 and ≥ 80 % of the small run",
      );
      if (small && f.ok !== undefined) {
        const ratio = big.podsPerSec / small.podsPerSec;
        f.ok = f.ok && ratio >= 0.8;
        f.note = `${(ratio * 100).toFixed(0)} % of the small run; ${f.note ?? ""}`;
      }
      figures.push(
        f,
        latencyFigure("p50_ms_10k", `  p50 create→Running, ${N} pods (closed loop)`, big, 50),
        latencyFigure("p99_ms_10k", `  p99 create→Running, ${N} pods (closed loop)`, big, 99),
      );
      // Measure the steady state: the controller done with what the run left it to do.
      const settled = await b.proc.settle(30_000);
      log(`big: controller idle after ${settled.toFixed(1)} s more`);
      extra.settle_s_10k = settled;
      const live = await placement(b);
      const livePods = `${fmt(live.pods.size)} pods (${fmt(live.running)} Running), ` +
        `${fmt(live.nodes.size)} nodes` +
        (live.nodes.size > live.pods.size
          ? ` (${fmt(live.nodes.size - live.pods.size)} more than pods)`
          : "");
      const phases = Object.entries(live.nodePhases).map(([k, v]) => `${k} ${v}`).join(", ");
      log(`big: live: ${livePods} (${phases})`);
      extra.node_phases_10k = live.nodePhases;

      // At rest: the RSS when it went idle, and 10 s later, once the controller's memory
      // reducer (model/memory_reducer.ts) had the quiet it waits for to compact the heap the
      // burst grew. The second is the figure: what a cluster that is not busy holds.
      const firstIdle = await b.proc.rss();
      extra.rss_first_idle_mb_10k = Math.round(firstIdle.rss);
      await sleep(REST_MS);
      const rss = await b.proc.rss();
      log(
        `big: RSS ${firstIdle.rss.toFixed(0)} MiB when idle, ` +
          `${rss.rss.toFixed(0)} MiB ${REST_MS / 1000} s later`,
      );
      figures.push({
        key: "rss_mb_10k",
        name: `controller RSS with ${N} live pods`,
        value: rss.rss,
        unit: "MiB",
        target: "≤ 400",
        ok: rss.rss <= 400 && live.running >= opts.n,
        note: `VmRSS ${REST_MS / 1000} s after it went idle (${
          firstIdle.rss.toFixed(0)
        } MiB then, peak VmHWM ${rss.hwm.toFixed(0)} MiB); ${livePods}`,
      });
      extra.rss_hwm_mb_10k = Math.round(rss.hwm);

      const first = await milpactlGetPods(b);
      const second = await milpactlGetPods(b);
      log(
        `big: milpactl get pods: ${first.seconds.toFixed(2)} s, then ` +
          `${second.seconds.toFixed(2)} s (${first.lines} lines)`,
      );
      figures.push(
        {
          key: "get_pods_s_10k",
          name: `milpactl get pods, ${fmt(live.pods.size)} pods`,
          value: first.ok ? first.seconds : NaN,
          unit: "s",
          target: "≤ 1",
          ok: first.ok && first.seconds <= 1 && first.lines === live.pods.size + 1,
          note: `end to end, Deno start-up included; ${first.lines - 1} rows`,
        },
        {
          key: "get_pods_s_10k_second",
          name: `  milpactl get pods, second run`,
          value: second.ok ? second.seconds : NaN,
          unit: "s",
          target: "",
          note: "the same, modules cached and the controller warm",
        },
      );

      const pod = [...live.pods.keys()].sort()[0];
      log(`big: wrk -t2 -c50 -d${opts.wrkSeconds}s GET pods/${pod}`);
      const wrk = await wrkGetOne(b, pod, opts.wrkSeconds);
      const p99 = wrk.latencyMs["99"];
      const wrkNote = `wrk -t2 -c50 -d${opts.wrkSeconds}s over https (no cert check), ` +
        `same 2 cores; ${fmt(wrk.requests)} requests` +
        (wrk.non2xx ? `, ${fmt(wrk.non2xx)} non-2xx` : "") +
        (wrk.socketErrors ? `, ${fmt(wrk.socketErrors)} socket errors` : "");
      figures.push(
        {
          key: "get_one_rps",
          name: `GET one pod (${N} live)`,
          value: wrk.requestsPerSec,
          unit: "req/s",
          target: "≥ 20,000",
          ok: wrk.requestsPerSec >= 20_000 && wrk.non2xx === 0,
          note: wrkNote,
        },
        {
          key: "get_one_p99_ms",
          name: `  p99 of GET one pod`,
          value: p99,
          unit: "ms",
          target: "< 10",
          ok: p99 < 10 && wrk.non2xx === 0,
          note: `p50 ${wrk.latencyMs["50"]?.toFixed(2)} ms`,
        },
      );
      extra.get_one_p50_ms = wrk.latencyMs["50"];

      log("big: kill -9 and restart");
      const r = await restart(b, opts);
      const c = r.check;
      const problems = [
        c.podsLost.length && `${c.podsLost.length} pods lost`,
        c.podsNew.length && `${c.podsNew.length} pods new`,
        c.nodesLost.length && `${c.nodesLost.length} nodes lost`,
        c.nodesNew.length && `${c.nodesNew.length} nodes new`,
        c.podsMoved.length && `${c.podsMoved.length} pods on another node`,
        c.nodesShared.length && `${c.nodesShared.length} nodes with 2+ pods`,
        r.laterRunning < r.before.running &&
        `${r.before.running - r.laterRunning} fewer Running 5 s later`,
        !r.allRunning && `not all Running within ${opts.phaseTimeout} s`,
      ].filter(Boolean);
      log(
        `big: restart: serving after ${r.apiSeconds.toFixed(2)} s, all Running after ` +
          `${r.readySeconds.toFixed(2)} s; ${problems.length ? problems.join(", ") : "intact"}`,
      );
      figures.push(
        {
          key: "restart_s_10k",
          name: `kill -9 + restart, ${fmt(r.before.pods.size)} pods`,
          value: r.readySeconds,
          unit: "s",
          target: "≤ 3, nothing lost/duplicated",
          ok: r.readySeconds <= 3 && r.intact && r.allRunning,
          note: `until serving (actors restored) and a list showing every pod Running on ` +
            `its node (listing took ${r.checkSeconds.toFixed(2)} s more); ` +
            (problems.length ? problems.join(", ") : "all pods and nodes intact 5 s later"),
        },
        {
          key: "restart_api_s_10k",
          name: `  restart: until the API serves`,
          value: r.apiSeconds,
          unit: "s",
          target: "",
          note: "Deno start-up and actor restore included",
        },
      );
      extra.restart_check = {
        pods_before: r.before.pods.size,
        nodes_before: r.before.nodes.size,
        nodes_added_for_pods_without_one: r.nodesAdded,
        active_actors_listed_after: r.actorsListed,
        ...Object.fromEntries(Object.entries(c).map(([k, v]) => [k, v.length])),
      };
    });

    // --- a Deployment of 10k replicas ----------------------------------------------------------
    await controllerPhase("deploy", async (b) => {
      const r = await deploymentRun(b, opts.n, opts);
      log(
        `deploy: ${fmt(r.running)} Running after ${r.runningSeconds.toFixed(1)} s, ` +
          `${fmt(r.available)} available after ${r.availableSeconds.toFixed(1)} s`,
      );
      const note = r.complete
        ? `Deployment created with ${fmt(opts.n)} replicas; all Running after ` +
          `${r.runningSeconds.toFixed(1)} s`
        : `only ${fmt(r.running)} Running and ${fmt(r.available)} available in ` +
          `${r.availableSeconds.toFixed(0)} s`;
      figures.push({
        key: "deploy_pods_per_s_10k",
        name: `Deployment of ${N}: create → all available`,
        value: r.available / r.availableSeconds,
        unit: "pods/s",
        target: "",
        ...(r.complete ? {} : { ok: false }),
        note,
      });
      extra.deploy_running_s_10k = r.runningSeconds;
      extra.deploy_available_s_10k = r.availableSeconds;
      if (r.down) {
        log(
          `deploy: scaled to 0: ${
            r.down.left ? `${fmt(r.down.left)} pods and nodes left` : "no pod running, no node"
          } after ${r.down.seconds.toFixed(1)} s`,
        );
        figures.push({
          key: "deploy_down_s_10k",
          name: `  then scaled to 0: until no pod runs and no node is left`,
          value: r.down.seconds,
          unit: "s",
          target: "",
          ...(r.down.left ? { ok: false } : {}),
          note: r.down.left
            ? `${fmt(r.down.left)} pods and nodes left after ${r.down.seconds.toFixed(0)} s`
            : "pods Terminated (shown for 3 min, then purged), nodes terminated and removed",
        });
      }
    });

    // --- kill -9 in the middle of a Deployment's scale-up ----------------------------------------
    await controllerPhase("crash", async (b) => {
      const r = await crashRun(b, opts.n, opts);
      const c = r.check;
      const problems = [
        c.livePods !== opts.n && `${fmt(c.livePods)} live pods`,
        c.podsWithoutNode.length && `${fmt(c.podsWithoutNode.length)} pods without a node`,
        c.nodesShared.length && `${fmt(c.nodesShared.length)} nodes shared`,
        c.nodesWithoutPod.length && `${fmt(c.nodesWithoutPod.length)} nodes without a pod`,
      ].filter(Boolean);
      const at = r.atKill;
      const killed = `killed ${CRASH_AFTER_MS / 1000} s in: ${fmt(at.pods.Running)} Running, ` +
        `${fmt(at.pods.Waiting + at.pods.Dispatching)} starting, ${fmt(at.nodes)} nodes`;
      log(
        `crash: ${killed}; ${fmt(r.available)} available ${r.availableSeconds.toFixed(1)} s ` +
          `after the kill; ${problems.length ? problems.join(", ") : "one node per pod"} after ` +
          `${r.settledSeconds.toFixed(1)} s`,
      );
      figures.push(
        {
          key: "crash_available_s_10k",
          name: `kill -9 mid scale-up of a Deployment of ${N}: until all available`,
          value: r.available >= opts.n ? r.availableSeconds : NaN,
          unit: "s",
          target: "",
          ...(r.available >= opts.n ? {} : { ok: false }),
          note: `from the kill (restart included); ${killed}` +
            (r.available >= opts.n ? "" : `; only ${fmt(r.available)} available`),
        },
        {
          key: "crash_settled_s_10k",
          name: `  until one node per live pod, none left over`,
          value: r.settledSeconds,
          unit: "s",
          target: "",
          ...(problems.length ? { ok: false } : {}),
          note: problems.length ? problems.join(", ") : "every pod on a node of its own",
        },
      );
    });

    // --- a Deployment of 10k behind two Services, then a rollout -------------------------------
    await controllerPhase("svc", async (b) => {
      const r = await serviceRun(b, opts.n, opts);
      const ro = r.rollout;
      log(
        `svc: ${fmt(r.available)} available after ${r.availableSeconds.toFixed(1)} s` +
          (ro
            ? `; rolled out ${ro.done ? "" : "only partly "}in ${ro.seconds.toFixed(1)} s ` +
              `(${statusCounts(ro.status)})`
            : ""),
      );
      const behind = "behind a Service and a LoadBalancer Service";
      figures.push({
        key: "svc_available_s_10k",
        name: `Deployment of ${N} ${behind}: until all available`,
        value: r.available >= opts.n ? r.availableSeconds : NaN,
        unit: "s",
        target: "",
        ...(r.available >= opts.n ? {} : { ok: false }),
        note: r.available >= opts.n
          ? "available: ready and admitted by the load balancer"
          : `only ${fmt(r.available)} available in ${r.availableSeconds.toFixed(0)} s`,
      });
      if (ro) {
        figures.push({
          key: "svc_rollout_s_10k",
          name: `  then a new template: until all ${N} new pods available, no old one left`,
          value: ro.done ? ro.seconds : NaN,
          unit: "s",
          target: "",
          ...(ro.done ? {} : { ok: false }),
          note: ro.done
            ? "default strategy (maxSurge 25 %, maxUnavailable 25 %)"
            : `not done in ${ro.seconds.toFixed(0)} s: ${statusCounts(ro.status)}`,
        });
      }
    });

    // --- open loop at 500 pods/s ---------------------------------------------------------------
    await controllerPhase("rate", async (b) => {
      const r = await openLoopRun(b, "r", opts);
      log(`rate: ${describeRun(r)}`);
      const label = `${fmt(opts.rate)} pods/s for ${opts.rateSeconds} s`;
      const all = r.running === r.n;
      const p = (q: number) => {
        const v = percentile(r.latencies, q);
        // Pods never Running are slower than any that was: a percentile among them is only
        // known to be past the wait.
        return r.latencies.length && Math.ceil((q / 100) * r.n) <= r.latencies.length
          ? v
          : r.waitedSeconds * 1000;
      };
      const p99 = p(99);
      const partial = all ? "" : `; only ${fmt(r.running)} of ${fmt(r.n)} Running: a lower bound`;
      figures.push(
        {
          key: "p99_ms_at_500_per_s",
          name: `p99 create→Running at ${label}`,
          value: p99,
          unit: "ms",
          target: "≤ 1,000",
          ok: all && p99 <= 1000,
          note: `open loop, ${fmt(r.n)} pods; achieved ${(r.running / r.seconds).toFixed(0)} ` +
            `Running/s${partial}`,
        },
        {
          key: "p50_ms_at_500_per_s",
          name: `  p50 create→Running at ${label}`,
          value: p(50),
          unit: "ms",
          target: "",
          note: `sender lag ≤ ${r.maxLagMs.toFixed(0)} ms`,
        },
      );
    });
  } finally {
    await cleanUp();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const order = [
    "pods_per_s_1k",
    "p50_ms_1k",
    "p99_ms_1k",
    "pods_per_s_10k",
    "p50_ms_10k",
    "p99_ms_10k",
    "p99_ms_at_500_per_s",
    "p50_ms_at_500_per_s",
    "deploy_pods_per_s_10k",
    "deploy_down_s_10k",
    "crash_available_s_10k",
    "crash_settled_s_10k",
    "svc_available_s_10k",
    "svc_rollout_s_10k",
    "rss_mb_10k",
    "restart_s_10k",
    "restart_api_s_10k",
    "get_pods_s_10k",
    "get_pods_s_10k_second",
    "get_one_rps",
    "get_one_p99_ms",
    "kv_commits_per_pod",
    "kv_mutations_per_pod",
    "kv_reads_per_pod",
  ];
  figures.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
  console.log(
    `Milpa scale benchmark — ${new Date().toISOString()}, commit ${readCommit()}\n` +
      `controller: ${controllerDesc}; https (clients trust its CA; wrk does not check); ` +
      `on-disk KV in a fresh MILPA_HOME per phase; ${Deno.build.target}, ` +
      `${navigator.hardwareConcurrency} CPUs shared with the load generators; ` +
      `load average ${extra.load_average_at_start} at the start, ${loadAverage()} at the end\n`,
  );
  console.log(formatTable(figures));
  const failed = figures.filter((f) => f.ok === false).length;
  const passed = figures.filter((f) => f.ok === true).length;
  console.log(
    `\n${passed} targets met, ${failed} not${broken ? "; a phase broke (see above)" : ""}`,
  );

  // Only a full run of 10,000 writes scale.json: a trial (other sizes, some phases) never
  // overwrites it.
  const trial = `${opts.n === 10_000 ? "scale" : `scale-n${opts.n}`}` +
    (opts.only ? `-${[...opts.only].join("-")}` : "");
  const out = opts.out ?? `${REPO}/bench/results/${trial}.json`;
  const required = [
    "pods_per_s_1k",
    "pods_per_s_10k",
    "p99_ms_at_500_per_s",
    "rss_mb_10k",
    "restart_s_10k",
    "get_pods_s_10k",
    "get_one_rps",
    "get_one_p99_ms",
    "kv_commits_per_pod",
    "kv_mutations_per_pod",
  ];
  const values = figuresJson(figures);
  const results = {
    ...Object.fromEntries(required.map((k) => [k, values[k] ?? null])),
    ...values,
    date: new Date().toISOString(),
    commit: readCommit(),
    n: opts.n,
    n_small: opts.nSmall,
    controller: controllerDesc,
    tls: true,
    load_average_at_end: loadAverage(),
    targets_met: passed,
    targets_missed: Object.fromEntries(
      figures.filter((f) => f.ok === false).map((f) => [f.key, f.note ?? ""]),
    ),
    ...extra,
  };
  await Deno.mkdir(out.slice(0, out.lastIndexOf("/")) || ".", { recursive: true });
  await Deno.writeTextFile(out, JSON.stringify(results, null, 2) + "\n");
  console.log(`figures written to ${out.replace(`${REPO}/`, "")}`);
  return broken ? 1 : 0;
}

function runFigure(
  key: string,
  name: string,
  r: RunResult,
  opts: ScaleOptions,
  target = "",
): Figure {
  const how = `closed loop, ${opts.clients} clients × ${opts.batch}/batch`;
  return {
    key,
    name,
    value: r.podsPerSec,
    unit: "pods/s",
    target,
    ok: !r.complete ? false : target ? r.podsPerSec >= 2000 : undefined,
    note: r.complete
      ? `${how}; ${r.seconds.toFixed(1)} s`
      : `${how}; only ${fmt(r.running)} of ${fmt(r.n)} Running in ${r.seconds.toFixed(0)} s` +
        (r.createErrors.length
          ? `; ${r.createErrors.length} batches refused: ${r.createErrors[0]}`
          : ""),
  };
}

function latencyFigure(key: string, name: string, r: RunResult, p: number): Figure {
  return {
    key,
    name,
    value: percentile(r.latencies, p),
    unit: "ms",
    target: "",
    note: r.complete ? "" : `of the ${fmt(r.running)} Running`,
  };
}
