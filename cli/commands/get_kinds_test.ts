import assert from "node:assert/strict";
import { EXIT } from "../errors.ts";
import { run } from "../program.ts";
import { contextFor, FakeApi, object } from "./fake_api.ts";

/** A controller with a deployment web, its replica set, a pod, a service and a node. */
function cluster(): FakeApi {
  return new FakeApi()
    .with("deployments", object("deploy", "web", { spec: { replicas: 1 } }))
    .with("replicasets", object("rs", "web-abc", { spec: { replicas: 1 } }))
    .with("pods", object("pod", "web-abc-x1", { labels: { app: "web" } }))
    .with("services", object("svc", "web", { spec: { ports: [{ port: 80 }] } }))
    .with("nodes", object("node", "n1"));
}

/** The first column of each line: names, headers, "" for blank lines. */
function firstColumn(text: string): string[] {
  return text.split("\n").slice(0, -1).map((line) => line.split(/\s+/)[0]);
}

Deno.test("milpactl get deploy,svc prints a table per kind, a blank line between, names as TYPE/NAME", async () => {
  const { ctx, stdout, stderr } = contextFor(cluster());
  assert.equal(await run(["get", "deploy,svc"], ctx), 0);
  assert.deepEqual(firstColumn(stdout.text), [
    "NAME",
    "deployment/web",
    "",
    "NAME",
    "service/web",
  ]);
  assert.equal(stderr.text, "");
});

Deno.test("milpactl get all prints pods, services, deployments and replica sets, not nodes", async () => {
  const { ctx, stdout } = contextFor(cluster());
  assert.equal(await run(["get", "all"], ctx), 0);
  assert.deepEqual(firstColumn(stdout.text).filter((c) => c && c !== "NAME"), [
    "pod/web-abc-x1",
    "service/web",
    "deployment/web",
    "replicaset/web-abc",
  ]);
});

Deno.test("milpactl get TYPE/NAME: one kind prints its table as usual, several print TYPE/NAME", async () => {
  const { ctx, stdout } = contextFor(cluster());
  assert.equal(await run(["get", "pod/web-abc-x1"], ctx), 0);
  assert.deepEqual(firstColumn(stdout.text), ["NAME", "web-abc-x1"]);
  const two = contextFor(cluster());
  assert.equal(await run(["get", "svc/web", "deploy/web", "-o", "name"], two.ctx), 0);
  assert.equal(two.stdout.text, "service/web\ndeployment/web\n");
});

Deno.test("milpactl get of several kinds -o json prints one List of every object", async () => {
  const { ctx, stdout } = contextFor(cluster());
  assert.equal(await run(["get", "pods,nodes", "-o", "json"], ctx), 0);
  const list = JSON.parse(stdout.text);
  assert.equal(list.kind, "List");
  assert.deepEqual(list.items.map((o: { kind: string }) => o.kind), ["Pod", "Node"]);
});

Deno.test("milpactl get of several kinds -o jsonpath applies the template to that List", async () => {
  const { ctx, stdout } = contextFor(cluster());
  assert.equal(
    await run(["get", "pods,svc", "-o", "jsonpath={.items[*].metadata.name}"], ctx),
    0,
  );
  assert.equal(stdout.text, "web-abc-x1 web");
});

Deno.test("milpactl get of several kinds reports each missing name, prints the rest, exits 1", async () => {
  const { ctx, stdout, stderr } = contextFor(cluster());
  assert.equal(await run(["get", "pod/nope", "svc/web", "deploy/gone"], ctx), EXIT.api);
  assert.deepEqual(firstColumn(stdout.text), ["NAME", "service/web"]);
  assert.equal(
    stderr.text,
    'Error: pods "nope" not found\nError: deployments "gone" not found\n',
  );
});

Deno.test("milpactl get of kinds with no objects says so on stderr", async () => {
  const { ctx, stdout, stderr } = contextFor(new FakeApi());
  assert.equal(await run(["get", "all"], ctx), 0);
  assert.equal(stdout.text, "");
  assert.equal(stderr.text, "No resources found in default namespace.\n");
});

Deno.test("milpactl get of a mistyped kind suggests the nearest and exits 1 without asking", async () => {
  const api = new FakeApi();
  const { ctx, stdout, stderr } = contextFor(api);
  assert.equal(await run(["get", "pdos"], ctx), 1);
  assert.equal(stdout.text, "");
  assert.match(
    stderr.text,
    /^Error: the server doesn't have a resource type "pdos"; did you mean "pods"\?\n/,
  );
  assert.equal(api.requests.length, 0);
});

Deno.test("milpactl get refuses names with -l and -w over several kinds, exit 2", async () => {
  for (const args of [["get", "pods", "web", "-l", "app=web"], ["get", "pods,svc", "-w"]]) {
    const api = new FakeApi();
    const { ctx, stderr } = contextFor(api);
    assert.equal(await run(args, ctx), EXIT.usage, args.join(" "));
    assert.match(stderr.text, /^Error: /);
    assert.equal(api.requests.length, 0);
  }
});
