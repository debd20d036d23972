import assert from "node:assert/strict";
import type { MilpaObject } from "../../model/meta.ts";
import { renderTable, tableHeader, tableRow } from "./tables.ts";

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

Deno.test("renderTable() prints pods in Milpa's columns", () => {
  assert.equal(
    renderTable("Pod", [helloworld, waiting], { now: NOW }),
    [
      "NAME         UNITS     RUNNING   STATUS        RESTARTS   NODE           IP         AGE",
      "helloworld   1         1         Pod Running   0          37621e3e       10.0.0.5   3m",
      "mongo        2         0         Pod Waiting   0          <unassigned>   <none>     3m",
      "",
    ].join("\n"),
  );
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
  assert.equal(tableHeader("Pod", { now: NOW, wide: true }).length, 8);
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
});
