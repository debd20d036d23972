import assert from "node:assert/strict";
import { applyDefaults, fillDefaults, resolveIntOrPercent } from "./defaults.ts";
import type { Deployment, ReplicaSet } from "./deployment.ts";
import { ValidationError } from "./errors.ts";
import type { Event } from "./event.ts";
import type { Node } from "./node.ts";
import type { Pod } from "./pod.ts";
import type { Service } from "./service.ts";

const template = {
  metadata: { labels: { app: "backend" } },
  spec: { units: [{ name: "helloserver", image: "elotl/helloserver:latest" }] },
};

Deno.test("applyDefaults() fills a pod's namespace, labels, phase, restart and spot policy", () => {
  const pod: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "helloworld" },
    spec: { units: [{ name: "helloserver", image: "elotl/helloserver" }] },
  };
  const out = applyDefaults(pod);
  assert.deepEqual(out.metadata, { name: "helloworld", namespace: "default", labels: {} });
  assert.equal(out.spec.phase, "Running");
  assert.equal(out.spec.restartPolicy, "Always");
  assert.deepEqual(out.spec.spot, { policy: "Never" });
  assert.deepEqual(out.spec.units, pod.spec.units);
});

Deno.test("applyDefaults() keeps what the user set and never changes its argument", () => {
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p", namespace: "team", labels: { app: "x" } },
    spec: { restartPolicy: "Never", spot: { policy: "Always" } },
  } as unknown as Pod;
  const before = structuredClone(pod);
  const out = applyDefaults(pod);
  assert.deepEqual(pod, before);
  assert.equal(out.metadata.namespace, "team");
  assert.deepEqual(out.metadata.labels, { app: "x" });
  assert.equal(out.spec.restartPolicy, "Never");
  assert.deepEqual(out.spec.spot, { policy: "Always" });
  assert.deepEqual(out.spec.units, []);
});

Deno.test("fillDefaults() fills the object it is given, as applyDefaults() fills its copy", () => {
  const pod = () =>
    ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: { units: [{ name: "main", image: "nginx" }] },
    }) as unknown as Pod;
  const given = pod();
  const out = fillDefaults(given);
  assert.equal(out, given, "the same object");
  assert.deepEqual(out, applyDefaults(pod()));
  assert.deepEqual(fillDefaults(structuredClone(out)), out, "idempotent");
});

Deno.test("applyDefaults() gives cluster-scoped kinds no namespace", () => {
  const node: Node = {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "37621e3e" },
    spec: { instanceType: "t3.nano" },
  };
  const out = applyDefaults(node);
  assert.equal(out.metadata.namespace, undefined);
  assert.deepEqual(out.metadata.labels, {});
  const event = applyDefaults<Event>({
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "e" },
    involvedObject: { kind: "Pod", name: "p" },
    status: "pod-created",
    source: "pod-controller",
    message: "",
  });
  assert.equal(event.metadata.namespace, "default");
});

Deno.test("applyDefaults() fills service type and each port's protocol, nodePort and range", () => {
  const svc: Service = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "helloworld-svc" },
    spec: {
      selector: { app: "helloworld" },
      ports: [{ name: "http", port: 8002 }, {
        name: "lb",
        port: 80,
        nodePort: 3000,
        protocol: "UDP",
        portRangeSize: 2,
      }],
    },
  };
  const out = applyDefaults(svc);
  assert.equal(out.spec.type, "");
  assert.deepEqual(out.spec.ports, [
    { name: "http", port: 8002, protocol: "TCP", nodePort: 8002, portRangeSize: 1 },
    { name: "lb", port: 80, nodePort: 3000, protocol: "UDP", portRangeSize: 2 },
  ]);
});

Deno.test("applyDefaults() gives a replica set replicas, minReadySeconds and a selector from the template", () => {
  const rs: ReplicaSet = {
    apiVersion: "v1",
    kind: "ReplicaSet",
    metadata: { name: "rs" },
    spec: { template: structuredClone(template) },
  };
  const out = applyDefaults(rs);
  assert.equal(out.spec.replicas, 1);
  assert.equal(out.spec.minReadySeconds, 0);
  assert.deepEqual(out.spec.selector, { matchLabels: { app: "backend" } });
  assert.equal(out.spec.template.spec.restartPolicy, "Always");
  assert.equal(out.spec.template.spec.phase, undefined);
  out.spec.template.metadata!.labels!.app = "changed";
  assert.deepEqual(out.spec.selector, { matchLabels: { app: "backend" } });
});

Deno.test("applyDefaults() keeps a given selector and zero replicas", () => {
  const rs: ReplicaSet = {
    apiVersion: "v1",
    kind: "ReplicaSet",
    metadata: { name: "rs" },
    spec: { replicas: 0, selector: { app: "backend" }, template: structuredClone(template) },
  };
  const out = applyDefaults(rs);
  assert.equal(out.spec.replicas, 0);
  assert.deepEqual(out.spec.selector, { app: "backend" });
});

function deployment(spec: Partial<Deployment["spec"]>): Deployment {
  return {
    apiVersion: "v1",
    kind: "Deployment",
    metadata: { name: "backend-deployment" },
    spec: { template: structuredClone(template), ...spec },
  };
}

Deno.test("applyDefaults() fills a deployment's rollout settings", () => {
  const out = applyDefaults(deployment({}));
  assert.equal(out.spec.replicas, 1);
  assert.equal(out.spec.minReadySeconds, 0);
  assert.equal(out.spec.revisionHistoryLimit, 10);
  assert.equal(out.spec.progressDeadlineSeconds, 600);
  assert.deepEqual(out.spec.selector, { matchLabels: { app: "backend" } });
  assert.equal(out.spec.maxSurge, "25%");
  assert.equal(out.spec.maxUnavailable, "25%");
  assert.deepEqual(out.spec.strategy, {
    type: "RollingUpdate",
    rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" },
  });
});

Deno.test("applyDefaults() copies Milpa's top-level maxSurge/maxUnavailable under strategy", () => {
  const out = applyDefaults(deployment({ replicas: 2, maxSurge: 1, maxUnavailable: 0 }));
  assert.equal(out.spec.maxSurge, 1);
  assert.equal(out.spec.maxUnavailable, 0);
  assert.deepEqual(out.spec.strategy?.rollingUpdate, { maxSurge: 1, maxUnavailable: 0 });
});

Deno.test("applyDefaults() copies strategy.rollingUpdate to the top level", () => {
  const out = applyDefaults(deployment({ strategy: { rollingUpdate: { maxSurge: "50%" } } }));
  assert.equal(out.spec.maxSurge, "50%");
  assert.equal(out.spec.maxUnavailable, "25%");
  assert.deepEqual(out.spec.strategy?.rollingUpdate, { maxSurge: "50%", maxUnavailable: "25%" });
});

Deno.test("applyDefaults() lets the top-level field win when both places are set", () => {
  const out = applyDefaults(deployment({
    maxSurge: 2,
    strategy: { rollingUpdate: { maxSurge: 5, maxUnavailable: 1 } },
  }));
  assert.equal(out.spec.maxSurge, 2);
  assert.equal(out.spec.maxUnavailable, 1);
  assert.deepEqual(out.spec.strategy?.rollingUpdate, { maxSurge: 2, maxUnavailable: 1 });
});

Deno.test("applyDefaults() adds no rollingUpdate to a Recreate strategy", () => {
  const out = applyDefaults(deployment({ strategy: { type: "Recreate" } }));
  assert.deepEqual(out.spec.strategy, { type: "Recreate" });
  assert.equal(out.spec.maxSurge, "25%");
});

Deno.test("applyDefaults() is idempotent", () => {
  const once = applyDefaults(deployment({ maxSurge: 1, maxUnavailable: 0 }));
  assert.deepEqual(applyDefaults(once), once);
});

Deno.test("resolveIntOrPercent() rounds maxSurge up and maxUnavailable down", () => {
  assert.equal(resolveIntOrPercent("25%", 10, true), 3);
  assert.equal(resolveIntOrPercent("25%", 10, false), 2);
  assert.equal(resolveIntOrPercent("25%", 1, true), 1);
  assert.equal(resolveIntOrPercent("25%", 1, false), 0);
  assert.equal(resolveIntOrPercent("100%", 7, false), 7);
  assert.equal(resolveIntOrPercent("0%", 7, true), 0);
  assert.equal(resolveIntOrPercent("10%", 30, true), 3);
  assert.equal(resolveIntOrPercent(2, 10, true), 2);
  assert.equal(resolveIntOrPercent(0, 10, false), 0);
});

Deno.test("resolveIntOrPercent() throws ValidationError on a malformed value", () => {
  for (const bad of ["25", "x%", "2.5%", "-1%"]) {
    assert.throws(() => resolveIntOrPercent(bad, 10, true), ValidationError, bad);
  }
});
