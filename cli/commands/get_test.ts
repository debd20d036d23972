import assert from "node:assert/strict";
import { BufferOutput, type CliContext } from "../context.ts";
import { EXIT } from "../errors.ts";
import { run } from "../program.ts";

/** A context whose controller answers every request with `body` as an event stream. */
function contextAnswering(
  body: string,
): { ctx: CliContext; stdout: BufferOutput; stderr: BufferOutput } {
  const stdout = new BufferOutput();
  const stderr = new BufferOutput();
  const env: Record<string, string> = { MILPA_ENDPOINT: "http://milpa:1", MILPA_TOKEN: "tok" };
  const ctx: CliContext = {
    stdout,
    stderr,
    env: (name) => env[name],
    cwd: "/nowhere",
    readTextFile: () => Promise.reject(new Deno.errors.NotFound()),
    readStdin: () => Promise.resolve(""),
    fetch: () =>
      Promise.resolve(new Response(body, { headers: { "content-type": "text/event-stream" } })),
    now: () => Date.parse("2026-01-01T00:00:10Z"),
  };
  return { ctx, stdout, stderr };
}

const POD = JSON.stringify({
  kind: "Pod",
  apiVersion: "v1",
  metadata: { name: "web", namespace: "default", creationTimestamp: "2026-01-01T00:00:00Z" },
  spec: { resources: { memory: "1Gi" }, units: [{ name: "main" }] },
  status: { phase: "Running" },
});

const TOO_SLOW = JSON.stringify({
  kind: "Status",
  apiVersion: "v1",
  status: "Failure",
  code: 410,
  reason: "Expired",
  message: "watch ended: this client fell more than 8388608 bytes of events behind; " +
    "list again and watch from there",
});

Deno.test("milpactl get -w prints the controller's last ERROR event as an error with a hint and exits 1", async () => {
  const { ctx, stdout, stderr } = contextAnswering(
    `: watching\n\nevent: ADDED\ndata: ${POD}\n\nevent: ERROR\ndata: ${TOO_SLOW}\n\n`,
  );
  assert.equal(await run(["get", "pods", "-w"], ctx), EXIT.api);
  assert.match(stdout.text, /^NAME\s.*\nweb\s/);
  assert.equal(
    stderr.text,
    "Error: watch ended: this client fell more than 8388608 bytes of events behind; " +
      "list again and watch from there\n" +
      "  run the command again: it lists afresh and watches from there\n",
  );
});

Deno.test("milpactl get lists 500 objects a request, and --chunk-size changes it (0: one request)", async () => {
  const seen: URL[] = [];
  const stdout = new BufferOutput();
  const env: Record<string, string> = { MILPA_ENDPOINT: "http://milpa:1", MILPA_TOKEN: "tok" };
  const ctx: CliContext = {
    stdout,
    stderr: new BufferOutput(),
    env: (name) => env[name],
    cwd: "/nowhere",
    readTextFile: () => Promise.reject(new Deno.errors.NotFound()),
    readStdin: () => Promise.resolve(""),
    fetch: (input: URL | RequestInfo) => {
      seen.push(new URL(String(input)));
      return Promise.resolve(
        Response.json({ kind: "PodList", metadata: {}, items: [JSON.parse(POD)] }),
      );
    },
    now: () => Date.parse("2026-01-01T00:00:10Z"),
  };
  assert.equal(await run(["get", "pods"], ctx), 0);
  assert.equal(seen.at(-1)!.searchParams.get("limit"), "500");
  assert.equal(await run(["get", "pods", "--chunk-size", "0"], ctx), 0);
  assert.equal(seen.at(-1)!.searchParams.get("limit"), null);
  assert.equal(await run(["get", "pods", "--chunk-size", "2000"], ctx), 0);
  assert.equal(seen.at(-1)!.searchParams.get("limit"), "2000");
  assert.equal(await run(["get", "pods", "--chunk-size", "lots"], ctx), EXIT.usage);
  assert.match(stdout.text, /^NAME\s.*\nweb\s/);
});

Deno.test("milpactl get -o name prints TYPE/NAME a line, as kubectl does", async () => {
  const stdout = new BufferOutput();
  const env: Record<string, string> = { MILPA_ENDPOINT: "http://milpa:1", MILPA_TOKEN: "tok" };
  const second = { ...JSON.parse(POD), metadata: { ...JSON.parse(POD).metadata, name: "db" } };
  const ctx: CliContext = {
    stdout,
    stderr: new BufferOutput(),
    env: (name) => env[name],
    cwd: "/nowhere",
    readTextFile: () => Promise.reject(new Deno.errors.NotFound()),
    readStdin: () => Promise.resolve(""),
    fetch: (input: URL | RequestInfo) =>
      Promise.resolve(
        new URL(String(input)).pathname.endsWith("/pods")
          ? Response.json({ kind: "PodList", metadata: {}, items: [JSON.parse(POD), second] })
          : Response.json(JSON.parse(POD)),
      ),
    now: () => Date.parse("2026-01-01T00:00:10Z"),
  };
  assert.equal(await run(["get", "pods", "-o", "name"], ctx), 0);
  assert.equal(stdout.text, "pod/web\npod/db\n");
  assert.equal(await run(["get", "pod", "web", "-oname"], ctx), 0);
  assert.equal(stdout.text, "pod/web\npod/db\npod/web\n");
});
