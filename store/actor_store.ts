/**
 * Actor snapshots, written together with the status of the object the actor owns.
 *
 * `["s", systemId]` holds `{v: json}` for a snapshot that fits one KV value, or `{n}` with
 * the JSON split over `["sc", systemId, 0..n-1]` (keys.ts). Snapshot and status go in one
 * transaction, so after a crash the object's status and its actor's state agree.
 *
 * Writes go through the database's group committer (group_commit.ts): the snapshots the
 * persister hands over together, and whatever else is written meanwhile, share transactions.
 */
import { kindOrThrow } from "../model/kinds.ts";
import { snapshotChunkKey, snapshotKey, SNAPSHOTS } from "./keys.ts";
import { GroupCommitter, type Mutation, type Write } from "./group_commit.ts";
import type { ObjectStore } from "./object_store.ts";

/** Characters per KV value: V8 may store a string at 2 bytes a character, and a value holds 64 KiB. */
const CHUNK = 30_000;

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
  /** `owned.status` as JSON, when the writer has it already. */
  statusJson?: string;
}

/** Reads and writes actor snapshots. */
export class ActorStore {
  /** Chunk counts of stored snapshots, once loadAll() read them all (else read per actor). */
  #chunks: Map<string, number> | undefined;

  private readonly committer: GroupCommitter;

  constructor(private readonly objects: ObjectStore, private readonly kv: Deno.Kv) {
    this.committer = GroupCommitter.of(kv);
  }

  /**
   * Persists a snapshot and, when given, the owned object's status in one transaction.
   * A missing object is not an error (it was deleted): only the snapshot is written.
   */
  async save(systemId: string, snapshot: unknown, owned?: OwnedStatus): Promise<void> {
    await this.saveMany([{ systemId, json: JSON.stringify(snapshot), owned }]);
  }

  /**
   * Persists the snapshots (and owned statuses) of many actors, each actor's snapshot and
   * status in the same transaction; the group committer (group_commit.ts) puts many actors in
   * one transaction. An actor's write whose object check failed (the object changed meanwhile)
   * is planned again. Throws when KV refuses a write (the first refusal), after the others
   * were tried.
   */
  async saveMany(writes: SnapshotWrite[]): Promise<void> {
    const kinds = new Set(writes.flatMap((w) => w.owned ? [w.owned.kind] : []));
    await this.objects.preload([...kinds].map((k) => kindOrThrow(k)));
    if (!this.#chunks) {
      // Without the chunk counts of every snapshot, read those of these actors.
      await this.#readChunkCounts(writes.map((w) => w.systemId));
    }
    const results = await Promise.allSettled(writes.map((w) => this.#save(w)));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
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

  async #save(w: SnapshotWrite): Promise<void> {
    for (let attempt = 0;; attempt++) {
      const write: Write = { checks: [], mutations: [], bytes: 0 };
      const headKey = snapshotKey(w.systemId);
      const oldChunks = this.#chunkCount(w.systemId);
      const n = w.json.length <= CHUNK ? 0 : Math.ceil(w.json.length / CHUNK);
      if (n === 0) {
        write.mutations.push({ type: "set", key: headKey, value: { v: w.json } });
      } else {
        write.mutations.push({ type: "set", key: headKey, value: { n } });
        for (let i = 0; i < n; i++) {
          write.mutations.push({
            type: "set",
            key: snapshotChunkKey(w.systemId, i),
            value: w.json.slice(i * CHUNK, (i + 1) * CHUNK),
          });
        }
      }
      for (let i = n; i < oldChunks; i++) {
        write.mutations.push({ type: "delete", key: snapshotChunkKey(w.systemId, i) });
      }
      // A string takes at most 2 bytes a character; keys are short.
      write.bytes = w.json.length * 2 + 200 * write.mutations.length;
      // The owned status is decided when the transaction is formed: no check, no conflict.
      const status = w.owned ? this.objects.statusWrite(w.owned, w.statusJson) : undefined;
      if (status) {
        write.late = status.late;
        write.lateKeys = [status.key];
        write.bytes += status.bytes;
      }
      const res = await this.committer.commit(write);
      if (res.ok) {
        this.#setChunks(w.systemId, n);
        status?.committed(res.versionstamp);
        return;
      }
      if (attempt > 100) {
        throw new Error(`could not persist actor ${w.systemId}: too many conflicts`);
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
    // 500 a batch (KV's most; 100 by default): fewer trips to KV's thread on a restart.
    for await (const e of this.kv.list<Head>({ prefix: [SNAPSHOTS] }, { batchSize: 500 })) {
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
    const mutations: Mutation[] = [{ type: "delete", key: snapshotKey(systemId) }];
    for (let i = 0; i < n; i++) {
      mutations.push({ type: "delete", key: snapshotChunkKey(systemId, i) });
    }
    await this.committer.commit({ checks: [], mutations, bytes: 200 * mutations.length });
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
