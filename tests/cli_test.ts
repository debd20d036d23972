/**
 * milpactl as a user runs it: a subprocess (`deno run -A cli/milpactl.ts ...`) against a
 * fake controller started inside each test, found through $MILPA_HOME/client.yaml.
 */
import assert from "node:assert/strict";
import { FakeController, json, status, withController, Workspace } from "./cli_harness.ts";

const threeMinutesAgo = () => new Date(Date.now() - 210_000).toISOString();

function helloworldPod() {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name: "helloworld",
      namespace: "default",
      labels: { app: "helloworld" },
      creationTimestamp: threeMinutesAgo(),
    },
    spec: { phase: "Running", units: [{ name: "helloserver", image: "elotl/helloserver" }] },
    status: {
      phase: "Running",
      boundNodeName: "37621e3e-38b6-4dab-97e3-d719af861b9b",
      addresses: [
        { type: "PublicIP", address: "54.236.63.193" },
        { type: "PrivateIP", address: "172.31.44.62" },
      ],
      unitStatuses: [
        {
          name: "helloserver",
          state: { running: { startedAt: "2024-05-01T00:00:00Z" } },
          restartCount: 0,
        },
      ],
    },
  };
}

function mongoPod() {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name: "mongo", namespace: "default", creationTimestamp: threeMinutesAgo() },
    spec: { units: [{ name: "mongo" }, { name: "init-replicaset" }] },
    status: {
      phase: "Running",
      unitStatuses: [
        {
          name: "mongo",
          state: { running: { startedAt: "2024-05-01T00:00:00Z" } },
          restartCount: 0,
        },
        {
          name: "init-replicaset",
          state: { terminated: { exitCode: 0, finishedAt: "2024-05-01T00:01:00Z" } },
          restartCount: 1,
        },
      ],
    },
  };
}

const podList = (...items: unknown[]) => ({
  kind: "PodList",
  apiVersion: "v1",
  metadata: {},
  items,
});

const TWO_DOCS = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  resources:
    memory: lots
  units:
  - name: web
    image: nginx
---
apiVersion: v1
kind: Service
metadata:
  name: web-svc
spec:
  selector:
    app: web
  ports:
  - port: 80
`;

Deno.test("milpactl get pods prints a narrow table, and Milpa's whole text with -o wide", async () => {
  const node = {
    kind: "Node",
    apiVersion: "v1",
    metadata: { name: "37621e3e-38b6-4dab-97e3-d719af861b9b" },
    spec: { instanceType: "t3.nano" },
    status: { phase: "Claimed" },
  };
  await withController({
    "GET /api/v1/namespaces/default/pods": () => json(podList(helloworldPod(), mongoPod())),
    "GET /api/v1/nodes": () => json({ kind: "NodeList", apiVersion: "v1", items: [node] }),
  }, async (ws) => {
    const r = await ws.run(["get", "pods"]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      "NAME         UNITS     RUNNING   STATUS    RESTARTS   NODE           IP             AGE\n" +
        "helloworld   1         1         Running   0          37621e3e       172.31.44.62   3m\n" +
        "mongo        2         1         Running   1          <unassigned>   <none>         3m\n",
    );
    const wide = await ws.run(["get", "pods", "-o", "wide"]);
    assert.equal(wide.code, 0);
    assert.equal(
      wide.stdout,
      "NAME         UNITS     RUNNING   STATUS                                      RESTARTS   NODE                                   IP             AGE       INSTANCE-TYPE   PRICE/HR   INSTANCE   PUBLIC-IP       IMAGES\n" +
        "helloworld   1         1         Pod Running                                 0          37621e3e-38b6-4dab-97e3-d719af861b9b   172.31.44.62   3m        t3.nano         $0.0052    <none>     54.236.63.193   elotl/helloserver\n" +
        "mongo        2         1         Pod Running - Unit Terminated: ExitCode:0   1          <unassigned>                           <none>         3m        <none>          <none>     <none>     <none>          <none>\n",
    );
  });
});

Deno.test("milpactl get -ojson pod NAME prints the object indented by 4, in either order", async () => {
  const pod = helloworldPod();
  await withController({
    "GET /api/v1/namespaces/default/pods/helloworld": () => json(pod),
  }, async (ws) => {
    const before = await ws.run(["get", "-ojson", "pod", "helloworld"]);
    assert.equal(before.code, 0);
    assert.deepEqual(JSON.parse(before.stdout), pod);
    assert.match(before.stdout, /^\{\n {4}"kind": "Pod",\n/);
    const after = await ws.run(["get", "pod", "helloworld", "-o", "json"]);
    assert.equal(after.stdout, before.stdout);
    const yaml = await ws.run(["get", "pod", "-oyaml", "helloworld"]);
    assert.match(yaml.stdout, /^kind: Pod\n/m);
    assert.match(
      yaml.stdout,
      /\n {2}addresses:\n {2}- address: 54\.236\.63\.193\n {4}type: PublicIP\n/,
    );
  });
});

Deno.test("milpactl get -l passes the selector, and an empty list prints the header alone", async () => {
  await withController({
    "GET /api/v1/namespaces/web/pods": () => json(podList()),
  }, async (ws, controller) => {
    const r = await ws.run(["get", "po", "-n", "web", "-l", "app=web,tier!=db"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^NAME\s+UNITS\s+RUNNING\s+STATUS\s+RESTARTS\s+NODE\s+IP\s+AGE\n$/);
    assert.equal(r.stderr, "");
    assert.equal(controller.received[0].query.get("labelSelector"), "app=web,tier!=db");
  });
});

Deno.test("milpactl get of a missing object fails with kubectl's message", async () => {
  await withController({}, async (ws) => {
    const r = await ws.run(["get", "pod", "nope"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, 'Error: pods "nope" not found\n');
  });
});

Deno.test("milpactl get -w prints the header once, then a row per event", async () => {
  const pod = helloworldPod();
  const waiting = { ...pod, status: { phase: "Waiting" } };
  await withController({
    "GET /api/v1/namespaces/default/pods": (req) => {
      assert.equal(req.query.get("watch"), "true");
      return new Response(
        `event: ADDED\ndata: ${JSON.stringify(waiting)}\n\n: keepalive\n\n` +
          `event: MODIFIED\ndata: ${JSON.stringify(pod)}\n\n`,
        { headers: { "content-type": "text/event-stream" } },
      );
    },
  }, async (ws) => {
    const r = await ws.run(["get", "pods", "-w"]);
    assert.equal(r.code, 0);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 3);
    assert.match(lines[0], /^NAME +UNITS +RUNNING +STATUS +RESTARTS +NODE +IP +AGE$/);
    assert.match(lines[1], /^helloworld +1 +0 +Waiting +0 +<unassigned> +<none> +3m$/);
    assert.match(lines[2], /^helloworld +1 +1 +Running +0 +37621e3e +172\.31\.44\.62 +3m$/);
    assert.equal(lines[0].indexOf("STATUS"), lines[1].indexOf("Waiting"));
    assert.equal(lines[0].indexOf("AGE"), lines[1].indexOf("3m"));
  });
});

Deno.test("milpactl create -f sends every document in one batch", async () => {
  await withController({
    "POST /api/v1/batch": (req) => {
      const { items } = req.body as { items: { kind: string; metadata: { name: string } }[] };
      return json({
        items: items.map((i) => ({
          kind: i.kind,
          namespace: "default",
          name: i.metadata.name,
          action: "created",
        })),
      });
    },
  }, async (ws, controller) => {
    await ws.write("app.yml", TWO_DOCS);
    const r = await ws.run(["create", "-f", "app.yml"]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "pod/web created\nservice/web-svc created\n");
    assert.equal(controller.received.length, 1);
    const body = controller.received[0].body as {
      operation: string;
      items: unknown[];
      cascade: boolean;
    };
    assert.equal(body.operation, "create");
    assert.equal(body.cascade, true);
    assert.deepEqual(
      body.items.map((i) => (i as { metadata: { name: string } }).metadata.name),
      ["web", "web-svc"],
    );
  });
});

Deno.test("milpactl create -f names the document and field the controller rejected, once", async () => {
  await withController({
    "POST /api/v1/batch": () =>
      status(
        422,
        "Invalid",
        'Pod "web" is invalid: spec.resources.memory: invalid quantity "lots"',
        {
          kind: "Pod",
          name: "web",
          index: 0,
          causes: [{
            field: "spec.resources.memory",
            message: 'invalid quantity "lots"',
            value: "lots",
          }],
        },
      ),
  }, async (ws) => {
    await ws.write("app.yml", TWO_DOCS);
    const r = await ws.run(["create", "-f", "app.yml"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      'Error: app.yml: document 1 (Pod "web"): Pod "web" is invalid:\n' +
        '  * spec.resources.memory: invalid quantity "lots"\n',
    );
  });
});

Deno.test("milpactl create -f with broken YAML exits 2 and sends nothing", async () => {
  await withController({}, async (ws, controller) => {
    await ws.write("broken.yml", TWO_DOCS.replace("  - port: 80", "  - port: [80"));
    const r = await ws.run(["create", "-f", "broken.yml"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^Error: broken\.yml: document 2: .*at line \d+, column \d+/);
    assert.equal(controller.received.length, 0);
  });
});

Deno.test("milpactl create -f - reads stdin and warns about containers", async () => {
  await withController({
    "POST /api/v1/batch": () =>
      status(422, "Invalid", 'Pod "c" is invalid: spec.units: Required value', {
        index: 0,
        causes: [{ field: "spec.units", message: "Required value" }],
      }),
  }, async (ws, controller) => {
    const r = await ws.run(
      ["create", "-f", "-"],
      JSON.stringify({ kind: "Pod", metadata: { name: "c" }, spec: { containers: [] } }),
    );
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /^Warning: stdin: document 1 \(Pod "c"\): .*Milpa uses "units", not "containers"\n/,
    );
    assert.match(r.stderr, /\nError: stdin: document 1 \(Pod "c"\): Pod "c" is invalid/);
    assert.equal(controller.received.length, 1);
  });
});

Deno.test("milpactl without any client config exits 3 and says how to start the controller", async () => {
  const ws = await Workspace.create();
  try {
    const r = await ws.run(["get", "pods"]);
    assert.equal(r.code, 3);
    assert.ok(r.stderr.startsWith("Error: no Milpa controller configured"), r.stderr);
    assert.ok(r.stderr.includes(`${ws.dir}/client.yaml`), r.stderr);
    assert.ok(r.stderr.includes("deno task start"), r.stderr);
  } finally {
    await ws.remove();
  }
});

Deno.test("milpactl with a wrong token exits 1 and says the token was refused", async () => {
  const controller = new FakeController({});
  const ws = await Workspace.create(controller.endpoint, "stale-token");
  try {
    const r = await ws.run(["get", "pods"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "Error: Unauthorized: missing or wrong token\n" +
        `  the controller at ${controller.endpoint} did not accept the token from ` +
        `${ws.dir}/client.yaml: it may have expired or been revoked, or the controller's ` +
        "state was reset\n",
    );
  } finally {
    await controller.close();
    await ws.remove();
  }
});

Deno.test("milpactl exits 3 when the controller is not running", async () => {
  const gone = new FakeController({});
  const endpoint = gone.endpoint;
  await gone.close();
  const ws = await Workspace.create(endpoint);
  try {
    const r = await ws.run(["get", "nodes"]);
    assert.equal(r.code, 3);
    assert.equal(
      r.stderr,
      `Error: cannot reach the Milpa controller at ${endpoint}: is it running? ` +
        "(start it with `deno task start`)\n",
    );
  } finally {
    await ws.remove();
  }
});

Deno.test("milpactl delete KIND NAME deletes each name with cascade", async () => {
  await withController({
    "DELETE /api/v1/namespaces/default/pods/helloworld": () => json(helloworldPod()),
    "DELETE /api/v1/namespaces/default/deployments/nginx": () => json({ kind: "Deployment" }),
  }, async (ws, controller) => {
    const r = await ws.run(["delete", "po", "helloworld", "gone"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'pod "helloworld" deleted\n');
    assert.equal(r.stderr, 'Error: pods "gone" not found\n');
    assert.equal(controller.received[0].query.get("cascade"), "true");
    const keep = await ws.run(["delete", "deploy", "nginx", "--cascade=false"]);
    assert.equal(keep.code, 0);
    assert.equal(keep.stdout, 'deployment "nginx" deleted\n');
    assert.equal(controller.received.at(-1)!.query.get("cascade"), "false");
  });
});

Deno.test("milpactl delete -f sends one delete batch", async () => {
  await withController({
    "POST /api/v1/batch": () =>
      json({
        items: [
          { kind: "Pod", namespace: "default", name: "web", action: "deleted" },
          { kind: "Service", namespace: "default", name: "web-svc", action: "deleted" },
        ],
      }),
  }, async (ws, controller) => {
    await ws.write("app.yml", TWO_DOCS);
    const r = await ws.run(["delete", "-f", "app.yml", "--cascade=false"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "pod/web deleted\nservice/web-svc deleted\n");
    const body = controller.received[0].body as { operation: string; cascade: boolean };
    assert.equal(body.operation, "delete");
    assert.equal(body.cascade, false);
  });
});

Deno.test("milpactl logs prints the unit's log", async () => {
  await withController({
    "GET /api/v1/namespaces/default/pods/helloworld/log": (req) => {
      assert.equal(req.query.get("unit"), "helloserver");
      assert.equal(req.query.get("lines"), "2");
      return new Response("Hello Milpa\nserving on :8002\n", {
        headers: { "content-type": "text/plain" },
      });
    },
  }, async (ws) => {
    const r = await ws.run(["logs", "helloworld", "-u", "helloserver", "--lines", "2"]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "Hello Milpa\nserving on :8002\n");
  });
});

Deno.test("milpactl logs -f streams until the controller ends the body", async () => {
  await withController({
    "GET /api/v1/namespaces/default/pods/web/log": (req) => {
      assert.equal(req.query.get("follow"), "true");
      const encoder = new TextEncoder();
      let n = 0;
      return new Response(
        new ReadableStream({
          async pull(controller) {
            await new Promise((resolve) => setTimeout(resolve, 20));
            if (++n > 3) return controller.close();
            controller.enqueue(encoder.encode(`line ${n}\n`));
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    },
  }, async (ws) => {
    const r = await ws.run(["logs", "web", "-f"]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "line 1\nline 2\nline 3\n");
  });
});

Deno.test("milpactl version prints both versions, and the client's alone when the server is down", async () => {
  const version = {
    gitVersion: "0.1.0",
    major: "0",
    minor: "1",
    platform: "linux",
    cloud: "local",
  };
  await withController({ "GET /version": () => json(version) }, async (ws) => {
    const r = await ws.run(["version"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Client Version: \d+\.\d+\.\d+\n/);
    assert.ok(r.stdout.endsWith("Server Version: 0.1.0 (linux, cloud local)\n"), r.stdout);
    const j = await ws.run(["version", "-o", "json"]);
    assert.equal(j.code, 0);
    assert.deepEqual(JSON.parse(j.stdout).serverVersion, version);
    assert.match(JSON.parse(j.stdout).clientVersion, /^\d+\.\d+\.\d+$/);
  });
  const ws = await Workspace.create("http://127.0.0.1:9");
  try {
    const r = await ws.run(["version"]);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /^Client Version: \d+\.\d+\.\d+\n$/);
    assert.match(r.stderr, /^Error: cannot reach the Milpa controller at http:\/\/127\.0\.0\.1:9/);
  } finally {
    await ws.remove();
  }
});

Deno.test("milpactl usage errors exit 2, an unknown kind 1 (as kubectl), and --help exits 0", async () => {
  const ws = await Workspace.create();
  try {
    const unknown = await ws.run(["get", "widgets"]);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /^Error: the server doesn't have a resource type "widgets"\n {2}known types: pods \(po\)/,
    );
    const typo = await ws.run(["get", "pdos"]);
    assert.equal(typo.code, 1);
    assert.match(
      typo.stderr,
      /^Error: the server doesn't have a resource type "pdos"; did you mean "pods"\?\n/,
    );
    const badFlag = await ws.run(["get", "pods", "-o", "xml"]);
    assert.equal(badFlag.code, 2);
    assert.match(
      badFlag.stderr,
      /^Error: option '-o, --output <format>' argument 'xml' is invalid/,
    );
    const help = await ws.run(["create", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /\$ milpactl create -f helloworld-pod\.yml/);
  } finally {
    await ws.remove();
  }
});
