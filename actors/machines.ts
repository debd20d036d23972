/** The pod and node machines, wired to the controller's store, hub and cloud. */
import type { EventInput } from "../store/events.ts";
import { dispatchPod, isCapacityError, launchNode, saveNodeLogs } from "./effects.ts";
import { createNodeMachine } from "./node_machine.ts";
import { createPodMachine } from "./pod_machine.ts";
import type { SupervisorDeps, Timings } from "./supervisor.ts";

type Send = (to: string, event: { type: string; [k: string]: unknown }) => void;
type Record = (e: EventInput) => void;

/** The pod machine with its real effects. */
export function podMachineFor(deps: SupervisorDeps, t: Timings, send: Send, event: Record) {
  return createPodMachine({
    clock: deps.clock,
    send,
    event,
    dispatch: (input) =>
      dispatchPod({
        store: deps.store,
        hub: deps.hub,
        clusterName: deps.config.clusterName,
        connectTimeoutMs: t.dispatchConnectTimeoutMs,
      }, input),
    healthyTimeoutMs: t.healthyTimeoutMs,
    watchdogPeriodMs: t.watchdogPeriodMs,
  });
}

/** The node machine with its real effects. */
export function nodeMachineFor(deps: SupervisorDeps, t: Timings, send: Send, event: Record) {
  return createNodeMachine({
    clock: deps.clock,
    send,
    event,
    launch: (input) => launchNode(deps, input),
    terminate: (id) => deps.cloud.terminate(id),
    clean: ({ name, boundPod }) =>
      saveNodeLogs(
        { store: deps.store, hub: deps.hub, now: () => deps.clock.now() },
        name,
        boundPod,
      ),
    isCapacityError,
    isConnected: (node) => deps.hub.isConnected(node),
    bootTimeoutMs: t.bootTimeoutMs,
    healthyTimeoutMs: t.healthyTimeoutMs,
    watchdogPeriodMs: t.watchdogPeriodMs,
  });
}
