import assert from "node:assert/strict";
import { issuesToFieldErrors } from "./issues.ts";
import { deploymentSpec, replicaSetSpec } from "./workloads.ts";

/** `[field, message]` of every problem `schema` finds in `spec`. */
function problems(schema: typeof deploymentSpec | typeof replicaSetSpec, spec: unknown) {
  const result = schema.safeParse(spec, { reportInput: true });
  if (result.success) return [];
  return issuesToFieldErrors(result.error.issues, "spec").map((e) => [e.field, e.message]);
}

const template = {
  metadata: { labels: { app: "backend" } },
  spec: { units: [{ name: "helloserver", image: "elotl/helloserver:latest" }] },
};

Deno.test("deploymentSpec accepts the tutorial deployment with top-level maxSurge/maxUnavailable", () => {
  assert.deepEqual(
    problems(deploymentSpec, { replicas: 2, maxSurge: 1, maxUnavailable: 0, template }),
    [],
  );
});

Deno.test("deploymentSpec accepts Kubernetes-style strategy and every optional field", () => {
  assert.deepEqual(
    problems(deploymentSpec, {
      replicas: 0,
      selector: { matchLabels: { app: "backend" } },
      template,
      strategy: {
        type: "RollingUpdate",
        rollingUpdate: { maxSurge: "25%", maxUnavailable: "10%" },
      },
      minReadySeconds: 5,
      revisionHistoryLimit: 0,
      progressDeadlineSeconds: 600,
      paused: true,
    }),
    [],
  );
});

Deno.test("deploymentSpec checks the template's pod spec with full paths", () => {
  assert.deepEqual(
    problems(deploymentSpec, {
      template: { metadata: template.metadata, spec: { units: [{ name: "a" }], containers: [] } },
    }),
    [
      ["spec.template.spec.units[0]", "a unit needs an image or a command"],
      ["spec.template.spec.containers", 'unknown field; Milpa pods have "units", not "containers"'],
    ],
  );
  assert.deepEqual(problems(deploymentSpec, {}), [["spec.template", "required"]]);
});

Deno.test("deploymentSpec checks replicas and the other counters", () => {
  assert.deepEqual(
    problems(deploymentSpec, {
      template,
      replicas: -1,
      minReadySeconds: 1.5,
      revisionHistoryLimit: "10",
      progressDeadlineSeconds: -5,
    }),
    [
      ["spec.replicas", "must be at least 0"],
      ["spec.minReadySeconds", "must be an integer"],
      ["spec.revisionHistoryLimit", "must be a number"],
      ["spec.progressDeadlineSeconds", "must be at least 0"],
    ],
  );
});

Deno.test("deploymentSpec checks maxSurge and maxUnavailable in both places", () => {
  const message = 'must be a non-negative integer or a percentage such as "25%"';
  assert.deepEqual(
    problems(deploymentSpec, {
      template,
      maxSurge: -1,
      maxUnavailable: "25",
      strategy: { type: "Sometimes", rollingUpdate: { maxSurge: "2.5%", maxUnavailable: true } },
    }),
    [
      ["spec.maxSurge", message],
      ["spec.maxUnavailable", message],
      ["spec.strategy.type", 'must be one of "RollingUpdate", "Recreate"'],
      ["spec.strategy.rollingUpdate.maxSurge", message],
      ["spec.strategy.rollingUpdate.maxUnavailable", message],
    ],
  );
});

Deno.test("deploymentSpec forbids maxSurge and maxUnavailable both zero", () => {
  assert.deepEqual(problems(deploymentSpec, { template, maxSurge: 0, maxUnavailable: "0%" }), [
    ["spec.maxUnavailable", "must not be 0 when maxSurge is 0"],
  ]);
  assert.deepEqual(
    problems(deploymentSpec, {
      template,
      strategy: { rollingUpdate: { maxSurge: "0%", maxUnavailable: 0 } },
    }),
    [["spec.strategy.rollingUpdate.maxUnavailable", "must not be 0 when maxSurge is 0"]],
  );
  assert.deepEqual(problems(deploymentSpec, { template, maxUnavailable: 0 }), []);
});

Deno.test("deploymentSpec lets the top-level field win over strategy.rollingUpdate", () => {
  assert.deepEqual(
    problems(deploymentSpec, {
      template,
      maxSurge: 1,
      maxUnavailable: 0,
      strategy: { rollingUpdate: { maxSurge: 0 } },
    }),
    [],
  );
});

Deno.test("deploymentSpec caps maxUnavailable at 100% and rejects rollingUpdate with Recreate", () => {
  assert.deepEqual(
    problems(deploymentSpec, { template, maxUnavailable: "150%", maxSurge: "150%" }),
    [
      ["spec.maxUnavailable", "must not be more than 100%"],
    ],
  );
  assert.deepEqual(
    problems(deploymentSpec, { template, strategy: { type: "Recreate", rollingUpdate: {} } }),
    [["spec.strategy.rollingUpdate", 'not allowed when strategy.type is "Recreate"']],
  );
});

Deno.test("replicaSetSpec requires the selector to match the template labels", () => {
  assert.deepEqual(problems(replicaSetSpec, { selector: { app: "backend" }, template }), []);
  assert.deepEqual(
    problems(replicaSetSpec, {
      selector: { matchExpressions: [{ key: "app", operator: "In", values: ["backend", "api"] }] },
      template,
    }),
    [],
  );
  assert.deepEqual(problems(replicaSetSpec, { selector: { app: "frontend" }, template }), [
    ["spec.template.metadata.labels", "do not match spec.selector"],
  ]);
});

Deno.test("replicaSetSpec rejects an empty selector and an unlabelled template without one", () => {
  assert.deepEqual(problems(replicaSetSpec, { selector: {}, template }), [
    ["spec.selector", "must not be empty"],
  ]);
  assert.deepEqual(problems(replicaSetSpec, { template: { spec: {} } }), [
    [
      "spec.template.metadata.labels",
      "required when spec.selector is absent: the selector defaults to them",
    ],
  ]);
});

Deno.test("replicaSetSpec rejects Deployment-only fields", () => {
  assert.deepEqual(problems(replicaSetSpec, { template, maxSurge: 1 }), [
    ["spec.maxSurge", "unknown field"],
  ]);
});

Deno.test("deploymentSpec and replicaSetSpec refuse replicas above MAX_REPLICAS, naming the field", () => {
  assert.deepEqual(problems(deploymentSpec, { replicas: 10_000, template }), []);
  assert.deepEqual(problems(deploymentSpec, { replicas: 100_000_000, template }), [
    ["spec.replicas", "must be at most 10000"],
  ]);
  assert.deepEqual(problems(replicaSetSpec, { replicas: 10_001, template }), [
    ["spec.replicas", "must be at most 10000"],
  ]);
});
