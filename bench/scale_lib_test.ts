/** The pure helpers of the scale benchmark; runs no controller. */
import assert from "node:assert/strict";
import {
  comparePlacement,
  formatTable,
  formatValue,
  oneNodePerPod,
  parseScaleArgs,
  parseWrk,
  percentile,
  placementIntact,
  type ScaleOptions,
  wrkDurationMs,
} from "./scale_lib.ts";

Deno.test("percentile is the nearest rank", () => {
  const xs = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.deepEqual(percentile(xs, 50), 50);
  assert.deepEqual(percentile(xs, 99), 99);
  assert.deepEqual(percentile(xs, 100), 100);
  assert.deepEqual(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
});

const WRK = `Running 1s test @ https://127.0.0.1:18765/api/v1/namespaces/default/pods/b-0
  2 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.18ms  589.36us   8.42ms   83.89%
    Req/Sec     1.62k   154.07     1.77k    80.00%
  Latency Distribution
     50%  812.00us
     75%    1.38ms
     90%    1.75ms
     99%    1.03s
  1613 requests in 1.00s, 819.10KB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:   1612.57
Transfer/sec:    818.88KB
`;

Deno.test("wrk's report is parsed", () => {
  const r = parseWrk(WRK);
  assert.deepEqual(r.requestsPerSec, 1612.57);
  assert.deepEqual(r.requests, 1613);
  assert.deepEqual(r.latencyMs, { "50": 0.812, "75": 1.38, "90": 1.75, "99": 1030 });
  assert.deepEqual(r.non2xx, 12);
  assert.deepEqual(r.socketErrors, 3);
  assert.throws(() => parseWrk("unable to connect to 127.0.0.1:1 Connection refused"));
  assert.deepEqual(wrkDurationMs("2.00m"), 120_000);
});

Deno.test("--scale options: defaults scale with --n", () => {
  const d = parseScaleArgs(["--scale"]) as ScaleOptions;
  assert.deepEqual([d.n, d.nSmall, d.rate, d.rateSeconds, d.batch], [10_000, 1000, 500, 20, 25]);
  const q = parseScaleArgs(["--scale", "--n", "2000", "--only=kv,big"]) as ScaleOptions;
  assert.deepEqual([q.n, q.nSmall, q.rateSeconds], [2000, 200, 4]);
  assert.deepEqual([...q.only!], ["kv", "big"]);
  assert.deepEqual(parseScaleArgs(["--scale", "-h"]), "help");
  assert.throws(
    () => parseScaleArgs(["--scale", "--batch", "500"]),
    (e: Error) => e.message.includes("--batch"),
  );
  assert.throws(
    () => parseScaleArgs(["--scale", "--only", "nope"]),
    (e: Error) => e.message.includes("unknown phase"),
  );
  assert.throws(
    () => parseScaleArgs(["--scale", "--bogus", "1"]),
    (e: Error) => e.message.includes("unknown option"),
  );
});

Deno.test("a restart that lost, moved or doubled nothing is intact", () => {
  const before = {
    pods: new Map([["a", "n1"], ["b", "n2"], ["c", ""]]),
    nodes: new Map([["n1", "default/a"], ["n2", "default/b"]]),
  };
  // c got its node meanwhile: that is not a new node.
  const same = {
    pods: new Map([["a", "n1"], ["b", "n2"], ["c", "n3"]]),
    nodes: new Map([["n1", "default/a"], ["n2", "default/b"], ["n3", "default/c"]]),
  };
  assert.ok(placementIntact(comparePlacement(before, same)));
  const broken = {
    pods: new Map([["a", "n4"], ["c", "n4"], ["d", ""]]),
    nodes: new Map([["n1", "default/a"], ["n4", "default/a"]]),
  };
  assert.deepEqual(comparePlacement(before, broken), {
    podsLost: ["b"],
    podsNew: ["d"],
    nodesLost: ["n2"],
    nodesNew: ["n4"],
    podsMoved: ["a"],
    nodesShared: ["n4"],
  });
});

Deno.test("one node per live pod: a pod without one, a shared node and a node left over are found", () => {
  const pod = (name: string, bound: string, live = true) => ({ name, live, bound });
  const node = (name: string, bound: string, live = true) => ({ name, live, bound });
  const ok = oneNodePerPod(
    [pod("a", "n1"), pod("b", "n2"), pod("done", "n9", false)],
    [node("n1", "default/a"), node("n2", "default/b"), node("n9", "default/done", false)],
  );
  assert.deepEqual(ok, { livePods: 2, podsWithoutNode: [], nodesShared: [], nodesWithoutPod: [] });
  const bad = oneNodePerPod(
    [pod("a", "n1"), pod("b", "n1"), pod("c", ""), pod("d", "n4")],
    [node("n1", "default/a"), node("n3", ""), node("n4", "default/d", false)],
  );
  assert.deepEqual(bad, {
    livePods: 4,
    podsWithoutNode: ["b", "c", "d"],
    nodesShared: ["n1"],
    nodesWithoutPod: ["n3"],
  });
});

Deno.test("the table lines up and says n/a for what was not measured", () => {
  assert.deepEqual(formatValue(12345.6), "12,346");
  assert.deepEqual(formatValue(2.345), "2.35");
  assert.deepEqual(formatValue(NaN), "n/a");
  const t = formatTable([
    { key: "a", name: "pods/s", value: 2500, unit: "pods/s", target: "≥ 2,000", ok: true },
    { key: "b", name: "rss", value: NaN, unit: "MiB", target: "", note: "broke" },
  ]).split("\n");
  assert.deepEqual(t.length, 4);
  assert.ok(t[2].includes("PASS") && t[3].includes("n/a") && t[3].endsWith("broke"));
});

Deno.test("deno task bench answers --help and refuses an N that is not a number, before starting anything", async () => {
  const run = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./main.ts", import.meta.url).pathname, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const help = await run("--help");
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /Usage: deno task bench \[N\]/);
  const bad = await run("many");
  assert.equal(bad.code, 2);
  assert.match(
    new TextDecoder().decode(bad.stderr),
    /N must be a whole number of pods, got "many"/,
  );
});
