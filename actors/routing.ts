/**
 * Routing: what a change in the store, or a message from an agent, means for which actor.
 * Events are hints; actors re-read what they need.
 */
import type { SnapshotFrom } from "xstate";
import type { Clock } from "../model/clock.ts";
import type { MilpaObject } from "../model/meta.ts";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import { isTerminalPodPhase } from "../model/pod.ts";
import { selectorMatcher } from "../model/selector.ts";
import type { Service } from "../model/service.ts";
import { controllerOf } from "../model/workload.ts";
import type { WatchEvent } from "../store/object_store.ts";
import type { HubEvent } from "./agent_hub.ts";
import { deploymentId, nodeId, podId, POOL_ID, replicaSetId, serviceId } from "./ids.ts";
import type { NodeMachine } from "./node_machine.ts";
import type { Entry } from "./supervisor.ts";

/** What routing may do to the supervisor. */
export interface RouteTarget {
  send(systemId: string, event: { type: string; [k: string]: unknown }): void;
  entry(systemId: string): Entry | undefined;
  /** Starts the actor of a new object. */
  spawn(obj: MilpaObject): void;
  /** Stops an actor and drops its snapshot. */
  forget(systemId: string): void;
  /** Deletes what lost its owner. */
  collectGarbage(): void;
  /** The selectors of the Services whose actors hear of their pods. */
  services: ServiceSelectors;
}

/**
 * The selector of each Service, by namespace, so that a pod's change is told only to the
 * Services that select it (or selected it before a change of its labels): every pod event used
 * to nudge every Service of its namespace, so each Service's pass ran, and found nothing new,
 * for every change of pods it does not select. A Service without a selector selects no pod (its
 * endpoints are not derived from pods); an empty one selects them all, as its pass does.
 */
export class ServiceSelectors {
  readonly #byNamespace = new Map<
    string,
    Map<string, (labels?: Record<string, string>) => boolean>
  >();

  /** Notes `svc`'s selector (its latest spec), replacing what was noted of it. */
  set(svc: Service): void {
    const ns = svc.metadata.namespace ?? "default";
    let services = this.#byNamespace.get(ns);
    if (!svc.spec?.selector) {
      services?.delete(serviceId(ns, svc.metadata.name));
      return;
    }
    if (!services) this.#byNamespace.set(ns, services = new Map());
    services.set(serviceId(ns, svc.metadata.name), selectorMatcher(svc.spec.selector));
  }

  /** Forgets a Service. */
  delete(namespace: string, name: string): void {
    const services = this.#byNamespace.get(namespace);
    services?.delete(serviceId(namespace, name));
    if (services?.size === 0) this.#byNamespace.delete(namespace);
  }

  /** Ids of the Services of `namespace` selecting `labels`, or `previous` when given. */
  *selecting(
    namespace: string,
    labels: Record<string, string> | undefined,
    previous?: Record<string, string>,
  ): Generator<string> {
    const services = this.#byNamespace.get(namespace);
    if (!services) return;
    for (const [id, selects] of services) {
      if (selects(labels) || (previous !== undefined && selects(previous))) yield id;
    }
  }
}

/**
 * `send`, but CHANGED (a hint without data: "look again") goes to each actor at most once per
 * run of synchronous code: a transaction's commit tells watchers of hundreds of pods in one
 * loop, and their ReplicaSet (or a Service) needs one look, not one event per pod.
 */
export function coalesceChanged(send: RouteTarget["send"]): RouteTarget["send"] {
  const told = new Set<string>();
  return (id, event) => {
    if (event.type === "CHANGED") {
      if (told.has(id)) return;
      if (told.size === 0) queueMicrotask(() => told.clear());
      told.add(id);
    }
    send(id, event);
  };
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf("/");
  return [key.slice(0, i), key.slice(i + 1)];
}

const OWNER_ID: Record<string, (ns: string, name: string) => string> = {
  ReplicaSet: replicaSetId,
  Deployment: deploymentId,
};

/** Tells an object's controlling owner (ReplicaSet, Deployment) to look again. */
function nudgeOwner(t: RouteTarget, o: MilpaObject): void {
  const owner = controllerOf(o);
  const id = owner && OWNER_ID[owner.kind]?.(o.metadata.namespace ?? "default", owner.name);
  if (id && t.entry(id)?.uid === owner!.uid) t.send(id, { type: "CHANGED" });
}

/** A ReplicaSet or Deployment: new → actor; spec changed → CHANGED; removed → forget and collect. */
function routeWorkload(t: RouteTarget, e: WatchEvent, id: string): void {
  const o = e.object;
  const entry = t.entry(id);
  if (e.type === "DELETED") {
    // A Service's actor cleans up its cloud resources itself when it sees the object gone.
    if (entry?.uid === o.metadata.uid) {
      if (o.kind === "Service") t.send(id, { type: "CHANGED" });
      else t.forget(id);
    }
    t.collectGarbage();
    return;
  }
  if (!entry || entry.uid !== o.metadata.uid) {
    if (e.type === "ADDED") t.spawn(o);
    return;
  }
  if ((o.metadata.generation ?? 0) > (entry.generation ?? 0)) {
    entry.generation = o.metadata.generation;
    t.send(id, { type: "CHANGED" });
  }
}

function routePod(t: RouteTarget, e: WatchEvent): void {
  const pod = e.object as Pod;
  const id = podId(pod.metadata.namespace!, pod.metadata.name);
  const entry = t.entry(id);
  if (e.type === "DELETED") {
    if (entry && entry.uid === pod.metadata.uid) {
      if (!entry.ref.getSnapshot().hasTag("terminal")) {
        t.send(POOL_ID, {
          type: "POD_RELEASED",
          pod: `${pod.metadata.namespace}/${pod.metadata.name}`,
        });
      }
      t.forget(id);
    }
    return;
  }
  if (!entry || entry.uid !== pod.metadata.uid) {
    if (e.type === "ADDED" && !isTerminalPodPhase(pod.status?.phase)) t.spawn(pod);
    return;
  }
  // A spec change, the deletion mark included, is told once: the pod's own status writes (and
  // any other write that leaves the spec) come back here unchanged in generation. A restored
  // or restarted actor of a pod already marked is told by spawnFor.
  if ((pod.metadata.generation ?? 0) > (entry.generation ?? 0)) {
    entry.generation = pod.metadata.generation;
    t.send(id, { type: pod.spec.phase === "Terminated" ? "DELETE" : "SPEC_UPDATED" });
  }
}

/** A pod changed: the Services that select it, or did before its labels changed, look again. */
function nudgeServices(t: RouteTarget, e: WatchEvent): void {
  const { namespace = "default", labels } = e.object.metadata;
  for (const id of t.services.selecting(namespace, labels, e.previousLabels)) {
    if (t.entry(id)) t.send(id, { type: "CHANGED" });
  }
}

/** Routes one store change. Every change to an owned object also nudges its owner. */
export function routeStoreEvent(t: RouteTarget, e: WatchEvent): void {
  const o = e.object;
  switch (o.kind) {
    case "Pod":
      routePod(t, e);
      nudgeServices(t, e);
      break;
    case "Service":
      if (e.type === "DELETED") t.services.delete(o.metadata.namespace!, o.metadata.name);
      else t.services.set(o as Service);
      routeWorkload(t, e, serviceId(o.metadata.namespace!, o.metadata.name));
      return;
    case "ReplicaSet":
      routeWorkload(t, e, replicaSetId(o.metadata.namespace!, o.metadata.name));
      break;
    case "Deployment":
      routeWorkload(t, e, deploymentId(o.metadata.namespace!, o.metadata.name));
      break;
    case "Node":
      if (e.type !== "DELETED" && (o as Node).spec.terminate) terminateNode(t, o.metadata.name);
      return;
    default:
      return;
  }
  nudgeOwner(t, o);
}

/**
 * A node whose termination was asked for (`spec.terminate`): a pod running on it is evicted
 * first (it drains, stops, runs again on a new node, and its release ends the node); any other
 * node is terminated at once. A node already on its way out is left alone.
 */
export function terminateNode(t: RouteTarget, name: string): void {
  const node = t.entry(nodeId(name));
  if (!node) return;
  const snap = node.ref.getSnapshot() as SnapshotFrom<NodeMachine>;
  if (["Cleaning", "Terminating", "Terminated"].includes(snap.value)) return;
  const boundPod = snap.context.boundPod;
  const pod = boundPod ? t.entry(podId(...splitKey(boundPod))) : undefined;
  if (snap.value === "Claimed" && pod?.ref.getSnapshot().matches("Running")) {
    t.send(podId(...splitKey(boundPod!)), {
      type: "EVICT",
      reason: `node ${name} is being terminated (termination was requested)`,
    });
    return;
  }
  t.send(nodeId(name), { type: "TERMINATE", reason: "termination was requested" });
}

/**
 * Passes on what changed in agents' statuses, and an unchanged status (a heartbeat) once per
 * `refreshMs`: at 10,000 nodes, heartbeats every 10 s are 1,000 statuses a second that change
 * nothing. The watchdogs count from the last status passed on, so `refreshMs` must stay well
 * below the healthy timeout (a third of it). A new connection's first status always goes.
 *
 * Each node refreshes in its own slot of the period (its name's hash places it), not
 * `refreshMs` after its last status passed: nodes that started together (a burst of pods, every
 * agent reconnecting after a restart) would otherwise refresh together for as long as they run.
 * At 10,000 nodes that was one third of every 30 s with the main thread ~10 points busier (GET
 * of one pod slower, every request waiting longer); spread, the same work adds ~3 % at all
 * times. A node is refreshed at least half `refreshMs` and at most `refreshMs` plus one heartbeat
 * apart.
 *
 * A status passed on goes to the pod's actor; whether it also refreshes the node's liveness (a
 * HEARTBEAT to the node's actor) is `beat()`'s to say: not within half `refreshMs` of the node's
 * last refresh or of its connect (which refreshes it too). A pod starting sends two statuses
 * within milliseconds of its agent's connect: neither needs to reach the node's actor. The node's
 * liveness is then at most 1.5 `refreshMs` plus one heartbeat old (half the healthy timeout and a
 * heartbeat), and it only counts once the agent is disconnected.
 */
export class StatusFilter {
  /** Per node: the status last passed on, when, and where the node's slot starts. */
  readonly #last = new Map<string, { key: string; at: number; phase: number }>();
  /** Per connected node: when its liveness was last refreshed (its connect, or a heartbeat). */
  readonly #beats = new Map<string, number>();

  constructor(private readonly clock: Clock, private readonly refreshMs: number) {}

  /** Whether to pass on `e`; connects and disconnects always pass (and reset the node). */
  pass(e: HubEvent): boolean {
    if (e.type !== "status") {
      this.#last.delete(e.node);
      if (e.type === "connected") this.#beats.set(e.node, this.clock.now());
      else this.#beats.delete(e.node);
      return true;
    }
    const s = e.status;
    const key = JSON.stringify([s.podUid, s.unitStatuses, s.initUnitStatuses]);
    const last = this.#last.get(e.node);
    const phase = last?.phase ?? refreshPhase(e.node, this.refreshMs);
    const now = this.clock.now();
    const slot = (t: number) => Math.floor((t + phase) / this.refreshMs);
    // A node just heard from waits half a period at least (pods started in a burst do not all
    // refresh during it), then for its next slot.
    if (
      last && last.key === key &&
      (now - last.at < this.refreshMs / 2 || slot(now) === slot(last.at))
    ) {
      return false;
    }
    this.#last.set(e.node, { key, at: now, phase });
    return true;
  }

  /**
   * Whether the status of `node` just passed on also refreshes the node's liveness: not when
   * the node's last refresh is less than half `refreshMs` old.
   */
  beat(node: string): boolean {
    const now = this.clock.now();
    const last = this.#beats.get(node);
    if (last !== undefined && now - last < this.refreshMs / 2) return false;
    this.#beats.set(node, now);
    return true;
  }
}

/** Where in a period of `periodMs` a node's refresh slot starts: FNV-1a of its name. */
export function refreshPhase(node: string, periodMs: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < node.length; i++) h = Math.imul(h ^ node.charCodeAt(i), 0x01000193);
  return (h >>> 0) % periodMs;
}

/**
 * Agent connects, disconnects and statuses go to the node's actor and to its pod's actor: a
 * status to the node as a HEARTBEAT when `beat` (`StatusFilter.beat`), and a connect to the pod
 * only while it runs (a running pod is sent again to a reconnected agent; before, it listens to
 * no connect).
 */
export function routeHubEvent(t: RouteTarget, e: HubEvent, beat = true): void {
  const node = t.entry(nodeId(e.node));
  const nodeSnap = node?.ref.getSnapshot() as SnapshotFrom<NodeMachine> | undefined;
  const boundPod = nodeSnap?.context.boundPod;
  const pod = boundPod ? podId(...splitKey(boundPod)) : undefined;
  switch (e.type) {
    case "connected":
      // A node still being launched asks the hub whether its agent is connected once the
      // launch returns (its `connected` guard): an agent that connects first (the sim's, at
      // once) need not be told. (The node's actor has one event fewer to take per pod.)
      if (nodeSnap?.value !== "Creating") t.send(nodeId(e.node), { type: "AGENT_CONNECTED" });
      if (pod && t.entry(pod)?.ref.getSnapshot().matches("Running")) {
        t.send(pod, { type: "AGENT_CONNECTED" });
      }
      return;
    case "disconnected":
      t.send(nodeId(e.node), { type: "AGENT_DISCONNECTED" });
      return;
    case "status":
      if (beat) t.send(nodeId(e.node), { type: "HEARTBEAT" });
      // A status of no pod (an agent that has none yet: its first status after connecting)
      // concerns no pod's actor: each takes only its own pod's statuses.
      if (pod && e.status.podUid) {
        t.send(pod, {
          type: "AGENT_STATUS",
          podUid: e.status.podUid,
          unitStatuses: e.status.unitStatuses,
          initUnitStatuses: e.status.initUnitStatuses,
        });
      }
      return;
  }
}
