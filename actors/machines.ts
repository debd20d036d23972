/**
 * The kinds the supervisor runs actors for, each with its machine wired to the controller's
 * store, hub and cloud: how to name its actor, start one from an object, and derive the
 * object's status from a snapshot.
 */
import type { AnyStateMachine, Snapshot, SnapshotFrom, StateValue } from "xstate";
import type { MilpaObject } from "../model/meta.ts";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import { isTerminalPodPhase, waitingSince } from "../model/pod.ts";
import { volumeGiB } from "../model/quantity.ts";
import { epochMs } from "../model/clock.ts";
import { sameData } from "../model/plain_data.ts";
import type { EventInput } from "../store/events.ts";
import { reconcileDeployment } from "./deployment_reconcile.ts";
import {
  dispatchPod,
  drainPod,
  isCapacityError,
  launchNode,
  saveNodeLogs,
  stopPodUnits,
} from "./effects.ts";
import { deploymentId, nodeId, podId, replicaSetId, serviceId } from "./ids.ts";
import {
  createNodeMachine,
  type NodeInput,
  type NodeMachine,
  nodeStatusOf,
} from "./node_machine.ts";
import { createPodMachine, type PodMachine, podStatusOf } from "./pod_machine.ts";
import { createReconcilerMachine, type ReconcilerContext } from "./reconciler_machine.ts";
import { reconcileReplicaSet } from "./replicaset_reconcile.ts";
import { reconcileService, SERVICE_PACE } from "./service_reconcile.ts";
import type { SupervisorDeps, Timings } from "./supervisor.ts";

type Send = (to: string, event: { type: string; [k: string]: unknown }) => void;
type Record = (e: EventInput) => void;

/** A kind of object the supervisor keeps one actor per object for. */
export interface ManagedKind {
  /** Actor kind, the first segment of system ids. */
  name: "pod" | "node" | "replicaset" | "deployment" | "service";
  /** The object kind it owns. */
  objectKind: string;
  machine: AnyStateMachine;
  /** The system id of an object's actor. */
  idOf(namespace: string | undefined, name: string): string;
  /** The input a fresh actor starts from. */
  inputOf(obj: MilpaObject): unknown;
  /** Whether an object without an actor should get one (finished pods do not). */
  wantsActor(obj: MilpaObject): boolean;
  /**
   * A new actor's first state is what a new actor of its object starts in again, entry actions
   * and invoked work included (a new pod: Waiting since its creation, asking for a node; a new
   * node: Creating since the pool stored it, launching): it is not stored. A restart that finds
   * the object without a snapshot starts such an actor afresh, to the same effect. Only for
   * machines whose first state's work can run twice: a pod asking the pool again is a no-op, and
   * a node's launch is idempotent by its client token (the node's name), as it is when a
   * restored Creating actor launches again.
   */
  firstStateFromObject?: boolean;
  /** The object's status, derived from a snapshot. */
  statusOf(snapshot: unknown): unknown;
  /** The uid in a persisted snapshot, to tell it belongs to this object (and not a namesake). */
  uidOf(snapshot: unknown): string | undefined;
  /**
   * Context fields kept out of persisted snapshots: liveness that every heartbeat or connection
   * moves, and that a restart loses anyway. Stored, each heartbeat of every node would be a
   * write; restored without them, an actor's watchdog counts from its restore, as it does for a
   * connection made after a restart.
   */
  volatile?: string[];
}

const ctx = <C>(s: unknown) => (s as { context: C }).context;

/**
 * Whether snapshot `next` differs from `prev` only in `volatile` context fields (an event that
 * only moved a liveness time, such as a heartbeat, or an agent's status that repeats the last):
 * then its persisted form, and the status derived from it, are `prev`'s, and there is nothing to
 * write. Other context fields are compared as data (a repeated status is new arrays of the same
 * unit statuses).
 */
export function onlyVolatileChanged(
  prev: Snapshot<unknown> | undefined,
  next: Snapshot<unknown>,
  volatile: readonly string[],
): boolean {
  if (!prev) return false;
  type Machine = {
    value?: StateValue;
    children?: unknown;
    historyValue?: unknown;
    context?: unknown;
  };
  const a = prev as Snapshot<unknown> & Machine;
  const b = next as Snapshot<unknown> & Machine;
  if (
    a.status !== b.status || a.children !== b.children || a.historyValue !== b.historyValue ||
    !sameData(a.value, b.value)
  ) return false;
  const ca = a.context as { [k: string]: unknown } | undefined;
  const cb = b.context as { [k: string]: unknown } | undefined;
  if (ca === cb) return true;
  if (!ca || !cb) return false;
  for (const k in cb) {
    if (cb[k] !== ca[k] && !volatile.includes(k) && !sameData(ca[k], cb[k])) return false;
  }
  for (const k in ca) if (!(k in cb) && !volatile.includes(k)) return false;
  return true;
}

/** The input a node actor starts from, rebuilt from its object. */
export function nodeInputOf(node: Node, defaultVolumeSize: string): NodeInput {
  return {
    name: node.metadata.name,
    instanceType: node.spec.instanceType,
    spot: node.spec.spot ?? false,
    privateIPOnly: node.spec.resources?.privateIPOnly ?? false,
    volumeSizeGiB: volumeGiB(node.spec.resources?.volumeSize ?? defaultVolumeSize),
    boundPod: node.status?.boundPodName,
    since: node.status?.phase === "Creating" ? epochMs(node.status.lastPhaseChange) : undefined,
  };
}

/** Every managed kind, wired to `deps`. */
export function managedKinds(
  deps: SupervisorDeps,
  t: Timings,
  send: Send,
  event: Record,
  persisted: (systemId: string) => Promise<void>,
): ManagedKind[] {
  const pod: ManagedKind = {
    name: "pod",
    volatile: ["lastStatusAt"],
    objectKind: "Pod",
    machine: createPodMachine({
      clock: deps.clock,
      send,
      event,
      dispatch: (input) =>
        dispatchPod({
          store: deps.store,
          hub: deps.hub,
          clusterName: deps.config.clusterName,
          connectTimeoutMs: t.dispatchConnectTimeoutMs,
          podToken: deps.podToken,
        }, input),
      drain: (input, signal) => drainPod({ store: deps.store, clock: deps.clock }, input, signal),
      stopUnits: (input) => stopPodUnits({ store: deps.store, hub: deps.hub }, input),
      healthyTimeoutMs: t.healthyTimeoutMs,
      // Read when used, so that machine definitions (inert deps) can be built.
      get drainMs() {
        return deps.config.serviceDiscovery.drainSeconds * 1000;
      },
      get maxLaunchAttempts() {
        return deps.config.nodes.maxLaunchAttempts;
      },
      launchRetryBaseMs: t.launchRetryBaseMs,
    }),
    idOf: (ns, name) => podId(ns ?? "default", name),
    inputOf: (o) => ({
      namespace: o.metadata.namespace ?? "default",
      name: o.metadata.name,
      uid: o.metadata.uid!,
      restartPolicy: (o as Pod).spec.restartPolicy ?? "Always",
      since: waitingSince(o as Pod),
    }),
    wantsActor: (o) => !isTerminalPodPhase((o as Pod).status?.phase),
    firstStateFromObject: true,
    statusOf: (s) => podStatusOf(s as SnapshotFrom<PodMachine>),
    uidOf: (s) => ctx<{ uid?: string }>(s)?.uid,
  };
  const node: ManagedKind = {
    name: "node",
    // Whether the agent is connected: a restarted controller has no connection (agents connect
    // again, AGENT_CONNECTED), and stored, a terminated node's disconnect was a write of every
    // node's snapshot, in its last state before it is deleted.
    volatile: ["lastHeartbeat", "agentConnected"],
    objectKind: "Node",
    machine: createNodeMachine({
      clock: deps.clock,
      send,
      event,
      launch: (input) => launchNode(deps, input),
      terminate: (id) => deps.cloud.terminate(id),
      revoke: (name) => deps.revokeNodeToken(name),
      persisted: (name) => persisted(nodeId(name)),
      clean: ({ name, boundPod }) =>
        saveNodeLogs(
          { store: deps.store, savedLogs: deps.savedLogs, hub: deps.hub, clock: deps.clock },
          name,
          boundPod,
        ),
      isCapacityError,
      onLaunch: deps.onLaunch,
      isConnected: (n) => deps.hub.isConnected(n),
      bootTimeoutMs: t.bootTimeoutMs,
      healthyTimeoutMs: t.healthyTimeoutMs,
    }),
    idOf: (_ns, name) => nodeId(name),
    inputOf: (o) => nodeInputOf(o as Node, deps.config.nodes.defaultVolumeSize),
    wantsActor: () => true,
    firstStateFromObject: true,
    statusOf: (s) => nodeStatusOf(s as SnapshotFrom<NodeMachine>),
    // Node names are UUIDs chosen by the pool: the name is the identity.
    uidOf: (s) => ctx<{ name?: string }>(s)?.name,
  };
  const reconciler = (
    name: "replicaset" | "deployment" | "service",
    objectKind: string,
    idOf: (ns: string, n: string) => string,
    machine: AnyStateMachine,
  ): ManagedKind => ({
    name,
    objectKind,
    machine,
    idOf: (ns, n) => idOf(ns ?? "default", n),
    inputOf: (o) => ({
      namespace: o.metadata.namespace ?? "default",
      name: o.metadata.name,
      uid: o.metadata.uid!,
    }),
    wantsActor: () => true,
    statusOf: (s) => ctx<ReconcilerContext<unknown, unknown>>(s).status ?? {},
    uidOf: (s) => ctx<{ uid?: string }>(s)?.uid,
  });
  const replicaset = reconciler(
    "replicaset",
    "ReplicaSet",
    replicaSetId,
    createReconcilerMachine({
      id: "replicaset",
      restStates: ["Converging", "Settled"],
      clock: deps.clock,
      reconcile: (input) =>
        reconcileReplicaSet({
          store: deps.store,
          clock: deps.clock,
          config: deps.config,
          catalog: deps.catalog,
          event,
        }, input),
    }),
  );
  const deployment = reconciler(
    "deployment",
    "Deployment",
    deploymentId,
    createReconcilerMachine({
      id: "deployment",
      restStates: ["Progressing", "Complete", "Paused", "Stalled"],
      clock: deps.clock,
      reconcile: (input) =>
        reconcileDeployment(
          { store: deps.store, clock: deps.clock, event },
          input as Parameters<typeof reconcileDeployment>[1],
        ),
    }),
  );
  const service = reconciler(
    "service",
    "Service",
    serviceId,
    createReconcilerMachine({
      id: "service",
      restStates: ["Serving", "NoEndpoints"],
      clock: deps.clock,
      pace: SERVICE_PACE,
      reconcile: (input) =>
        reconcileService({ store: deps.store, cloud: deps.cloud, clock: deps.clock, send }, input),
    }),
  );
  return [pod, node, replicaset, deployment, service];
}
