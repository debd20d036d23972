/** Recording events and dropping expired events and finished pods. */
import type { Clock } from "../model/clock.ts";
import { isoTime } from "../model/clock.ts";
import type { Event, InvolvedObject } from "../model/event.ts";
import { EVENT_TTL_MS, lastSeen } from "../model/event.ts";
import { API_VERSION, type MilpaObject, parseObjectKey } from "../model/meta.ts";
import type { Pod } from "../model/pod.ts";
import { isTerminalPodPhase } from "../model/pod.ts";
import type { BatchOp, ObjectStore, WatchListener } from "./object_store.ts";
import { MAX_BATCH } from "./object_store.ts";
import { log } from "../model/log.ts";
import { NotFoundError } from "../model/errors.ts";

/** How long a finished pod stays visible, in milliseconds. */
export const FINISHED_POD_TTL_MS = 3 * 60 * 1000;

/** Most events `get events` returns. */
export const MAX_EVENTS = 4000;

/** What an event says. */
export interface EventInput {
  involvedObject: InvolvedObject;
  /** A topic such as `pod-running`. */
  status: string;
  /** The component: `pod-controller`, `node-controller`, ... */
  source: string;
  message: string;
  type?: "Normal" | "Warning";
}

/**
 * Similar events of one object (the same source, type and status, other messages), following
 * one another within SIMILAR_EVENTS_INTERVAL_MS: the first MAX_SIMILAR_EVENTS - 1 are recorded
 * one by one, and from this one on they count into one combined event (as Kubernetes' event
 * correlator does).
 */
export const MAX_SIMILAR_EVENTS = 10;

/** Similar events count toward combining while each follows the last within this time (ms). */
export const SIMILAR_EVENTS_INTERVAL_MS = 10 * 60 * 1000;

/** How a combined event's message starts (Kubernetes' words). */
export const COMBINED_PREFIX = "(combined from similar events): ";

/**
 * Kinds of event the correlator remembers (at least this many, at most twice); the least
 * recently recorded are forgotten first.
 */
export const CORRELATOR_ENTRIES = 4096;

/**
 * Makes repeats count into one event, as Kubernetes' event correlator does (without its rate
 * limit: nothing is dropped):
 *
 * - An event equal to one recorded before (the same object, source, type, status and message)
 *   is a repeat: that event's `count` goes up and its `lastTimestamp` moves.
 * - Similar events (another message each) following one another within
 *   SIMILAR_EVENTS_INTERVAL_MS: from the MAX_SIMILAR_EVENTS-th on, they count into one combined
 *   event whose message is the latest, after COMBINED_PREFIX. A ReplicaSet creating 10,000 pods
 *   records nine "Created pod" events and one combined event that counts the rest, not 10,000
 *   events (each a KV write, and a delete when it expires).
 *
 * It remembers the last CORRELATOR_ENTRIES kinds of event or more, in memory: after a restart,
 * repeats start a new event.
 */
export class EventCorrelator {
  /** Per kind of event (no message): the messages seen, and when the last came. */
  readonly #similar = new Recent<{ messages: Set<string>; at: number }>(CORRELATOR_ENTRIES);
  /** Per event (a kind and a message, or a kind's combined event): the event last recorded. */
  readonly #recorded = new Recent<Event>(CORRELATOR_ENTRIES);

  /**
   * The event to store for `input` at `now`: a new one (`fresh`), or one recorded before,
   * counted up.
   */
  correlate(input: EventInput, now: number): { event: Event; fresh: boolean } {
    const o = input.involvedObject;
    const type = input.type ?? "Normal";
    const kind = JSON.stringify([
      input.source,
      o.kind,
      o.namespace,
      o.name,
      o.uid,
      type,
      input.status,
    ]);
    let similar = this.#similar.get(kind);
    if (!similar || now - similar.at > SIMILAR_EVENTS_INTERVAL_MS) {
      similar = { messages: new Set(), at: now };
    }
    similar.at = now;
    // Past the limit the set stops growing: the rest are combined anyway.
    if (similar.messages.size < MAX_SIMILAR_EVENTS) similar.messages.add(input.message);
    this.#similar.set(kind, similar);
    const combined = similar.messages.size >= MAX_SIMILAR_EVENTS;
    const message = combined ? COMBINED_PREFIX + input.message : input.message;
    const key = combined ? `${kind}\0*` : `${kind}\0${input.message}`;
    const before = this.#recorded.get(key);
    const event: Event = before
      ? {
        ...before,
        message,
        count: (before.count ?? 1) + 1,
        lastTimestamp: isoTime(now),
      }
      : {
        kind: "Event",
        apiVersion: API_VERSION,
        metadata: {
          name: `${o.name}.${now.toString(16)}${crypto.randomUUID().slice(0, 8)}`,
          namespace: o.namespace ?? "default",
          creationTimestamp: isoTime(now),
        },
        involvedObject: o,
        status: input.status,
        source: input.source,
        message,
        type,
      };
    this.#recorded.set(key, event);
    return { event, fresh: !before };
  }
}

/**
 * A map that keeps about its last `cap` entries used: a full generation becomes the old one
 * and the one before is dropped; an entry used from the old generation moves to the new.
 * O(1) per use (a strict LRU Map, an entry deleted and set again per use, made each eviction
 * skip the holes at the Map's front: 10 % of an event's cost).
 */
class Recent<V> {
  #now = new Map<string, V>();
  #old = new Map<string, V>();

  constructor(private readonly cap: number) {}

  get(key: string): V | undefined {
    const v = this.#now.get(key);
    if (v !== undefined) return v;
    const old = this.#old.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: string, value: V): void {
    if (!this.#now.has(key) && this.#now.size >= this.cap) {
      this.#old = this.#now;
      this.#now = new Map();
    }
    this.#now.set(key, value);
  }
}

/**
 * Stores an event about an object (or counts it into one stored before: EventCorrelator).
 * Failures are logged, never thrown. The promise resolves once the event is written (or its
 * failure logged).
 *
 * Events are group-committed: one commit of at most MAX_BATCH events is in flight per store
 * at a time, and events recorded meanwhile wait for the next, so a burst of events costs a
 * few KV transactions instead of one each, and an event waits at most about one commit.
 * Counts of one event recorded meanwhile are written once, as the last.
 */
export function recordEvent(
  store: ObjectStore,
  clock: Clock,
  input: EventInput,
): Promise<void> {
  let writer = writers.get(store);
  if (!writer) {
    writers.set(store, writer = { queue: [], writing: false, correlator: new EventCorrelator() });
  }
  const { event, fresh } = writer.correlator.correlate(input, clock.now());
  const w = writer;
  return new Promise((resolve) => {
    w.queue.push({ event, fresh, done: resolve });
    if (!w.writing) {
      w.writing = true;
      // After a microtask: events recorded in the same turn share the first commit.
      queueMicrotask(() => void drain(store, w));
    }
  });
}

/** An event waiting to be written, and the resolver of its recordEvent() promise. */
interface PendingEvent {
  event: Event;
  /** A new event, not one counted up: it is created, not updated. */
  fresh: boolean;
  done: () => void;
}

/** A store's event queue; `writing` while a drain() is running for it. No timers. */
interface EventWriter {
  queue: PendingEvent[];
  writing: boolean;
  correlator: EventCorrelator;
  /** Resolved when the running drain() ends (flushEvents). */
  drained?: PromiseWithResolvers<void>;
}

/** Resolves once every event recorded so far in this store is written (or its failure logged). */
export function flushEvents(store: ObjectStore): Promise<void> {
  const writer = writers.get(store);
  if (!writer?.writing) return Promise.resolve();
  writer.drained ??= Promise.withResolvers<void>();
  return writer.drained.promise;
}

/** Per store, so that stores (tests open many) share nothing and are collected when dropped. */
const writers = new WeakMap<ObjectStore, EventWriter>();

/**
 * Writes queued events, MAX_BATCH per commit, until the queue is empty. Never throws. An event
 * counted up several times in the queue is written once, as last counted: created if it is new
 * in this batch, else updated (or created again, when it expired meanwhile).
 */
async function drain(store: ObjectStore, writer: EventWriter): Promise<void> {
  try {
    while (writer.queue.length) {
      const batch = writer.queue.splice(0, MAX_BATCH);
      const latest = new Map<string, { event: Event; fresh: boolean }>();
      for (const { event, fresh } of batch) {
        const key = keyOf(event);
        latest.set(key, { event, fresh: fresh || latest.get(key)?.fresh === true });
      }
      const ops: BatchOp[] = [...latest.values()].map(({ event, fresh }) =>
        fresh ? { op: "create", object: event, unique: true } : { op: "update", object: event }
      );
      try {
        await store.commit(ops);
      } catch (e) {
        if (ops.length === 1) {
          await writeAlone(store, ops[0], e);
        } else {
          // One bad event (a name taken, too large, expired meanwhile) fails the whole batch:
          // write them one at a time, so that it does not lose the others.
          for (const op of ops) await writeAlone(store, op);
        }
      }
      for (const { done } of batch) done();
    }
  } finally {
    writer.writing = false;
    writer.drained?.resolve();
    writer.drained = undefined;
  }
}

/**
 * Writes one event alone (`failed`: what writing it with others threw, if it was tried alone).
 * An update of an event that expired meanwhile stores it anew.
 */
async function writeAlone(store: ObjectStore, op: BatchOp, failed?: unknown): Promise<void> {
  let error = failed;
  if (error === undefined) {
    try {
      await store.commit([op]);
      return;
    } catch (e) {
      error = e;
    }
  }
  if (op.op === "update" && error instanceof NotFoundError) {
    try {
      await store.commit([{ op: "create", object: op.object, unique: true }]);
      return;
    } catch (e) {
      error = e;
    }
  }
  log.warn("could not record event", { error });
}

/**
 * Deletes events older than an hour (and the oldest beyond MAX_EVENTS), and pods whose
 * status reached a terminal phase more than 3 minutes ago. Deletes MAX_BATCH objects per
 * commit, each only if unchanged since it was read. `finished` and `events` (kept from the
 * store's watch) name what is due, so a pass reads only what it deletes.
 */
export async function purgeExpired(
  store: ObjectStore,
  clock: Clock,
  finished: FinishedPods,
  events: EventLog,
): Promise<number> {
  const now = clock.now();
  const purged = await deleteAll(store, await events.due(now, MAX_EVENTS, EVENT_TTL_MS));
  return purged + await deleteAll(store, await finished.endedBefore(now - FINISHED_POD_TTL_MS));
}

/** When a pod reached its terminal phase (epoch ms), or undefined while it has not. */
function endedAt(pod: Pod): number | undefined {
  const at = pod.status?.lastPhaseChange;
  return at && isTerminalPodPhase(pod.status?.phase) ? Date.parse(at) : undefined;
}

/**
 * What is kept from the store's watch after one read of what is there: following starts on
 * first use (so a restarting controller does not read everything while it restores its
 * actors) and stops with the controller.
 */
abstract class Follower {
  #unwatch: (() => void) | undefined;
  #started: Promise<void> | undefined;
  #stopped = false;

  constructor(protected readonly store: ObjectStore) {}

  /** Follows the store's changes, then reads what there is (once). */
  async start(): Promise<void> {
    // A pass still running as the controller stops does not start following a closing store.
    if (this.#stopped) return;
    if (this.#started) return this.#started;
    this.#started = this.follow((listener) => {
      this.#unwatch = this.store.watch(listener);
    });
    return await this.#started;
  }

  /** Stops following. */
  stop(): void {
    this.#stopped = true;
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  /** Watches (through `watch`) and reads what there is. */
  protected abstract follow(watch: (listener: WatchListener) => void): Promise<void>;
}

/**
 * The pods that ended and when, kept from the store's watch, so that purging finished pods
 * reads those, not every pod: at 10,000 live pods a pass that decoded them all every 10 s
 * held the event loop ~100 ms and made ~15 MB of garbage each time.
 */
export class FinishedPods extends Follower {
  /** `namespace/name` → when the pod ended (epoch ms). */
  readonly #ended = new Map<string, number>();

  protected async follow(watch: (listener: WatchListener) => void): Promise<void> {
    // Pods changed while the list is read: known better from their watch events.
    let seen: Set<string> | undefined = new Set();
    watch((e) => {
      if (e.object.kind !== "Pod") return;
      seen?.add(keyOf(e.object));
      this.#note(e.object as Pod, e.type === "DELETED");
    });
    for (const pod of await this.store.list<Pod>("pods")) {
      if (!seen.has(keyOf(pod))) this.#note(pod, false);
    }
    seen = undefined;
  }

  /** How many ended pods are known. */
  get size(): number {
    return this.#ended.size;
  }

  /** The pods that ended before `before` (epoch ms), as stored now. */
  async endedBefore(before: number): Promise<Pod[]> {
    await this.start();
    const due: Pod[] = [];
    for (const [key, at] of [...this.#ended]) {
      if (at >= before) continue;
      const { namespace, name } = parseObjectKey(key);
      const pod = await this.store.get<Pod>("pods", namespace, name).catch(() => undefined);
      if (pod && (endedAt(pod) ?? Infinity) < before) due.push(pod);
    }
    return due;
  }

  #note(pod: Pod, deleted: boolean): void {
    const at = deleted ? undefined : endedAt(pod);
    if (at === undefined) this.#ended.delete(keyOf(pod));
    else this.#ended.set(keyOf(pod), at);
  }
}

/**
 * The events there are, oldest first, kept from the store's watch, so that purging reads only
 * the events it deletes: a pass that listed, decoded and sorted every event took 24 ms at
 * 4,000 events and 474 ms after a burst of 20,000 (10,000 pods), every 10 s.
 */
export class EventLog extends Follower {
  /** `namespace/name` → when each event there is last happened (epoch ms). */
  readonly #live = new Map<string, number>();
  /**
   * The events by when they last happened; deleted and counted-up ones stay until they reach
   * the front (skipped: not in `#live` with that time). Events arrive in about time order: an
   * insert is an append.
   */
  #order: { key: string; at: number }[] = [];
  #head = 0;

  protected async follow(watch: (listener: WatchListener) => void): Promise<void> {
    // Changes seen while the list is read: known better from their watch events.
    let early: Map<string, number | undefined> | undefined = new Map();
    watch((e) => {
      if (e.object.kind !== "Event") return;
      const key = keyOf(e.object);
      const at = e.type === "DELETED" ? undefined : lastSeen(e.object as Event);
      if (early) early.set(key, at);
      else this.#note(key, at);
    });
    for (const event of await this.store.list<Event>("events")) {
      const key = keyOf(event);
      if (!early.has(key)) this.#note(key, lastSeen(event));
    }
    for (const [key, at] of early) this.#note(key, at);
    early = undefined;
  }

  /** How many events there are. */
  get size(): number {
    return this.#live.size;
  }

  /**
   * The events to purge at `now`, as they are now (name and resourceVersion): the oldest beyond
   * `max`, and those that last happened more than `ttlMs` ago.
   */
  async due(now: number, max: number, ttlMs: number): Promise<MilpaObject[]> {
    await this.start();
    const live = (e: { key: string; at: number }) => this.#live.get(e.key) === e.at;
    // Those deleted since (by a pass, or by a user) leave the front.
    while (this.#head < this.#order.length && !live(this.#order[this.#head])) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
    }
    let excess = this.#live.size - max;
    const keys: string[] = [];
    for (let i = this.#head; i < this.#order.length; i++) {
      const e = this.#order[i];
      if (!live(e)) continue;
      if (excess <= 0 && now - e.at <= ttlMs) break;
      keys.push(e.key);
      excess--;
    }
    // What a delete at the version seen needs; nothing is decoded.
    const due: MilpaObject[] = [];
    for (const key of keys) {
      const { namespace, name } = parseObjectKey(key);
      const resourceVersion = await this.store.resourceVersion("events", namespace, name);
      if (resourceVersion) {
        due.push({
          kind: "Event",
          apiVersion: API_VERSION,
          metadata: { name, namespace, resourceVersion },
        });
      }
    }
    return due;
  }

  #note(key: string, at: number | undefined): void {
    if (at === undefined) {
      this.#live.delete(key);
      return;
    }
    if (this.#live.get(key) === at) return;
    this.#live.set(key, at);
    const order = this.#order;
    // Binary search for the first entry newer than `at` (the end, nearly always).
    let lo = this.#head, hi = order.length;
    if (hi > lo && order[hi - 1].at > at) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (order[mid].at <= at) lo = mid + 1;
        else hi = mid;
      }
    } else lo = hi;
    order.splice(lo, 0, { key, at });
  }
}

function keyOf(o: { metadata: { namespace?: string; name: string } }): string {
  return `${o.metadata.namespace ?? "default"}/${o.metadata.name}`;
}

/**
 * Deletes the objects, each at the resourceVersion it was read at, MAX_BATCH per commit;
 * returns how many it deleted. A batch that fails (one of them changed or gone meanwhile)
 * is retried one object at a time, skipping those: the next pass decides on them again.
 */
async function deleteAll(store: ObjectStore, objects: MilpaObject[]): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < objects.length; i += MAX_BATCH) {
    const ops: BatchOp[] = objects.slice(i, i + MAX_BATCH).map((object) => ({
      op: "delete",
      object,
    }));
    try {
      deleted += (await store.commit(ops)).length;
    } catch {
      for (const op of ops) {
        try {
          await store.commit([op]);
          deleted++;
        } catch {
          // changed or gone meanwhile
        }
      }
    }
  }
  return deleted;
}
