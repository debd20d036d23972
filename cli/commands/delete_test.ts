import assert from "node:assert/strict";
import { EXIT } from "../errors.ts";
import { run } from "../program.ts";
import { contextFor, FakeApi, object } from "./fake_api.ts";

function cluster(): FakeApi {
  return new FakeApi()
    .with("deployments", object("deploy", "web", { labels: { app: "web" } }))
    .with("replicasets", object("rs", "web-abc", { labels: { app: "web" } }))
    .with(
      "pods",
      object("pod", "web-1", { labels: { app: "web" } }),
      object("pod", "db-1", { labels: { app: "db" } }),
    )
    .with("services", object("svc", "web", { labels: { app: "web" } }));
}

/** The DELETE requests, as paths without the /api/v1/namespaces/default prefix. */
function deletes(api: FakeApi): string[] {
  return api.requests.filter((r) => r.method === "DELETE")
    .map((r) => r.path.replace("/api/v1/namespaces/default/", ""));
}

Deno.test("milpactl delete TYPE/NAME... deletes each; a missing one is reported, the rest deleted", async () => {
  const api = cluster();
  const { ctx, stdout, stderr } = contextFor(api);
  assert.equal(await run(["delete", "svc/web", "pod/nope", "pod/db-1"], ctx), EXIT.api);
  assert.equal(stdout.text, 'service "web" deleted\npod "db-1" deleted\n');
  assert.equal(stderr.text, 'Error: pods "nope" not found\n');
  assert.equal(api.get("services", "default", "web"), undefined);
  assert.equal(api.get("pods", "default", "db-1"), undefined);
});

Deno.test("milpactl delete pod,svc NAME deletes the name in each kind", async () => {
  const api = cluster().with("pods", object("pod", "web"));
  const { ctx, stdout } = contextFor(api);
  assert.equal(await run(["delete", "pod,svc", "web"], ctx), 0);
  assert.equal(stdout.text, 'pod "web" deleted\nservice "web" deleted\n');
});

Deno.test("milpactl delete TYPE --all deletes every object of the kind in the namespace", async () => {
  const api = cluster().with("pods", {
    ...object("pod", "other"),
    metadata: { name: "other", namespace: "team" },
  });
  const { ctx, stdout } = contextFor(api);
  assert.equal(await run(["delete", "pods", "--all"], ctx), 0);
  assert.equal(stdout.text, 'pod "db-1" deleted\npod "web-1" deleted\n');
  assert.ok(api.get("pods", "team", "other"), "another namespace's pod is kept");
});

Deno.test("milpactl delete --all leaves out pods whose deletion finished, as get does", async () => {
  const gone = object("pod", "old", {
    spec: { phase: "Terminated" },
    status: { phase: "Terminated" },
  });
  const api = cluster().with("pods", gone);
  const { ctx, stdout } = contextFor(api);
  assert.equal(await run(["delete", "pods", "--all"], ctx), 0);
  assert.equal(stdout.text, 'pod "db-1" deleted\npod "web-1" deleted\n');
  assert.ok(api.get("pods", "default", "old"));
});

Deno.test("milpactl delete all --all deletes deployments, then replica sets, then the rest", async () => {
  const api = cluster();
  const { ctx } = contextFor(api);
  assert.equal(await run(["delete", "all", "--all"], ctx), 0);
  assert.deepEqual(deletes(api), [
    "deployments/web",
    "replicasets/web-abc",
    "pods/db-1",
    "pods/web-1",
    "services/web",
  ]);
});

Deno.test("milpactl delete -l deletes the objects of the kinds that match the selector", async () => {
  const api = cluster();
  const { ctx, stdout } = contextFor(api);
  assert.equal(await run(["delete", "pods,svc", "-l", "app=web"], ctx), 0);
  assert.equal(stdout.text, 'pod "web-1" deleted\nservice "web" deleted\n');
  assert.ok(api.get("pods", "default", "db-1"));
});

Deno.test("milpactl delete with nothing selected says so and exits 0", async () => {
  const { ctx, stdout, stderr } = contextFor(cluster());
  assert.equal(await run(["delete", "pods", "-l", "app=none"], ctx), 0);
  assert.equal(stdout.text, "");
  assert.equal(stderr.text, "No resources found in default namespace.\n");
});

Deno.test("milpactl delete refuses --all without a kind, a kind without names, and both; exit 2, nothing sent", async () => {
  const cases: Array<[string[], RegExp]> = [
    [["delete", "--all"], /^Error: delete --all needs a kind, e\.g\. milpactl delete pods --all\n/],
    [["delete", "-l", "app=web"], /^Error: delete -l needs a kind/],
    [["delete", "pods"], /^Error: no name given: milpactl delete pods NAME\.\.\., or --all/],
    [["delete", "pods", "web-1", "--all"], /^Error: give names or --all, not both\n/],
    [["delete", "pods", "pod/web-1"], /^Error: "pod\/web-1": give either TYPE NAME/],
    [["delete"], /^Error: delete needs TYPE NAME\.\.\./],
  ];
  for (const [args, message] of cases) {
    const api = cluster();
    const { ctx, stdout, stderr } = contextFor(api);
    assert.equal(await run(args, ctx), EXIT.usage, args.join(" "));
    assert.match(stderr.text, message);
    assert.equal(stdout.text, "");
    assert.equal(api.requests.length, 0, args.join(" "));
  }
});
