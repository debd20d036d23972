/**
 * Actor snapshots, written together with the status of the object the actor owns.
 *
 * `["s", systemId]` holds `{v: json}` for a snapshot that fits one KV value, or `{n}` with
 * the JSON split over `["sc", systemId, 0..n-1]`. Snapshot and status go in one
 * transaction, so after a crash the object's status and its actor's state agree.
 */
import type { KindInfo } from "../model/kinds.ts";
import { kindOrThrow } from "../model/kinds.ts";
import type { MilpaObject } from "../model/meta.ts";
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

/** Reads and writes actor snapshots. */
export class ActorStore {
  constructor(private readonly objects: ObjectStore) {}

  private get kv(): Deno.Kv {
    return this.objects.kv;
  }

  /**
   * Persists a snapshot and, when given, the owned object's status in one transaction.
   * A missing object is not an error (it was deleted): only the snapshot is written.
   */
  async save(systemId: string, snapshot: unknown, owned?: OwnedStatus): Promise<void> {
    const json = JSON.stringify(snapshot);
    for (let attempt = 0;; attempt++) {
      const headKey = ["s", systemId];
      let k: KindInfo | undefined;
      let objKey: Deno.KvKey | undefined;
      if (owned) {
        k = kindOrThrow(owned.kind);
        objKey = ["o", k.plural, k.namespaced ? owned.namespace ?? "default" : "", owned.name];
      }
      const [head, obj] = await this.kv.getMany<[Head, MilpaObject]>(
        objKey ? [headKey, objKey] : [headKey, headKey],
      );
      const atomic = this.kv.atomic();
      const oldChunks = head.value?.n ?? 0;
      if (json.length <= CHUNK) {
        atomic.set(headKey, { v: json });
      } else {
        const n = Math.ceil(json.length / CHUNK);
        atomic.set(headKey, { n });
        for (let i = 0; i < n; i++) {
          atomic.set(["sc", systemId, i], json.slice(i * CHUNK, (i + 1) * CHUNK));
        }
      }
      const newChunks = json.length <= CHUNK ? 0 : Math.ceil(json.length / CHUNK);
      for (let i = newChunks; i < oldChunks; i++) atomic.delete(["sc", systemId, i]);
      let changed: MilpaObject | undefined;
      if (owned && objKey && obj.value) {
        atomic.check(obj);
        if (JSON.stringify(obj.value.status ?? null) !== JSON.stringify(owned.status ?? null)) {
          changed = { ...obj.value, status: owned.status };
          atomic.set(objKey, changed);
        }
      }
      const res = await atomic.commit();
      if (res.ok) {
        if (changed) {
          this.objects.emit({
            type: "MODIFIED",
            object: {
              ...changed,
              metadata: { ...changed.metadata, resourceVersion: res.versionstamp },
            },
          });
        }
        return;
      }
      if (attempt > 100) throw new Error(`could not persist actor ${systemId}: too many conflicts`);
    }
  }

  /** The snapshot last saved for an actor, or undefined. */
  async load(systemId: string): Promise<unknown> {
    const head = await this.kv.get<Head>(["s", systemId]);
    return head.value ? await this.#decode(systemId, head.value) : undefined;
  }

  /** Every saved snapshot, by system id. */
  async loadAll(): Promise<Map<string, unknown>> {
    const out = new Map<string, unknown>();
    for await (const e of this.kv.list<Head>({ prefix: ["s"] })) {
      const id = e.key[1] as string;
      out.set(id, await this.#decode(id, e.value));
    }
    return out;
  }

  /** Forgets an actor's snapshot. */
  async remove(systemId: string): Promise<void> {
    const head = await this.kv.get<Head>(["s", systemId]);
    const atomic = this.kv.atomic().delete(["s", systemId]);
    for (let i = 0; i < (head.value?.n ?? 0); i++) atomic.delete(["sc", systemId, i]);
    await atomic.commit();
  }

  async #decode(systemId: string, head: Head): Promise<unknown> {
    if (head.v !== undefined) return JSON.parse(head.v);
    const parts: string[] = [];
    for (let i = 0; i < (head.n ?? 0); i++) {
      const c = await this.kv.get<string>(["sc", systemId, i]);
      parts.push(c.value ?? "");
    }
    return JSON.parse(parts.join(""));
  }
}
