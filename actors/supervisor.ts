/**
 * The root supervisor: creates, restores, routes to and persists every actor.
 *
 * Each pod and node actor is its own XState actor with a stable id (`pod/<ns>/<name>`,
 * `node/<name>`), a child of the root's machine in the root's actor system (one system, not one
 * per actor: at 20,000 actors that was 40 MiB of heap); its snapshot is persisted together with its
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
import { type Clock, every, sleep } from "../model/clock.ts";
import type { ServerConfig } from "../model/config.ts";
import type { InstanceType } from "../cloud/catalog.ts";
import { selectInstanceType } from "../cloud/instance_selector.ts";
import { type MilpaObject, parseObjectKey } from "../model/meta.ts";
import { NotFoundError } from "../model/errors.ts";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import type { Service } from "../model/service.ts";
import type { ActorStore } from "../store/actor_store.ts";
import type { SavedLogs } from "../store/log_store.ts";
import { EventLog, FinishedPods, purgeExpired, recordEvent } from "../store/events.ts";
import type { EventInput } from "../store/events.ts";
import type { ObjectStore } from "../store/object_store.ts";
import type { AgentHub } from "./agent_hub.ts";
import { collectGarbage } from "./garbage_collector.ts";
import { InstanceCollector } from "./instance_collector.ts";
import { nodeId, podId, POOL_ID } from "./ids.ts";
import { type ManagedKind, managedKinds, onlyVolatileChanged } from "./machines.ts";
import type { LaunchOutcome, NodeInput, NodeMachine } from "./node_machine.ts";
import { createPoolMachine, NodePool, type PodsAndNodes } from "./node_pool.ts";
import { Persister } from "./persister.ts";
import { resumeRestored } from "./outcome.ts";
import { LAUNCH_RETRY_BASE_MS, type PodMachine } from "./pod_machine.ts";
import {
  coalesceChanged,
  routeHubEvent,
  routeStoreEvent,
  type RouteTarget,
  ServiceSelectors,
  StatusFilter,
  terminateNode,
} from "./routing.ts";
import { createSupervisorMachine } from "./supervisor_machine.ts";
import { Ticker } from "./ticker.ts";
import type { TransitionRecorder } from "./inspection.ts";
import { log, retryLevel } from "../model/log.ts";

/**
 * Stops a managed actor. They are children of the root (one actor system for all), and XState's
 * public `stop()` refuses a child ("A non-root actor cannot be stopped directly"); `_stop()` is
 * what it runs for a root and what a parent's `stopChild` runs: the same stop.
 */
function stopChild(ref: AnyActorRef): void {
  (ref as AnyActorRef & { _stop(): void })._stop();
}

/** Intervals and timeouts; tests shorten them. */
export interface Timings {
  watchdogPeriodMs: number;
  /** Between passes that purge expired events and finished pods and collect orphans. */
  purgePeriodMs: number;
  /**
   * Between the passes of that which also read every pod (orphaned pods, tokens of ended pods):
   * those are a safety net, since a deleted owner and an ended pod are acted on at once.
   */
  fullCollectionPeriodMs: number;
  reconcilePeriodMs: number;
  bootTimeoutMs: number;
  healthyTimeoutMs: number;
  dispatchConnectTimeoutMs: number;
  /** Between garbage-collection passes over cloud instances (two passes end an orphan). */
  instanceGcPeriodMs: number;
  /** First delay before a pod whose node failed to boot asks again (it doubles). */
  launchRetryBaseMs: number;
}

/** Everything the supervisor wires actors to. */
export interface SupervisorDeps {
  store: ObjectStore;
  actorStore: ActorStore;
  /** Where cleaned nodes leave their units' logs. */
  savedLogs: SavedLogs;
  cloud: CloudProvider;
  hub: AgentHub;
  clock: Clock;
  config: ServerConfig;
  /** URL agents dial. */
  controllerURL: string;
  /** PEM of the CA of an https controller URL: every node's agent config carries it. */
  caCertificate?: string;
  /** The agent program's sha256, for clouds whose nodes fetch it at boot. */
  agentSha256?: () => Promise<string>;
  /** The bearer token of a node's agent: issued on first use, the same one after. */
  nodeToken: (node: string) => Promise<string>;
  /** Revokes a node's token, once the node is terminating (safe to repeat). */
  revokeNodeToken: (node: string) => Promise<void>;
  /**
   * The API token of a pod that drives Milpa (`store/pod_credentials.ts`): the same one on
   * every dispatch. Absent: such pods cannot be dispatched.
   */
  podToken?: (pod: { namespace: string; name: string; uid: string }) => Promise<string>;
  /** Revokes the tokens of pods that are gone or ended (with every garbage collection). */
  sweepPodTokens?: () => Promise<number>;
  /** Instance types, for the pods ReplicaSets create. */
  catalog: InstanceType[];
  timings?: Partial<Timings>;
  /** Records the transitions of the root and of every managed actor, by system id. */
  recorder?: Pick<TransitionRecorder, "recordable" | "follow">;
  /** Hears how each node launch went (the controller's metrics). */
  onLaunch?: (outcome: LaunchOutcome) => void;
  /**
   * Gets the pods and nodes the restore read, once every actor is restored (the controller's
   * metrics count them): they need not be read and decoded again.
   */
  restored?: (objects: PodsAndNodes) => void;
}

type Kind = ManagedKind["name"] | "pool";

/** A live actor and what the supervisor knows of it. */
export interface Entry {
  kind: Kind;
  ref: AnyActorRef;
  namespace?: string;
  name?: string;
  uid?: string;
  generation?: number;
  restarts: number;
}

type AnyEvent = { type: string; [k: string]: unknown };

/** Kinds whose actors are level-based reconcilers (`reconciler_machine.ts`). */
const RECONCILERS: Kind[] = ["replicaset", "deployment", "service"];

/**
 * A snapshot an older controller stored after stopping the actor ("stopped", without its
 * invoked work) would restore as an actor that never moves: a reconciler starts afresh
 * instead (it only reads the world), any other actor is restored as active.
 */
function revive(kind: Kind, snap: Snapshot<unknown> | undefined): Snapshot<unknown> | undefined {
  if (!snap || snap.status !== "stopped") return snap;
  return RECONCILERS.includes(kind)
    ? undefined
    : { ...snap, status: "active" } as Snapshot<unknown>;
}

/** Supervises every actor of the controller. */
export class Supervisor {
  readonly #actors = new Map<string, Entry>();
  /** The selectors of the Services, for routing pods' changes to them. */
  readonly #services = new ServiceSelectors();
  readonly #persister: Persister;
  readonly #timings: Timings;
  readonly #kinds: Map<string, ManagedKind>;
  readonly pool: NodePool;
  /** The one watchdog timer of every pod and node actor. */
  readonly #ticker: Ticker;
  readonly #finishedPods: FinishedPods;
  readonly #eventLog: EventLog;
  #lastFullCollection = -Infinity;
  readonly #root: Actor<ReturnType<typeof createSupervisorMachine>>;
  #unsubscribe: (() => void)[] = [];
  #timers: (() => void)[] = [];
  #stopping = false;
  readonly #stopped = new AbortController();
  readonly #tasks = new Set<Promise<unknown>>();

  constructor(private readonly deps: SupervisorDeps) {
    const c = deps.config.nodes;
    this.#timings = {
      watchdogPeriodMs: 5_000,
      purgePeriodMs: 10_000,
      fullCollectionPeriodMs: 300_000,
      reconcilePeriodMs: 7_000,
      bootTimeoutMs: c.bootTimeout * 1000,
      healthyTimeoutMs: c.healthyTimeout * 1000,
      dispatchConnectTimeoutMs: 60_000,
      instanceGcPeriodMs: 60_000,
      launchRetryBaseMs: LAUNCH_RETRY_BASE_MS,
      ...deps.timings,
    };
    this.#ticker = new Ticker(deps.clock, this.#timings.watchdogPeriodMs);
    this.#finishedPods = new FinishedPods(deps.store);
    this.#eventLog = new EventLog(deps.store);
    this.#persister = new Persister(deps.actorStore, {
      clock: deps.clock,
      onError: (id, error, failures) => this.#persistFailed(id, error, failures),
    });
    const rootLogic = createSupervisorMachine({
      restore: () => this.#restore(),
      shutdown: () => this.#shutdown(),
    });
    this.#root = createActor(deps.recorder?.recordable(rootLogic) ?? rootLogic, {
      id: "supervisor",
      systemId: "supervisor",
    });
    deps.recorder?.follow("supervisor", this.#root);
    const send = (to: string, event: AnyEvent) => this.send(to, event);
    const event = (e: EventInput) => void recordEvent(deps.store, deps.clock, e);
    const persisted = (id: string) => this.#persister.persisted(id);
    this.#kinds = new Map(
      managedKinds(deps, this.#timings, send, event, persisted).map((k) => [k.name, k]),
    );
    this.pool = new NodePool({
      store: deps.store,
      clock: deps.clock,
      send,
      event,
      spawnNode: (input) => this.#spawnNode(input),
      standbyNodes: c.standbyNodes,
      defaultVolumeSize: c.defaultVolumeSize,
      maxNodes: c.maxNodes,
      nodeState: (name) => {
        const ref = this.#actors.get(nodeId(name))?.ref;
        if (!ref) return undefined;
        const snap = ref.getSnapshot() as SnapshotFrom<NodeMachine>;
        return {
          phase: snap.value,
          instanceId: snap.context.instanceId,
          addresses: snap.context.addresses,
        };
      },
      podState: (pod) => {
        const { namespace = "default", name } = parseObjectKey(pod);
        const ref = this.#actors.get(podId(namespace, name))?.ref;
        if (!ref) return undefined;
        const snap = ref.getSnapshot() as SnapshotFrom<PodMachine>;
        return { node: snap.context.node?.name, ended: snap.hasTag("terminal") };
      },
      reselect: (spec, exclude) => {
        try {
          return selectInstanceType({ ...spec, instanceType: undefined }, {
            catalog: deps.catalog.filter((t) => !exclude.has(t.name)),
            defaultInstanceType: c.defaultInstanceType,
            instanceFamilies: c.instanceFamilies,
          }).instanceType;
        } catch {
          return undefined; // nothing else fits: wait until the type is available again
        }
      },
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
    // Snapshots and objects are read at once (KV reads them off this thread).
    const [snapshots] = await Promise.all([
      actorStore.loadAll(),
      store.preload([...this.#kinds.values()].map((k) => k.objectKind)),
    ]);
    this.#unsubscribe.push(() => this.#finishedPods.stop());
    this.#unsubscribe.push(() => this.#eventLog.stop());
    // Each object is decoded once here, for its actor, the pool's view and whoever else wants
    // them (`deps.restored`): at 10,000 pods each decode of them all took ~30-80 ms.
    const objects = new Map<string, MilpaObject[]>();
    for (const kind of this.#kinds.values()) {
      objects.set(kind.objectKind, await store.list(kind.objectKind));
    }
    const restored = {
      pods: (objects.get("Pod") ?? []) as Pod[],
      nodes: (objects.get("Node") ?? []) as Node[],
    };
    this.pool.useObjects(restored);
    const known = new Set<string>([POOL_ID]);
    this.#start(
      POOL_ID,
      "pool",
      createPoolMachine(this.pool, {
        clock: this.deps.clock,
        event: (e) => void recordEvent(store, this.deps.clock, e),
      }),
      undefined,
      undefined,
    );
    // Terminations asked for while the controller was down, acted on once events are routed.
    const terminating: string[] = [];
    for (const kind of this.#kinds.values()) {
      for (const obj of objects.get(kind.objectKind)!) {
        if (obj.kind === "Node" && (obj as Node).spec.terminate) {
          terminating.push(obj.metadata.name);
        }
        const id = kind.idOf(obj.metadata.namespace, obj.metadata.name);
        known.add(id);
        const snap = revive(kind.name, snapshots.get(id) as Snapshot<unknown> | undefined);
        const mine = snap &&
          kind.uidOf(snap) === (kind.name === "node" ? obj.metadata.name : obj.metadata.uid);
        if (mine) this.spawnFor(obj, snap);
        else if (kind.wantsActor(obj)) this.spawnFor(obj);
      }
    }
    for (const id of snapshots.keys()) if (!known.has(id)) await actorStore.remove(id);
    const routes = this.#routes();
    this.#unsubscribe.push(store.watch((e) => routeStoreEvent(routes, e)));
    const statuses = new StatusFilter(this.deps.clock, this.#timings.healthyTimeoutMs / 3);
    this.#unsubscribe.push(this.deps.hub.subscribe((e) => {
      if (statuses.pass(e)) routeHubEvent(routes, e, e.type !== "status" || statuses.beat(e.node));
    }));
    const exits = this.deps.cloud.onInstanceExit?.((e) =>
      this.send(nodeId(e.nodeName), { type: "INSTANCE_GONE", reason: e.reason })
    );
    if (exits) this.#unsubscribe.push(exits);
    for (const name of terminating) terminateNode(routes, name);
    this.deps.restored?.(restored);
    const clock = this.deps.clock;
    this.#ticker.start();
    this.#timers.push(() => this.#ticker.stop());
    this.#timers.push(
      every(
        clock,
        this.#timings.reconcilePeriodMs,
        () => this.send(POOL_ID, { type: "RECONCILE" }),
      ),
    );
    const instances = new InstanceCollector({
      store,
      cloud: this.deps.cloud,
      event: (e) => void recordEvent(store, this.deps.clock, e),
    });
    this.#timers.push(every(clock, this.#timings.instanceGcPeriodMs, () => {
      if (this.#stopping) return;
      this.#track(
        instances.pass().catch((e) =>
          log.at(retryLevel(e), "instance collection failed", { error: e })
        ),
      );
    }));
    this.#timers.push(every(clock, this.#timings.purgePeriodMs, () => {
      this.#track(
        purgeExpired(store, clock, this.#finishedPods, this.#eventLog).catch((e) =>
          log.at(retryLevel(e), "purge failed", { error: e })
        ),
      );
      const full = clock.now() - this.#lastFullCollection >= this.#timings.fullCollectionPeriodMs;
      this.collectGarbage(full);
    }));
  }

  /** Stops routing and every actor; waits for pending snapshot writes. Agents keep running. */
  async stop(): Promise<void> {
    if (this.#root.getSnapshot().status === "done") return;
    this.#root.send({ type: "STOP" });
    await waitFor(this.#root, (s) => s.status === "done");
  }

  async #shutdown(): Promise<void> {
    this.#stopping = true;
    this.#stopped.abort();
    for (const u of this.#unsubscribe) u();
    for (const cancel of this.#timers) cancel();
    for (const e of this.#actors.values()) stopChild(e.ref);
    this.#actors.clear();
    await Promise.all(this.#tasks);
    await this.pool.drain();
    this.#persister.close();
    await this.#persister.flush();
  }

  /**
   * A snapshot or status the store refused: logged every time, and recorded as a Warning event
   * on the actor's object at the 1st, 10th, 100th... failure in a row (it is being retried).
   */
  #persistFailed(id: string, error: unknown, failures: number): void {
    const message = (error as Error)?.message ?? String(error);
    log.at(retryLevel(error), `persisting ${id} failed (${failures} in a row, retrying)`, {
      error,
    });
    if (!Number.isInteger(Math.log10(failures))) return;
    const entry = this.#actors.get(id);
    const kind = entry && this.#kinds.get(entry.kind);
    void recordEvent(this.deps.store, this.deps.clock, {
      involvedObject: {
        kind: kind?.objectKind ?? "Actor",
        name: entry?.name ?? id,
        ...(entry?.namespace ? { namespace: entry.namespace } : {}),
      },
      status: "persist-failed",
      source: "supervisor",
      message:
        `could not store the state of ${id} (${failures} failures in a row, retrying): ${message}`,
      type: "Warning",
    }).catch(() => {}); // the store that failed may fail this too; the log has it
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

  /** Resolves when every snapshot scheduled so far is written. */
  flush(): Promise<void> {
    return this.#persister.flush();
  }

  /** Starts (or restores) the actor of an object of a managed kind. */
  spawnFor(obj: MilpaObject, snapshot?: Snapshot<unknown>): void {
    const kind = [...this.#kinds.values()].find((k) => k.objectKind === obj.kind);
    if (!kind) return;
    const id = kind.idOf(obj.metadata.namespace, obj.metadata.name);
    if (obj.kind === "Service") this.#services.set(obj as Service);
    this.#start(id, kind.name, kind.machine, kind.inputOf(obj), snapshot, obj);
    if (obj.kind === "Pod" && (obj as Pod).spec.phase === "Terminated") {
      this.send(id, { type: "DELETE" });
    }
    // A restored reconciler looks again at once: what changed while the controller was down
    // (its spec, its pods) sent it no event, and its last pass may not have been stored.
    if (snapshot && RECONCILERS.includes(kind.name)) this.send(id, { type: "CHANGED" });
  }

  /**
   * Deletes what lost its owner (in the background). A full pass (the default: an owner was
   * deleted) also reads every pod, and revokes the tokens of pods that are gone.
   */
  collectGarbage(full = true): void {
    if (this.#stopping) return;
    const { store, clock, cloud } = this.deps;
    this.#track(
      collectGarbage(store, clock, cloud, { pods: full }).catch((e) =>
        log.at(retryLevel(e), "garbage collection failed; the next pass retries", { error: e })
      ),
    );
    if (!full) return;
    this.#lastFullCollection = clock.now();
    this.#track(
      (this.deps.sweepPodTokens?.() ?? Promise.resolve(0)).catch((e) =>
        log.at(retryLevel(e), "revoking the tokens of ended pods failed", { error: e })
      ),
    );
  }

  #spawnNode(input: NodeInput, snapshot?: Snapshot<unknown>): void {
    const kind = this.#kinds.get("node")!;
    this.#start(
      kind.idOf(undefined, input.name),
      "node",
      kind.machine,
      input,
      snapshot,
      undefined,
      input.name,
    );
  }

  #start(
    id: string,
    kind: Kind,
    // deno-lint-ignore no-explicit-any
    logic: any,
    input: unknown,
    snapshot: Snapshot<unknown> | undefined,
    obj?: MilpaObject,
    nodeName?: string,
  ): void {
    if (this.#stopping) return;
    const prev = this.#actors.get(id);
    if (prev) stopChild(prev.ref);
    // A child of the root: one actor system for all.
    const recorder = this.deps.recorder;
    const ref = createActor(recorder?.recordable(logic) ?? logic, {
      input,
      snapshot,
      id,
      parent: this.#root,
    }) as AnyActorRef;
    const entry: Entry = {
      kind,
      ref,
      namespace: obj?.metadata.namespace,
      name: obj?.metadata.name ?? nodeName,
      uid: obj?.metadata.uid,
      generation: obj?.metadata.generation,
      restarts: prev?.restarts ?? 0,
    };
    this.#actors.set(id, entry);
    let last: Snapshot<unknown> | undefined;
    // Its first snapshot is not written when the store has it already (restored from it: after
    // a restart, 20,000 rewrites for nothing) or a new actor of the object would start the same
    // (a new pod: `firstStateFromObject`).
    const managed = kind === "pool" ? undefined : this.#kinds.get(kind);
    let restored = snapshot === undefined
      ? managed?.firstStateFromObject === true
      : snapshot.status === "active";
    // Watchdog ticks while in a watched state, from this one observer (not one more per actor).
    const ticked = kind !== "pool";
    const volatile = managed?.volatile;
    ref.subscribe({
      next: (snap) => {
        // An event that changed nothing hands observers the same snapshot: nothing to store.
        // A stopped actor's last snapshot is not stored (see #persistable).
        if (snap === last) return;
        if (ticked) this.#ticker.observe(ref, snap);
        if (snap.status === "stopped") return;
        const prev = last;
        last = snap;
        // Restored: already stored. Only a liveness time moved: stored as it was (a heartbeat).
        const unchanged = restored ||
          (volatile !== undefined && onlyVolatileChanged(prev, snap, volatile));
        restored = false;
        if (kind !== "pool" && !unchanged) {
          this.#persister.schedule(id, () => this.#persistable(entry, snap));
        }
        if (snap.status === "done") this.#track(this.#done(id, entry));
      },
      error: (err) => {
        this.#ticker.forget(ref);
        this.#track(this.#restart(id, entry, err));
      },
      complete: () => this.#ticker.forget(ref),
    });
    recorder?.follow(id, ref, () => this.#actors.get(id)?.ref === ref);
    ref.start();
    // Restored in its final state (the controller died while removing it).
    if (ref.getSnapshot().status === "done") this.#track(this.#done(id, entry));
    // Restored waiting for work its state started (a launch, a dispatch): started again, as
    // XState restarts an invoked child.
    else if (snapshot !== undefined) resumeRestored(ref);
  }

  #persistable(entry: Entry, snap: Snapshot<unknown>) {
    // The snapshot as observed, not the actor's now: writes are taken a moment later, and an
    // actor stopped meanwhile (the controller stopping) has a "stopped" snapshot without its
    // invoked work, which restored would never move again. What it was before is what a
    // restart must find.
    const kind = this.#kinds.get(entry.kind)!;
    let snapshot = (kind.machine as { getPersistedSnapshot(s: unknown): unknown })
      .getPersistedSnapshot(snap) as Snapshot<unknown> & { context?: object };
    if (kind.volatile && snapshot.context) {
      const context: Record<string, unknown> = { ...snapshot.context };
      for (const field of kind.volatile) delete context[field];
      snapshot = { ...snapshot, context };
    }
    return {
      snapshot,
      owned: {
        kind: kind.objectKind,
        namespace: entry.namespace,
        name: entry.name!,
        status: kind.statusOf(snap),
      },
    };
  }

  /** An actor reached its final state: a node is removed, a reconciler's object is gone. */
  async #done(id: string, entry: Entry): Promise<void> {
    if (entry.kind === "node") return await this.#nodeDone(id, entry);
    await this.#persister.persisted(id);
    if (this.#actors.get(id) === entry) this.#actors.delete(id);
    this.#persister.forget(id);
    await this.deps.actorStore.remove(id);
  }

  /**
   * A node actor ended (its instance is terminated): its object goes, then its snapshot. Its
   * final state is not stored first (two writes that the deletes undo at once): the store has
   * the Terminating state already (the machine waits for it before it terminates the instance),
   * and a controller that dies before the deletes restores the actor there, terminates again
   * (terminating is idempotent) and ends it again. The object goes first: a snapshot left
   * without its object is removed on restore, whereas an object left without a snapshot would
   * get a new actor, which would launch a new instance.
   */
  async #nodeDone(id: string, entry: Entry): Promise<void> {
    await this.#persister.cancel(id);
    if (this.#actors.get(id) === entry) this.#actors.delete(id);
    this.#persister.forget(id);
    try {
      await this.deps.store.delete("nodes", undefined, entry.name!);
    } catch (e) {
      if (!(e instanceof NotFoundError)) {
        // The snapshot stays: the next start resumes the node and removes it then.
        log.at(retryLevel(e), `removing node ${entry.name} failed; a restart finishes it`, {
          error: e,
        });
        return;
      }
    }
    await this.deps.actorStore.remove(id);
  }

  async #restart(id: string, entry: Entry, err: unknown): Promise<void> {
    if (this.#stopping || this.#actors.get(id) !== entry) return;
    entry.restarts++;
    const delay = Math.min(1000 * 2 ** (entry.restarts - 1), 60_000);
    log.error(`actor ${id} failed (restart ${entry.restarts} in ${delay / 1000}s)`, { error: err });
    const kind = this.#kinds.get(entry.kind);
    void recordEvent(this.deps.store, this.deps.clock, {
      involvedObject: {
        kind: kind?.objectKind ?? entry.kind,
        name: entry.name ?? id,
        ...(entry.namespace ? { namespace: entry.namespace } : {}),
      },
      status: "actor-restarted",
      source: "supervisor",
      message: `actor failed: ${
        (err as Error)?.message ?? err
      }; restarting from its last snapshot in ${delay / 1000}s`,
      type: "Warning",
    });
    await sleep(this.deps.clock, delay, this.#stopped.signal);
    if (this.#stopping || this.#actors.get(id) !== entry || !kind) return;
    await this.#persister.flush();
    const snapshot = await this.deps.actorStore.load(id) as Snapshot<unknown> | undefined;
    const obj = await this.deps.store.get(kind.objectKind, entry.namespace, entry.name!);
    if (obj) this.spawnFor(obj, snapshot);
  }

  /** What the routing functions may do to this supervisor. */
  #routes(): RouteTarget {
    return {
      send: coalesceChanged((id, ev) => this.send(id, ev)),
      entry: (id) => this.#actors.get(id),
      spawn: (obj) => this.spawnFor(obj),
      services: this.#services,
      collectGarbage: () => this.collectGarbage(),
      forget: (id) => {
        const entry = this.#actors.get(id);
        if (entry) stopChild(entry.ref);
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
