/**
 * The Deployment tutorial's milpactl commands as a user runs them — rollout status, history,
 * undo, restart, pause/resume, scale, describe and delete --cascade=false — as subprocesses
 * against a fake controller (tests/cli_harness.ts).
 */
import assert from "node:assert/strict";
import { podTemplateHash } from "../model/workload.ts";
import { json, type Received, status, withController } from "./cli_harness.ts";

const DEPLOY = "/api/v1/namespaces/default/deployments";
const BACKEND = `${DEPLOY}/backend-deployment`;

interface Counts {
  replicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  conditions?: unknown[];
}

/** The tutorial's backend deployment (2 replicas) with the given status counts. */
function backend(counts: Counts = {}, extra: Record<string, unknown> = {}) {
  return {
    kind: "Deployment",
    apiVersion: "v1",
    metadata: {
      name: "backend-deployment",
      namespace: "default",
      uid: "uid-backend",
      generation: 2,
      resourceVersion: "00000000000000010000",
      creationTimestamp: new Date(Date.now() - 60_000).toISOString(),
    },
    spec: {
      replicas: 2,
      maxSurge: 1,
      maxUnavailable: 0,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: { labels: { app: "backend" } },
        spec: { units: [{ name: "helloserver", command: ["deno", "eval"] }] },
      },
      ...extra,
    },
    status: { observedGeneration: 2, ...counts },
  };
}

/** An SSE body of watch events, as `?watch=true` sends them. */
function sse(...events: Array<[string, unknown]>): Response {
  return new Response(
    events.map(([type, obj]) => `event: ${type}\ndata: ${JSON.stringify(obj)}\n\n`).join(""),
    { headers: { "content-type": "text/event-stream" } },
  );
}

const waiting = (what: string) =>
  `Waiting for deployment "backend-deployment" rollout to finish: ${what}...\n`;

Deno.test("milpactl rollout status prints each progress line once, then success", async () => {
  const started = backend({ replicas: 2, updatedReplicas: 0, availableReplicas: 2 });
  const surged = backend({ replicas: 3, updatedReplicas: 1, availableReplicas: 2 });
  const oldLeft = backend({ replicas: 3, updatedReplicas: 2, availableReplicas: 2 });
  const unavailable = backend({ replicas: 2, updatedReplicas: 2, availableReplicas: 1 });
  const done = backend({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
  const other = { ...done, metadata: { ...done.metadata, name: "frontend", uid: "uid-front" } };
  await withController({
    [`GET ${BACKEND}`]: () => json(started),
    [`GET ${DEPLOY}`]: (req) => {
      assert.equal(req.query.get("watch"), "true");
      return sse(
        ["ADDED", other],
        ["ADDED", started],
        ["MODIFIED", surged],
        ["MODIFIED", surged],
        ["MODIFIED", oldLeft],
        ["MODIFIED", unavailable],
        ["MODIFIED", done],
      );
    },
  }, async (ws) => {
    const r = await ws.run(["rollout", "status", "deploy/backend-deployment"]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      waiting("0 out of 2 new replicas have been updated") +
        waiting("1 out of 2 new replicas have been updated") +
        waiting("1 old replicas are pending termination") +
        waiting("1 of 2 updated replicas are available") +
        'deployment "backend-deployment" successfully rolled out\n',
    );
  });
});

Deno.test("milpactl rollout status exits 1 when the progress deadline is exceeded", async () => {
  const stuck = backend({ replicas: 3, updatedReplicas: 1, availableReplicas: 2 });
  const stalled = backend({
    replicas: 3,
    updatedReplicas: 1,
    availableReplicas: 2,
    conditions: [
      { type: "Available", status: "True", reason: "MinimumReplicasAvailable" },
      { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" },
    ],
  });
  await withController({
    [`GET ${BACKEND}`]: () => json(stuck),
    [`GET ${DEPLOY}`]: () => sse(["ADDED", stuck], ["MODIFIED", stalled]),
  }, async (ws) => {
    const r = await ws.run(["rollout", "status", "deployment", "backend-deployment"]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, waiting("1 out of 2 new replicas have been updated"));
    assert.equal(
      r.stderr,
      'Error: deployment "backend-deployment" exceeded its progress deadline\n',
    );
  });
});

Deno.test("milpactl rollout status --timeout gives up while the watch stays open", async () => {
  const stuck = backend({ replicas: 3, updatedReplicas: 1, availableReplicas: 2 });
  const encoder = new TextEncoder();
  await withController({
    [`GET ${BACKEND}`]: () => json(stuck),
    [`GET ${DEPLOY}`]: () =>
      new Response(
        new ReadableStream({
          start: (c) =>
            c.enqueue(encoder.encode(`event: ADDED\ndata: ${JSON.stringify(stuck)}\n\n`)),
        }),
        { headers: { "content-type": "text/event-stream" } },
      ),
  }, async (ws) => {
    const started = Date.now();
    const r = await ws.run([
      "rollout",
      "status",
      "deploy",
      "backend-deployment",
      "--timeout",
      "1s",
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, waiting("1 out of 2 new replicas have been updated"));
    assert.equal(
      r.stderr,
      'Error: timed out after 1s waiting for deployment "backend-deployment" rollout to finish\n',
    );
    assert.ok(Date.now() - started >= 1000);
  });
});

Deno.test("milpactl rollout status --watch=false looks once: 0 when done, 1 when not", async () => {
  let current = backend({ replicas: 2, updatedReplicas: 2, availableReplicas: 1 });
  await withController({ [`GET ${BACKEND}`]: () => json(current) }, async (ws, controller) => {
    const notYet = await ws.run([
      "rollout",
      "status",
      "deploy/backend-deployment",
      "--watch=false",
    ]);
    assert.equal(notYet.code, 1);
    assert.equal(notYet.stdout, waiting("1 of 2 updated replicas are available"));
    assert.match(notYet.stderr, /^Error: deployment "backend-deployment" has not finished/);
    current = backend({ replicas: 2, updatedReplicas: 2, availableReplicas: 2 });
    const done = await ws.run([
      "rollout",
      "status",
      "deploy/backend-deployment",
      "--watch",
      "false",
    ]);
    assert.equal(done.code, 0);
    assert.equal(done.stdout, 'deployment "backend-deployment" successfully rolled out\n');
    assert.ok(controller.received.every((r) => r.query.get("watch") === null));
  });
});

Deno.test("milpactl rollout undo posts the revision (none for the previous one)", async () => {
  let generation = 2;
  await withController({
    [`GET ${BACKEND}`]: () => json(backend()),
    [`POST ${BACKEND}/rollback`]: () => {
      const d = backend();
      return json({ ...d, metadata: { ...d.metadata, generation: ++generation } });
    },
  }, async (ws, controller) => {
    const previous = await ws.run(["rollout", "undo", "deploy/backend-deployment"]);
    assert.equal(previous.stderr, "");
    assert.equal(previous.code, 0);
    assert.equal(previous.stdout, "deployment.apps/backend-deployment rolled back\n");
    const toOne = await ws.run(["rollout", "undo", "deploy/backend-deployment", "--to-revision=1"]);
    assert.equal(toOne.code, 0);
    const posts = controller.received.filter((r) => r.method === "POST");
    assert.deepEqual(posts.map((r) => r.body), [{}, { toRevision: 1 }]);
  });
});

Deno.test("milpactl rollout undo reports the controller's error and refuses a paused deployment", async () => {
  let paused = false;
  await withController({
    [`GET ${BACKEND}`]: () => json(backend({}, { paused })),
    [`POST ${BACKEND}/rollback`]: () =>
      status(404, "NotFound", 'deployment "backend-deployment" has no revision 9; revisions: 2, 1'),
  }, async (ws, controller) => {
    const missing = await ws.run([
      "rollout",
      "undo",
      "deploy/backend-deployment",
      "--to-revision",
      "9",
    ]);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      'Error: deployment "backend-deployment" has no revision 9; revisions: 2, 1\n',
    );
    paused = true;
    const r = await ws.run(["rollout", "undo", "deploy/backend-deployment"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: cannot roll back the paused deployment "backend-deployment"\n/);
    assert.match(r.stderr, /milpactl rollout resume deploy\/backend-deployment/);
    assert.equal(controller.received.filter((x) => x.method === "POST").length, 1);
  });
});

/** Routes for read-modify-PUT tests: GET answers `current`; the first `conflicts` PUTs get 409. */
function modifiable(conflicts: number) {
  let version = 10;
  let current = backend() as ReturnType<typeof backend>;
  const puts: Received[] = [];
  const routes = {
    [`GET ${BACKEND}`]: () => {
      current = { ...current, metadata: { ...current.metadata, resourceVersion: `${++version}` } };
      return json(current);
    },
    [`PUT ${BACKEND}`]: (req: Received) => {
      puts.push(req);
      if (puts.length <= conflicts) {
        return status(
          409,
          "Conflict",
          'deployments "backend-deployment" was changed by someone else; read it again and retry',
        );
      }
      current = req.body as typeof current;
      return json(current);
    },
  };
  return { routes, puts, current: () => current };
}

type Sent = {
  metadata: { resourceVersion?: string };
  spec: {
    replicas: number;
    paused?: boolean;
    template: { metadata: { labels: unknown; annotations?: Record<string, string> } };
  };
};

Deno.test("milpactl rollout restart PUTs a restartedAt annotation on the pod template", async () => {
  const fake = modifiable(0);
  await withController(fake.routes, async (ws) => {
    const before = Date.now();
    const r = await ws.run(["rollout", "restart", "deploy/backend-deployment"]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "deployment.apps/backend-deployment restarted\n");
    assert.equal(fake.puts.length, 1);
    const sent = fake.puts[0].body as Sent;
    const stamp = sent.spec.template.metadata.annotations?.["milpa.elotl.co/restartedAt"];
    assert.match(stamp ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Date.parse(stamp!) >= Math.floor(before / 1000) * 1000);
    assert.deepEqual(sent.spec.template.metadata.labels, { app: "backend" });
    assert.equal(sent.spec.replicas, 2);
  });
});

Deno.test("milpactl scale keeps the read resourceVersion and retries on 409 Conflict", async () => {
  const fake = modifiable(2);
  await withController(fake.routes, async (ws, controller) => {
    const r = await ws.run(["scale", "deploy", "backend-deployment", "--replicas", "4"]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.equal(r.stdout, "deployment/backend-deployment scaled\n");
    assert.deepEqual(controller.received.map((x) => x.method), [
      "GET",
      "PUT",
      "GET",
      "PUT",
      "GET",
      "PUT",
    ]);
    // Each PUT carries the version its own GET read: a status write in between is retried.
    assert.deepEqual(
      fake.puts.map((p) => (p.body as Sent).metadata.resourceVersion),
      ["11", "12", "13"],
    );
    assert.equal((fake.current() as unknown as Sent).spec.replicas, 4);
  });
});

Deno.test("milpactl scale gives up after 5 conflicts with the controller's message", async () => {
  const fake = modifiable(99);
  await withController(fake.routes, async (ws) => {
    const r = await ws.run(["scale", "deploy", "backend-deployment", "--replicas", "4"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: deployments "backend-deployment" was changed by someone else/);
    assert.equal(fake.puts.length, 5);
  });
});

Deno.test("milpactl rollout pause and resume set spec.paused, and refuse a no-op", async () => {
  const fake = modifiable(1);
  await withController(fake.routes, async (ws) => {
    const pause = await ws.run(["rollout", "pause", "deploy/backend-deployment"]);
    assert.equal(pause.code, 0);
    assert.equal(pause.stdout, "deployment.apps/backend-deployment paused\n");
    assert.equal((fake.current() as unknown as Sent).spec.paused, true);
    const again = await ws.run(["rollout", "pause", "deploy/backend-deployment"]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'Error: deployment "backend-deployment" is already paused\n');
    const restart = await ws.run(["rollout", "restart", "deploy/backend-deployment"]);
    assert.equal(restart.code, 1);
    assert.match(restart.stderr, /^Error: cannot restart the paused deployment/);
    const resume = await ws.run(["rollout", "resume", "deployment/backend-deployment"]);
    assert.equal(resume.code, 0);
    assert.equal(resume.stdout, "deployment.apps/backend-deployment resumed\n");
    assert.equal((fake.current() as unknown as Sent).spec.paused, false);
    assert.equal(fake.puts.length, 3); // one conflict retried, then pause and resume
  });
});

function replicaSet(
  name: string,
  revision: number,
  opts: { owner?: string; cause?: string; replicas?: number } = {},
) {
  const { owner = "uid-backend", cause, replicas = revision === 2 ? 2 : 0 } = opts;
  const annotations: Record<string, string> = {
    "deployment.kubernetes.io/revision": String(revision),
  };
  if (cause) annotations["kubernetes.io/change-cause"] = cause;
  return {
    kind: "ReplicaSet",
    apiVersion: "v1",
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      labels: { app: "backend", "pod-template-hash": name.split("-").pop() },
      annotations,
      ownerReferences: [{
        apiVersion: "v1",
        kind: "Deployment",
        name: "backend-deployment",
        uid: owner,
        controller: true,
      }],
    },
    spec: {
      replicas,
      template: {
        metadata: { labels: { app: "backend", "pod-template-hash": name.split("-").pop() } },
        spec: {
          units: [{
            name: "helloserver",
            command: ["deno", "eval"],
            env: [{ name: "MY_MILPA_VAR", value: `variable_value_${revision}` }],
          }],
        },
      },
    },
    status: { replicas },
  };
}

const rsList = () => ({
  kind: "ReplicaSetList",
  apiVersion: "v1",
  metadata: {},
  items: [
    replicaSet("backend-deployment-bbbbb", 2),
    replicaSet("backend-deployment-aaaaa", 1, { cause: "milpactl create -f backend.yml" }),
    replicaSet("backend-deployment-zzzzz", 7, { owner: "uid-an-earlier-backend" }),
  ],
});

Deno.test("milpactl rollout history lists the deployment's own revisions", async () => {
  await withController({
    [`GET ${BACKEND}`]: () => json(backend()),
    "GET /api/v1/namespaces/default/replicasets": () => json(rsList()),
  }, async (ws) => {
    const r = await ws.run(["rollout", "history", "deploy/backend-deployment"]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      "deployment.apps/backend-deployment\n" +
        "REVISION  CHANGE-CAUSE\n" +
        "1         milpactl create -f backend.yml\n" +
        "2         <none>\n",
    );
    const one = await ws.run([
      "rollout",
      "history",
      "deploy/backend-deployment",
      "--revision",
      "1",
    ]);
    assert.equal(one.code, 0);
    assert.match(
      one.stdout,
      /^deployment\.apps\/backend-deployment with revision #1\nPod Template:\n/,
    );
    assert.match(one.stdout, /\n {6}Environment: +MY_MILPA_VAR=variable_value_1\n/);
    const missing = await ws.run([
      "rollout",
      "history",
      "deploy/backend-deployment",
      "--revision=7",
    ]);
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      'Error: deployment "backend-deployment" has no revision 7; revisions: 1, 2\n',
    );
  });
});

Deno.test("milpactl describe deploy shows the strategy, replica sets and events", async () => {
  const hash = podTemplateHash(backend().spec.template);
  await withController({
    [`GET ${BACKEND}`]: () =>
      json(backend({
        replicas: 2,
        updatedReplicas: 2,
        availableReplicas: 2,
        conditions: [{ type: "Progressing", status: "True", reason: "NewReplicaSetAvailable" }],
      })),
    "GET /api/v1/namespaces/default/replicasets": () =>
      json({
        kind: "ReplicaSetList",
        items: [
          replicaSet(`backend-deployment-${hash}`, 2, { replicas: 2 }),
          replicaSet("backend-deployment-aaaaa", 1, { replicas: 1 }),
          replicaSet("backend-deployment-zzzzz", 7, { owner: "uid-other", replicas: 1 }),
        ],
      }),
    "GET /api/v1/namespaces/default/events": () =>
      json({
        kind: "EventList",
        items: [{
          kind: "Event",
          metadata: { name: "e1", creationTimestamp: new Date().toISOString() },
          involvedObject: { kind: "Deployment", name: "backend-deployment" },
          status: "ScalingReplicaSet",
          source: "deployment-controller",
          message: "Scaled up replica set backend-deployment-bbbbb from 1 to 2",
        }],
      }),
  }, async (ws) => {
    const r = await ws.run(["describe", "deploy", "backend-deployment"]);
    assert.equal(r.stderr, "");
    assert.equal(r.code, 0);
    assert.match(r.stdout, /\nRollingUpdateStrategy: +0 max unavailable, 1 max surge\n/);
    assert.match(r.stdout, /\n {2}Progressing +True +NewReplicaSetAvailable *\n/);
    assert.match(
      r.stdout,
      /\nOldReplicaSets: +backend-deployment-aaaaa \(1\/1 replicas created\)\n/,
    );
    assert.match(r.stdout, new RegExp(`\nNewReplicaSet: +backend-deployment-${hash} \\(2/2 `));
    assert.match(r.stdout, /\n {2}0s +ScalingReplicaSet +deployment-controller +Scaled up/);
  });
});

Deno.test("milpactl describe rs counts its pods by phase", async () => {
  const rs = replicaSet("backend-deployment-bbbbb", 2);
  const pod = (name: string, phase: string) => ({
    kind: "Pod",
    metadata: {
      name,
      namespace: "default",
      ownerReferences: [{
        kind: "ReplicaSet",
        name: rs.metadata.name,
        uid: rs.metadata.uid,
        controller: true,
      }],
    },
    spec: { units: [] },
    status: { phase },
  });
  await withController({
    "GET /api/v1/namespaces/default/replicasets/backend-deployment-bbbbb": () => json(rs),
    "GET /api/v1/namespaces/default/pods": () =>
      json({ kind: "PodList", items: [pod("a", "Running"), pod("b", "Waiting")] }),
    "GET /api/v1/namespaces/default/events": () => json({ kind: "EventList", items: [] }),
  }, async (ws) => {
    const r = await ws.run(["describe", "rs", "backend-deployment-bbbbb"]);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /\nPods Status: +1 Running \/ 1 Waiting \/ 0 Succeeded \/ 0 Failed\n/);
    assert.match(r.stdout, /\nEvents: +<none>\n$/);
  });
});

Deno.test("milpactl delete --cascade=false orphans by name (query) and by file (batch body)", async () => {
  await withController({
    [`DELETE ${BACKEND}`]: () => json(backend()),
    "POST /api/v1/batch": () =>
      json({ items: [{ kind: "Deployment", name: "backend-deployment", action: "deleted" }] }),
  }, async (ws, controller) => {
    await ws.write(
      "backend.yml",
      "kind: Deployment\nmetadata: {name: backend-deployment}\nspec: {}\n",
    );
    for (const flag of [["--cascade=false"], ["--cascade", "false"], []]) {
      const byName = await ws.run(["delete", "deploy", "backend-deployment", ...flag]);
      assert.equal(byName.code, 0, byName.stderr);
      const byFile = await ws.run(["delete", "-f", "backend.yml", ...flag]);
      assert.equal(byFile.code, 0, byFile.stderr);
      assert.equal(byFile.stdout, "deployment/backend-deployment deleted\n");
    }
    const deletes = controller.received.filter((r) => r.method === "DELETE");
    assert.deepEqual(deletes.map((r) => r.query.get("cascade")), ["false", "false", "true"]);
    const batches = controller.received.filter((r) => r.method === "POST");
    assert.deepEqual(
      batches.map((r) => (r.body as { operation: string; cascade: boolean })),
      [false, false, true].map((cascade) => ({
        operation: "delete",
        cascade,
        items: [{ kind: "Deployment", metadata: { name: "backend-deployment" }, spec: {} }],
      })),
    );
  });
});

Deno.test("milpactl rollout help has runnable tutorial examples; bad targets exit 2", async () => {
  await withController({}, async (ws, controller) => {
    const help = await ws.run(["rollout", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /\$ milpactl rollout status deploy\/backend-deployment\n/);
    assert.match(help.stdout, /\$ milpactl rollout undo deploy\/backend-deployment\n/);
    for (const sub of ["status", "history", "undo", "restart", "pause", "resume"]) {
      const r = await ws.run(["rollout", sub, "--help"]);
      assert.equal(r.code, 0, sub);
      assert.match(r.stdout, new RegExp(`\\$ milpactl rollout ${sub} deploy/backend-deployment`));
    }
    const rs = await ws.run(["rollout", "status", "rs/backend-abc"]);
    assert.equal(rs.code, 2);
    assert.equal(rs.stderr, "Error: rollout works on deployments, not replicasets\n");
    const timeout = await ws.run(["rollout", "status", "deploy/x", "--timeout", "90"]);
    assert.equal(timeout.code, 2);
    assert.match(timeout.stderr, /expected a duration such as "90s"/);
    assert.match(timeout.stderr, /run 'milpactl rollout status --help' for usage\n$/);
    assert.equal(controller.received.length, 0);
  });
});
