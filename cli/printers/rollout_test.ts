import assert from "node:assert/strict";
import type { Deployment, DeploymentStatus, ReplicaSet } from "../../model/deployment.ts";
import { historyTable, revisionDetail, rolloutStatus } from "./rollout.ts";

function deployment(status: DeploymentStatus, generation = 2, replicas = 3): Deployment {
  return {
    kind: "Deployment",
    apiVersion: "v1",
    metadata: { name: "backend", namespace: "default", uid: "d-1", generation },
    spec: {
      replicas,
      template: { metadata: { labels: { app: "backend" } }, spec: { units: [] } },
    },
    status: { observedGeneration: 2, ...status },
  };
}

const waiting = (what: string) => `Waiting for deployment "backend" rollout to finish: ${what}...`;

Deno.test("rolloutStatus() waits for the controller to see a new spec first", () => {
  const state = rolloutStatus(deployment({ observedGeneration: 1, updatedReplicas: 3 }));
  assert.deepEqual(state, {
    message: "Waiting for deployment spec update to be observed...",
    done: false,
  });
});

Deno.test("rolloutStatus() counts new replicas that are not updated yet", () => {
  const state = rolloutStatus(
    deployment({ replicas: 4, updatedReplicas: 1, availableReplicas: 3 }),
  );
  assert.deepEqual(state, {
    message: waiting("1 out of 3 new replicas have been updated"),
    done: false,
  });
});

Deno.test("rolloutStatus() counts old replicas pending termination", () => {
  const state = rolloutStatus(
    deployment({ replicas: 4, updatedReplicas: 3, availableReplicas: 3 }),
  );
  assert.equal(state.message, waiting("1 old replicas are pending termination"));
  assert.equal(state.done, false);
});

Deno.test("rolloutStatus() counts updated replicas that are not available yet", () => {
  const state = rolloutStatus(
    deployment({ replicas: 3, updatedReplicas: 3, availableReplicas: 2 }),
  );
  assert.equal(state.message, waiting("2 of 3 updated replicas are available"));
  assert.equal(state.done, false);
});

Deno.test("rolloutStatus() waits for a scale-down of the new replicas to finish", () => {
  const state = rolloutStatus(
    deployment({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 }, 2, 2),
  );
  assert.equal(state.message, waiting("1 extra replicas are pending termination"));
  assert.equal(state.done, false);
});

Deno.test("rolloutStatus() is done when updated = total = available = desired", () => {
  const state = rolloutStatus(
    deployment({ replicas: 3, updatedReplicas: 3, availableReplicas: 3 }),
  );
  assert.deepEqual(state, { message: 'deployment "backend" successfully rolled out', done: true });
});

Deno.test("rolloutStatus() fails once the progress deadline passed", () => {
  const state = rolloutStatus(deployment({
    replicas: 4,
    updatedReplicas: 1,
    availableReplicas: 3,
    conditions: [
      { type: "Available", status: "True", reason: "MinimumReplicasAvailable" },
      { type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded" },
    ],
  }));
  assert.equal(state.failed, 'deployment "backend" exceeded its progress deadline');
  assert.equal(state.done, false);
});

Deno.test("rolloutStatus() of a deployment without status defaults to one replica", () => {
  const d = deployment({});
  delete d.status;
  delete d.spec.replicas;
  d.metadata.generation = undefined;
  assert.equal(rolloutStatus(d).message, waiting("0 out of 1 new replicas have been updated"));
});

function rs(name: string, revision: string | undefined, cause?: string): ReplicaSet {
  const annotations: Record<string, string> = {};
  if (revision) annotations["deployment.kubernetes.io/revision"] = revision;
  if (cause) annotations["kubernetes.io/change-cause"] = cause;
  return {
    kind: "ReplicaSet",
    apiVersion: "v1",
    metadata: { name, namespace: "default", annotations },
    spec: {
      replicas: 1,
      template: {
        metadata: { labels: { app: "backend", "pod-template-hash": name.slice(-3) } },
        spec: {
          units: [{
            name: "helloserver",
            image: "elotl/hello",
            command: ["deno", "eval"],
            args: ["serve()"],
            env: [{ name: "MY_MILPA_VAR", value: "variable_value_2" }],
          }],
        },
      },
    },
  };
}

Deno.test("historyTable() lists revisions in order with their change cause or <none>", () => {
  const text = historyTable("backend", [
    rs("backend-b10", "10", "milpactl update -f backend-deploy.yml"),
    rs("backend-a2", "2"),
    rs("backend-a1", "1", "first\tdeploy"),
  ]);
  assert.equal(
    text,
    "deployment.apps/backend\n" +
      "REVISION  CHANGE-CAUSE\n" +
      "1         first deploy\n" +
      "2         <none>\n" +
      "10        milpactl update -f backend-deploy.yml\n",
  );
  assert.equal(historyTable("backend", []), "deployment.apps/backend\nREVISION  CHANGE-CAUSE\n");
});

Deno.test("revisionDetail() prints the revision's labels and units", () => {
  const text = revisionDetail("backend", rs("backend-abc", "2"));
  const lines = text.split("\n");
  assert.equal(lines[0], "deployment.apps/backend with revision #2");
  assert.equal(lines[1], "Pod Template:");
  assert.match(text, /\n {2}Labels: +app=backend\n +pod-template-hash=abc\n/);
  assert.match(text, /\n {4}helloserver:\n {6}Image: +elotl\/hello\n/);
  assert.match(text, /\n {6}Command: +deno eval\n {6}Args: +serve\(\)\n/);
  assert.match(text, /\n {6}Environment: +MY_MILPA_VAR=variable_value_2\n$/);
});
