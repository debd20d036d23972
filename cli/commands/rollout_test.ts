import assert from "node:assert/strict";
import type { Deployment } from "../../model/deployment.ts";
import { podTemplateHash } from "../../model/workload.ts";
import { RolloutError, UsageError } from "../errors.ts";
import {
  deploymentName,
  RESTARTED_AT_ANNOTATION,
  rfc3339,
  withPaused,
  withRestartAnnotation,
} from "./rollout.ts";

Deno.test("deploymentName() takes kubectl's deploy/NAME and deploy NAME forms", () => {
  assert.equal(deploymentName("deploy/backend-deployment"), "backend-deployment");
  assert.equal(deploymentName("deployment/web"), "web");
  assert.equal(deploymentName("deployments/web"), "web");
  assert.equal(deploymentName("Deployment/web"), "web");
  assert.equal(deploymentName("deploy", "web"), "web");
  assert.equal(deploymentName("deployment", "web"), "web");
});

Deno.test("deploymentName() refuses other kinds, a missing name and both forms at once", () => {
  assert.throws(() => deploymentName("rs/web-abc"), {
    name: "UsageError",
    message: "rollout works on deployments, not replicasets",
  });
  assert.throws(() => deploymentName("deploy"), UsageError);
  assert.throws(() => deploymentName("deploy/"), UsageError);
  assert.throws(() => deploymentName("web"), /doesn't have a resource type "web"/);
  assert.throws(() => deploymentName("deploy/web", "other"), /"other" has no kind/);
  assert.throws(() => deploymentName("deploy,rs", "web"), {
    message: 'rollout works on deployments, not "deploy,rs"',
  });
});

function deployment(paused?: boolean): Deployment {
  return {
    kind: "Deployment",
    apiVersion: "v1",
    metadata: { name: "web", resourceVersion: "00000001" },
    spec: {
      replicas: 2,
      paused,
      template: {
        metadata: { labels: { app: "web" }, annotations: { team: "a" } },
        spec: { units: [{ name: "main" }] },
      },
    },
  };
}

Deno.test("rfc3339() is UTC to the second", () => {
  assert.equal(rfc3339(Date.parse("2024-05-01T12:34:56.789Z")), "2024-05-01T12:34:56Z");
});

Deno.test("withRestartAnnotation() stamps the template, making a new template hash", () => {
  const d = deployment();
  const now = Date.parse("2024-05-01T12:00:00Z");
  const restarted = withRestartAnnotation(d, now);
  assert.deepEqual(restarted.spec.template.metadata?.annotations, {
    team: "a",
    [RESTARTED_AT_ANNOTATION]: "2024-05-01T12:00:00Z",
  });
  assert.equal(RESTARTED_AT_ANNOTATION, "milpa.elotl.co/restartedAt");
  assert.deepEqual(restarted.spec.template.metadata?.labels, { app: "web" });
  assert.equal(restarted.metadata.resourceVersion, "00000001");
  assert.notEqual(podTemplateHash(restarted.spec.template), podTemplateHash(d.spec.template));
  assert.equal(d.spec.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION], undefined);
  const again = withRestartAnnotation(restarted, now + 60_000);
  assert.equal(
    again.spec.template.metadata?.annotations?.[RESTARTED_AT_ANNOTATION],
    "2024-05-01T12:01:00Z",
  );
  const bare = withRestartAnnotation({
    ...d,
    spec: { ...d.spec, template: { spec: d.spec.template.spec } },
  }, now);
  assert.deepEqual(bare.spec.template.metadata, {
    annotations: { [RESTARTED_AT_ANNOTATION]: "2024-05-01T12:00:00Z" },
  });
});

Deno.test("withPaused() sets spec.paused and refuses a no-op like kubectl", () => {
  assert.equal(withPaused(deployment(), true).spec.paused, true);
  assert.equal(withPaused(deployment(true), false).spec.paused, false);
  assert.throws(() => withPaused(deployment(true), true), {
    name: "RolloutError",
    message: 'deployment "web" is already paused',
  });
  assert.throws(() => withPaused(deployment(), false), RolloutError);
  assert.throws(() => withPaused(deployment(false), false), /is not paused/);
});
