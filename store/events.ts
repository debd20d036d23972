/** Recording events and dropping expired events and finished pods. */
import type { Clock } from "../model/clock.ts";
import { isoTime } from "../model/clock.ts";
import type { Event, InvolvedObject } from "../model/event.ts";
import { EVENT_TTL_MS } from "../model/event.ts";
import { API_VERSION, parseObjectKey } from "../model/meta.ts";
import type { Pod } from "../model/pod.ts";
import { isTerminalPodPhase } from "../model/pod.ts";
import type { BatchOp, ObjectStore, WatchListener } from "./object_store.ts";
import { MAX_BATCH } from "./object_store.ts";
import { log } from "../model/log.ts";

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
 * Stores an event about an object. Failures are logged, never thrown. The promise resolves
 * once the event is written (or its failure logged).
 *
 * Events are group-committed: one commit of at most MAX_BATCH events is in flight per store
 * at a time, and events recorded meanwhile wait for the next, so a burst of events costs a
 * few KV transactions instead of one each, and an event waits at most about one commit.
 */
export function recordEvent(
  store: ObjectStore,
  clock: Clock,
  input: EventInput,
): Promise<void> {
  const now = clock.now();
  const event: Event = {
    kind: "Event",
    apiVersion: API_VERSION,
    metadata: {
      name: `${input.involvedObject.name}.${now.toString(16)}${crypto.randomUUID().slice(0, 8)}`,
      namespace: input.involvedObject.namespace ?? "default",
      creationTimestamp: isoTime(now),
    },
    involvedObject: input.involvedObject,
    status: input.status,
    source: input.source,
    message: input.message,
    type: input.type ?? "Normal",
  };
  return new Promise((resolve) => {
    let writer = writers.get(store);
    if (!writer) writers.set(store, writer = { queue: [], writing: false });
    writer.queue.push({ event, done: resolve });
    if (!writer.writing) {
      writer.writing = true;
      // After a microtask: events recorded in the same turn share the first commit.
      queueMicrotask(() => void drain(store, writer));
    }
  });
}

/** An event waiting to be written, and the resolver of its recordEvent() promise. */
interface PendingEvent {
  event: Event;
  done: () => void;
}

/** A store's event queue; `writing` while a drain() is running for it. No timers. */
interface EventWriter {
  queue: PendingEvent[];
  writing: boolean;
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

/** Writes queued events, MAX_BATCH per commit, until the queue is empty. Never throws. */
async function drain(store: ObjectStore, writer: EventWriter): Promise<void> {
  try {
    while (writer.queue.length) {
      const batch = writer.queue.splice(0, MAX_BATCH);
      try {
        await store.commit(
          batch.map(({ event }) => ({ op: "create" as const, object: event, unique: true })),
        );
      } catch (e) {
        if (batch.length === 1) {
          log.warn("could not record event", { error: e });
        } else {
          // One bad event (a name taken, too large) fails the whole batch: write them one
          // at a time, so that it does not lose the others.
          for (const { event } of batch) {
            try {
              await store.create(event);
            } catch (e) {
              log.warn("could not record event", { error: e });
            }
          }
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
  /** `namespace/name` → creation time (epoch ms) of every event there is. */
  readonly #live = new Map<string, number>();
  /**
   * The events by creation time; deleted ones stay until they reach the front (skipped: not in
   * `#live` with that time). Events arrive in about time order: an insert is an append.
   */
  #order: { key: string; at: number }[] = [];
  #head = 0;

  protected async follow(watch: (listener: WatchListener) => void): Promise<void> {
    // Changes seen while the list is read: known better from their watch events.
    let early: Map<string, number | undefined> | undefined = new Map();
    watch((e) => {
      if (e.object.kind !== "Event") return;
      const key = keyOf(e.object);
      const at = e.type === "DELETED" ? undefined : createdAt(e.object);
      if (early) early.set(key, at);
      else this.#note(key, at);
    });
    for (const event of await this.store.list<Event>("events")) {
      const key = keyOf(event);
      if (!early.has(key)) this.#note(key, createdAt(event));
    }
    for (const [key, at] of early) this.#note(key, at);
    early = undefined;
  }

  /** How many events there are. */
  get size(): number {
    return this.#live.size;
  }

  /** The events to purge at `now`: the oldest beyond `max`, and those older than `ttlMs`. */
  async due(now: number, max: number, ttlMs: number): Promise<Event[]> {
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
    const due: Event[] = [];
    for (const key of keys) {
      const { namespace, name } = parseObjectKey(key);
      const event = await this.store.get<Event>("events", namespace, name).catch(() => undefined);
      if (event) due.push(event);
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

/** When an event was made (epoch ms); one without a time counts as made at the epoch. */
function createdAt(o: { metadata: { creationTimestamp?: string } }): number {
  const at = Date.parse(o.metadata.creationTimestamp ?? "");
  return Number.isNaN(at) ? 0 : at;
}

function keyOf(o: { metadata: { namespace?: string; name: string } }): string {
  return `${o.metadata.namespace ?? "default"}/${o.metadata.name}`;
}

/**
 * Deletes the objects, each at the resourceVersion it was read at, MAX_BATCH per commit;
 * returns how many it deleted. A batch that fails (one of them changed or gone meanwhile)
 * is retried one object at a time, skipping those: the next pass decides on them again.
 */
async function deleteAll(store: ObjectStore, objects: (Event | Pod)[]): Promise<number> {
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
