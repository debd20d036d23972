/**
 * Actor persistence with group commit: snapshots scheduled while a write is in flight are
 * written together by the next one, in as few KV transactions as KV's limits allow
 * (`ActorStore.saveMany`). Per actor only the newest pending snapshot is kept (older ones
 * would be overwritten anyway), writes of one actor stay in order, and a snapshot equal to
 * the one last written (a heartbeat, a watchdog tick) is not written again.
 *
 * A write the store refuses is retried with a growing delay (the snapshot is taken afresh at
 * each attempt, so the retry writes the newest state) until it succeeds, and every failure is
 * reported, so that an object's status is never left silently stale. A batch that fails as a
 * whole is written again one actor at a time, so that one bad snapshot holds no other back.
 * Once closed, a failing write is given up after one more attempt, so that a stopping
 * controller does not hang.
 */
import { type Clock, systemClock } from "../model/clock.ts";
import type { ActorStore, OwnedStatus, SnapshotWrite } from "../store/actor_store.ts";
import { log, retryLevel } from "../model/log.ts";
import { nextTurn } from "../model/turn.ts";

/**
 * A snapshot and the owned status derived from it, taken when the write starts; undefined when
 * there is nothing to write (the actor stopped meanwhile).
 */
export type SnapshotSource = () => { snapshot: unknown; owned?: OwnedStatus } | undefined;

/** Delay before the `attempt`-th retry of a failed write: 100 ms doubling to 5 s. */
export function persistRetryDelayMs(attempt: number): number {
  return Math.min(100 * 2 ** Math.max(0, attempt - 1), 5_000);
}

/** Options of a {@linkcode Persister}. */
export interface PersisterOptions {
  /** @default systemClock */
  clock?: Clock;
  /** Told about every failed write: the actor, the error, and how many failed in a row. */
  onError?: (systemId: string, error: unknown, failures: number) => void;
}

/**
 * A digest of what a write would store: equal digests, nothing new to write. Its lengths and a
 * 53-bit hash of its text (cyrb53: two multiplicative 32-bit lanes), so different writes look
 * equal only if their lengths agree and their hashes collide (2⁻⁵³ for a pair). A write of a
 * pod's actor (~750 characters) took 2.9 µs with sha1 through node:crypto, 1.5 µs this way, and
 * a pod's way to Running writes ~8 of them.
 */
export function digest(json: string, statusJson?: string): string {
  // One pass over the snapshot, a separator and the status, in local variables (a closure
  // over them would keep them in a context object, at several times the cost).
  const rest = statusJson === undefined ? "" : "\0" + statusJson;
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0, n = json.length + rest.length; i < n; i++) {
    const c = i < json.length ? json.charCodeAt(i) : rest.charCodeAt(i - json.length);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const hash = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return `${json.length}.${statusJson?.length ?? -1}.${hash.toString(36)}`;
}

/**
 * Snapshots taken and digested in one go before others get a turn: at ~25 µs each, ~5 ms.
 * (10,000 agents' heartbeats schedule 2,000 actors a second, all found pending at once: taken
 * in one go they held the event loop ~50 ms, and every request waiting then.)
 */
export const DIGESTS_PER_TURN = 200;

/** Coalescing, group-committing persistence of every actor. */
export class Persister {
  #pending = new Map<string, SnapshotSource>();
  /** Actors whose snapshot the batch in flight writes. */
  #inFlight = new Set<string>();
  /** Actors waiting to retry a failed write: the timer's cancel function. */
  #retrying = new Map<string, () => void>();
  #failures = new Map<string, number>();
  /** Digest of the last snapshot written per actor. */
  #written = new Map<string, string>();
  /** Actors whose writes were cancelled: a failed one is not retried. */
  #cancelled = new Set<string>();
  #loop: Promise<void> | undefined;
  #changed = Promise.withResolvers<void>();
  #closed = false;
  readonly #clock: Clock;
  readonly #onError: (systemId: string, error: unknown, failures: number) => void;

  constructor(private readonly store: ActorStore, options: PersisterOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ??
      ((id, e, n) =>
        log.at(retryLevel(e), `persisting ${id} failed (${n} in a row)`, { error: e }));
  }

  /** Schedules a write of the actor's current state. */
  schedule(systemId: string, source: SnapshotSource): void {
    this.#cancelled.delete(systemId);
    this.#pending.set(systemId, source);
    // One waiting for its retry is written when its delay is over.
    if (!this.#retrying.has(systemId)) this.#kick();
  }

  /** Drops pending writes of an actor and waits for the one in flight. */
  async cancel(systemId: string): Promise<void> {
    this.#pending.delete(systemId);
    this.#cancelled.add(systemId);
    this.#retrying.get(systemId)?.();
    this.#retrying.delete(systemId);
    this.#failures.delete(systemId);
    this.#written.delete(systemId);
    while (this.#inFlight.has(systemId)) await this.#changed.promise;
    this.#cancelled.delete(systemId);
    this.#signal();
  }

  /** Forgets what was written for an actor whose snapshot was removed from the store. */
  forget(systemId: string): void {
    this.#written.delete(systemId);
  }

  /**
   * Resolves once the actor's state as of now is written (or given up): what a transition
   * scheduled in the same turn is included. For effects that must not run before their intent
   * is stored (terminating a node's instance).
   */
  async persisted(systemId: string): Promise<void> {
    await Promise.resolve(); // observers schedule the transition's snapshot after it returns
    while (
      this.#pending.has(systemId) || this.#inFlight.has(systemId) || this.#retrying.has(systemId)
    ) {
      await this.#changed.promise;
    }
  }

  /** Resolves when every scheduled write is done (or, once closed, given up). */
  async flush(): Promise<void> {
    while (this.#loop || this.#pending.size > 0 || this.#retrying.size > 0) {
      if (!this.#loop && this.#retrying.size === 0) this.#kick();
      await this.#changed.promise;
    }
  }

  /** From now on a failing write is tried once more, then given up (the controller stops). */
  close(): void {
    this.#closed = true;
    // Retries waiting for their delay go now.
    for (const cancel of this.#retrying.values()) cancel();
    this.#retrying.clear();
    this.#kick();
  }

  /** How many actors' last write failed (and is being retried). */
  get failing(): number {
    return this.#failures.size;
  }

  #signal(): void {
    const done = this.#changed;
    this.#changed = Promise.withResolvers<void>();
    done.resolve();
  }

  #kick(): void {
    if (this.#loop) return;
    this.#loop = this.#run().finally(() => {
      this.#loop = undefined;
      const ready = [...this.#pending.keys()].some((id) => !this.#retrying.has(id));
      if (ready) this.#kick();
      this.#signal();
    });
  }

  async #run(): Promise<void> {
    for (;;) {
      await nextTurn();
      const sources = new Map<string, SnapshotSource>();
      for (const [id, source] of this.#pending) {
        if (this.#retrying.has(id)) continue;
        sources.set(id, source);
      }
      if (sources.size === 0) return;
      for (const id of sources.keys()) {
        this.#pending.delete(id);
        this.#inFlight.add(id);
      }
      try {
        await this.#write(sources);
      } finally {
        this.#inFlight.clear();
        this.#signal();
      }
    }
  }

  async #write(sources: Map<string, SnapshotSource>): Promise<void> {
    const writes: { write: SnapshotWrite; digest: string; source: SnapshotSource }[] = [];
    let looked = 0;
    for (const [id, source] of sources) {
      if (++looked % DIGESTS_PER_TURN === 0) await nextTurn();
      if (this.#cancelled.has(id)) continue; // cancelled while others had their turn
      let taken;
      try {
        taken = source();
      } catch (e) {
        this.#failed(id, source, e);
        continue;
      }
      if (!taken) continue;
      // The status as JSON once: the digest and the status write both need it.
      const statusJson = taken.owned ? JSON.stringify(taken.owned.status ?? null) : undefined;
      const write: SnapshotWrite = {
        systemId: id,
        json: JSON.stringify(taken.snapshot),
        owned: taken.owned,
        statusJson,
      };
      const d = digest(write.json, statusJson);
      if (this.#written.get(id) === d) {
        this.#succeeded(id);
        continue;
      }
      writes.push({ write, digest: d, source });
    }
    if (writes.length === 0) return;
    try {
      await this.store.saveMany(writes.map((w) => w.write));
      for (const w of writes) this.#succeeded(w.write.systemId, w.digest);
      return;
    } catch (e) {
      if (writes.length === 1) {
        this.#failed(writes[0].write.systemId, writes[0].source, e);
        return;
      }
    }
    // One at a time: a write the store refuses fails alone.
    for (const w of writes) {
      try {
        await this.store.saveMany([w.write]);
        this.#succeeded(w.write.systemId, w.digest);
      } catch (e) {
        this.#failed(w.write.systemId, w.source, e);
      }
    }
  }

  #succeeded(id: string, d?: string): void {
    if (d !== undefined && !this.#cancelled.has(id)) this.#written.set(id, d);
    this.#failures.delete(id);
  }

  #failed(id: string, source: SnapshotSource, e: unknown): void {
    const failures = (this.#failures.get(id) ?? 0) + 1;
    this.#failures.set(id, failures);
    this.#written.delete(id);
    this.#onError(id, e, failures);
    if ((this.#closed && failures > 1) || this.#cancelled.has(id)) {
      // Given up: the controller stops, or the actor is gone.
      this.#failures.delete(id);
      this.#pending.delete(id);
      return;
    }
    // Retry, unless a newer state was scheduled meanwhile (it is written instead).
    if (!this.#pending.has(id)) this.#pending.set(id, source);
    if (this.#closed) return; // once more, at once
    const timer = this.#clock.setTimeout(() => {
      this.#retrying.delete(id);
      this.#kick();
    }, persistRetryDelayMs(failures));
    this.#retrying.set(id, () => this.#clock.clearTimeout(timer));
  }
}
