/**
 * The simulated cloud's instances in KV, so that they outlive the controller as a real cloud's
 * do: `["simcloud", "instance", id]` holds one live instance, `["simcloud", "next"]` the next
 * instance number. A terminated instance's key is deleted.
 *
 * Writes are group-committed: every `put` and `remove` joins the batch being gathered, and
 * resolves once a KV commit holding it succeeded (at most one commit in flight; a batch is cut
 * at {@linkcode SIM_BATCH_MUTATIONS} mutations). So a launch costs one key write, shared with
 * every launch of the same moment, and never a rewrite of the whole list.
 */
import { GroupCommitter, type Mutation } from "./group_commit.ts";
import { nextTurn } from "../model/turn.ts";

/** What KV keeps of a simulated instance. */
export interface SimInstanceRecord {
  id: string;
  /** The instance's number: its id and address derive from it. */
  n: number;
  nodeName: string;
  instanceType: string;
  spot: boolean;
  address: string;
  /** Epoch milliseconds. */
  launchedAt: number;
  /** The launch's idempotency key. */
  clientToken: string;
}

/** Most mutations in one KV commit (Deno KV allows 1000). */
export const SIM_BATCH_MUTATIONS = 500;

const PREFIX = "simcloud";
const instanceKey = (id: string): Deno.KvKey => [PREFIX, "instance", id];
const NEXT_KEY: Deno.KvKey = [PREFIX, "next"];

interface Waiter {
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A write not committed yet: a record to set, or null to delete, and who waits for it. */
interface PendingWrite {
  value: SimInstanceRecord | null;
  waiters: Waiter[];
}

/** The simulated cloud's instance records; see the module doc. */
export class SimInstanceStore {
  readonly #kv: Deno.Kv;
  /** Writes not committed yet, by id; a later write of an id replaces an earlier one. */
  #pending = new Map<string, PendingWrite>();
  #next = 0;
  #flushing?: Promise<void>;

  constructor(kv: Deno.Kv) {
    this.#kv = kv;
  }

  /** Every stored instance, and the number the next one gets. */
  async load(): Promise<{ instances: SimInstanceRecord[]; next: number }> {
    const instances: SimInstanceRecord[] = [];
    for await (
      const e of this.#kv.list<SimInstanceRecord>({ prefix: [PREFIX, "instance"] }, {
        batchSize: 500, // KV's most
      })
    ) {
      instances.push(e.value);
    }
    let next = (await this.#kv.get<number>(NEXT_KEY)).value ?? 1;
    for (const i of instances) next = Math.max(next, i.n + 1);
    this.#next = Math.max(this.#next, next);
    return { instances, next };
  }

  /** Stores an instance; resolves once committed. `next` is the number after the largest given. */
  put(record: SimInstanceRecord): Promise<void> {
    this.#next = Math.max(this.#next, record.n + 1);
    return this.#enqueue(record.id, record);
  }

  /** Forgets an instance (terminated); resolves once committed. Safe to repeat. */
  remove(id: string): Promise<void> {
    return this.#enqueue(id, null);
  }

  /** Resolves once everything written so far is committed. */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  #enqueue(id: string, value: SimInstanceRecord | null): Promise<void> {
    const write = this.#pending.get(id);
    const waiters = write?.waiters ?? [];
    this.#pending.set(id, { value, waiters });
    const done = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
    this.#flushing ??= this.#drain();
    return done;
  }

  /** Commits batches until nothing is pending; one commit at a time. */
  async #drain(): Promise<void> {
    // Let the writes of this moment (a burst of launches) join the first batch.
    await nextTurn();
    try {
      while (this.#pending.size > 0) {
        const batch: [string, PendingWrite][] = [];
        for (const entry of this.#pending) {
          batch.push(entry);
          if (batch.length === SIM_BATCH_MUTATIONS - 1) break;
        }
        for (const [id] of batch) this.#pending.delete(id);
        const mutations: Mutation[] = batch.map(([id, { value }]) =>
          value
            ? { type: "set", key: instanceKey(id), value }
            : { type: "delete", key: instanceKey(id) }
        );
        mutations.push({ type: "set", key: NEXT_KEY, value: this.#next });
        let error: unknown;
        try {
          // With the controller's other writes (group_commit.ts), but before its background
          // writes: this is the cloud's own record, and a launch waits for it (behind actors'
          // snapshots, 0.1-1.5 s a launch in a rollout of 10,000, where a cloud takes no longer
          // for it when the controller is busy).
          const res = await GroupCommitter.of(this.#kv).commit({
            urgent: true,
            checks: [],
            mutations,
            bytes: 1_000 * mutations.length,
          });
          if (!res.ok) error = new Error("the simulated cloud's instance batch was not committed");
        } catch (e) {
          error = e;
        }
        // Whoever waits for these writes hears how it went; later batches go on.
        for (const [, { waiters }] of batch) {
          for (const w of waiters) error === undefined ? w.resolve() : w.reject(error);
        }
      }
    } finally {
      this.#flushing = undefined;
    }
  }
}
