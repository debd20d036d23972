import assert from "node:assert/strict";
import type { MilpaObject } from "../../model/meta.ts";
import type { Node } from "../../model/node.ts";
import { objectTable, tableHeader, tableRow } from "../../api/table/rows.ts";
import { renderTable, renderTableRows } from "./tables.ts";

const NOW = Date.parse("2024-05-01T12:00:00Z");
const THREE_MIN_AGO = "2024-05-01T11:57:00Z";

const helloworld: MilpaObject = {
  kind: "Pod",
  apiVersion: "v1",
  metadata: {
    name: "helloworld",
    namespace: "default",
    labels: { app: "helloworld" },
    creationTimestamp: THREE_MIN_AGO,
  },
  spec: { units: [{ name: "helloserver", image: "elotl/helloserver" }] },
  status: {
    phase: "Running",
    boundNodeName: "37621e3e",
    addresses: [{ type: "PrivateIP", address: "10.0.0.5" }],
    unitStatuses: [{
      name: "helloserver",
      state: { running: { startedAt: "t" } },
      restartCount: 0,
    }],
  },
};

const waiting: MilpaObject = {
  kind: "Pod",
  apiVersion: "v1",
  metadata: { name: "mongo", namespace: "db", creationTimestamp: THREE_MIN_AGO },
  spec: { units: [{ name: "a" }, { name: "b" }] },
  status: { phase: "Waiting" },
};

Deno.test("renderTable() prints pods in Milpa's columns, with a one-word STATUS", () => {
  assert.equal(
    renderTable("Pod", [helloworld, waiting], { now: NOW }),
    [
      "NAME         UNITS     RUNNING   STATUS    RESTARTS   NODE           IP         AGE",
      "helloworld   1         1         Running   0          37621e3e       10.0.0.5   3m",
      "mongo        2         0         Waiting   0          <unassigned>   <none>     3m",
      "",
    ].join("\n"),
  );
});

const NODE_UUID = "37621e3e-38b6-4dab-97e3-d719af861b9b";

const onNode: MilpaObject = {
  ...helloworld,
  spec: {
    units: [{ name: "web", image: "nginx:1" }, { name: "sidecar", command: ["sleep", "1d"] }],
  },
  status: {
    ...helloworld.status,
    boundNodeName: NODE_UUID,
    boundInstanceID: "i-0748af94da188ed10",
    addresses: [
      { type: "PrivateIP", address: "10.0.0.5" },
      { type: "PublicIP", address: "54.1.2.3" },
    ],
    unitStatuses: [{
      name: "web",
      state: { waiting: { reason: "Waiting for unit restart, last exit code: 1" } },
      restartCount: 2,
    }],
  },
};

const t3nano: MilpaObject = {
  kind: "Node",
  apiVersion: "v1",
  metadata: { name: NODE_UUID, creationTimestamp: THREE_MIN_AGO },
  spec: { instanceType: "t3.nano" },
  status: {
    phase: "Claimed",
    instanceID: "i-0748af94da188ed10",
    addresses: [
      { type: "PrivateIP", address: "10.0.0.5" },
      { type: "PublicIP", address: "54.1.2.3" },
    ],
    boundPodName: "default/helloworld",
  },
};

Deno.test("renderTable() cuts a node UUID to 8 characters and a unit's reason to 24", () => {
  const row = tableRow("Pod", onNode, { now: NOW });
  assert.equal(row[3], "Waiting for unit restart...");
  assert.equal(row[5], "37621e3e");
  assert.equal(
    tableRow("Pod", { ...onNode, status: { phase: "Waiting" } }, { now: NOW })[5],
    "<unassigned>",
  );
});

Deno.test("renderTable() -o wide: whole STATUS and node name, then the node's type and price", () => {
  const options = { now: NOW, wide: true, nodes: new Map([[NODE_UUID, t3nano as Node]]) };
  assert.deepEqual(tableHeader("Pod", options), [
    "NAME",
    "UNITS",
    "RUNNING",
    "STATUS",
    "RESTARTS",
    "NODE",
    "IP",
    "AGE",
    "INSTANCE-TYPE",
    "PRICE/HR",
    "INSTANCE",
    "PUBLIC-IP",
    "IMAGES",
  ]);
  assert.deepEqual(tableRow("Pod", onNode, options), [
    "helloworld",
    "2",
    "0",
    "Pod Running - Unit Waiting: Waiting for unit restart, last exit ...",
    "2",
    NODE_UUID,
    "10.0.0.5",
    "3m",
    "t3.nano",
    "$0.0052",
    "i-0748af94da188ed10",
    "54.1.2.3",
    "nginx:1",
  ]);
});

Deno.test("renderTable() -o wide says <unknown> for a node it could not read, <none> for no node", () => {
  const unread = tableRow("Pod", onNode, { now: NOW, wide: true }).slice(8);
  assert.deepEqual(unread, [
    "<unknown>",
    "<unknown>",
    "i-0748af94da188ed10",
    "54.1.2.3",
    "nginx:1",
  ]);
  const gone = tableRow("Pod", onNode, { now: NOW, wide: true, nodes: new Map() }).slice(8, 10);
  assert.deepEqual(gone, ["<unknown>", "<unknown>"]);
  const unbound = tableRow("Pod", waiting, { now: NOW, wide: true, nodes: new Map() }).slice(8);
  assert.deepEqual(unbound, ["<none>", "<none>", "<none>", "<none>", "<none>"]);
});

Deno.test("renderTable() -o wide adds a node's price, private IP and pod", () => {
  assert.deepEqual(tableHeader("Node", { now: NOW, wide: true }).slice(6), [
    "PRICE/HR",
    "PRIVATE-IP",
    "POD",
  ]);
  assert.deepEqual(tableRow("Node", t3nano, { now: NOW, wide: true }), [
    NODE_UUID,
    "Claimed",
    "t3.nano",
    "i-0748af94da188ed10",
    "54.1.2.3",
    "3m",
    "$0.0052",
    "10.0.0.5",
    "default/helloworld",
  ]);
});

Deno.test("renderTable() keeps a default pod and node table within 120 columns", () => {
  // A Deployment's pod: its name, the template's 10-character hash and a 5-character suffix.
  const name = "backend-deployment-6d5c8f9b7a-x7k2p";
  const status = {
    ...helloworld.status,
    boundNodeName: NODE_UUID,
    addresses: [{ type: "PrivateIP", address: "198.18.100.123" }],
    unitStatuses: [],
  };
  const pods = [
    { ...helloworld, metadata: { ...helloworld.metadata, name }, status },
    {
      ...helloworld,
      metadata: { ...helloworld.metadata, name: `${name.slice(0, -1)}y` },
      status: { ...status, termination: { state: "Draining", since: "t", reason: "deleted" } },
    },
    { ...waiting, metadata: { ...waiting.metadata, name: `${name.slice(0, -1)}z` } },
  ];
  const nodes = [{
    ...t3nano,
    spec: { instanceType: "t3.medium", spot: true },
    status: { ...t3nano.status, phase: "Terminating" },
  }];
  for (const [kind, objects] of [["Pod", pods], ["Node", nodes]] as const) {
    const widest = Math.max(
      ...renderTable(kind, objects, { now: NOW }).split("\n").map((l) => l.length),
    );
    assert.ok(widest <= 120, `${kind} table is ${widest} columns wide`);
  }
});

Deno.test("renderTable() adds NAMESPACE in front and LABELS at the end when asked", () => {
  const options = { now: NOW, withNamespace: true, showLabels: true };
  assert.deepEqual(tableHeader("Pod", options), [
    "NAMESPACE",
    "NAME",
    "UNITS",
    "RUNNING",
    "STATUS",
    "RESTARTS",
    "NODE",
    "IP",
    "AGE",
    "LABELS",
  ]);
  const row = tableRow("Pod", helloworld, options);
  assert.equal(row[0], "default");
  assert.equal(row.at(-1), "app=helloworld");
  assert.equal(tableRow("Pod", waiting, options).at(-1), "<none>");
});

Deno.test("renderTable() prints nodes with spot marks and public IPs", () => {
  const node: MilpaObject = {
    kind: "Node",
    apiVersion: "v1",
    metadata: { name: "n1", creationTimestamp: THREE_MIN_AGO },
    spec: { instanceType: "t3.nano", spot: true },
    status: {
      phase: "Claimed",
      instanceID: "i-0748af94da188ed10",
      addresses: [
        { type: "PrivateIP", address: "10.0.0.1" },
        { type: "PublicIP", address: "54.1.2.3" },
      ],
    },
  };
  assert.equal(
    renderTable("Node", [node], { now: NOW }),
    "NAME      STATUS    INSTANCE-TYPE    INSTANCE              IP         AGE\n" +
      "n1        Claimed   t3.nano (spot)   i-0748af94da188ed10   54.1.2.3   3m\n",
  );
});

Deno.test("renderTable() prints services, with SELECTOR only when wide", () => {
  const svc: MilpaObject = {
    kind: "Service",
    apiVersion: "v1",
    metadata: { name: "rocketchat", creationTimestamp: THREE_MIN_AGO },
    spec: {
      type: "LoadBalancer",
      selector: { app: "rocketchat" },
      ports: [{ port: 80, nodePort: 3000, protocol: "TCP" }],
      sourceRanges: ["0.0.0.0/0"],
    },
    status: { loadBalancer: { ingress: [{ hostname: "lb.elb.amazonaws.com" }] } },
  };
  assert.deepEqual(tableRow("Service", svc, { now: NOW }), [
    "rocketchat",
    "80/TCP",
    "0.0.0.0/0",
    "lb.elb.amazonaws.com",
    "3m",
  ]);
  assert.deepEqual(tableHeader("Service", { now: NOW, wide: true }).at(-1), "SELECTOR");
  assert.deepEqual(tableRow("Service", svc, { now: NOW, wide: true }).at(-1), "app=rocketchat");
});

Deno.test("tableRow() -o wide adds a workload's units, images and selector", () => {
  const template = {
    metadata: { labels: { app: "web" } },
    spec: {
      units: [{ name: "web", image: "nginx:1" }, { name: "log", image: "busybox" }],
    },
  };
  const deploy: MilpaObject = {
    kind: "Deployment",
    apiVersion: "v1",
    metadata: { name: "web", creationTimestamp: THREE_MIN_AGO },
    spec: { replicas: 2, selector: { matchLabels: { app: "web" } }, template },
  };
  const wide = { now: NOW, wide: true };
  for (const kind of ["Deployment", "ReplicaSet"]) {
    assert.deepEqual(tableHeader(kind, wide).slice(-3), ["UNITS", "IMAGES", "SELECTOR"]);
    assert.deepEqual(tableRow(kind, { ...deploy, kind }, wide).slice(-3), [
      "web,log",
      "nginx:1,busybox",
      "app=web",
    ]);
  }
  assert.equal(tableRow("Deployment", deploy, { now: NOW }).length, 6);
});

Deno.test("tableRow() shows deployments, replica sets and events", () => {
  const deploy: MilpaObject = {
    kind: "Deployment",
    apiVersion: "v1",
    metadata: { name: "nginx-deployment", creationTimestamp: THREE_MIN_AGO },
    spec: { replicas: 3, template: { spec: { units: [] } } },
    status: { replicas: 3, updatedReplicas: 2, availableReplicas: 1 },
  };
  assert.deepEqual(tableRow("Deployment", deploy, { now: NOW }), [
    "nginx-deployment",
    "3",
    "3",
    "2",
    "1",
    "3m",
  ]);
  const rs: MilpaObject = {
    kind: "ReplicaSet",
    apiVersion: "v1",
    metadata: { name: "nginx-deployment-1533682416739" },
    spec: { template: { spec: { units: [] } } },
  };
  assert.deepEqual(tableRow("ReplicaSet", rs, { now: NOW }), [
    "nginx-deployment-1533682416739",
    "1",
    "0",
    "<unknown>",
  ]);
  const event = {
    kind: "Event",
    apiVersion: "v1",
    metadata: { name: "e1", creationTimestamp: "2024-05-01T11:59:30Z" },
    involvedObject: { kind: "Pod", name: "helloworld" },
    status: "pod-running",
    source: "pod-controller",
    message: "Pod status phase: 'Running'",
  };
  assert.deepEqual(tableRow("Event", event, { now: NOW }), [
    "30s",
    "helloworld",
    "Pod",
    "pod-running",
    "pod-controller",
    "Pod status phase: 'Running'",
  ]);
  // Counted 3 times: TIMESTAMP is when it last happened; -o wide adds COUNT and FIRST-SEEN.
  const counted = { ...event, count: 3, lastTimestamp: "2024-05-01T11:59:50Z" };
  assert.deepEqual(tableRow("Event", counted, { now: NOW, wide: true }), [
    "10s",
    "helloworld",
    "Pod",
    "pod-running",
    "pod-controller",
    "Pod status phase: 'Running'",
    "3",
    "30s",
  ]);
});

Deno.test("renderTableRows() of the controller's Table prints what renderTable() prints of the objects", () => {
  const finished: MilpaObject = {
    ...waiting,
    metadata: { ...waiting.metadata, name: "gone", deletionTimestamp: THREE_MIN_AGO },
    spec: { ...waiting.spec, phase: "Terminated" },
    status: { phase: "Terminated" },
  };
  const kinds: [string, MilpaObject[]][] = [
    ["Pod", [helloworld, waiting, onNode, finished]],
    ["Node", [t3nano]],
    ["Service", [{
      kind: "Service",
      apiVersion: "v1",
      metadata: { name: "web", namespace: "default", creationTimestamp: THREE_MIN_AGO },
      spec: { selector: { app: "web" }, ports: [{ port: 80, protocol: "TCP" }] },
    }]],
    ["Deployment", [{
      kind: "Deployment",
      apiVersion: "apps/v1",
      metadata: { name: "web", namespace: "team", creationTimestamp: THREE_MIN_AGO },
      spec: { replicas: 3, selector: { matchLabels: { app: "web" } }, template: { spec: {} } },
      status: { replicas: 2, updatedReplicas: 1, availableReplicas: 1 },
    }]],
  ];
  const nodes = new Map([[NODE_UUID, t3nano as Node]]);
  for (const [kind, objects] of kinds) {
    for (const wide of [false, true]) {
      for (const extra of [{}, { withNamespace: true, showLabels: true }]) {
        for (const showAll of [false, true]) {
          const options = { now: NOW, wide, nodes, ...extra };
          const shown = showAll ? objects : objects.filter((o) => o !== finished);
          assert.equal(
            renderTableRows(objectTable(kind, objects, options), { ...extra, showAll }),
            renderTable(kind, shown, options),
            `${kind} ${JSON.stringify({ wide, ...extra, showAll })}`,
          );
        }
      }
    }
  }
  // An empty list still has its header.
  assert.equal(
    renderTableRows(objectTable("Pod", [], { now: NOW }), {}),
    renderTable("Pod", [], { now: NOW }),
  );
});
