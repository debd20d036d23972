/** The order a ReplicaSet deletes its surplus pods in. */
import assert from "node:assert/strict";
import type { Pod, PodPhase } from "./pod.ts";
import { inDeletionOrder } from "./workload.ts";

const T = Date.UTC(2026, 0, 1);
const at = (s: number) => new Date(T + s * 1000).toISOString();

function pod(
  name: string,
  o: { phase?: PodPhase; node?: boolean; readyAt?: number; restarts?: number; created?: number },
): Pod {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name, namespace: "default", creationTimestamp: at(o.created ?? 0) },
    spec: { units: [{ name: "main", image: "nginx" }] },
    status: {
      phase: o.phase ?? "Running",
      ...(o.node === false ? {} : { boundNodeName: `n-${name}` }),
      unitStatuses: [{ name: "main", restartCount: o.restarts ?? 0 } as never],
      conditions: o.readyAt === undefined
        ? []
        : [{ type: "Ready", status: "True", lastTransitionTime: at(o.readyAt) }],
    },
  } as Pod;
}

Deno.test("inDeletionOrder: no node, then earlier phase, not ready, ready for less time, more restarts, newer", () => {
  const pods = [
    pod("old-ready-long", { readyAt: 10 }),
    pod("new-ready-long", { readyAt: 10, created: 5 }),
    pod("restarted", { readyAt: 10, restarts: 3 }),
    pod("ready-recently", { readyAt: 100 }),
    pod("running-not-ready", {}),
    pod("dispatching", { phase: "Dispatching" }),
    pod("waiting-with-node", { phase: "Waiting" }),
    pod("no-node", { phase: "Waiting", node: false }),
  ];
  const order = inDeletionOrder([...pods].reverse()).map((p) => p.metadata.name);
  assert.deepEqual(order, [
    "no-node",
    "waiting-with-node",
    "dispatching",
    "running-not-ready",
    "ready-recently",
    "restarted",
    "new-ready-long",
    "old-ready-long",
  ]);
  assert.deepEqual(
    inDeletionOrder(pods).map((p) => p.metadata.name),
    order,
    "whatever the input order",
  );
});
