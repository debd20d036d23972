import assert from "node:assert/strict";
import { EXIT } from "../errors.ts";
import { run } from "../program.ts";
import { contextFor, FakeApi, object } from "./fake_api.ts";

function cluster(): FakeApi {
  return new FakeApi()
    .with("deployments", object("deploy", "web", { spec: { replicas: 1 } }))
    .with("deployments", object("deploy", "api", { spec: { replicas: 1 } }))
    .with("replicasets", object("rs", "db", { spec: { replicas: 1 } }));
}

const replicas = (api: FakeApi, plural: string, name: string) =>
  api.get(plural, "default", name)?.spec.replicas;

Deno.test("milpactl scale takes TYPE/NAME, TYPE NAME... and mixed kinds", async () => {
  const api = cluster();
  const { ctx, stdout } = contextFor(api);
  assert.equal(await run(["scale", "deploy/web", "--replicas=3"], ctx), 0);
  assert.equal(await run(["scale", "deploy", "web", "api", "--replicas", "2"], ctx), 0);
  assert.equal(await run(["scale", "rs/db", "deployment/api", "--replicas=5"], ctx), 0);
  assert.equal(
    stdout.text,
    "deployment/web scaled\ndeployment/web scaled\ndeployment/api scaled\n" +
      "replicaset/db scaled\ndeployment/api scaled\n",
  );
  assert.equal(replicas(api, "deployments", "web"), 2);
  assert.equal(replicas(api, "deployments", "api"), 5);
  assert.equal(replicas(api, "replicasets", "db"), 5);
});

Deno.test("milpactl scale reports a missing object and still scales the others, exit 1", async () => {
  const api = cluster();
  const { ctx, stdout, stderr } = contextFor(api);
  assert.equal(await run(["scale", "deploy/nope", "deploy/web", "--replicas=4"], ctx), EXIT.api);
  assert.equal(stdout.text, "deployment/web scaled\n");
  assert.equal(stderr.text, 'Error: deployments "nope" not found\n');
  assert.equal(replicas(api, "deployments", "web"), 4);
});

Deno.test("milpactl scale refuses other kinds and a kind without a name, exit 2, nothing sent", async () => {
  for (
    const [args, message] of [
      [["scale", "pod/web", "--replicas=1"], /^Error: cannot scale pods: only deployments/],
      [
        ["scale", "deploy", "--replicas=1"],
        /^Error: scale needs a name: deploy NAME, or deployment\/NAME/,
      ],
      [["scale", "--replicas=1"], /^Error: scale needs TYPE NAME, TYPE\/NAME or -f FILE/],
    ] as Array<[string[], RegExp]>
  ) {
    const api = cluster();
    const { ctx, stderr } = contextFor(api);
    assert.equal(await run(args, ctx), EXIT.usage, args.join(" "));
    assert.match(stderr.text, message);
    assert.equal(api.requests.length, 0);
  }
});
