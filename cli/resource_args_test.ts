import assert from "node:assert/strict";
import { UnknownKindError, UsageError } from "./errors.ts";
import { parseResourceArgs, podName, resolveKind } from "./resource_args.ts";

/** The requests as `plural: names` strings, easy to compare. */
function read(args: string[]): string[] {
  return parseResourceArgs(args).requests.map((r) => `${r.kind.plural}: ${r.names.join(" ")}`);
}

Deno.test("parseResourceArgs() reads TYPE NAME... as one kind and its names", () => {
  assert.deepEqual(read(["pods"]), ["pods: "]);
  assert.deepEqual(read(["po", "web", "db"]), ["pods: web db"]);
  assert.deepEqual(read(["Deployment", "web"]), ["deployments: web"]);
  assert.equal(parseResourceArgs(["svc", "web"]).slashForm, false);
});

Deno.test("parseResourceArgs() reads TYPE/NAME arguments, grouped by kind in order", () => {
  assert.deepEqual(read(["pod/redis"]), ["pods: redis"]);
  assert.deepEqual(read(["deploy/x", "svc/y", "po/z", "deployments/w"]), [
    "deployments: x w",
    "services: y",
    "pods: z",
  ]);
  assert.equal(parseResourceArgs(["pod/redis"]).slashForm, true);
});

Deno.test("parseResourceArgs() reads comma lists of kinds, each name in each kind", () => {
  assert.deepEqual(read(["deploy,svc"]), ["deployments: ", "services: "]);
  assert.deepEqual(read(["pods,nodes"]), ["pods: ", "nodes: "]);
  assert.deepEqual(read(["pod,svc", "baz", "foo"]), ["pods: baz foo", "services: baz foo"]);
  assert.deepEqual(read(["pods,po,pod"]), ["pods: "]);
});

Deno.test("parseResourceArgs() expands all to pods, services, deployments and replicasets", () => {
  assert.deepEqual(read(["all"]), ["pods: ", "services: ", "deployments: ", "replicasets: "]);
  assert.deepEqual(read(["nodes,all"]), [
    "nodes: ",
    "pods: ",
    "services: ",
    "deployments: ",
    "replicasets: ",
  ]);
});

Deno.test("parseResourceArgs() refuses mixed forms, empty kinds and names, naming the argument", () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /a kind is needed/],
    [["pods", "pod/web"], /"pod\/web": give either TYPE NAME\.\.\. or TYPE\/NAME/],
    [["pod/web", "db"], /"db" has no kind/],
    [["pod/"], /"pod\/" is not TYPE\/NAME/],
    [["/web"], /"\/web" is not TYPE\/NAME/],
    [["pod/a/b"], /"pod\/a\/b" is not TYPE\/NAME/],
    [["pods,svc/web"], /"pods,svc\/web": TYPE\/NAME takes one kind/],
    [["all/web"], /"all\/web": TYPE\/NAME takes one kind/],
    [["pods,"], /"pods,": the list of kinds has an empty item/],
    [["pods", ""], /name cannot be empty/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseResourceArgs(args), (err: Error) => {
      assert.ok(err instanceof UsageError, `${args}: ${err}`);
      assert.match(err.message, message);
      return true;
    });
  }
});

Deno.test("parseResourceArgs() suggests the nearest kind for a typo, wherever it is", () => {
  for (const args of [["pdos"], ["deploy,sevrices"], ["pdo/web"]]) {
    assert.throws(() => parseResourceArgs(args), UnknownKindError);
  }
  assert.throws(
    () => parseResourceArgs(["pdos"]),
    { message: `the server doesn't have a resource type "pdos"; did you mean "pods"?` },
  );
  assert.throws(
    () => parseResourceArgs(["deploy,sevrices"]),
    { message: `the server doesn't have a resource type "sevrices"; did you mean "services"?` },
  );
});

Deno.test("resolveKind() without a near kind lists the known ones in its hint", () => {
  assert.throws(() => resolveKind("widgets"), (err: UnknownKindError) => {
    assert.equal(err.message, `the server doesn't have a resource type "widgets"`);
    assert.match(err.hint!, /^known types: pods \(po\), nodes \(no\), services \(svc\)/);
    return true;
  });
  assert.equal(resolveKind("RS").kind, "ReplicaSet");
});

Deno.test("podName() takes NAME or pod/NAME and refuses other kinds", () => {
  assert.equal(podName("web", "logs"), "web");
  assert.equal(podName("pod/web", "logs"), "web");
  assert.equal(podName("po/web", "exec"), "web");
  assert.throws(() => podName("deploy/web", "logs"), {
    message: 'logs works on pods, not deployments: "deploy/web"',
  });
  assert.throws(() => podName("pod/", "logs"), UsageError);
  assert.throws(() => podName("pdo/web", "logs"), UnknownKindError);
});
