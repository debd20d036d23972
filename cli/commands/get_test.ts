import assert from "node:assert/strict";
import { EXIT } from "../errors.ts";
import { run } from "../program.ts";
import { testContext } from "../testing.ts";
import type { MilpaObject } from "../../model/meta.ts";
import { contextFor, FakeApi } from "./fake_api.ts";

/** A context whose controller answers every request with `body` as an event stream. */
function contextAnswering(body: string) {
  return testContext({
    fetch: () =>
      Promise.resolve(new Response(body, { headers: { "content-type": "text/event-stream" } })),
  });
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
  const { ctx, stdout } = testContext({
    fetch: (input: URL | RequestInfo) => {
      seen.push(new URL(String(input)));
      return Promise.resolve(
        Response.json({ kind: "PodList", metadata: {}, items: [JSON.parse(POD)] }),
      );
    },
  });
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
  const second = { ...JSON.parse(POD), metadata: { ...JSON.parse(POD).metadata, name: "db" } };
  const { ctx, stdout } = testContext({
    fetch: (input: URL | RequestInfo) =>
      Promise.resolve(
        new URL(String(input)).pathname.endsWith("/pods")
          ? Response.json({ kind: "PodList", metadata: {}, items: [JSON.parse(POD), second] })
          : Response.json(JSON.parse(POD)),
      ),
  });
  assert.equal(await run(["get", "pods", "-o", "name"], ctx), 0);
  assert.equal(stdout.text, "pod/web\npod/db\n");
  assert.equal(await run(["get", "pod", "web", "-oname"], ctx), 0);
  assert.equal(stdout.text, "pod/web\npod/db\npod/web\n");
});

/** A context whose controller answers `GET path` from `routes` (else 404), recording requests. */
function contextRouting(routes: Record<string, () => Response>) {
  const paths: string[] = [];
  const { ctx, stdout, stderr } = testContext({
    fetch: (input: URL | RequestInfo) => {
      const path = new URL(String(input)).pathname;
      paths.push(path);
      const route = routes[path];
      return Promise.resolve(
        route
          ? route()
          : Response.json({ kind: "Status", code: 404, reason: "NotFound", message: "not found" }, {
            status: 404,
          }),
      );
    },
  });
  return { ctx, stdout, stderr, paths };
}

const NODE_NAME = "37621e3e-38b6-4dab-97e3-d719af861b9b";

/** A pod, running on NODE_NAME unless it has ended; `deleted`: its deletion was asked for. */
function podObject(name: string, phase: string, deleted = false) {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      creationTimestamp: "2026-01-01T00:00:00Z",
      ...(deleted ? { deletionTimestamp: "2026-01-01T00:00:05Z" } : {}),
    },
    spec: {
      units: [{ name: "main", image: "nginx:1" }],
      ...(deleted ? { phase: "Terminated" } : {}),
    },
    status: {
      phase,
      boundNodeName: NODE_NAME,
      addresses: [{ type: "PrivateIP", address: "198.18.0.2" }],
    },
  };
}

const PODS_PATH = "/api/v1/namespaces/default/pods";
const podList = (...items: unknown[]) => () =>
  Response.json({ kind: "PodList", metadata: {}, items });

Deno.test("milpactl get -o jsonpath prints kubectl's template over the list", async () => {
  const { ctx, stdout } = contextRouting({
    [PODS_PATH]: podList(podObject("web", "Running"), podObject("db", "Waiting")),
    [`${PODS_PATH}/web`]: () => Response.json(podObject("web", "Running")),
  });
  /** What one `milpactl` run printed. */
  const printed = async (args: string[]): Promise<string> => {
    const before = stdout.text.length;
    assert.equal(await run(args, ctx), 0);
    return stdout.text.slice(before);
  };
  assert.equal(
    await printed(["get", "pods", "-o", "jsonpath={.items[*].metadata.name}"]),
    "web db",
  );
  assert.equal(
    await printed([
      "get",
      "pods",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}',
    ]),
    "web\tRunning\ndb\tWaiting\n",
  );
  assert.equal(await printed(["get", "pod", "web", "-ojsonpath={.status.phase}"]), "Running");
});

Deno.test("milpactl get -o jsonpath with a bad template exits 1 naming it, before any request", async () => {
  const { ctx, stdout, stderr, paths } = contextRouting({});
  assert.equal(await run(["get", "pods", "-o", "jsonpath={.items[*]"], ctx), EXIT.api);
  assert.equal(stdout.text, "");
  assert.equal(
    stderr.text,
    'Error: cannot parse jsonpath template "{.items[*]": "{" at character 1 is never closed\n',
  );
  assert.deepEqual(paths, []);
});

Deno.test("milpactl get -o with an unknown format exits 2 naming it", async () => {
  const { ctx, stderr } = contextRouting({});
  assert.equal(await run(["get", "pods", "-o", "xml"], ctx), EXIT.usage);
  assert.match(stderr.text, /unknown output format "xml": use json, yaml, wide, name or jsonpath=/);
});

Deno.test("milpactl get pods hides pods whose deletion finished; -a and names show them", async () => {
  const { ctx, stdout } = contextRouting({
    [PODS_PATH]: podList(
      podObject("web", "Running"),
      podObject("gone", "Terminated", true),
      podObject("leaving", "Running", true),
      podObject("job", "Succeeded"),
    ),
    [`${PODS_PATH}/gone`]: () => Response.json(podObject("gone", "Terminated", true)),
  });
  const printed = async (args: string[]): Promise<string> => {
    const before = stdout.text.length;
    assert.equal(await run(args, ctx), 0);
    return stdout.text.slice(before);
  };
  assert.equal(await printed(["get", "pods", "-o", "name"]), "pod/web\npod/leaving\npod/job\n");
  assert.equal(JSON.parse(await printed(["get", "pods", "-o", "json"])).items.length, 3);
  assert.equal(
    await printed(["get", "pods", "-a", "-o", "name"]),
    "pod/web\npod/gone\npod/leaving\npod/job\n",
  );
  assert.match(await printed(["get", "pod", "gone"]), /\ngone +1 +0 +Terminated +0 +37621e3e /);
});

Deno.test("milpactl get pods -o wide reads the nodes for the type and price columns", async () => {
  const node = {
    kind: "Node",
    apiVersion: "v1",
    metadata: { name: NODE_NAME },
    spec: { instanceType: "t3.nano" },
    status: { phase: "Claimed" },
  };
  const { ctx, stdout, paths } = contextRouting({
    [PODS_PATH]: podList(podObject("web", "Running")),
    "/api/v1/nodes": () => Response.json({ kind: "NodeList", metadata: {}, items: [node] }),
  });
  assert.equal(await run(["get", "pods", "-o", "wide"], ctx), 0);
  const [header, row] = stdout.text.trimEnd().split("\n");
  assert.match(header, /STATUS +RESTARTS +NODE +IP +AGE +INSTANCE-TYPE +PRICE\/HR +INSTANCE /);
  assert.match(row, new RegExp(`Pod Running +0 +${NODE_NAME} .* t3\\.nano +\\$0\\.0052 +<none> `));
  assert.ok(paths.includes("/api/v1/nodes"));
});

Deno.test("milpactl get pods -o wide with a token that may not read nodes says <unknown>", async () => {
  const { ctx, stdout, stderr } = contextRouting({
    [PODS_PATH]: podList(podObject("web", "Running")),
    "/api/v1/nodes": () =>
      Response.json({
        kind: "Status",
        code: 403,
        reason: "Forbidden",
        message: "this token cannot read cluster-scoped resources",
      }, { status: 403 }),
  });
  assert.equal(await run(["get", "pods", "-o", "wide"], ctx), 0);
  assert.equal(stderr.text, "");
  assert.match(stdout.text, /\nweb .* <unknown> +<unknown> +<none> +<none> +nginx:1\n$/);
});

Deno.test("milpactl get lists a kind as the controller's Table, printed as it prints the objects", async () => {
  const node = {
    kind: "Node",
    apiVersion: "v1",
    metadata: { name: NODE_NAME, creationTimestamp: "2026-01-01T00:00:00Z" },
    spec: { instanceType: "t3.nano" },
    status: { phase: "Claimed", boundPodName: "default/web" },
  };
  const pods = [
    podObject("web", "Running"),
    podObject("gone", "Terminated", true),
    {
      ...podObject("other", "Waiting"),
      metadata: {
        ...podObject("other", "Waiting").metadata,
        namespace: "team",
        labels: { app: "x" },
      },
    },
  ] as unknown as MilpaObject[];
  const fake = (tables: boolean) =>
    new FakeApi({ tables }).with("pods", ...pods).with("nodes", node as unknown as MilpaObject);
  for (
    const args of [
      ["get", "pods"],
      ["get", "pods", "-o", "wide"],
      ["get", "pods", "-A", "--show-labels"],
      ["get", "pods", "-a", "-A"],
      ["get", "nodes", "-o", "wide"],
      ["get", "pods", "-l", "app=x", "-A"],
    ]
  ) {
    const withTables = fake(true);
    const a = contextFor(withTables);
    const b = contextFor(fake(false));
    assert.equal(await run(args, a.ctx), 0, a.stderr.text);
    assert.equal(await run(args, b.ctx), 0, b.stderr.text);
    assert.equal(a.stdout.text, b.stdout.text, args.join(" "));
    // One request per page, asking for a Table; the nodes are not read for -o wide.
    assert.ok(withTables.requests.every((r) => r.accept?.includes("as=Table")), args.join(" "));
    assert.equal(withTables.requests.length, 1, args.join(" "));
  }
  const { ctx, stdout } = contextFor(fake(true));
  assert.equal(await run(["get", "pods"], ctx), 0);
  assert.equal(
    stdout.text,
    "NAME      UNITS     RUNNING   STATUS    RESTARTS   NODE       IP           AGE\n" +
      "web       1         0         Running   0          37621e3e   198.18.0.2   1m\n",
  );
});
