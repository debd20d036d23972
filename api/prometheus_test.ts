import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import {
  Counter,
  formatValue,
  Gauge,
  Histogram,
  PROMETHEUS_CONTENT_TYPE,
  Registry,
} from "./prometheus.ts";

Deno.test("Registry renders counters, gauges and histograms in the text format, in the order made", () => {
  const registry = new Registry();
  let phases = { Running: 3, Waiting: 0 };
  new Gauge({
    name: "pods",
    help: 'Pods by phase,\\ "quoted"\nsecond line.',
    labelNames: ["phase"],
    registry,
    collect() {
      for (const [phase, n] of Object.entries(phases)) this.set({ phase }, n);
    },
  });
  const launches = new Counter({ name: "launches_total", help: "Launches.", registry });
  launches.inc();
  launches.inc(2.5);
  const failures = new Counter({
    name: "failures_total",
    help: "Failures.",
    labelNames: ["reason"],
    registry,
  });
  failures.inc({ reason: "capacity" }, 0);
  failures.inc({ reason: "cloud_error" });
  const start = new Histogram({
    name: "start_seconds",
    help: "Start.",
    buckets: [1, 0.5],
    registry,
  });
  for (const v of [0.1, 0.5, 0.7, 3]) start.observe(v);
  const requests = new Histogram({
    name: "request_seconds",
    help: "Requests.",
    labelNames: ["method", "route"],
    buckets: [0.01],
    registry,
  });
  requests.observe({ method: "GET", route: '/a"b\\c\nd' }, 0.005);
  requests.observe({ route: "/x", method: "POST" }, 2);
  new Histogram({
    name: "unused_seconds",
    help: "Unused.",
    labelNames: ["x"],
    buckets: [1],
    registry,
  });
  new Gauge({ name: "level", help: "Level.", registry });

  const text = registry.metrics();
  assert.equal(
    text,
    `# HELP pods Pods by phase,\\\\ "quoted"\\nsecond line.
# TYPE pods gauge
pods{phase="Running"} 3
pods{phase="Waiting"} 0

# HELP launches_total Launches.
# TYPE launches_total counter
launches_total 3.5

# HELP failures_total Failures.
# TYPE failures_total counter
failures_total{reason="capacity"} 0
failures_total{reason="cloud_error"} 1

# HELP start_seconds Start.
# TYPE start_seconds histogram
start_seconds_bucket{le="0.5"} 2
start_seconds_bucket{le="1"} 3
start_seconds_bucket{le="+Inf"} 4
start_seconds_sum 4.3
start_seconds_count 4

# HELP request_seconds Requests.
# TYPE request_seconds histogram
request_seconds_bucket{le="0.01",method="GET",route="/a\\"b\\\\c\\nd"} 1
request_seconds_bucket{le="+Inf",method="GET",route="/a\\"b\\\\c\\nd"} 1
request_seconds_sum{method="GET",route="/a\\"b\\\\c\\nd"} 0.005
request_seconds_count{method="GET",route="/a\\"b\\\\c\\nd"} 1
request_seconds_bucket{le="0.01",method="POST",route="/x"} 0
request_seconds_bucket{le="+Inf",method="POST",route="/x"} 1
request_seconds_sum{method="POST",route="/x"} 2
request_seconds_count{method="POST",route="/x"} 1

# HELP unused_seconds Unused.
# TYPE unused_seconds histogram

# HELP level Level.
# TYPE level gauge
level 0
`,
  );
  assert.equal(registry.contentType, PROMETHEUS_CONTENT_TYPE);
  // An independent parser reads it so.
  const families = parsePrometheus(text) as { name: string; type: string }[];
  assert.deepEqual(
    families.map((f) => `${f.name} ${f.type}`),
    [
      "pods GAUGE",
      "launches_total COUNTER",
      "failures_total COUNTER",
      "start_seconds HISTOGRAM",
      "request_seconds HISTOGRAM",
      "unused_seconds HISTOGRAM",
      "level GAUGE",
    ],
  );
  // collect() runs at each rendering.
  phases = { Running: 1, Waiting: 2 };
  assert.match(registry.metrics(), /pods\{phase="Running"\} 1\npods\{phase="Waiting"\} 2\n/);
});

Deno.test("a counter's reset() starts it over; its collect() can set it from elsewhere", () => {
  const registry = new Registry();
  let total = 5;
  new Counter({
    name: "compactions_total",
    help: "Compactions.",
    registry,
    collect() {
      this.reset();
      this.inc(total);
    },
  });
  assert.match(registry.metrics(), /\ncompactions_total 5\n/);
  total = 7;
  assert.match(registry.metrics(), /\ncompactions_total 7\n/);
});

Deno.test("metrics refuse what the format or their meaning does not allow", () => {
  const registry = new Registry();
  const c = new Counter({ name: "c_total", help: "C.", labelNames: ["reason"], registry });
  assert.throws(() => c.inc({ reason: "x" }, -1), /cannot go down/);
  assert.throws(() => c.inc({}), /label "reason" missing/);
  assert.throws(
    () => c.inc({ reason: "x", other: "y" } as unknown as { reason: string }),
    /unknown label "other"/,
  );
  assert.throws(() => new Counter({ name: "c_total", help: "Again.", registry }), /registered/);
  assert.throws(() => new Gauge({ name: "bad-name", help: "B." }), /invalid metric name/);
  assert.throws(
    () => new Gauge({ name: "g", help: "G.", labelNames: ["__reserved"] }),
    /invalid label name/,
  );
  assert.throws(
    () => new Histogram({ name: "h", help: "H.", labelNames: ["le"], buckets: [1], registry }),
    /"le" is reserved/,
  );
  assert.throws(() => new Histogram({ name: "h2", help: "H.", buckets: [] }), /at least one/);
  assert.equal(registry.metrics().match(/# TYPE/g)?.length, 1, "nothing refused was registered");
  assert.deepEqual([NaN, Infinity, -Infinity, 0.1, 2e-7].map(formatValue), [
    "NaN",
    "+Inf",
    "-Inf",
    "0.1",
    "2e-7",
  ]);
});
