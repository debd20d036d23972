import assert from "node:assert/strict";
import { BufferOutput } from "../context.ts";
import { EXIT } from "../errors.ts";
import { run } from "../program.ts";
import { contextFor, FakeApi, object } from "./fake_api.ts";
import { writePrefixed } from "./logs.ts";

function pod(name: string, app: string, extra: { spec?: unknown; status?: unknown } = {}) {
  return object("pod", name, { labels: { app }, ...extra });
}

function cluster(): FakeApi {
  return new FakeApi()
    .with("pods", pod("web-1", "web"), pod("web-2", "web"), pod("db-1", "db"))
    .withLog("default/web-1", "one\ntwo\n")
    .withLog("default/web-2", "three\n")
    .withLog("default/db-1", "db line\n");
}

Deno.test("milpactl logs takes a pod as NAME or pod/NAME, and refuses other kinds", async () => {
  const { ctx, stdout } = contextFor(cluster());
  assert.equal(await run(["logs", "pod/web-1"], ctx), 0);
  assert.equal(await run(["logs", "db-1"], ctx), 0);
  assert.equal(stdout.text, "one\ntwo\ndb line\n");
  const other = contextFor(cluster());
  assert.equal(await run(["logs", "deploy/web"], other.ctx), EXIT.usage);
  assert.equal(other.stderr.text, 'Error: logs works on pods, not deployments: "deploy/web"\n');
});

Deno.test("milpactl logs -l prints every matching pod's log, each line prefixed [pod/NAME]", async () => {
  const { ctx, stdout } = contextFor(cluster());
  assert.equal(await run(["logs", "-l", "app=web"], ctx), 0);
  assert.equal(stdout.text, "[pod/web-1] one\n[pod/web-1] two\n[pod/web-2] three\n");
});

Deno.test("milpactl logs -f -l follows every matching pod at once, whole lines each", async () => {
  const api = cluster();
  const { ctx, stdout } = contextFor(api);
  assert.equal(await run(["logs", "-f", "-l", "app=web"], ctx), 0);
  assert.deepEqual(stdout.text.split("\n").slice(0, -1).sort(), [
    "[pod/web-1] one",
    "[pod/web-1] two",
    "[pod/web-2] three",
  ]);
  const follows = api.requests.filter((r) => r.path.endsWith("/log"));
  assert.deepEqual(follows.map((r) => r.query.get("follow")), ["true", "true"]);
});

Deno.test("milpactl logs -l with one matching pod prints its log as it is", async () => {
  const { ctx, stdout } = contextFor(cluster());
  assert.equal(await run(["logs", "-l", "app=db"], ctx), 0);
  assert.equal(stdout.text, "db line\n");
});

Deno.test("milpactl logs -l leaves out pods whose deletion finished and says when none match", async () => {
  const gone = pod("web-0", "web", {
    spec: { phase: "Terminated" },
    status: { phase: "Terminated" },
  });
  const { ctx, stdout, stderr } = contextFor(cluster().with("pods", gone));
  assert.equal(await run(["logs", "-l", "app=web"], ctx), 0);
  assert.doesNotMatch(stdout.text, /web-0/);
  const none = contextFor(cluster());
  assert.equal(await run(["logs", "-l", "app=nothing"], none.ctx), 0);
  assert.equal(none.stderr.text, "No resources found in default namespace.\n");
  assert.equal(stderr.text, "");
});

Deno.test("milpactl logs -l prints the others' logs when one cannot be read, then exits 1", async () => {
  const api = cluster().with("pods", pod("web-3", "web"));
  const { ctx, stdout, stderr } = contextFor(api);
  assert.equal(await run(["logs", "-l", "app=web"], ctx), EXIT.api);
  assert.match(stdout.text, /\[pod\/web-2\] three\n$/);
  assert.equal(stderr.text, 'Error: pod/web-3: pod "web-3" has no log\n');
});

Deno.test("milpactl logs refuses a pod with -l, neither, and -f -l over --max-log-requests", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["logs", "web-1", "-l", "app=web"], /^Error: give a pod or -l, not both\n/],
    [["logs"], /^Error: logs needs a pod \(NAME or pod\/NAME\) or -l SELECTOR\n/],
    [
      ["logs", "-f", "-l", "app=web", "--max-log-requests", "1"],
      /^Error: -l app=web matches 2 pods, more than --max-log-requests \(1\) to follow at once\n/,
    ],
  ];
  for (const [args, message] of cases) {
    const { ctx, stderr } = contextFor(cluster());
    assert.equal(await run(args, ctx), EXIT.usage, args.join(" "));
    assert.match(stderr.text, message);
  }
});

Deno.test("writePrefixed() prefixes lines split across chunks and ends a last partial line", async () => {
  const encoder = new TextEncoder();
  const body = ReadableStream.from(["a\nb", "c\n", "d"].map((s) => encoder.encode(s)));
  const out = new BufferOutput();
  await writePrefixed(body, out, "[pod/x] ");
  assert.equal(out.text, "[pod/x] a\n[pod/x] bc\n[pod/x] d\n");
});
