/**
 * Pure helpers of `deno task bench --scale` (bench/scale.ts): percentiles, wrk's output,
 * command-line options, the figures and their targets, and the table. No I/O here.
 */

/** The `p`th percentile (nearest rank) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** What `wrk --latency` printed, in requests/s and milliseconds. */
export interface WrkResult {
  requestsPerSec: number;
  requests: number;
  /** Latency percentiles from the "Latency Distribution" block, in ms (50, 75, 90, 99). */
  latencyMs: Record<string, number>;
  /** "Non-2xx or 3xx responses: N", 0 when absent. */
  non2xx: number;
  /** Connect/read/write/timeout errors, 0 when absent. */
  socketErrors: number;
}

/** A wrk duration ("812.00us", "1.20ms", "2.01s", "1.00m") in milliseconds. */
export function wrkDurationMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`not a wrk duration: "${text}"`);
  const n = Number(m[1]);
  const scale: Record<string, number> = { us: 1e-3, ms: 1, s: 1e3, m: 60e3, h: 3600e3 };
  return n * scale[m[2]];
}

/** Parses wrk's report (run with `--latency`). */
export function parseWrk(out: string): WrkResult {
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  if (!rps) throw new Error(`wrk printed no Requests/sec:\n${out}`);
  const total = /(\d+) requests in/.exec(out);
  const latencyMs: Record<string, number> = {};
  const dist = out.split(/Latency Distribution.*\n/)[1] ?? "";
  for (const line of dist.split("\n")) {
    const m = /^\s*(\d+(?:\.\d+)?)%\s+(\S+)\s*$/.exec(line);
    if (!m) {
      if (Object.keys(latencyMs).length) break;
      continue;
    }
    latencyMs[String(Number(m[1]))] = wrkDurationMs(m[2]);
  }
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(out);
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSec: Number(rps[1]),
    requests: total ? Number(total[1]) : NaN,
    latencyMs,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
    socketErrors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
  };
}

/** Options of `--scale`. */
export interface ScaleOptions {
  /** Pods of the big runs (10k figures). @default 10000 */
  n: number;
  /** Pods of the small run (1k figure) and of the KV count. @default n / 10 */
  nSmall: number;
  /** Offered rate of the open-loop run, pods/s. @default 500 */
  rate: number;
  /** Seconds the open-loop run offers `rate`. @default n / rate (20 s at 10k) */
  rateSeconds: number;
  /** Pods per create request (`POST /api/v1/batch`; at most 100). @default 25 */
  batch: number;
  /** Concurrent create clients of the throughput runs. @default 8 */
  clients: number;
  /** Seconds a phase may take before what it reached is reported as failed. @default 120 */
  phaseTimeout: number;
  /** Seconds of the wrk run. @default 10 */
  wrkSeconds: number;
  /** Phases to run (all by default). */
  only?: Set<Phase>;
  /** Where the figures go. @default bench/results/scale.json (scale-n<N>.json when n ≠ 10000; -<phases> added with --only) */
  out?: string;
  /** Keep the MILPA_HOMEs (for a look afterwards). */
  keep: boolean;
}

/** The phases of `--scale`, in the order they run. */
export const PHASES = ["kv", "small", "big", "deploy", "crash", "svc", "rate"] as const;
export type Phase = typeof PHASES[number];

export const SCALE_USAGE = `Usage: deno task bench --scale [options]

Runs the scale benchmark: pods through create → Running on a controller on the simulated
cloud with on-disk KV (a process of its own, https), and prints one table of figures and
targets; writes them to bench/results/scale.json.

Options:
  --n N              pods of the big runs (default 10000; the 10k figures)
  --n-small N        pods of the small run and the KV count (default n/10)
  --rate R           offered pods/s of the open-loop run (default 500)
  --rate-seconds S   seconds of the open-loop run (default n/rate)
  --batch B          pods per create request, 1..100 (default 25)
  --clients C        concurrent create clients of the throughput runs (default 8)
  --phase-timeout S  seconds before a phase gives up and reports what it reached (default 120)
  --wrk-seconds S    seconds of the wrk run (default 10)
  --only LIST        some phases only, comma-separated: kv,small,big,deploy,crash,svc,rate
  --out FILE         results file (default bench/results/scale.json; scale-n<N>.json when
                     --n is not 10000, and -<phases> added with --only)
  --keep             keep the temporary MILPA_HOMEs
  -h, --help         this help`;

/** Parses the arguments after `--scale`. */
export function parseScaleArgs(args: string[]): ScaleOptions | "help" {
  const raw = new Map<string, string>();
  let keep = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--scale") continue;
    if (a === "-h" || a === "--help") return "help";
    if (a === "--keep") {
      keep = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument "${a}"\n\n${SCALE_USAGE}`);
    const value = m[2] ?? args[++i];
    if (value === undefined) throw new Error(`${a} needs a value`);
    raw.set(m[1], value);
  }
  const known = [
    "n",
    "n-small",
    "rate",
    "rate-seconds",
    "batch",
    "clients",
    "phase-timeout",
    "wrk-seconds",
    "only",
    "out",
  ];
  for (const k of raw.keys()) {
    if (!known.includes(k)) throw new Error(`unknown option --${k}\n\n${SCALE_USAGE}`);
  }
  const num = (k: string, dflt: number, min: number, max = Infinity) => {
    const v = raw.get(k);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max) {
      throw new Error(`--${k} must be a number from ${min} to ${max}, not "${v}"`);
    }
    return n;
  };
  const n = Math.round(num("n", 10_000, 10, 100_000));
  const nSmall = Math.round(num("n-small", Math.max(10, Math.round(n / 10)), 1, 100_000));
  const rate = num("rate", 500, 1, 100_000);
  const only = raw.get("only");
  let phases: Set<Phase> | undefined;
  if (only !== undefined) {
    phases = new Set();
    for (const p of only.split(",").map((s) => s.trim()).filter(Boolean)) {
      if (!(PHASES as readonly string[]).includes(p)) {
        throw new Error(`--only: unknown phase "${p}" (phases: ${PHASES.join(", ")})`);
      }
      phases.add(p as Phase);
    }
  }
  return {
    n,
    nSmall,
    rate,
    rateSeconds: num("rate-seconds", n / rate, 0.1, 3600),
    batch: Math.round(num("batch", 25, 1, 100)),
    clients: Math.round(num("clients", 8, 1, 1000)),
    phaseTimeout: num("phase-timeout", 120, 1, 3600),
    wrkSeconds: Math.round(num("wrk-seconds", 10, 1, 600)),
    only: phases,
    out: raw.get("out"),
    keep,
  };
}

/** One row of the table. */
export interface Figure {
  /** The results key (one of the fixed ones, or an extra). */
  key: string;
  /** What it is, for people. */
  name: string;
  /** NaN when the phase did not get to measure it. */
  value: number;
  unit: string;
  /** The target, for people; empty when the figure has none. */
  target: string;
  /** Whether the target is met; undefined when there is no target. */
  ok?: boolean;
  /** Why it failed or how it was measured (partial run, timeouts). */
  note?: string;
}

/** A number for the table: integers with thousands separators, small ones with decimals. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "n/a";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "-∞";
  const abs = Math.abs(v);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return v.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** The table: name, value, unit, target, result, note. */
export function formatTable(figures: Figure[]): string {
  const rows = [
    ["figure", "value", "unit", "target", "result", "note"],
    ...figures.map((f) => [
      f.name,
      formatValue(f.value),
      f.unit,
      f.target || "-",
      f.ok === undefined ? "-" : f.ok ? "PASS" : "FAIL",
      f.note ?? "",
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => [...r[c]].length)));
  const line = (r: string[]) =>
    r.map((cell, c) => c === 1 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])).join("  ")
      .trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)]
    .join("\n");
}

/** The figures as the results file's numbers (NaN becomes null: JSON has no NaN). */
export function figuresJson(figures: Figure[]): Record<string, number | null> {
  const out: Record<string, number | null> = {};
  for (const f of figures) out[f.key] = Number.isFinite(f.value) ? round(f.value) : null;
  return out;
}

function round(v: number): number {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 1000) / 1000;
}

/** Splits `total` items into chunks of at most `size`. */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Pods and nodes as a controller lists them. */
export interface PlacementSnapshot {
  /** pod name (namespace default) → bound node name ("" when none). */
  pods: Map<string, string>;
  /** node name → bound pod ("namespace/name", "" when none). */
  nodes: Map<string, string>;
}

/** What changed between two snapshots that should not have. */
export interface PlacementCheck {
  podsLost: string[];
  podsNew: string[];
  nodesLost: string[];
  /** New nodes for pods that had a node before: a second node for a pod. */
  nodesNew: string[];
  /** Pods now on another node than before. */
  podsMoved: string[];
  /** Nodes that more than one pod says it is bound to. */
  nodesShared: string[];
}

/**
 * Checks pods and nodes after a restart against before: every pod and node still there (none
 * lost, none new), each pod on the node it was on, and no node shared. A pod that had no node
 * before may have got one since (it was still starting): that node is not counted as new.
 */
export function comparePlacement(
  before: PlacementSnapshot,
  after: PlacementSnapshot,
): PlacementCheck {
  const minus = (a: Map<string, unknown>, b: Map<string, unknown>) =>
    [...a.keys()].filter((k) => !b.has(k));
  const podsMoved = [...before.pods].filter(([p, n]) =>
    after.pods.has(p) && n !== "" && after.pods.get(p) !== n
  ).map(([p]) => p);
  const seen = new Map<string, number>();
  for (const n of after.pods.values()) if (n) seen.set(n, (seen.get(n) ?? 0) + 1);
  const podName = (bound: string) => bound.slice(bound.indexOf("/") + 1);
  return {
    podsLost: minus(before.pods, after.pods),
    podsNew: minus(after.pods, before.pods),
    nodesLost: minus(before.nodes, after.nodes),
    nodesNew: minus(after.nodes, before.nodes).filter((n) => {
      const pod = after.nodes.get(n) ?? "";
      return pod === "" || !!before.pods.get(podName(pod));
    }),
    podsMoved,
    nodesShared: [...seen].filter(([, c]) => c > 1).map(([n]) => n),
  };
}

/** True when nothing was lost, added, moved or shared. */
export function placementIntact(c: PlacementCheck): boolean {
  return Object.values(c).every((list) => list.length === 0);
}

/** A pod or node as the one-node-per-pod check needs it. */
export interface Placed {
  name: string;
  /** Whether it is live: a pod not finished, a node not on its way out. */
  live: boolean;
  /** The node a pod is bound to, or the pod ("namespace/name") a node is bound to; "" when none. */
  bound: string;
}

/** What breaks "every live pod on a node of its own, and no other node". */
export interface OneNodeCheck {
  livePods: number;
  /** Live pods bound to no node, or to one that is not live or not bound back to them. */
  podsWithoutNode: string[];
  /** Nodes more than one live pod is bound to. */
  nodesShared: string[];
  /** Live nodes no live pod is bound to (booted for nobody, or left behind). */
  nodesWithoutPod: string[];
}

/** Checks that every live pod (namespace `ns`) has a node of its own and no node is left over. */
export function oneNodePerPod(pods: Placed[], nodes: Placed[], ns = "default"): OneNodeCheck {
  const liveNodes = new Map(nodes.filter((n) => n.live).map((n) => [n.name, n.bound]));
  const holders = new Map<string, number>();
  const podsWithoutNode: string[] = [];
  let livePods = 0;
  for (const p of pods) {
    if (!p.live) continue;
    livePods++;
    if (!p.bound || liveNodes.get(p.bound) !== `${ns}/${p.name}`) podsWithoutNode.push(p.name);
    if (p.bound) holders.set(p.bound, (holders.get(p.bound) ?? 0) + 1);
  }
  return {
    livePods,
    podsWithoutNode,
    nodesShared: [...holders].filter(([, c]) => c > 1).map(([n]) => n),
    nodesWithoutPod: [...liveNodes.keys()].filter((n) => !holders.has(n)),
  };
}
