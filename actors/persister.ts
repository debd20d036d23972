/**
 * One serial write queue per actor: snapshots are written in order, and while a write is
 * in flight only the newest pending snapshot is kept (older ones would be overwritten anyway).
 */
import type { ActorStore, OwnedStatus } from "../store/actor_store.ts";

/** A snapshot and the owned status derived from it, taken when the write starts. */
export type SnapshotSource = () => { snapshot: unknown; owned?: OwnedStatus };

/** Coalescing, per-actor serial persistence. */
export class Persister {
  #pending = new Map<string, SnapshotSource>();
  #running = new Map<string, Promise<void>>();

  constructor(private readonly store: ActorStore) {}

  /** Schedules a write of the actor's current state. */
  schedule(systemId: string, source: SnapshotSource): void {
    this.#pending.set(systemId, source);
    if (!this.#running.has(systemId)) {
      this.#running.set(systemId, this.#drain(systemId));
    }
  }

  /** Drops pending writes of an actor and waits for the one in flight. */
  async cancel(systemId: string): Promise<void> {
    this.#pending.delete(systemId);
    await this.#running.get(systemId);
  }

  /** Resolves when every scheduled write is done. */
  async flush(): Promise<void> {
    while (this.#running.size > 0) await Promise.all(this.#running.values());
  }

  async #drain(systemId: string): Promise<void> {
    try {
      for (;;) {
        const source = this.#pending.get(systemId);
        if (!source) return;
        this.#pending.delete(systemId);
        try {
          const { snapshot, owned } = source();
          await this.store.save(systemId, snapshot, owned);
        } catch (e) {
          console.error(`persisting ${systemId} failed:`, e);
        }
      }
    } finally {
      this.#running.delete(systemId);
    }
  }
}
