/**
 * One serial write queue per actor: snapshots are written in order, and while a write is
 * in flight only the newest pending snapshot is kept (older ones would be overwritten anyway).
 *
 * A write the store refuses is retried with a growing delay (the snapshot is taken afresh at
 * each attempt, so the retry writes the newest state) until it succeeds, and every failure is
 * reported, so that an object's status is never left silently stale. Once closed, a failing
 * write is given up after one more attempt, so that a stopping controller does not hang.
 */
import { type Clock, sleep, systemClock } from "../model/clock.ts";
import type { ActorStore, OwnedStatus } from "../store/actor_store.ts";

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

/** Coalescing, per-actor serial persistence. */
export class Persister {
  #pending = new Map<string, SnapshotSource>();
  #running = new Map<string, Promise<void>>();
  /** Actors whose last write failed. */
  #failing = new Set<string>();
  /** Actors whose writes were cancelled: a failed one is not retried. */
  #cancelled = new Set<string>();
  #closed = new AbortController();
  readonly #clock: Clock;
  readonly #onError: (systemId: string, error: unknown, failures: number) => void;

  constructor(private readonly store: ActorStore, options: PersisterOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#onError = options.onError ??
      ((id, e, n) => console.error(`persisting ${id} failed (${n} in a row):`, e));
  }

  /** Schedules a write of the actor's current state. */
  schedule(systemId: string, source: SnapshotSource): void {
    this.#cancelled.delete(systemId);
    this.#pending.set(systemId, source);
    if (!this.#running.has(systemId)) {
      this.#running.set(systemId, this.#drain(systemId));
    }
  }

  /** Drops pending writes of an actor and waits for the one in flight. */
  async cancel(systemId: string): Promise<void> {
    this.#pending.delete(systemId);
    this.#cancelled.add(systemId);
    await this.#running.get(systemId);
    if (!this.#running.has(systemId)) this.#cancelled.delete(systemId);
  }

  /**
   * Resolves once the actor's state as of now is written (or given up): what a transition
   * scheduled in the same turn is included. For effects that must not run before their intent
   * is stored (terminating a node's instance).
   */
  async persisted(systemId: string): Promise<void> {
    await Promise.resolve(); // observers schedule the transition's snapshot after it returns
    for (let r = this.#running.get(systemId); r; r = this.#running.get(systemId)) await r;
  }

  /** Resolves when every scheduled write is done (or, once closed, given up). */
  async flush(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running.values());
  }

  /** From now on a failing write is tried once more, then given up (the controller stops). */
  close(): void {
    this.#closed.abort();
  }

  /** How many actors' last write failed (and is being retried). */
  get failing(): number {
    return this.#failing.size;
  }

  async #drain(systemId: string): Promise<void> {
    let failures = 0;
    try {
      for (;;) {
        const source = this.#pending.get(systemId);
        if (!source) return;
        this.#pending.delete(systemId);
        try {
          const taken = source();
          if (taken) await this.store.save(systemId, taken.snapshot, taken.owned);
          failures = 0;
          this.#failing.delete(systemId);
        } catch (e) {
          failures++;
          this.#failing.add(systemId);
          this.#onError(systemId, e, failures);
          if (this.#closed.signal.aborted && failures > 1) return;
          // Retry, unless a newer state was scheduled meanwhile (it is written instead).
          if (this.#cancelled.has(systemId)) return;
          if (!this.#pending.has(systemId)) this.#pending.set(systemId, source);
          await sleep(this.#clock, persistRetryDelayMs(failures), this.#closed.signal);
        }
      }
    } finally {
      this.#running.delete(systemId);
      this.#failing.delete(systemId);
    }
  }
}
