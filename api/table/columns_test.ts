import assert from "node:assert/strict";
import type { Node } from "../../model/node.ts";
import type { Pod, PodStatus, UnitStatus } from "../../model/pod.ts";
import {
  formatImages,
  formatUnitNames,
  nodePricePerHour,
  podStatusShort,
  SHORT_REASON_LENGTH,
  shortNodeName,
} from "./columns.ts";

function pod(status: PodStatus | undefined): Pod {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name: "p" },
    spec: { units: [{ name: "a", image: "x" }, { name: "b", image: "y" }] },
    status,
  };
}

const running: UnitStatus = { name: "a", state: { running: { startedAt: "t" } }, restartCount: 0 };
const exited = (exitCode: number): UnitStatus => ({
  name: "b",
  state: { terminated: { exitCode, finishedAt: "t" } },
  restartCount: 0,
});

Deno.test("podStatusShort() is the phase without Milpa's 'Pod ' prefix", () => {
  assert.equal(podStatusShort(pod({ phase: "Running", unitStatuses: [running] })), "Running");
  assert.equal(podStatusShort(pod(undefined)), "Waiting");
  assert.equal(podStatusShort(pod({ phase: "Succeeded", unitStatuses: [exited(0)] })), "Succeeded");
  assert.equal(podStatusShort(pod({ phase: "Failed", unitStatuses: [exited(1)] })), "Failed");
  assert.equal(podStatusShort(pod({ phase: "Terminated" })), "Terminated");
});

Deno.test("podStatusShort() says Draining or Stopping for a pod on its way out", () => {
  const termination = { state: "Draining" as const, since: "t", reason: "deleted" };
  assert.equal(podStatusShort(pod({ phase: "Running", termination })), "Draining");
  assert.equal(
    podStatusShort(pod({ phase: "Running", termination: { ...termination, state: "Stopping" } })),
    "Stopping",
  );
});

Deno.test("podStatusShort() says what a Waiting pod waits on", () => {
  assert.equal(podStatusShort(pod({ phase: "Waiting", reason: "LaunchBackOff" })), "LaunchBackOff");
});

Deno.test("podStatusShort() shows a live pod's first waiting unit, cut, or a failed exit code", () => {
  const reason = 'Pulling image "localhost:5000/web:1"';
  const pulling: UnitStatus = { name: "a", state: { waiting: { reason } }, restartCount: 0 };
  assert.equal(
    podStatusShort(pod({ phase: "Running", unitStatuses: [pulling, exited(1)] })),
    reason.slice(0, SHORT_REASON_LENGTH) + "...",
  );
  assert.equal(
    podStatusShort(pod({ phase: "Running", unitStatuses: [running, exited(3)] })),
    "ExitCode:3",
  );
  // A unit that finished well beside one that runs (kubectl: Running).
  assert.equal(
    podStatusShort(pod({ phase: "Running", unitStatuses: [exited(0), running] })),
    "Running",
  );
});

Deno.test("shortNodeName() cuts a UUID to 8 random characters and keeps other names", () => {
  assert.equal(shortNodeName("37621e3e-38b6-4dab-97e3-d719af861b9b"), "37621e3e");
  // A version 7 UUID (time first): its last 8, which differ between nodes of one moment.
  assert.equal(shortNodeName("019af5e2-79b0-7cc3-98c4-dc0c0c07398f"), "0c07398f");
  assert.equal(shortNodeName("ip-172-31-44-62.ec2.internal"), "ip-172-31-44-62.ec2.internal");
});

function node(instanceType: string, spot = false): Node {
  return { kind: "Node", apiVersion: "v1", metadata: { name: "n" }, spec: { instanceType, spot } };
}

Deno.test("nodePricePerHour() is the catalog's on-demand price, unknown for spot and odd types", () => {
  assert.equal(nodePricePerHour(node("t3.nano")), "$0.0052");
  assert.equal(nodePricePerHour(node("m5.large")), "$0.096");
  assert.equal(nodePricePerHour(node("t3.nano", true)), "<unknown>");
  assert.equal(nodePricePerHour(node("x9.huge")), "<unknown>");
});

Deno.test("formatUnitNames() and formatImages() join by comma, <none> when empty", () => {
  const units = [{ name: "web", image: "nginx:1" }, { name: "cron", command: ["sh"] }];
  assert.equal(formatUnitNames(units), "web,cron");
  assert.equal(formatImages(units), "nginx:1");
  assert.equal(formatImages([{ name: "cron", command: ["sh"] }]), "<none>");
  assert.equal(formatUnitNames([]), "<none>");
});
