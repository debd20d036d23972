/**
 * The node pool: the one place that binds pods to nodes. It boots a right-sized node
 * per waiting pod, keeps `nodes.standbyNodes` warm, hands Available nodes to the pods
 * they were booted for and terminates nodes nobody needs.
 *
 * Bindings live in node objects (`status.boundPodName`), written before a node boots,
 * so the pool rebuilds its view from the store after a restart. Events are processed
 * one at a time in arrival order.
 *
 * Bounds: at most `maxNodes` nodes live at once (waiting pods say so and get nodes as others
 * go); a node that fails to boot for a reason other than capacity is reported to its pod,
 * which asks again after a growing delay (see the pod machine), and failed standby boots back
 * off the same way. Level-based: every pass releases nodes bound to pods that are gone, ended
 * or elsewhere (seen so in two passes in a row), whatever message was lost in a crash.
 */
import { assign, fromCallback, fromPromise, setup } from "xstate";
import type { Clock } from "../model/clock.ts";
import { isoTime } from "../model/clock.ts";
import type { StandbyNodes } from "../model/config.ts";
import { API_VERSION, parseObjectKey } from "../model/meta.ts";
import { newNodeStatus, type Node, type NodePhase } from "../model/node.ts";
import type { NetworkAddress, Pod, PodSpec } from "../model/pod.ts";
import { INSTANCE_TYPE_ANNOTATION } from "../model/pod.ts";
import { isTerminalPodPhase } from "../model/pod.ts";
import { volumeGiB } from "../model/quantity.ts";
import type { EventInput } from "../store/events.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { nodeId, podId } from "./ids.ts";
import type { NodeInput } from "./node_machine.ts";
import { launchRetryDelayMs } from "./pod_machine.ts";
import { log, retryLevel } from "../model/log.ts";
import { nextTurn } from "../model/turn.ts";
import { uuidv7 } from "../model/uuid.ts";

/** Every pod and node object, as read at one moment (a restart reads them once for all). */
export interface PodsAndNodes {
  pods: Pod[];
  nodes: Node[];
}

/** How long a (type, spot) stays unavailable after a capacity error. */
export const UNAVAILABLE_MS = 10 * 60 * 1000;

/** Nodes a reconcile pass looks at before it lets other work run (HTTP requests, actors). */
const NODES_PER_TURN = 500;

/**
 * A function to await once per node of a pass: every NODES_PER_TURN calls it yields to the event
 * loop. At 10,000 nodes a pass held the loop ~45 ms every 7 s, the p99 of every request then.
 */
function breather(): () => Promise<void> {
  let calls = 0;
  return () => ++calls % NODES_PER_TURN === 0 ? nextTurn() : Promise.resolve();
}

/** Most nodes the pool boots in one reconcile pass. */
export const MAX_BOOTS_PER_PASS = 10;

/** Events the pool understands. */
export type PoolEvent =
  | { type: "POD_WAITING"; pod: string }
  | { type: "POD_RELEASED"; pod: string; node?: string }
  | {
    type: "NODE_AVAILABLE";
    node: string;
    pod?: string;
    instanceId?: string;
    addresses?: NetworkAddress[];
  }
  | {
    type: "NODE_GONE";
    node: string;
    pod?: string;
    reason?: string;
    capacityError?: boolean;
    /** Set when the node failed to boot (not for capacity): why. */
    launchError?: string;
  }
  | { type: "RECONCILE" };

interface NodeView {
  name: string;
  phase: NodePhase;
  instanceType: string;
  spot: boolean;
  privateIPOnly: boolean;
  boundPod?: string;
  instanceId?: string;
  addresses: NetworkAddress[];
}

function spareKey(n: { instanceType: string; spot: boolean; privateIPOnly: boolean }): string {
  return `${n.instanceType}/${n.spot}/${n.privateIPOnly}`;
}

/**
 * The pool's nodes, indexed by the pod each is bound to and, for unbound ones, by what they
 * fit: every lookup an event makes costs the same however many nodes there are. A node's
 * pod changes only through bind().
 */
export class NodeViews {
  readonly #all = new Map<string, NodeView>();
  readonly #byPod = new Map<string, NodeView>();
  readonly #spares = new Map<string, Set<NodeView>>();

  get size(): number {
    return this.#all.size;
  }

  get(name: string): NodeView | undefined {
    return this.#all.get(name);
  }

  has(name: string): boolean {
    return this.#all.has(name);
  }

  values(): IterableIterator<NodeView> {
    return this.#all.values();
  }

  keys(): IterableIterator<string> {
    return this.#all.keys();
  }

  clear(): void {
    this.#all.clear();
    this.#byPod.clear();
    this.#spares.clear();
  }

  add(n: NodeView): void {
    this.delete(n.name);
    this.#all.set(n.name, n);
    this.#index(n);
  }

  delete(name: string): boolean {
    const n = this.#all.get(name);
    if (!n) return false;
    this.#unindex(n);
    this.#all.delete(name);
    return true;
  }

  /** Binds a node to a pod, or unbinds it. */
  bind(n: NodeView, pod: string | undefined): void {
    const ours = this.#all.get(n.name) === n;
    if (ours) this.#unindex(n);
    n.boundPod = pod;
    if (ours) this.#index(n);
  }

  /** The node bound to a pod. */
  ofPod(pod: string): NodeView | undefined {
    return this.#byPod.get(pod);
  }

  /** Unbound nodes that fit these requirements. */
  spares(want: { instanceType: string; spot: boolean; privateIPOnly: boolean }): Set<NodeView> {
    return this.#spares.get(spareKey(want)) ?? new Set();
  }

  /** Whether any node is unbound. */
  hasSpare(): boolean {
    return this.#spares.size > 0;
  }

  #index(n: NodeView): void {
    if (n.boundPod) {
      this.#byPod.set(n.boundPod, n);
      return;
    }
    const key = spareKey(n);
    let set = this.#spares.get(key);
    if (!set) this.#spares.set(key, set = new Set());
    set.add(n);
  }

  #unindex(n: NodeView): void {
    if (n.boundPod) {
      if (this.#byPod.get(n.boundPod) === n) this.#byPod.delete(n.boundPod);
      return;
    }
    const key = spareKey(n);
    const set = this.#spares.get(key);
    set?.delete(n);
    if (set?.size === 0) this.#spares.delete(key);
  }
}

/** What the pool needs from the rest of the controller. */
export interface PoolDeps {
  store: ObjectStore;
  clock: Clock;
  send: (to: string, event: { type: string; [k: string]: unknown }) => void;
  /** Starts the actor of a node whose object was just stored. */
  spawnNode: (input: NodeInput) => void;
  event: (e: EventInput) => void;
  standbyNodes: StandbyNodes[];
  defaultVolumeSize: string;
  /** The cheapest type that fits `spec` apart from `exclude`, or undefined when none does. */
  reselect?: (spec: PodSpec, exclude: Set<string>) => string | undefined;
  /** Most nodes alive at once. @default Infinity */
  maxNodes?: number;
  /**
   * What the pod `namespace/name` is doing now, from its live actor: the node it holds and
   * whether it ended; undefined when it has no actor (gone, or finished before a restart).
   */
  podState: (pod: string) => PodState | undefined;
  /** Node `name` as its live actor has it; undefined when it has none (gone). */
  nodeState: (name: string) => NodeState | undefined;
}

/** A node as its actor has it. */
export interface NodeState {
  phase: NodePhase;
  instanceId?: string;
  addresses: NetworkAddress[];
}

/** A pod as the pool needs to see it: the node it holds, if any, and whether it ended. */
export interface PodState {
  node?: string;
  ended: boolean;
}

const LIVE: NodePhase[] = ["Creating", "Created", "Available"];
const LEAVING: NodePhase[] = ["Cleaning", "Terminating"];

/** The pool's decision logic; the pool machine feeds it events one at a time. */
export class NodePool {
  readonly nodes = new NodeViews();
  readonly waiting = new Set<string>();
  readonly #unavailable = new Map<string, number>();
  /** Nodes the pool let go (released or terminating) that still exist: they count toward maxNodes. */
  readonly #leaving = new Set<string>();
  /** Waiting pods told they wait for maxNodes. */
  readonly #limited = new Set<string>();
  /** Nodes found bound to a pod that is gone, ended or elsewhere in the last pass. */
  #suspects = new Set<string>();
  /** Failed standby boots in a row, and when standby nodes may be booted again. */
  #standbyFailures = 0;
  #standbyRetryAt = 0;
  #queue: Promise<void> = Promise.resolve();
  /** Nodes whose objects are being stored: their actors start when that is done. */
  readonly #storing = new Map<string, Promise<void>>();
  /** Store writes in flight. */
  readonly #writes = new Set<Promise<unknown>>();
  /** Whether the last load succeeded; events are held until one did. */
  #loaded = true;
  readonly #held: PoolEvent[] = [];
  /** Node and pod objects the next load takes instead of listing them (see useObjects). */
  #given: PodsAndNodes | undefined;

  constructor(private readonly deps: PoolDeps) {}

  /** Nodes alive now: the pool's own and those on their way out. */
  get liveNodes(): number {
    return this.nodes.size + this.#leaving.size;
  }

  #atLimit(): boolean {
    return this.liveNodes >= (this.deps.maxNodes ?? Infinity);
  }

  /**
   * Has the next load() build the view from these objects rather than list them: at a restart
   * the supervisor has just decoded every pod and node to restore their actors, and decoding
   * 10,000 of each again took the restore's thread ~0.1 s. They must be no older than every
   * event the pool is sent after this call (events wait for the load, then apply on top).
   */
  useObjects(objects: PodsAndNodes): void {
    this.#given = objects;
  }

  /** Rebuilds the view from node and pod objects, before any queued event is handled. */
  load(): Promise<void> {
    this.#loaded = false;
    const p = this.#queue.then(() => this.#load());
    this.#queue = p.then(() => {
      this.#loaded = true;
      // Pods found waiting asked for a node before the restart, and their actors, restored
      // where they were, do not ask again: what the pool had not stored of their boots died
      // with it. All get one now, as they would have (not MAX_BOOTS_PER_PASS a pass: 250 pods
      // caught mid scale-up took ~3 minutes of passes).
      this.#run("placing waiting pods", () => {
        for (const n of [...this.nodes.values()]) if (n.phase === "Available") this.#claimHeld(n);
        return this.#placeWaiting(Infinity);
      });
      // Events that arrived before the view was whole run now, in order.
      for (const e of this.#held.splice(0)) this.enqueue(e);
    }, (e) => log.at(retryLevel(e), "node pool: load failed; retried", { error: e }));
    return p;
  }

  async #load(): Promise<void> {
    const given = this.#given;
    this.#given = undefined;
    const nodes = given?.nodes ?? await this.deps.store.list<Node>("nodes");
    this.nodes.clear();
    this.#leaving.clear();
    for (const n of nodes) {
      const phase = n.status?.phase ?? "Creating";
      if (phase === "Terminated") continue;
      if (LEAVING.includes(phase)) {
        this.#leaving.add(n.metadata.name);
        continue;
      }
      this.nodes.add({
        name: n.metadata.name,
        phase,
        instanceType: n.spec.instanceType,
        spot: n.spec.spot ?? false,
        privateIPOnly: n.spec.resources?.privateIPOnly ?? false,
        boundPod: n.status?.boundPodName,
        instanceId: n.status?.instanceID,
        addresses: n.status?.addresses ?? [],
      });
    }
    for (const p of given?.pods ?? await this.deps.store.list<Pod>("pods")) {
      // A pod backing off after a failed launch asks again itself when its delay is over.
      if (
        p.status?.phase === "Waiting" && p.spec.phase !== "Terminated" &&
        p.status.reason !== "LaunchBackOff"
      ) {
        this.waiting.add(`${p.metadata.namespace}/${p.metadata.name}`);
      }
    }
  }

  /** Queues an event; events are handled one at a time, in order. */
  enqueue(event: PoolEvent): Promise<void> {
    // Until a load succeeded the view is not whole: events wait for it (a failed load is retried).
    if (!this.#loaded) {
      const repeat = event.type === "RECONCILE" && this.#held.some((e) => e.type === "RECONCILE");
      if (!repeat) this.#held.push(event);
      return this.#queue;
    }
    return this.#run(event.type, () => this.handle(event));
  }

  /** Queues work after everything queued; a failure is logged (what it was doing: `what`). */
  #run(what: string, work: () => Promise<unknown>): Promise<void> {
    this.#queue = this.#queue.then(work).then(
      () => {},
      (e) => log.at(retryLevel(e), `node pool: ${what} failed`, { error: e }),
    );
    return this.#queue;
  }

  /** Resolves when every queued event was handled. */
  async drain(): Promise<void> {
    let q;
    do {
      q = this.#queue;
      await q;
      await Promise.allSettled(this.#writes);
    } while (q !== this.#queue || this.#writes.size > 0);
  }

  /** Handles one event. */
  async handle(event: PoolEvent): Promise<void> {
    switch (event.type) {
      case "POD_WAITING":
        return await this.#podWaiting(event.pod);
      case "POD_RELEASED":
        return await this.#podReleased(event.pod, event.node);
      case "NODE_AVAILABLE":
        return await this.#nodeAvailable(event);
      case "NODE_GONE":
        return await this.#nodeGone(event);
      case "RECONCILE":
        return await this.reconcile();
    }
  }

  async #podWaiting(pod: string): Promise<void> {
    this.waiting.add(pod);
    let n = this.#nodeOf(pod);
    if (n?.phase === "Claimed") {
      if (await this.#stillClaims(n, pod)) return;
      n = undefined; // released: the pod needs a new one
    }
    if (n) {
      if (n.phase === "Available") this.#claim(n, pod);
      return;
    }
    const want = await this.#requirements(pod);
    if (!want) return;
    const spare = this.#findSpare(want);
    if (spare) this.#bind(spare, pod);
    else this.#boot(want, pod);
  }

  /**
   * Claims an unclaimed node whose pod holds it already: the claim was lost in a crash (the
   * pod's move to Dispatching was stored, the node's to Claimed was not). It is the pod's and
   * may run its units: never to be given to another pod, or ended as not needed. True if so.
   */
  #claimHeld(n: NodeView): boolean {
    if (n.phase === "Claimed" || !n.boundPod) return false;
    if (this.deps.podState(n.boundPod)?.node !== n.name) return false;
    n.phase = "Claimed";
    this.#sendNode(n.name, { type: "CLAIM", pod: n.boundPod });
    return true;
  }

  /**
   * A pod asks for a node while one is claimed for it: a crash lost the pod's state after the
   * claim was stored (its actor starts afresh, Waiting). The node is its own and may run its
   * units already: it is bound to the pod again (the agent is handed the same pod, which
   * changes nothing it runs). A pod created after the claim is another of the same name: the
   * used node is released (cleaned and terminated), and false says the pod needs a new one.
   */
  async #stillClaims(n: NodeView, pod: string): Promise<boolean> {
    const { namespace, name } = parseObjectKey(pod);
    const [p, node] = await Promise.all([
      this.deps.store.get<Pod>("pods", namespace, name),
      this.deps.store.get<Node>("nodes", undefined, n.name),
    ]);
    const claimedAt = Date.parse(node?.status?.lastPhaseChange ?? "");
    const created = Date.parse(p?.metadata.creationTimestamp ?? "");
    if (node?.status?.phase === "Claimed" && created <= claimedAt) {
      this.#tellBound(n, pod);
      return true;
    }
    await this.#release(n);
    return false;
  }

  async #podReleased(pod: string, node?: string): Promise<void> {
    this.waiting.delete(pod);
    this.#limited.delete(pod);
    const n = node ? this.nodes.get(node) : this.#nodeOf(pod);
    if (!n || n.boundPod !== pod) return;
    await this.#release(n);
  }

  /** Takes a node from its pod: a used one is cleaned and terminated, an unused one reused. */
  async #release(n: NodeView): Promise<void> {
    if (n.phase === "Claimed") {
      // Single-use: a node that ran a pod is cleaned and terminated.
      this.nodes.delete(n.name);
      this.#leaving.add(n.name);
      this.#sendNode(n.name, { type: "RELEASE", used: true });
      return;
    }
    // Booted for this pod but never used: reuse it for another pod or a standby slot.
    this.nodes.bind(n, undefined);
    this.#sendNode(n.name, { type: "BIND", pod: undefined });
    await this.#placeSpare(n);
  }

  async #nodeAvailable(e: Extract<PoolEvent, { type: "NODE_AVAILABLE" }>): Promise<void> {
    const n = this.nodes.get(e.node);
    // Not ours any more, or handled already (a pass caught up with it first): a claimed node
    // is its pod's until it goes, never bound again.
    if (!n || n.phase === "Claimed") return;
    if (!n.boundPod) this.#standbyFailures = 0;
    n.phase = "Available";
    n.instanceId = e.instanceId ?? n.instanceId;
    n.addresses = e.addresses ?? n.addresses;
    if (n.boundPod && this.waiting.has(n.boundPod)) return this.#claim(n, n.boundPod);
    if (this.#claimHeld(n)) return;
    if (n.boundPod) {
      this.nodes.bind(n, undefined);
      this.#sendNode(n.name, { type: "BIND", pod: undefined });
    }
    await this.#placeSpare(n);
  }

  async #nodeGone(e: Extract<PoolEvent, { type: "NODE_GONE" }>): Promise<void> {
    this.#leaving.delete(e.node);
    const n = this.nodes.get(e.node);
    if (!n) {
      // Released or terminated by the pool itself: nothing depends on it, and there is room.
      await this.#placeWaiting();
      return;
    }
    this.nodes.delete(e.node);
    if (e.capacityError) this.#markUnavailable(n.instanceType, n.spot);
    const pod = n.boundPod;
    if (!pod) {
      if (e.launchError) this.#standbyFailed();
      await this.#placeWaiting();
      return;
    }
    if (n.phase === "Claimed") {
      this.deps.send(podId(...splitKey(pod)), {
        type: "NODE_LOST",
        reason: `node ${e.node} went away${e.reason ? `: ${e.reason}` : ""}`,
      });
    } else if (this.waiting.has(pod) && e.launchError) {
      // The pod asks again after its backoff, or gives up.
      this.waiting.delete(pod);
      this.#limited.delete(pod);
      this.deps.send(podId(...splitKey(pod)), { type: "LAUNCH_FAILED", message: e.launchError });
    } else if (this.waiting.has(pod)) {
      const want = await this.#requirements(pod);
      if (want) this.#boot(want, pod);
    }
    await this.#placeWaiting();
  }

  /** A standby node failed to boot: no standby boots for a growing delay. */
  #standbyFailed(): void {
    this.#standbyFailures++;
    this.#standbyRetryAt = this.deps.clock.now() + launchRetryDelayMs(this.#standbyFailures);
    this.deps.event({
      involvedObject: { kind: "Node", name: "standby" },
      status: "standby-launch-failed",
      source: "node-pool",
      message: `a standby node failed to boot; no standby boots for ${
        launchRetryDelayMs(this.#standbyFailures) / 1000
      }s`,
      type: "Warning",
    });
  }

  /** Boots nodes for waiting pods that have none, while there is room (at most `limit`). */
  async #placeWaiting(limit = MAX_BOOTS_PER_PASS): Promise<number> {
    let boots = 0;
    const spares = () => this.nodes.hasSpare();
    for (const pod of [...this.waiting]) {
      if (boots >= limit) break;
      const n = this.#nodeOf(pod);
      if (n) {
        if (n.phase === "Available") this.#claim(n, pod);
        continue;
      }
      // At the limit a pod already told so has nothing to gain from a look (a read each).
      if (this.#limited.has(pod) && this.#atLimit() && !spares()) continue;
      const want = await this.#requirements(pod);
      if (!want) continue;
      const spare = this.#findSpare(want);
      if (spare) this.#bind(spare, pod);
      else if (this.#boot(want, pod)) boots++;
    }
    return boots;
  }

  /**
   * Periodic pass: nodes bound to pods that are gone, ended or elsewhere are released; nodes
   * for pods that lack one; standby pools; surplus nodes.
   */
  async reconcile(): Promise<void> {
    await this.#catchUp();
    await this.#releaseOrphans();
    let boots = await this.#placeWaiting();
    const spare = [...this.nodes.values()].filter((n) => !n.boundPod && LIVE.includes(n.phase));
    const keep = new Set<string>();
    for (const s of this.deps.standbyNodes) {
      const matching = spare.filter((n) =>
        !keep.has(n.name) && n.instanceType === s.instanceType && n.spot === (s.spot ?? false)
      ).slice(0, s.count);
      for (const n of matching) keep.add(n.name);
      if (this.deps.clock.now() < this.#standbyRetryAt) continue;
      for (let i = matching.length; i < s.count && boots < MAX_BOOTS_PER_PASS; i++) {
        const want = { instanceType: s.instanceType, spot: s.spot ?? false, privateIPOnly: false };
        if (this.#boot({ ...want, volumeSizeGiB: volumeGiB(this.deps.defaultVolumeSize) })) {
          boots++;
        }
      }
    }
    for (const n of spare) {
      if (!keep.has(n.name) && n.phase === "Available") this.#terminate(n, "not needed");
    }
  }

  /**
   * Brings the view in line with the nodes' live actors, for messages a crash lost: a node that
   * came up (an Available actor the view has as booting) is handled as NODE_AVAILABLE, one whose
   * actor is gone as NODE_GONE.
   */
  async #catchUp(): Promise<void> {
    // Nodes on their way out whose actor is gone no longer count toward maxNodes.
    for (const name of this.#leaving) {
      if (!this.#storing.has(name) && this.deps.nodeState(name) === undefined) {
        this.#leaving.delete(name);
      }
    }
    const breathe = breather();
    for (const n of [...this.nodes.values()]) {
      await breathe();
      // A node whose object is still being stored has no actor yet: it is not gone.
      if (this.#storing.has(n.name)) continue;
      const node = this.deps.nodeState(n.name);
      // (A Terminated actor sent NODE_GONE as it got there, with why: that is on its way.)
      if (node === undefined) {
        await this.#nodeGone({ type: "NODE_GONE", node: n.name, pod: n.boundPod });
      } else if (node.phase === "Available" && (n.phase === "Creating" || n.phase === "Created")) {
        await this.#nodeAvailable({
          type: "NODE_AVAILABLE",
          node: n.name,
          instanceId: node.instanceId,
          addresses: node.addresses,
        });
      }
    }
  }

  /**
   * Releases every node bound to a pod that no longer exists, has ended, or (for a claimed
   * node) holds no node or another one, once two passes in a row saw it so (a bind may be on
   * its way to the pod). Messages lost in a crash (a release, a delete seen while down) end
   * here. The pods' live actors say, not the store, whose statuses lag behind.
   */
  async #releaseOrphans(): Promise<void> {
    const suspects = new Set<string>();
    const breathe = breather();
    for (const n of [...this.nodes.values()]) {
      await breathe();
      if (!n.boundPod) continue;
      const pod = this.deps.podState(n.boundPod);
      // Bound to a pod that ended, is gone, holds another node, or (claimed) holds none.
      const elsewhere = pod?.node !== undefined && pod.node !== n.name;
      if (!pod || pod.ended || elsewhere || (n.phase === "Claimed" && pod.node !== n.name)) {
        suspects.add(n.name);
      }
    }
    const previous = this.#suspects;
    this.#suspects = suspects;
    for (const name of suspects) {
      const n = this.nodes.get(name);
      if (!previous.has(name) || !n?.boundPod) continue;
      this.#suspects.delete(name);
      // A live pod that waits without a node keeps waiting: it gets another.
      const pod = this.deps.podState(n.boundPod);
      if (!pod || pod.ended || pod.node !== undefined) this.waiting.delete(n.boundPod);
      this.deps.event({
        involvedObject: { kind: "Node", name },
        status: "node-released",
        source: "node-pool",
        message: `Released: its pod ${n.boundPod} is gone, ended or on another node`,
        type: "Warning",
      });
      await this.#release(n);
    }
  }

  /** Gives an unbound node to a pod: claimed now if it is up, else when it comes up. */
  #bind(n: NodeView, pod: string): void {
    this.nodes.bind(n, pod);
    this.#sendNode(n.name, { type: "BIND", pod });
    if (n.phase === "Available") this.#claim(n, pod);
  }

  #claim(n: NodeView, pod: string): void {
    n.phase = "Claimed";
    this.nodes.bind(n, pod);
    this.#sendNode(n.name, { type: "CLAIM", pod });
    this.#tellBound(n, pod);
  }

  /** Tells a pod the node claimed for it. */
  #tellBound(n: NodeView, pod: string): void {
    this.waiting.delete(pod);
    this.#limited.delete(pod);
    this.deps.send(podId(...splitKey(pod)), {
      type: "NODE_BOUND",
      node: { name: n.name, instanceId: n.instanceId, addresses: n.addresses },
    });
  }

  /** Gives an unbound node to a waiting pod that fits it, keeps it on standby, or ends it. */
  async #placeSpare(n: NodeView): Promise<void> {
    for (const pod of this.waiting) {
      if (this.#nodeOf(pod)) continue;
      const want = await this.#requirements(pod);
      if (want && matches(n, want)) return this.#bind(n, pod);
    }
    if (n.phase !== "Available") return; // a booting spare is placed when it comes up
    const standby = this.deps.standbyNodes.find((s) =>
      s.instanceType === n.instanceType && (s.spot ?? false) === n.spot
    );
    const have = [false, true].flatMap((privateIPOnly) => [
      ...this.nodes.spares({ instanceType: n.instanceType, spot: n.spot, privateIPOnly }),
    ]).filter((o) => o.phase === "Available");
    if (!standby || have.indexOf(n) >= standby.count) this.#terminate(n, "not needed");
  }

  #terminate(n: NodeView, reason: string): void {
    this.nodes.delete(n.name);
    this.#leaving.add(n.name);
    this.#sendNode(n.name, { type: "TERMINATE", reason });
  }

  /**
   * Sends to a node's actor; for a node whose object is still being stored (its actor starts
   * after that), once the actor is there.
   */
  #sendNode(name: string, event: { type: string; [k: string]: unknown }): void {
    const storing = this.#storing.get(name);
    if (storing) void storing.then(() => this.deps.send(nodeId(name), event), () => {});
    else this.deps.send(nodeId(name), event);
  }

  #nodeOf(pod: string): NodeView | undefined {
    const n = this.nodes.ofPod(pod);
    return n && (LIVE.includes(n.phase) || n.phase === "Claimed") ? n : undefined;
  }

  #findSpare(want: Requirements): NodeView | undefined {
    let first: NodeView | undefined;
    for (const n of this.nodes.spares(want)) {
      if (!LIVE.includes(n.phase)) continue;
      if (n.phase === "Available") return n;
      first ??= n;
    }
    return first;
  }

  async #requirements(pod: string): Promise<Requirements | undefined> {
    const { namespace, name } = parseObjectKey(pod);
    const p = await this.deps.store.get<Pod>("pods", namespace, name);
    if (!p || p.spec.phase === "Terminated" || isTerminalPodPhase(p.status?.phase)) {
      this.waiting.delete(pod);
      return undefined;
    }
    const spot = p.spec.spot?.policy === "Always";
    return {
      instanceType: this.#fitting(p, spot),
      spot,
      privateIPOnly: p.spec.resources?.privateIPOnly ?? false,
      volumeSizeGiB: volumeGiB(p.spec.resources?.volumeSize ?? this.deps.defaultVolumeSize),
    };
  }

  #isUnavailable(instanceType: string, spot: boolean): boolean {
    const until = this.#unavailable.get(`${instanceType}/${spot}`);
    return until !== undefined && until > this.deps.clock.now();
  }

  /**
   * The pod's instance type, or — when the selector chose it and it cannot be had now — the
   * next cheapest type that fits (a type the user named is never replaced).
   */
  #fitting(p: Pod, spot: boolean): string {
    const chosen = p.spec.instanceType!;
    const selected = p.metadata.annotations?.[INSTANCE_TYPE_ANNOTATION] === "selected";
    if (!selected || !this.deps.reselect || !this.#isUnavailable(chosen, spot)) return chosen;
    const exclude = new Set(
      [...this.#unavailable.entries()]
        .filter(([key, until]) => key.endsWith(`/${spot}`) && until > this.deps.clock.now())
        .map(([key]) => key.slice(0, key.lastIndexOf("/"))),
    );
    return this.deps.reselect(p.spec, exclude) ?? chosen;
  }

  /**
   * Stores a node object (the intent) and starts its actor. False if the type is unavailable or
   * maxNodes nodes are alive (a pod waiting for one is told why, once).
   */
  #boot(want: Requirements, pod?: string): boolean {
    if (this.#isUnavailable(want.instanceType, want.spot)) return false;
    if (this.#atLimit()) {
      if (pod && !this.#limited.has(pod)) {
        this.#limited.add(pod);
        this.deps.send(podId(...splitKey(pod)), {
          type: "WAIT_REASON",
          reason: "NodeLimit",
          message: `waiting for a node: nodes.maxNodes (${this.deps.maxNodes}) nodes are alive`,
        });
      }
      return false;
    }
    const now = this.deps.clock.now();
    // Time-ordered: a burst's nodes sit together in KV (docs/decisions/0005).
    const name = uuidv7(now);
    const node: Node = {
      kind: "Node",
      apiVersion: API_VERSION,
      metadata: { name, labels: {} },
      spec: {
        instanceType: want.instanceType,
        spot: want.spot,
        resources: { privateIPOnly: want.privateIPOnly, volumeSize: `${want.volumeSizeGiB}Gi` },
      },
      status: newNodeStatus(isoTime(now), pod),
    };
    // The pool goes on while the node's object is stored: its actor starts once it is (the
    // object is the intent a restart finds), and what the pool sends it meanwhile waits.
    const view: NodeView = { name, phase: "Creating", ...want, boundPod: pod, addresses: [] };
    this.nodes.add(view);
    const storing = this.deps.store.commit([{ op: "create", object: node, unique: true }]).then(
      () => this.deps.spawnNode({ name, ...want, boundPod: view.boundPod, since: now }),
      (e) => {
        log.warn(`node pool: storing node ${name} failed`, { error: e });
        this.enqueue({
          type: "NODE_GONE",
          node: name,
          pod: view.boundPod,
          launchError: `could not store the node: ${(e as Error)?.message ?? e}`,
        });
        throw e;
      },
    ).finally(() => this.#storing.delete(name));
    this.#storing.set(name, storing);
    this.#track(storing);
    return true;
  }

  /** Keeps a store write so that drain() waits for it. */
  #track(p: Promise<unknown>): void {
    this.#writes.add(p);
    p.then(() => this.#writes.delete(p), () => this.#writes.delete(p));
  }

  #markUnavailable(instanceType: string, spot: boolean): void {
    this.#unavailable.set(`${instanceType}/${spot}`, this.deps.clock.now() + UNAVAILABLE_MS);
  }
}

interface Requirements {
  instanceType: string;
  spot: boolean;
  privateIPOnly: boolean;
  volumeSizeGiB: number;
}

function matches(n: NodeView, want: Omit<Requirements, "volumeSizeGiB">): boolean {
  return n.instanceType === want.instanceType && n.spot === want.spot &&
    n.privateIPOnly === want.privateIPOnly;
}

function splitKey(key: string): [string, string] {
  const { namespace, name } = parseObjectKey(key);
  return [namespace ?? "default", name];
}

/** Delay before the pool loads again after `failures` failed loads: 1 s doubling to 1 min. */
export function loadRetryDelayMs(failures: number): number {
  return Math.min(1_000 * 2 ** Math.max(0, failures - 1), 60_000);
}

/** What the pool machine needs besides the pool. */
export interface PoolMachineDeps {
  clock: Clock;
  event: (e: EventInput) => void;
}

/**
 * The pool actor: Loading (rebuilding its view from the store) → Ready. A failed load is
 * retried (Failed → Loading) after a growing delay, with a Warning event each time; events
 * that arrive meanwhile are dropped, since the next load rebuilds the view from the store.
 */
export function createPoolMachine(pool: NodePool, deps: PoolMachineDeps) {
  return setup({
    types: {} as {
      events: PoolEvent | { type: "RETRY" };
      context: { failures: number; lastError?: string };
    },
    actors: {
      load: fromPromise(() => pool.load()),
      backoff: fromCallback<{ type: "RETRY" }, { failures: number }>(({ sendBack, input }) => {
        const t = deps.clock.setTimeout(
          () => sendBack({ type: "RETRY" }),
          loadRetryDelayMs(input.failures),
        );
        return () => deps.clock.clearTimeout(t);
      }),
    },
    actions: {
      handle: ({ event }) => void pool.enqueue(event as PoolEvent),
      noteFailure: assign(({ context, event }) => ({
        failures: context.failures + 1,
        lastError: String(
          (event as { error?: Error }).error?.message ?? (event as { error?: unknown }).error,
        ),
      })),
      reportFailure: ({ context }) =>
        deps.event({
          involvedObject: { kind: "Node", name: "nodepool" },
          status: "nodepool-load-failed",
          source: "node-pool",
          message:
            `the node pool could not load nodes and pods: ${context.lastError}; retrying in ${
              loadRetryDelayMs(context.failures) / 1000
            }s`,
          type: "Warning",
        }),
      reset: assign({ failures: 0, lastError: undefined }),
    },
  }).createMachine({
    id: "nodepool",
    initial: "Loading",
    context: { failures: 0 },
    states: {
      Loading: {
        invoke: {
          src: "load",
          onDone: { target: "Ready", actions: "reset" },
          onError: { target: "Failed", actions: ["noteFailure", "reportFailure"] },
        },
        on: { "*": { actions: "handle" } },
      },
      Ready: {
        on: { "*": { actions: "handle" } },
      },
      Failed: {
        invoke: { src: "backoff", input: ({ context }) => ({ failures: context.failures }) },
        on: { RETRY: "Loading" },
      },
    },
  });
}
