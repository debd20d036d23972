import assert from "node:assert/strict";
import type { Node } from "../../model/node.ts";
import type { Pod, UnitStatus } from "../../model/pod.ts";
import type { Service } from "../../model/service.ts";
import {
  formatIngress,
  formatLabels,
  formatSelector,
  formatServicePorts,
  formatSources,
  nodeInstanceType,
  nodeIP,
  podIP,
  podRestarts,
  podStatusString,
  runningUnits,
} from "./fields.ts";

function pod(status: Pod["status"], units = 1): Pod {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name: "p" },
    spec: { units: Array.from({ length: units }, (_, i) => ({ name: `u${i}`, image: "x" })) },
    status,
  };
}

function withUnits(phase: string, unitStatuses: UnitStatus[]): Pod {
  return pod({ phase: phase as "Running", unitStatuses }, unitStatuses.length);
}

const running: UnitStatus = { name: "a", state: { running: { startedAt: "t" } }, restartCount: 0 };

Deno.test("podStatusString() is just the phase when every unit runs", () => {
  assert.equal(podStatusString(withUnits("Running", [running])), "Pod Running");
});

Deno.test("podStatusString() says Waiting for a pod without status", () => {
  assert.equal(podStatusString(pod(undefined)), "Pod Waiting");
});

Deno.test("podStatusString() adds the reason of a waiting unit", () => {
  const waiting: UnitStatus = {
    name: "b",
    state: { waiting: { reason: "PullingImage" } },
    restartCount: 0,
  };
  assert.equal(
    podStatusString(withUnits("Running", [running, waiting])),
    "Pod Running - Unit Waiting: PullingImage",
  );
});

Deno.test("podStatusString() ignores a waiting unit without a reason", () => {
  const waiting: UnitStatus = { name: "b", state: { waiting: { reason: "" } }, restartCount: 0 };
  assert.equal(podStatusString(withUnits("Dispatching", [waiting])), "Pod Dispatching");
});

Deno.test("podStatusString() adds the exit code of a terminated unit", () => {
  const done: UnitStatus = {
    name: "init-replicaset",
    state: { terminated: { exitCode: 0, finishedAt: "t" } },
    restartCount: 1,
  };
  assert.equal(
    podStatusString(withUnits("Running", [running, done])),
    "Pod Running - Unit Terminated: ExitCode:0",
  );
});

Deno.test("podStatusString() reports the first unit, in spec order, that is not running", () => {
  const failed: UnitStatus = {
    name: "b",
    state: { terminated: { exitCode: 2, finishedAt: "t" } },
    restartCount: 0,
  };
  const waiting: UnitStatus = {
    name: "c",
    state: { waiting: { reason: "Backoff" } },
    restartCount: 0,
  };
  assert.equal(
    podStatusString(withUnits("Running", [running, failed, waiting])),
    "Pod Running - Unit Terminated: ExitCode:2",
  );
});

Deno.test("podStatusString() cuts the detail at 50 characters and adds ...", () => {
  const reason = "x".repeat(60);
  const waiting: UnitStatus = { name: "b", state: { waiting: { reason } }, restartCount: 0 };
  const detail = `Unit Waiting: ${reason}`.slice(0, 50);
  assert.equal(podStatusString(withUnits("Waiting", [waiting])), `Pod Waiting - ${detail}...`);
  const exact = "y".repeat(50 - "Unit Waiting: ".length);
  const fits: UnitStatus = { name: "b", state: { waiting: { reason: exact } }, restartCount: 0 };
  assert.equal(
    podStatusString(withUnits("Waiting", [fits])),
    `Pod Waiting - Unit Waiting: ${exact}`,
  );
});

Deno.test("runningUnits() and podRestarts() count over every unit", () => {
  const restarted: UnitStatus = { ...running, name: "b", restartCount: 3 };
  const waiting: UnitStatus = { name: "c", state: { waiting: { reason: "r" } }, restartCount: 2 };
  const p = withUnits("Running", [running, restarted, waiting]);
  assert.equal(runningUnits(p), 2);
  assert.equal(podRestarts(p), 5);
  assert.equal(runningUnits(pod(undefined)), 0);
});

Deno.test("podIP() prefers PrivateIP, then PublicIP, then PodIP, else <none>", () => {
  const at = (...types: string[]) =>
    pod({
      phase: "Running",
      addresses: types.map((type, i) => ({ type: type as "PodIP", address: `10.0.0.${i}` })),
    });
  assert.equal(podIP(at("PublicIP", "PrivateIP", "PodIP")), "10.0.0.1");
  assert.equal(podIP(at("PodIP", "PublicIP", "PublicDNS")), "10.0.0.1");
  assert.equal(podIP(at("PublicDNS", "PodIP")), "10.0.0.1");
  assert.equal(podIP(at("PublicDNS")), "<none>");
  assert.equal(podIP(pod(undefined)), "<none>");
});

function node(spec: Partial<Node["spec"]>, addresses: Record<string, string> = {}): Node {
  return {
    kind: "Node",
    apiVersion: "v1",
    metadata: { name: "n" },
    spec: { instanceType: "t3.nano", ...spec },
    status: {
      phase: "Claimed",
      addresses: Object.entries(addresses).map(([type, address]) => ({
        type: type as "PublicIP",
        address,
      })),
    },
  };
}

Deno.test("nodeIP() prefers PublicIP, then PrivateIP, else <none>", () => {
  assert.equal(nodeIP(node({}, { PrivateIP: "10.0.0.1", PublicIP: "1.2.3.4" })), "1.2.3.4");
  assert.equal(nodeIP(node({}, { PrivateIP: "10.0.0.1" })), "10.0.0.1");
  assert.equal(nodeIP(node({})), "<none>");
});

Deno.test("nodeInstanceType() marks spot nodes", () => {
  assert.equal(nodeInstanceType(node({})), "t3.nano");
  assert.equal(nodeInstanceType(node({ spot: true })), "t3.nano (spot)");
});

function service(spec: Partial<Service["spec"]>, status?: Service["status"]): Service {
  return {
    kind: "Service",
    apiVersion: "v1",
    metadata: { name: "s" },
    spec: { ports: [], ...spec },
    status,
  };
}

Deno.test("formatServicePorts() writes ranges and defaults the protocol to TCP", () => {
  const svc = service({
    ports: [
      { port: 80 },
      { port: 8000, portRangeSize: 100, protocol: "TCP" },
      { port: 53, protocol: "UDP", portRangeSize: 1 },
    ],
  });
  assert.equal(formatServicePorts(svc), "80/TCP,8000-8099/TCP,53/UDP");
  assert.equal(formatServicePorts(service({})), "<none>");
});

Deno.test("formatSources() joins with a comma and a space", () => {
  assert.equal(formatSources(service({ sourceRanges: ["0.0.0.0/0", "VPC"] })), "0.0.0.0/0, VPC");
  assert.equal(formatSources(service({})), "<none>");
});

Deno.test("formatIngress() shows the hostname, else the IP, else <none>", () => {
  const lb = service({}, {
    loadBalancer: { ingress: [{ hostname: "lb.example.com", ip: "1.1.1.1" }, { ip: "2.2.2.2" }] },
  });
  assert.equal(formatIngress(lb), "lb.example.com,2.2.2.2");
  assert.equal(formatIngress(service({})), "<none>");
});

Deno.test("formatSelector() reads the long and the short form", () => {
  assert.equal(formatSelector({ app: "web", tier: "fe" }), "app=web,tier=fe");
  assert.equal(
    formatSelector({
      matchLabels: { app: "web" },
      matchExpressions: [
        { key: "env", operator: "In", values: ["a", "b"] },
        { key: "zone", operator: "NotIn", values: ["c"] },
        { key: "gpu", operator: "Exists" },
        { key: "spot", operator: "DoesNotExist" },
      ],
    }),
    "app=web,env in (a,b),zone notin (c),gpu,!spot",
  );
  assert.equal(formatSelector(undefined), "<none>");
  assert.equal(formatSelector({}), "<none>");
});

Deno.test("formatLabels() sorts by key", () => {
  assert.equal(formatLabels({ b: "2", a: "1" }), "a=1,b=2");
  assert.equal(formatLabels(undefined), "<none>");
});

Deno.test("podStatusString() says a leaving pod drains or stops, and what a waiting pod waits on", () => {
  const at = "2026-01-01T00:00:00.000Z";
  const leaving = (state: "Draining" | "Stopping") =>
    pod({ phase: "Running", termination: { state, since: at, reason: "deleted" } });
  assert.equal(podStatusString(leaving("Draining")), "Pod Running - Draining");
  assert.equal(podStatusString(leaving("Stopping")), "Pod Running - Stopping");
  assert.equal(
    podStatusString(pod({ phase: "Waiting", reason: "LaunchBackOff" })),
    "Pod Waiting - LaunchBackOff",
  );
  assert.equal(
    podStatusString(pod({ phase: "Waiting", reason: "NodeLimit" })),
    "Pod Waiting - NodeLimit",
  );
});
