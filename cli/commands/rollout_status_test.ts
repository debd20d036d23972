import assert from "node:assert/strict";
import type { Deployment, DeploymentStatus } from "../../model/deployment.ts";
import { MilpaClient } from "../client.ts";
import { RolloutError } from "../errors.ts";
import { followRollout, formatDuration } from "./rollout_status.ts";

Deno.test("formatDuration() prints milliseconds as Go does", () => {
  assert.equal(formatDuration(90_000), "1m30s");
  assert.equal(formatDuration(5_000), "5s");
  assert.equal(formatDuration(300_000), "5m0s");
  assert.equal(formatDuration(3_600_000), "1h0m0s");
  assert.equal(formatDuration(1_500), "1.5s");
  assert.equal(formatDuration(250), "250ms");
});

function web(status: DeploymentStatus): Deployment {
  return {
    kind: "Deployment",
    apiVersion: "v1",
    metadata: { name: "web", namespace: "default", generation: 1 },
    spec: { replicas: 2, template: { spec: { units: [] } } },
    status: { observedGeneration: 1, ...status },
  };
}

const rolling = web({ replicas: 3, updatedReplicas: 1, availableReplicas: 2 });
const done = web({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 });

const sse = (...events: Array<[string, unknown]>) =>
  new Response(
    events.map(([type, obj]) => `event: ${type}\ndata: ${JSON.stringify(obj)}\n\n`).join(""),
    { headers: { "content-type": "text/event-stream" } },
  );

/**
 * A client whose controller answers GETs from `gets` and watches from `watches`, in turn.
 * As a real fetch does, an abort errors the body of a watch that is still open.
 */
function clientWith(gets: Deployment[], watches: Array<() => Response>) {
  const seen: string[] = [];
  const fakeFetch = (input: URL | RequestInfo, init?: RequestInit) => {
    const url = new URL(String(input));
    const watch = url.searchParams.get("watch") === "true";
    seen.push(`${watch ? "WATCH" : "GET"} ${url.pathname}`);
    if (!watch) return Promise.resolve(Response.json(gets.shift()));
    const body = watches.shift()!().body;
    const signal = init?.signal;
    if (!body || !signal) return Promise.resolve(new Response(body));
    const reader = body.getReader();
    return Promise.resolve(
      new Response(
        new ReadableStream({
          start(c) {
            signal.addEventListener("abort", () => c.error(signal.reason), { once: true });
          },
          async pull(c) {
            const { done, value } = await reader.read();
            if (done) c.close();
            else c.enqueue(value);
          },
        }),
      ),
    );
  };
  const client = new MilpaClient(
    { endpoint: "http://milpa:1", token: "tok", tokenSource: "test" },
    fakeFetch as typeof fetch,
  );
  return { client, seen };
}

Deno.test("followRollout() reads, then watches the namespace and keeps its deployment's events", async () => {
  const other = { ...done, metadata: { ...done.metadata, name: "other" } };
  const { client, seen } = clientWith([rolling], [
    () => sse(["ADDED", rolling], ["ADDED", other], ["MODIFIED", done]),
  ]);
  let out = "";
  await followRollout(client, "default", "web", { watch: true }, (t) => out += t);
  assert.equal(
    out,
    'Waiting for deployment "web" rollout to finish: 1 out of 2 new replicas have been updated...\n' +
      'deployment "web" successfully rolled out\n',
  );
  assert.deepEqual(seen, [
    "GET /api/v1/namespaces/default/deployments/web",
    "WATCH /api/v1/namespaces/default/deployments",
  ]);
});

Deno.test("followRollout() reads and watches again when the controller ends a watch", async () => {
  const { client, seen } = clientWith([rolling, rolling, done], [
    () => sse(["ADDED", rolling]),
    () => new Response(null),
  ]);
  let out = "";
  await followRollout(client, "default", "web", { watch: true }, (t) => out += t);
  assert.equal(out.split("\n").length, 3);
  assert.deepEqual(seen.map((s) => s.split(" ")[0]), ["GET", "WATCH", "GET", "WATCH", "GET"]);
});

Deno.test("followRollout() without watch reports once and fails unless complete", async () => {
  let out = "";
  await followRollout(
    clientWith([done], []).client,
    "default",
    "web",
    { watch: false },
    (t) => out += t,
  );
  assert.equal(out, 'deployment "web" successfully rolled out\n');
  await assert.rejects(
    followRollout(clientWith([rolling], []).client, "default", "web", { watch: false }, () => {}),
    { name: "RolloutError", message: 'deployment "web" has not finished rolling out' },
  );
});

Deno.test("followRollout() fails on a deleted deployment and on a passed deadline", async () => {
  const { client } = clientWith([rolling], [() => sse(["DELETED", rolling])]);
  await assert.rejects(
    followRollout(client, "default", "web", { watch: true }, () => {}),
    RolloutError,
  );
  const stalled = web({
    replicas: 3,
    updatedReplicas: 1,
    conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" }],
  });
  await assert.rejects(
    followRollout(clientWith([stalled], []).client, "default", "web", { watch: true }, () => {}),
    { name: "RolloutError", message: 'deployment "web" exceeded its progress deadline' },
  );
});

Deno.test("followRollout() gives up after the timeout while a watch stays open", async () => {
  const { client } = clientWith([rolling], [() =>
    new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode(`event: ADDED\ndata: ${JSON.stringify(rolling)}\n\n`));
        },
      }),
    )]);
  await assert.rejects(
    followRollout(client, "default", "web", { watch: true, timeout: 50 }, () => {}),
    {
      name: "RolloutError",
      message: 'timed out after 50ms waiting for deployment "web" rollout to finish',
    },
  );
});
