/**
 * Actor snapshots, written together with the status of the object the actor owns.
 *
 * `["s", systemId]` holds `{v: json}` for a snapshot that fits one KV value, or `{n}` with
 * the JSON split over `["sc", systemId, 0..n-1]` (keys.ts). Snapshot and status go in one
 * transaction, so after a crash the object's status and its actor's state agree.
 *
 * saveMany() writes the snapshots of many actors in as few transactions as Deno KV's limits
 * allow (group commit): the persister hands it everything that changed while the previous
 * transaction was in flight.
 */
import { kindOrThrow } from "../model/kinds.ts";
import { snapshotChunkKey, snapshotKey, SNAPSHOTS } from "./keys.ts";
import type { ObjectStore, StagedStatus } from "./object_store.ts";
import { TxBudget } from "./object_store.ts";

/** Characters per KV value: V8 may store a string at 2 bytes a character, and a value holds 64 KiB. */
const CHUNK = 30_000;

/**
 * Bytes of snapshots and statuses, as JSON characters, per transaction: half of KV's 800 KB,
 * since V8 stores a string with any character past Latin-1 at 2 bytes a character.
 */
const TX_CHARS = 380_000;

/** Writes per transaction: KV allows 1,000 mutations (and 100 checks). */
const TX_WRITES = 900;
const TX_CHECKS = 100;

interface Head {
  v?: string;
  n?: number;
}

/** The status an actor derived from its snapshot, for the object it owns. */
export interface OwnedStatus {
  kind: string;
  namespace?: string;
  name: string;
  status: unknown;
}

/** One actor's state to write. */
export interface SnapshotWrite {
  systemId: string;
  /** The snapshot as JSON. */
  json: string;
  owned?: OwnedStatus;
}

/** Reads and writes actor snapshots. */
export class ActorStore {
  /** Chunk counts of stored snapshots, once loadAll() read them all (else read per actor). */
  #chunks: Map<string, number> | undefined;

  constructor(private readonly objects: ObjectStore, private readonly kv: Deno.Kv) {}

  /**
   * Persists a snapshot and, when given, the owned object's status in one transaction.
   * A missing object is not an error (it was deleted): only the snapshot is written.
   */
  async save(systemId: string, snapshot: unknown, owned?: OwnedStatus): Promise<void> {
    await this.saveMany([{ systemId, json: JSON.stringify(snapshot), owned }]);
  }

  /**
   * Persists the snapshots (and owned statuses) of many actors, each actor's snapshot and
   * status in the same transaction, in as few transactions as fit KV's limits. A transaction
   * whose object check failed (the object changed meanwhile) is planned again. Throws when
   * KV refuses a write; then some transactions may have been written and others not.
   */
  async saveMany(writes: SnapshotWrite[]): Promise<void> {
    const kinds = new Set(writes.flatMap((w) => w.owned ? [w.owned.kind] : []));
    await this.objects.preload([...kinds].map((k) => kindOrThrow(k)));
    if (!this.#chunks) {
      // Without the chunk counts of every snapshot, read those of these actors.
      await this.#readChunkCounts(writes.map((w) => w.systemId));
    }
    let batch: SnapshotWrite[] = [];
    let chars = 0;
    let mutations = 0;
    let checks = 0;
    for (const w of writes) {
      const n = w.json.length <= CHUNK ? 0 : Math.ceil(w.json.length / CHUNK);
      const m = 2 + Math.max(n, this.#chunkCount(w.systemId));
      const c = w.json.length +
        (w.owned ? 2_000 + JSON.stringify(w.owned.status ?? null).length : 0);
      if (
        batch.length > 0 &&
        (chars + c > TX_CHARS || mutations + m > TX_WRITES || checks + 1 > TX_CHECKS)
      ) {
        await this.#commit(batch);
        batch = [];
        chars = mutations = checks = 0;
      }
      batch.push(w);
      chars += c;
      mutations += m;
      checks += w.owned ? 1 : 0;
    }
    if (batch.length) await this.#commit(batch);
  }

  #chunkCount(systemId: string): number {
    return this.#chunks?.get(systemId) ?? this.#known.get(systemId) ?? 0;
  }

  /** Chunk counts read for actors before loadAll() (tests, or a store used alone). */
  readonly #known = new Map<string, number>();

  async #readChunkCounts(ids: string[]): Promise<void> {
    const unknown = ids.filter((id) => !this.#known.has(id));
    for (let i = 0; i < unknown.length; i += 10) {
      const heads = await this.kv.getMany<Head[]>(unknown.slice(i, i + 10).map(snapshotKey));
      heads.forEach((h, j) => this.#known.set(unknown[i + j], h.value?.n ?? 0));
    }
  }

  async #commit(batch: SnapshotWrite[]): Promise<void> {
    for (let attempt = 0;; attempt++) {
      const atomic = this.kv.atomic();
      const budget = new TxBudget();
      const staged: StagedStatus[] = [];
      const counts = new Map<string, number>();
      for (const w of batch) {
        const headKey = snapshotKey(w.systemId);
        const oldChunks = this.#chunkCount(w.systemId);
        const n = w.json.length <= CHUNK ? 0 : Math.ceil(w.json.length / CHUNK);
        if (n === 0) {
          atomic.set(headKey, { v: w.json });
        } else {
          atomic.set(headKey, { n });
          for (let i = 0; i < n; i++) {
            atomic.set(snapshotChunkKey(w.systemId, i), w.json.slice(i * CHUNK, (i + 1) * CHUNK));
          }
        }
        for (let i = n; i < oldChunks; i++) atomic.delete(snapshotChunkKey(w.systemId, i));
        counts.set(w.systemId, n);
        if (w.owned) {
          const s = this.objects.stageStatus(atomic, budget, w.owned);
          if (s) staged.push(s);
        }
      }
      const res = await atomic.commit();
      if (res.ok) {
        for (const [id, n] of counts) this.#setChunks(id, n);
        this.objects.statusCommitted(staged, res.versionstamp);
        return;
      }
      // An object changed since the index had it (its own writes land in the index first):
      // the index re-reads them, and the batch is planned again.
      await this.objects.statusConflicted(staged);
      if (attempt > 100) {
        throw new Error(
          `could not persist actors ${batch.map((w) => w.systemId).join(", ")}: too many conflicts`,
        );
      }
    }
  }

  #setChunks(systemId: string, n: number): void {
    if (this.#chunks) {
      if (n) this.#chunks.set(systemId, n);
      else this.#chunks.delete(systemId);
    } else this.#known.set(systemId, n);
  }

  /** The snapshot last saved for an actor, or undefined. */
  async load(systemId: string): Promise<unknown> {
    const head = await this.kv.get<Head>(snapshotKey(systemId));
    return head.value ? await this.#decode(systemId, head.value) : undefined;
  }

  /** Every saved snapshot, by system id. */
  async loadAll(): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    const chunks = new Map<string, number>();
    for await (const e of this.kv.list<Head>({ prefix: [SNAPSHOTS] })) {
      const id = e.key[1] as string;
      if (e.value.n) chunks.set(id, e.value.n);
      out.set(id, await this.#decode(id, e.value));
    }
    this.#chunks = chunks;
    this.#known.clear();
    return out;
  }

  /** Forgets an actor's snapshot. */
  async remove(systemId: string): Promise<void> {
    const n = this.#chunks
      ? this.#chunkCount(systemId)
      : (await this.kv.get<Head>(snapshotKey(systemId))).value?.n ?? 0;
    const atomic = this.kv.atomic().delete(snapshotKey(systemId));
    for (let i = 0; i < n; i++) atomic.delete(snapshotChunkKey(systemId, i));
    await atomic.commit();
    this.#setChunks(systemId, 0);
  }

  async #decode(systemId: string, head: Head): Promise<unknown> {
    if (head.v !== undefined) return JSON.parse(head.v);
    const parts: string[] = [];
    for (let i = 0; i < (head.n ?? 0); i++) {
      const c = await this.kv.get<string>(snapshotChunkKey(systemId, i));
      parts.push(c.value ?? "");
    }
    return JSON.parse(parts.join(""));
  }
}
