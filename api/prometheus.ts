/**
 * Prometheus' text exposition format (version 0.0.4) for the few metric types the controller
 * has: counters, gauges and histograms, each optionally with labels, in a registry that renders
 * them in the order they were made.
 *
 * The controller used prom-client for this. Loading it (CommonJS through Deno's Node
 * compatibility, with its default process metrics, summaries and push gateway client) added
 * ~40 ms to every controller start, and observing a request went through its label checks and
 * hashing: 1.7 % of the main thread under `wrk` on one pod. This renders the same text.
 * See docs/decisions/0004-own-prometheus-exposition.md.
 */

/** The content type of `Registry.metrics()`. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A series' label values by label name. */
export type Labels<L extends string> = { [K in L]?: string | number };

/** What each metric type needs to be made. */
export interface MetricOptions<L extends string, M> {
  name: string;
  help: string;
  labelNames?: readonly L[];
  /** The registry it is rendered by. */
  registry?: Registry;
  /** Called before each rendering, to set values that are read rather than counted. */
  collect?: (this: M) => void;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeHelp(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** A sample value as the format writes it. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** The series of one metric: label values → its rendered labels and its value(s). */
abstract class Metric<L extends string, S, M> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  readonly #collect?: (this: M) => void;
  /** By the label values joined with NUL (which no label value of ours contains unescaped). */
  protected readonly series = new Map<string, { labels: string; value: S }>();

  constructor(readonly type: "counter" | "gauge" | "histogram", o: MetricOptions<L, M>) {
    if (!METRIC_NAME.test(o.name)) throw new Error(`invalid metric name "${o.name}"`);
    for (const l of o.labelNames ?? []) {
      if (!LABEL_NAME.test(l) || l.startsWith("__")) {
        throw new Error(`invalid label name "${l}" of ${o.name}`);
      }
    }
    this.name = o.name;
    this.help = o.help;
    this.labelNames = o.labelNames ?? [];
    this.#collect = o.collect;
    o.registry?.register(this);
  }

  protected abstract zero(): S;

  /**
   * The series of these label values, made on first use. An unlabelled metric's one series is
   * there from the start, as far as anyone can see (a counter at 0 is a sample).
   */
  protected at(labels: Labels<L> | undefined): { labels: string; value: S } {
    const names = this.labelNames;
    if (names.length === 0) {
      let s = this.series.get("");
      if (!s) this.series.set("", s = { labels: "", value: this.zero() });
      return s;
    }
    let key = "";
    for (let i = 0; i < names.length; i++) {
      const v = labels?.[names[i]];
      if (v === undefined) throw new Error(`${this.name}: label "${names[i]}" missing`);
      key += i === 0 ? String(v) : `\0${v}`;
    }
    let s = this.series.get(key);
    if (!s) {
      for (const k of Object.keys(labels!)) {
        if (!names.includes(k as L)) throw new Error(`${this.name}: unknown label "${k}"`);
      }
      const rendered = names.map((n) => `${n}="${escapeLabelValue(String(labels![n]))}"`);
      s = { labels: rendered.join(","), value: this.zero() };
      this.series.set(key, s);
    }
    return s;
  }

  /** Forgets every series (an unlabelled metric goes back to zero). */
  reset(): void {
    this.series.clear();
  }

  /** The metric's lines: HELP, TYPE, then one per sample. */
  render(): string {
    this.#collect?.call(this as unknown as M);
    if (this.labelNames.length === 0) this.at(undefined);
    const lines = [
      `# HELP ${this.name} ${escapeHelp(this.help)}`,
      `# TYPE ${this.name} ${this.type}`,
    ];
    for (const s of this.series.values()) this.samples(s.labels, s.value, lines);
    return lines.join("\n");
  }

  protected abstract samples(labels: string, value: S, out: string[]): void;
}

/** `name{labels} value`. */
function sample(name: string, labels: string, value: number): string {
  return labels ? `${name}{${labels}} ${formatValue(value)}` : `${name} ${formatValue(value)}`;
}

/** A metric of one number per series: a counter or a gauge. */
abstract class OneValue<L extends string, M> extends Metric<L, { v: number }, M> {
  protected zero() {
    return { v: 0 };
  }

  protected samples(labels: string, value: { v: number }, out: string[]): void {
    out.push(sample(this.name, labels, value.v));
  }
}

/** A value that only goes up (reset() aside). */
export class Counter<L extends string = never> extends OneValue<L, Counter<L>> {
  constructor(o: MetricOptions<L, Counter<L>>) {
    super("counter", o);
  }

  /** Adds `by` (1 by default, never negative) to the series of `labels`. */
  inc(labels?: Labels<L> | number, by = 1): void {
    if (typeof labels === "number") [by, labels] = [labels, undefined];
    if (!(by >= 0)) throw new Error(`${this.name}: a counter cannot go down (by ${by})`);
    this.at(labels).value.v += by;
  }
}

/** A value that is set. */
export class Gauge<L extends string = never> extends OneValue<L, Gauge<L>> {
  constructor(o: MetricOptions<L, Gauge<L>>) {
    super("gauge", o);
  }

  /** Sets the series of `labels` to `value`. */
  set(labels: Labels<L> | number, value?: number): void {
    if (typeof labels === "number") this.at(undefined).value.v = labels;
    else this.at(labels).value.v = value!;
  }
}

interface Buckets {
  /** Observations per bucket (not cumulative), the last one past every bound. */
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted in buckets of upper bounds, with their sum and count. */
export class Histogram<L extends string = never> extends Metric<L, Buckets, Histogram<L>> {
  readonly #bounds: number[];

  constructor(o: MetricOptions<L, Histogram<L>> & { buckets: number[] }) {
    // Checked before it is registered.
    const bounds = [...o.buckets].sort((a, b) => a - b);
    if (bounds.length === 0 || bounds.some((b) => !Number.isFinite(b))) {
      throw new Error(`${o.name}: buckets must be finite numbers, at least one`);
    }
    if (o.labelNames?.includes("le" as L)) throw new Error(`${o.name}: label "le" is reserved`);
    super("histogram", o);
    this.#bounds = bounds;
  }

  protected zero(): Buckets {
    return { counts: new Array(this.#bounds.length + 1).fill(0), sum: 0, count: 0 };
  }

  /** Counts `value` in the series of `labels`. */
  observe(labels: Labels<L> | number, value?: number): void {
    let v: number;
    let s: Buckets;
    if (typeof labels === "number") {
      v = labels;
      s = this.at(undefined).value;
    } else {
      v = value!;
      s = this.at(labels).value;
    }
    const bounds = this.#bounds;
    let i = 0;
    while (i < bounds.length && v > bounds[i]) i++;
    s.counts[i]++;
    s.sum += v;
    s.count++;
  }

  protected samples(labels: string, value: Buckets, out: string[]): void {
    const rest = labels ? `,${labels}` : "";
    let acc = 0;
    for (let i = 0; i < this.#bounds.length; i++) {
      acc += value.counts[i];
      out.push(`${this.name}_bucket{le="${formatValue(this.#bounds[i])}"${rest}} ${acc}`);
    }
    out.push(`${this.name}_bucket{le="+Inf"${rest}} ${value.count}`);
    out.push(sample(`${this.name}_sum`, labels, value.sum));
    out.push(sample(`${this.name}_count`, labels, value.count));
  }
}

/** Metrics rendered together, in the order they were made. */
export class Registry {
  readonly contentType = PROMETHEUS_CONTENT_TYPE;
  readonly #metrics: { name: string; render(): string }[] = [];

  /** Adds a metric (its constructor does, given `registry`). Names are unique. */
  register(m: { name: string; render(): string }): void {
    if (this.#metrics.some((x) => x.name === m.name)) {
      throw new Error(`a metric named ${m.name} is registered already`);
    }
    this.#metrics.push(m);
  }

  /** Every metric in the text format: families separated by a blank line, a newline at the end. */
  metrics(): string {
    return `${this.#metrics.map((m) => m.render()).join("\n\n")}\n`;
  }
}
