import assert from "node:assert/strict";
import type { ReplicaSet } from "../../model/deployment.ts";
import type { Event } from "../../model/event.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { Pod } from "../../model/pod.ts";
import { podTemplateHash } from "../../model/workload.ts";
import { describeObject, eventsFor } from "./describe.ts";
import { podsStatus } from "./describe_workloads.ts";

const NOW = Date.parse("2024-05-01T12:00:00Z");

const mongo: MilpaObject = {
  kind: "Pod",
  apiVersion: "v1",
  metadata: {
    name: "mongo",
    namespace: "default",
    labels: { app: "mongo", tier: "db" },
    creationTimestamp: "2024-05-01T11:50:00Z",
  },
  spec: {
    restartPolicy: "OnFailure",
    instanceType: "t3.small",
    resources: { memory: "1Gi" },
    units: [
      { name: "mongo", image: "mongo:4", command: ["mongod", "--replSet", "rs0"] },
      { name: "init-replicaset", image: "mongo:4" },
    ],
  },
  status: {
    phase: "Running",
    boundNodeName: "node-1",
    boundInstanceID: "i-123",
    addresses: [{ type: "PrivateIP", address: "10.0.0.7" }],
    startFailures: 0,
    unitStatuses: [
      { name: "mongo", state: { running: { startedAt: "2024-05-01T11:51:00Z" } }, restartCount: 0 },
      {
        name: "init-replicaset",
        state: { terminated: { exitCode: 0, finishedAt: "2024-05-01T11:52:00Z" } },
        restartCount: 1,
      },
    ],
  },
};

function event(name: string, at: string, status: string, kind = "Pod"): Event {
  return {
    kind: "Event",
    apiVersion: "v1",
    metadata: { name: `${name}-${status}`, creationTimestamp: at },
    involvedObject: { kind, name },
    status,
    source: "pod-controller",
    message: `${status} happened`,
  };
}

Deno.test("describeObject() shows a pod's metadata, placement and units", () => {
  const text = describeObject(mongo, [], NOW);
  const lines = text.split("\n");
  assert.equal(lines[0], "Name:            mongo");
  assert.ok(lines.includes("Labels:          app=mongo"));
  assert.ok(lines.includes("                 tier=db"));
  assert.ok(lines.includes("Created:         2024-05-01T11:50:00Z (10m ago)"));
  assert.ok(lines.includes("Status:          Pod Running - Unit Terminated: ExitCode:0"));
  assert.ok(lines.includes("Node:            node-1"));
  assert.ok(lines.includes("Instance:        i-123"));
  assert.ok(lines.includes("IP:              10.0.0.7"));
  assert.ok(lines.includes("Restart Policy:  OnFailure"));
  assert.ok(lines.includes("Instance Type:   t3.small"));
  assert.match(text, /\n {4}Command: +mongod --replSet rs0\n/);
  assert.match(text, /\n {2}init-replicaset:\n/);
  assert.match(text, /\n {4}State: +Terminated\n {6}Exit Code: +0\n/);
  assert.match(text, /\n {4}Restart Count: +1\n/);
  assert.match(text, /\nEvents: +<none>\n$/);
});

Deno.test("describeObject() lists events oldest first as AGE STATUS SOURCE MESSAGE", () => {
  const events = eventsFor(mongo, [
    event("mongo", "2024-05-01T11:55:00Z", "pod-running"),
    event("other", "2024-05-01T11:51:00Z", "pod-created"),
    event("mongo", "2024-05-01T11:50:00Z", "pod-created"),
    event("mongo", "2024-05-01T11:50:00Z", "node-created", "Node"),
  ]);
  const text = describeObject(mongo, events, NOW);
  assert.match(
    text,
    /\nEvents:\n {2}AGE +STATUS +SOURCE +MESSAGE\n {2}10m +pod-created +pod-controller +pod-created happened\n {2}5m +pod-running +pod-controller +pod-running happened\n$/,
  );
});

Deno.test("describeObject() shows an event counted several times as kubectl does", () => {
  const counted = {
    ...event("mongo", "2024-05-01T11:50:00Z", "pod-running"),
    count: 25,
    lastTimestamp: "2024-05-01T11:57:00Z",
  };
  assert.match(
    describeObject(mongo, [counted], NOW),
    /\n {2}3m \(x25 over 10m\) +pod-running +pod-controller +pod-running happened\n$/,
  );
  assert.match(
    describeObject(counted, [], NOW),
    /\nCount: +25\nLast Seen: +2024-05-01T11:57:00Z\n/,
  );
  // Listed by when it last happened, as kubectl does: after an event of 11:55.
  const later = event("mongo", "2024-05-01T11:55:00Z", "pod-created");
  assert.deepEqual(eventsFor(mongo, [counted, later]).map((e) => e.status), [
    "pod-created",
    "pod-running",
  ]);
});

Deno.test("describeObject() says why events are missing", () => {
  assert.match(describeObject(mongo, "forbidden", NOW), /Events: +<unavailable: forbidden>\n$/);
});

Deno.test("describeObject() shows a service's ports, sources and ingress", () => {
  const text = describeObject(
    {
      kind: "Service",
      apiVersion: "v1",
      metadata: { name: "web", namespace: "default" },
      spec: {
        type: "LoadBalancer",
        selector: { matchLabels: { app: "web" } },
        ports: [{ name: "http", port: 80, nodePort: 3000 }],
        sourceRanges: ["VPC"],
      },
      status: { loadBalancer: { ingress: [{ hostname: "lb.example.com" }] } },
    },
    [],
    NOW,
  );
  assert.match(text, /\nType: +LoadBalancer\n/);
  assert.match(text, /\nSelector: +app=web\n/);
  assert.match(text, /\nPorts: +http 80\/TCP -> node port 3000\n/);
  assert.match(text, /\nSources: +VPC\n/);
  assert.match(text, /\nIngress: +lb.example.com\n/);
});

Deno.test("describeObject() shows a deployment's replicas and template", () => {
  const text = describeObject(
    {
      kind: "Deployment",
      apiVersion: "v1",
      metadata: { name: "nginx", namespace: "default" },
      spec: {
        replicas: 3,
        maxSurge: 1,
        maxUnavailable: 0,
        template: {
          metadata: { labels: { app: "nginx" } },
          spec: { units: [{ name: "nginx", image: "nginx:1.25" }] },
        },
      },
      status: { replicas: 3, updatedReplicas: 3, availableReplicas: 2, unavailableReplicas: 1 },
    },
    [],
    NOW,
  );
  assert.match(
    text,
    /\nReplicas: +3 desired \| 3 updated \| 3 total \| 2 available \| 1 unavailable\n/,
  );
  assert.match(text, /\nRollingUpdateStrategy: +0 max unavailable, 1 max surge\n/);
  assert.match(text, /\nPod Template:\n {2}Labels: +app=nginx\n/);
  assert.match(text, /\n {4}nginx:\n {6}Image: +nginx:1.25\n/);
});

Deno.test("describeObject() shows a node's phase, instance and bound pod", () => {
  const text = describeObject(
    {
      kind: "Node",
      apiVersion: "v1",
      metadata: { name: "n1" },
      spec: { instanceType: "t3.nano", spot: true },
      status: {
        phase: "Claimed",
        instanceID: "i-9",
        boundPodName: "default/web",
        addresses: [{ type: "PublicIP", address: "1.2.3.4" }],
      },
    },
    [],
    NOW,
  );
  assert.match(text, /\nPhase: +Claimed\n/);
  assert.match(text, /\nInstance Type: +t3.nano \(spot\)\n/);
  assert.match(text, /\nInstance ID: +i-9\n/);
  assert.match(text, /\nAddresses: +PublicIP: 1.2.3.4\n/);
  assert.match(text, /\nBound Pod: +default\/web\n/);
  assert.doesNotMatch(text, /Namespace:/);
});

function workload(kind: string, name: string, extra: Record<string, unknown> = {}): MilpaObject {
  return {
    kind,
    apiVersion: "v1",
    metadata: { name, namespace: "default", uid: `uid-${name}` },
    ...extra,
  } as MilpaObject;
}

const webTemplate = { metadata: { labels: { app: "web" } }, spec: { units: [] } };

function ownedRS(name: string, hash: string, replicas: number, current: number): ReplicaSet {
  return {
    kind: "ReplicaSet",
    apiVersion: "v1",
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      labels: { app: "web", "pod-template-hash": hash },
      ownerReferences: [{ apiVersion: "v1", kind: "Deployment", name: "web", uid: "uid-web" }]
        .map((r) => ({ ...r, controller: true })),
    },
    spec: { replicas, template: webTemplate },
    status: { replicas: current },
  };
}

Deno.test("describeObject() shows a deployment's strategy, conditions, replica sets and events", () => {
  const web = workload("Deployment", "web", {
    spec: {
      replicas: 3,
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 2, maxUnavailable: "50%" } },
      template: webTemplate,
    },
    status: {
      conditions: [
        { type: "Available", status: "True", reason: "MinimumReplicasAvailable" },
        { type: "Progressing", status: "True", reason: "ReplicaSetUpdated" },
      ],
    },
  });
  const sets = [
    ownedRS("web-old", "old", 1, 2),
    ownedRS("web-older", "older", 0, 0),
    ownedRS("web-new", podTemplateHash(webTemplate), 3, 2),
  ];
  const events = eventsFor(web, [
    event("web", "2024-05-01T11:58:00Z", "ScalingReplicaSet", "Deployment"),
    event("web-new", "2024-05-01T11:58:00Z", "SuccessfulCreate", "ReplicaSet"),
  ]);
  const text = describeObject(web, events, NOW, { replicaSets: sets });
  assert.match(text, /\nRollingUpdateStrategy: +50% max unavailable, 2 max surge\n/);
  assert.match(
    text,
    /\nConditions:\n {2}TYPE +STATUS +REASON +MESSAGE\n {2}Available +True +MinimumReplicasAvailable *\n {2}Progressing +True +ReplicaSetUpdated *\n/,
  );
  assert.match(text, /\nOldReplicaSets: +web-old \(2\/1 replicas created\)\n/);
  assert.match(text, /\nNewReplicaSet: +web-new \(2\/3 replicas created\)\nEvents:\n/);
  assert.match(text, /\n {2}2m +ScalingReplicaSet +pod-controller +ScalingReplicaSet happened\n$/);
  assert.doesNotMatch(text, /SuccessfulCreate/);
});

Deno.test("describeObject() prefers Milpa's top-level maxSurge/maxUnavailable, none for Recreate", () => {
  const spec = {
    maxSurge: 1,
    maxUnavailable: 0,
    strategy: { rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
    template: webTemplate,
  };
  const text = describeObject(workload("Deployment", "web", { spec }), [], NOW, {
    replicaSets: "forbidden",
  });
  assert.match(text, /\nRollingUpdateStrategy: +0 max unavailable, 1 max surge\n/);
  assert.match(text, /\nReplicaSets: +<unavailable: forbidden>\n/);
  const recreate = describeObject(
    workload("Deployment", "web", { spec: { ...spec, strategy: { type: "Recreate" } } }),
    [],
    NOW,
  );
  assert.match(recreate, /\nStrategy: +Recreate\n/);
  assert.doesNotMatch(recreate, /RollingUpdateStrategy|ReplicaSet:/);
});

Deno.test("describeObject() counts a replica set's own pods by phase", () => {
  const rs = ownedRS("web-new", "h", 3, 3);
  const pod = (name: string, phase: string, owner = "uid-web-new") =>
    workload("Pod", name, {
      metadata: {
        name,
        namespace: "default",
        ownerReferences: [{
          apiVersion: "v1",
          kind: "ReplicaSet",
          name: "x",
          uid: owner,
          controller: true,
        }],
      },
      spec: { units: [] },
      status: { phase },
    }) as Pod;
  const pods = [
    pod("a", "Running"),
    pod("b", "Running"),
    pod("c", "Dispatching"),
    pod("d", "Failed"),
    pod("e", "Running", "uid-other"),
  ];
  const text = describeObject(rs, [], NOW, { pods });
  assert.match(
    text,
    /\nReplicas: +3 current \/ 3 desired\nPods Status: +2 Running \/ 1 Waiting \/ 0 Succeeded \/ 1 Failed\n/,
  );
  assert.equal(
    podsStatus(rs, [...pods, pod("f", "Terminated")]),
    "2 Running / 1 Waiting / 0 Succeeded / 1 Failed / 1 Terminated",
  );
  assert.doesNotMatch(describeObject(rs, [], NOW), /Pods Status/);
});
