/**
 * The root supervisor: creates, restores, routes to and persists every actor.
 *
 * Each pod and node actor is its own XState actor with a stable system id
 * (`pod/<ns>/<name>`, `node/<name>`); its snapshot is persisted together with its
 * object's status after every transition. On start, every actor is restored from its
 * snapshot and then converges with the store, the cloud and the agents (level-based).
 * A failed actor is restarted from its last snapshot with capped backoff.
 */
import {
  type Actor,
  type AnyActorRef,
  createActor,
  type Snapshot,
  type SnapshotFrom,
  waitFor,
} from "xstate";
import type { CloudProvider } from "../cloud/provider.ts";
import type { Clock } from "../model/clock.ts";
import type { ServerConfig } from "../model/config.ts";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import { isTerminalPodPhase } from "../model/pod.ts";
import { volumeGiB } from "../model/quantity.ts";
import type { ActorStore } from "../store/actor_store.ts";
import { purgeExpired, recordEvent } from "../store/events.ts";
import type { EventInput } from "../store/events.ts";
import type { ObjectStore } from "../store/object_store.ts";
import type { AgentHub } from "./agent_hub.ts";
import { nodeId, podId, POOL_ID } from "./ids.ts";
import { type NodeInput, type NodeMachine, nodeStatusOf } from "./node_machine.ts";
import { createPoolMachine, NodePool } from "./node_pool.ts";
import { nodeMachineFor, podMachineFor } from "./machines.ts";
import { Persister } from "./persister.ts";
import { routeHubEvent, routeStoreEvent, type RouteTarget } from "./routing.ts";
import { createSupervisorMachine } from "./supervisor_machine.ts";
import { type PodInput, type PodMachine, podStatusOf } from "./pod_machine.ts";

/** Intervals and timeouts; tests shorten them. */
export interface Timings {
  watchdogPeriodMs: number;
  purgePeriodMs: number;
  reconcilePeriodMs: number;
  bootTimeoutMs: number;
  healthyTimeoutMs: number;
  dispatchConnectTimeoutMs: number;
}

/** Everything the supervisor wires actors to. */
export interface SupervisorDeps {
  store: ObjectStore;
  actorStore: ActorStore;
  cloud: CloudProvider;
  hub: AgentHub;
  clock: Clock;
  config: ServerConfig;
  /** URL agents dial. */
  controllerURL: string;
  /** The bearer token of a node's agent. */
  nodeToken: (node: string) => Promise<string>;
  timings?: Partial<Timings>;
  /** Called with every actor created or restored (inspection, visualization). */
  onActor?: (systemId: string, ref: AnyActorRef) => void;
}

type Kind = "pod" | "node" | "pool";

/** A live actor and what the supervisor knows of it. */
export interface Entry {
  kind: Kind;
  ref: AnyActorRef;
  uid?: string;
  generation?: number;
  restarts: number;
}

type AnyEvent = { type: string; [k: string]: unknown };

/** Supervises every actor of the controller. */
export class Supervisor {
  readonly #actors = new Map<string, Entry>();
  readonly #persister: Persister;
  readonly #timings: Timings;
  readonly #podMachine: PodMachine;
  readonly #nodeMachine: NodeMachine;
  readonly pool: NodePool;
  readonly #root: Actor<ReturnType<typeof createSupervisorMachine>>;
  #unsubscribe: (() => void)[] = [];
  #timers: ReturnType<typeof setInterval>[] = [];
  #stopping = false;
  readonly #tasks = new Set<Promise<unknown>>();

  constructor(private readonly deps: SupervisorDeps) {
    const c = deps.config.nodes;
    this.#timings = {
      watchdogPeriodMs: 5_000,
      purgePeriodMs: 10_000,
      reconcilePeriodMs: 7_000,
      bootTimeoutMs: c.bootTimeout * 1000,
      healthyTimeoutMs: c.healthyTimeout * 1000,
      dispatchConnectTimeoutMs: 60_000,
      ...deps.timings,
    };
    this.#persister = new Persister(deps.actorStore);
    this.#root = createActor(
      createSupervisorMachine({ restore: () => this.#restore(), shutdown: () => this.#shutdown() }),
      { systemId: "supervisor" },
    );
    const send = (to: string, event: AnyEvent) => this.send(to, event);
    const event = (e: EventInput) => void recordEvent(deps.store, deps.clock, e);
    this.#podMachine = podMachineFor(deps, this.#timings, send, event);
    this.#nodeMachine = nodeMachineFor(deps, this.#timings, send, event);
    this.pool = new NodePool({
      store: deps.store,
      clock: deps.clock,
      send,
      event,
      spawnNode: (input) => this.#spawnNode(input),
      standbyNodes: c.standbyNodes,
      defaultVolumeSize: c.defaultVolumeSize,
    });
  }

  /** Starts the root actor: restores every actor, then routes store and agent events. */
  async start(): Promise<void> {
    this.#root.start();
    const snap = await waitFor(this.#root, (s) => s.status === "done" || s.value === "Supervising");
    if (snap.value === "Failed") {
      throw new Error(`the controller could not restore its actors: ${snap.context.error}`);
    }
  }

  async #restore(): Promise<void> {
    const { store, actorStore } = this.deps;
    const snapshots = await actorStore.loadAll();
    const known = new Set<string>([POOL_ID]);
    this.#start(POOL_ID, "pool", createPoolMachine(this.pool), undefined, undefined);
    for (const pod of await store.list<Pod>("pods")) {
      const id = podId(pod.metadata.namespace!, pod.metadata.name);
      const snap = snapshots.get(id) as SnapshotFrom<PodMachine> | undefined;
      known.add(id);
      if (snap && snap.context?.uid === pod.metadata.uid) {
        this.#spawnPod(pod, snap);
      } else if (!isTerminalPodPhase(pod.status?.phase)) {
        this.#spawnPod(pod);
      }
    }
    for (const node of await store.list<Node>("nodes")) {
      const id = nodeId(node.metadata.name);
      known.add(id);
      const snap = snapshots.get(id) as SnapshotFrom<NodeMachine> | undefined;
      this.#spawnNode(nodeInputOf(node, this.deps.config.nodes.defaultVolumeSize), snap);
    }
    for (const id of snapshots.keys()) if (!known.has(id)) await actorStore.remove(id);
    const routes = this.#routes();
    this.#unsubscribe.push(store.watch((e) => routeStoreEvent(routes, e)));
    this.#unsubscribe.push(this.deps.hub.subscribe((e) => routeHubEvent(routes, e)));
    this.#timers.push(
      setInterval(() => this.send(POOL_ID, { type: "RECONCILE" }), this.#timings.reconcilePeriodMs),
    );
    this.#timers.push(setInterval(() => {
      this.#track(
        purgeExpired(store, this.deps.clock).catch((e) => console.error("purge failed:", e)),
      );
    }, this.#timings.purgePeriodMs));
  }

  /** Stops routing and every actor; waits for pending snapshot writes. Agents keep running. */
  async stop(): Promise<void> {
    if (this.#root.getSnapshot().status === "done") return;
    this.#root.send({ type: "STOP" });
    await waitFor(this.#root, (s) => s.status === "done");
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    for (const u of this.#unsubscribe) u();
    for (const t of this.#timers) clearInterval(t);
    for (const e of this.#actors.values()) e.ref.stop();
    this.#actors.clear();
    await Promise.all(this.#tasks);
    await this.pool.drain();
    await this.#persister.flush();
  }

  /** Waits `ms`, or less if the supervisor stops meanwhile. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const i = setInterval(() => this.#stopping && done(), 100);
      function done() {
        clearTimeout(t);
        clearInterval(i);
        resolve();
      }
    });
  }

  /** Keeps a background task so that stop() can wait for it. */
  #track(p: Promise<unknown>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  /** Delivers an event to an actor by system id, after the current call stack. */
  send(systemId: string, event: AnyEvent): void {
    if (this.#stopping) return;
    queueMicrotask(() => {
      const e = this.#actors.get(systemId);
      if (e) e.ref.send(event);
    });
  }

  /** The live actor with this system id. */
  actor(systemId: string): AnyActorRef | undefined {
    return this.#actors.get(systemId)?.ref;
  }

  /** The root supervisor actor. */
  get root(): AnyActorRef {
    return this.#root;
  }

  /** System ids of live actors, by kind. */
  actorIds(kind?: Kind): string[] {
    return [...this.#actors.entries()].filter(([, e]) => !kind || e.kind === kind).map(([id]) =>
      id
    );
  }

  /** Resolves when every snapshot scheduled so far is written. */
  flush(): Promise<void> {
    return this.#persister.flush();
  }

  #spawnPod(pod: Pod, snapshot?: Snapshot<unknown>): void {
    const input: PodInput = {
      namespace: pod.metadata.namespace ?? "default",
      name: pod.metadata.name,
      uid: pod.metadata.uid!,
      restartPolicy: pod.spec.restartPolicy ?? "Always",
    };
    const id = podId(input.namespace, input.name);
    this.#start(
      id,
      "pod",
      this.#podMachine,
      input,
      snapshot,
      pod.metadata.uid,
      pod.metadata.generation,
    );
    if (pod.spec.phase === "Terminated") this.send(id, { type: "DELETE" });
  }

  #spawnNode(input: NodeInput, snapshot?: Snapshot<unknown>): void {
    this.#start(nodeId(input.name), "node", this.#nodeMachine, input, snapshot);
  }

  #start(
    id: string,
    kind: Kind,
    // deno-lint-ignore no-explicit-any
    logic: any,
    input: unknown,
    snapshot: Snapshot<unknown> | undefined,
    uid?: string,
    generation?: number,
  ): void {
    if (this.#stopping) return;
    const prev = this.#actors.get(id);
    if (prev) prev.ref.stop();
    const ref = createActor(logic, { input, snapshot, id }) as AnyActorRef;
    const entry: Entry = { kind, ref, uid, generation, restarts: prev?.restarts ?? 0 };
    this.#actors.set(id, entry);
    ref.subscribe({
      next: (snap) => {
        if (kind !== "pool") this.#persister.schedule(id, () => this.#persistable(kind, ref, snap));
        if (kind === "node" && snap.status === "done") this.#track(this.#nodeDone(id, ref));
      },
      error: (err) => this.#track(this.#restart(id, entry, err)),
    });
    this.deps.onActor?.(id, ref);
    ref.start();
    // A node restored in its final state (the controller died while removing it).
    if (kind === "node" && ref.getSnapshot().status === "done") {
      this.#track(this.#nodeDone(id, ref));
    }
  }

  #persistable(kind: Kind, ref: AnyActorRef, snap: Snapshot<unknown>) {
    const snapshot = ref.getPersistedSnapshot();
    if (kind === "pod") {
      const s = snap as SnapshotFrom<PodMachine>;
      return {
        snapshot,
        owned: {
          kind: "Pod",
          namespace: s.context.namespace,
          name: s.context.name,
          status: podStatusOf(s),
        },
      };
    }
    const s = snap as SnapshotFrom<NodeMachine>;
    return { snapshot, owned: { kind: "Node", name: s.context.name, status: nodeStatusOf(s) } };
  }

  async #nodeDone(id: string, ref: AnyActorRef): Promise<void> {
    const name = (ref.getSnapshot() as SnapshotFrom<NodeMachine>).context.name;
    await this.#persister.flush();
    if (this.#actors.get(id)?.ref === ref) this.#actors.delete(id);
    await this.deps.actorStore.remove(id);
    try {
      await this.deps.store.delete("nodes", undefined, name);
    } catch { /* already gone */ }
  }

  async #restart(id: string, entry: Entry, err: unknown): Promise<void> {
    if (this.#stopping || this.#actors.get(id) !== entry) return;
    entry.restarts++;
    const delay = Math.min(1000 * 2 ** (entry.restarts - 1), 60_000);
    console.error(`actor ${id} failed (restart ${entry.restarts} in ${delay / 1000}s):`, err);
    const [kind, ...rest] = id.split("/");
    void recordEvent(this.deps.store, this.deps.clock, {
      involvedObject: kind === "pod"
        ? { kind: "Pod", namespace: rest[0], name: rest[1] }
        : { kind: "Node", name: rest[0] },
      status: "actor-restarted",
      source: "supervisor",
      message: `actor failed: ${
        (err as Error)?.message ?? err
      }; restarting from its last snapshot in ${delay / 1000}s`,
      type: "Warning",
    });
    await this.#sleep(delay);
    if (this.#stopping || this.#actors.get(id) !== entry) return;
    await this.#persister.flush();
    const snapshot = await this.deps.actorStore.load(id) as Snapshot<unknown> | undefined;
    if (entry.kind === "pod") {
      const pod = await this.deps.store.get<Pod>("pods", rest[0], rest[1]);
      if (pod) this.#spawnPod(pod, snapshot);
    } else if (entry.kind === "node") {
      const node = await this.deps.store.get<Node>("nodes", undefined, rest[0]);
      if (node) {
        this.#spawnNode(nodeInputOf(node, this.deps.config.nodes.defaultVolumeSize), snapshot);
      }
    }
  }

  /** What the routing functions may do to this supervisor. */
  #routes(): RouteTarget {
    return {
      send: (id, ev) => this.send(id, ev),
      entry: (id) => this.#actors.get(id),
      spawnPod: (pod) => this.#spawnPod(pod),
      forget: (id) => {
        this.#actors.get(id)?.ref.stop();
        this.#actors.delete(id);
        this.#track(
          this.#persister.cancel(id).then(() => {
            // A pod re-created under the same name already has a new actor: keep its snapshot.
            if (!this.#actors.has(id)) return this.deps.actorStore.remove(id);
          }),
        );
      },
    };
  }
}

/** The input a node actor starts from, rebuilt from its object. */
function nodeInputOf(node: Node, defaultVolumeSize: string): NodeInput {
  return {
    name: node.metadata.name,
    instanceType: node.spec.instanceType,
    spot: node.spec.spot ?? false,
    privateIPOnly: node.spec.resources?.privateIPOnly ?? false,
    volumeSizeGiB: volumeGiB(node.spec.resources?.volumeSize ?? defaultVolumeSize),
    boundPod: node.status?.boundPodName,
  };
}
