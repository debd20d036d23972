/**
 * Objects in Deno KV with optimistic concurrency, label lists and an in-process watch.
 *
 * Layout: `["o", plural, namespace, name]` holds an object (namespace "" for
 * cluster-scoped kinds); `["l", plural, labelKey, labelValue, namespace, name]` indexes
 * labels. An object's resourceVersion is the KV versionstamp of its last write, so a
 * write carrying a stale resourceVersion fails with ConflictError instead of being lost.
 */
import { serialize } from "node:v8";
import type { Clock } from "../model/clock.ts";
import { isoTime, systemClock } from "../model/clock.ts";
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  ValidationError,
} from "../model/errors.ts";
import type { KindInfo } from "../model/kinds.ts";
import { kindOrThrow } from "../model/kinds.ts";
import type { MilpaObject } from "../model/meta.ts";
import { matchesSelector, normalizeSelector } from "../model/selector.ts";
import type { LabelSelector } from "../model/selector_types.ts";

/**
 * Largest object the store writes, in bytes as Deno KV counts them (see storedSize). KV takes
 * 65,536 per value; the rest is room for the status actors write (`store/actor_store.ts`).
 */
export const MAX_OBJECT_BYTES = 60_000;

/**
 * The bytes Deno KV counts for a value: its V8 serialization, the form KV stores. Not the
 * JSON's UTF-8 length: a string with any character past Latin-1 ("€", "日") takes 2 bytes
 * per UTF-16 code unit, ASCII included, and a Latin-1 one ("é") 1 byte per character.
 */
export function storedSize(value: unknown): number {
  return serialize(value).length;
}

/** Most objects one transaction writes (Deno KV allows 100 checks per atomic operation). */
export const MAX_BATCH = 100;

/** Writes that do not fit in one KV transaction (too many objects, writes or bytes). */
export class TransactionTooLargeError extends ValidationError {}

/** What happened to an object. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/** One change, delivered to watchers after it was committed. */
export interface WatchEvent {
  type: WatchEventType;
  object: MilpaObject;
}

/** A callback for changes. */
export type WatchListener = (event: WatchEvent) => void;

/** One write of a batch. */
export type BatchOp =
  | { op: "create"; object: MilpaObject }
  | { op: "update"; object: MilpaObject }
  | { op: "delete"; object: MilpaObject }
  /** Overwrites `previous` (which must still be current) with a brand-new object. */
  | { op: "replace"; object: MilpaObject; previous: MilpaObject };

/** Options of list(). */
export interface ListOptions {
  namespace?: string;
  selector?: LabelSelector;
}

type KindArg = KindInfo | string;

function info(kind: KindArg): KindInfo {
  return typeof kind === "string" ? kindOrThrow(kind) : kind;
}

function nsOf(k: KindInfo, namespace: string | undefined): string {
  return k.namespaced ? namespace ?? "default" : "";
}

function objKey(k: KindInfo, namespace: string | undefined, name: string): Deno.KvKey {
  return ["o", k.plural, nsOf(k, namespace), name];
}

function labelKeys(k: KindInfo, obj: MilpaObject): Deno.KvKey[] {
  const ns = nsOf(k, obj.metadata.namespace);
  return Object.entries(obj.metadata.labels ?? {}).map(([lk, lv]) => [
    "l",
    k.plural,
    lk,
    lv,
    ns,
    obj.metadata.name,
  ]);
}

/**
 * Moves the label index from `before`'s labels to `after`'s, touching only the entries that
 * change: an update that keeps its labels is one write, so a batch of them fits KV's limits.
 */
function relabel(
  k: KindInfo,
  before: MilpaObject | undefined,
  after: MilpaObject | undefined,
  set: (key: Deno.KvKey, value: unknown) => void,
  del: (key: Deno.KvKey) => void,
): void {
  const keys = (o?: MilpaObject) =>
    new Map((o ? labelKeys(k, o) : []).map((lk) => [JSON.stringify(lk), lk]));
  const was = keys(before);
  const now = keys(after);
  for (const [id, lk] of was) if (!now.has(id)) del(lk);
  for (const [id, lk] of now) if (!was.has(id)) set(lk, null);
}

function describe(k: KindInfo, obj: Pick<MilpaObject, "metadata">): string {
  return `${k.plural} "${obj.metadata.name}"`;
}

/** Stored form: without resourceVersion, which the versionstamp supplies on read. */
function toStored(obj: MilpaObject): MilpaObject {
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  const stored = { ...obj, metadata };
  const size = storedSize(stored);
  if (size > MAX_OBJECT_BYTES) {
    throw new ValidationError(
      `${obj.kind} "${obj.metadata.name}" is too large: ${size} bytes (max ${MAX_OBJECT_BYTES})`,
      [{ field: "", message: `object is ${size} bytes, more than ${MAX_OBJECT_BYTES}` }],
    );
  }
  return stored;
}

function withVersion(obj: MilpaObject, versionstamp: string): MilpaObject {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: versionstamp } };
}

function specChanged(a: MilpaObject, b: MilpaObject): boolean {
  return JSON.stringify(a.spec ?? null) !== JSON.stringify(b.spec ?? null);
}

/** The batch position an error from commit() is about, if it is about one operation. */
export function opIndexOf(e: unknown): number | undefined {
  return (e as { opIndex?: number })?.opIndex;
}

function atOp(index: number, e: unknown): unknown {
  if (e && typeof e === "object") (e as { opIndex?: number }).opIndex = index;
  return e;
}

/**
 * Deno KV's limits of one transaction: 1,000 mutations, 819,200 bytes of keys and values
 * (values as storedSize counts them) and 81,920 bytes of keys. Keys are counted by their
 * JSON, a little more than KV's own encoding.
 */
class TxBudget {
  static readonly MUTATIONS = 1000;
  static readonly BYTES = 800_000;
  static readonly KEY_BYTES = 80_000;
  mutations = 0;
  bytes = 0;
  keyBytes = 0;

  /** Counts one write; a delete has no value. */
  add(key: Deno.KvKey, value?: unknown): void {
    const keyBytes = new TextEncoder().encode(JSON.stringify(key)).length;
    this.mutations++;
    this.keyBytes += keyBytes;
    this.bytes += keyBytes + (value === undefined ? 0 : storedSize(value));
  }

  check(): void {
    if (
      this.mutations > TxBudget.MUTATIONS || this.bytes > TxBudget.BYTES ||
      this.keyBytes > TxBudget.KEY_BYTES
    ) {
      throw new TransactionTooLargeError(
        `the request is too large to write at once (${this.mutations} writes, ${this.bytes} bytes, ` +
          `${this.keyBytes} bytes of keys; at most ${TxBudget.MUTATIONS} writes, ` +
          `${TxBudget.BYTES} bytes and ${TxBudget.KEY_BYTES} bytes of keys): ` +
          `split it into smaller files`,
        [{ field: "items", message: "too large for one transaction" }],
      );
    }
  }
}

/** Objects of every kind, kept in one Deno KV database. */
export class ObjectStore {
  #listeners = new Set<WatchListener>();
  #closers = new Map<WatchListener, () => void>();

  constructor(readonly kv: Deno.Kv, private readonly clock: Clock = systemClock) {}

  /** The object, or null when there is none. */
  async get<T extends MilpaObject = MilpaObject>(
    kind: KindArg,
    namespace: string | undefined,
    name: string,
  ): Promise<T | null> {
    const e = await this.kv.get<MilpaObject>(objKey(info(kind), namespace, name));
    return e.value ? withVersion(e.value, e.versionstamp!) as T : null;
  }

  /** Like get(), but throws NotFoundError. */
  async mustGet<T extends MilpaObject = MilpaObject>(
    kind: KindArg,
    namespace: string | undefined,
    name: string,
  ): Promise<T> {
    const k = info(kind);
    const obj = await this.get<T>(k, namespace, name);
    if (!obj) throw new NotFoundError(`${k.plural} "${name}" not found`);
    return obj;
  }

  /** Objects of a kind, optionally in one namespace and matching a label selector, by name. */
  async list<T extends MilpaObject = MilpaObject>(
    kind: KindArg,
    opts: ListOptions = {},
  ): Promise<T[]> {
    const k = info(kind);
    const ns = opts.namespace === undefined ? undefined : nsOf(k, opts.namespace);
    const sel = opts.selector ? normalizeSelector(opts.selector) : undefined;
    const firstLabel = sel ? Object.entries(sel.matchLabels ?? {})[0] : undefined;
    const out: T[] = [];
    if (firstLabel) {
      // Narrow by the label index, then check the whole selector on each object.
      const keys: Deno.KvKey[] = [];
      const prefix: Deno.KvKey = ["l", k.plural, firstLabel[0], firstLabel[1]];
      for await (const e of this.kv.list({ prefix: ns === undefined ? prefix : [...prefix, ns] })) {
        const [, , , , ens, ename] = e.key as string[];
        keys.push(["o", k.plural, ens, ename]);
      }
      for (let i = 0; i < keys.length; i += 10) {
        for (const e of await this.kv.getMany<MilpaObject[]>(keys.slice(i, i + 10))) {
          if (e.value) out.push(withVersion(e.value, e.versionstamp!) as T);
        }
      }
    } else {
      const prefix = ns === undefined ? ["o", k.plural] : ["o", k.plural, ns];
      for await (const e of this.kv.list<MilpaObject>({ prefix })) {
        out.push(withVersion(e.value, e.versionstamp) as T);
      }
    }
    const matching = sel ? out.filter((o) => matchesSelector(sel, o.metadata.labels ?? {})) : out;
    return matching.sort((a, b) =>
      (a.metadata.namespace ?? "").localeCompare(b.metadata.namespace ?? "") ||
      a.metadata.name.localeCompare(b.metadata.name)
    );
  }

  /** Creates an object; fills uid, creationTimestamp and generation. AlreadyExistsError if taken. */
  async create<T extends MilpaObject>(obj: T): Promise<T> {
    const [done] = await this.commit([{ op: "create", object: obj }]);
    return done as T;
  }

  /**
   * Replaces an object. With `metadata.resourceVersion` set, the write fails with
   * ConflictError if the stored object changed since; without it, it overwrites.
   */
  async update<T extends MilpaObject>(obj: T): Promise<T> {
    const [done] = await this.commit([{ op: "update", object: obj }]);
    return done as T;
  }

  /**
   * Read-modify-write with retries: `fn` gets the current object and returns the new one,
   * or null to leave it alone. Returns the stored result (or the unchanged object).
   */
  async mutate<T extends MilpaObject>(
    kind: KindArg,
    namespace: string | undefined,
    name: string,
    fn: (current: T) => T | null,
  ): Promise<T> {
    for (let attempt = 0;; attempt++) {
      const current = await this.mustGet<T>(kind, namespace, name);
      const next = fn(structuredClone(current));
      if (!next) return current;
      try {
        return await this.update({
          ...next,
          metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion },
        });
      } catch (e) {
        if (!(e instanceof ConflictError) || attempt > 50) throw e;
      }
    }
  }

  /** Removes an object. With a resourceVersion, only if it is still that version. */
  async delete(
    kind: KindArg,
    namespace: string | undefined,
    name: string,
    resourceVersion?: string,
  ): Promise<MilpaObject> {
    const k = info(kind);
    const current = await this.mustGet(k, namespace, name);
    const obj = resourceVersion
      ? { ...current, metadata: { ...current.metadata, resourceVersion } }
      : current;
    const [done] = await this.commit([{ op: "delete", object: obj }]);
    return done;
  }

  /**
   * Applies several writes in one transaction: all of them or none. Creates check that the
   * name is free; updates and deletes check the object's resourceVersion when it is given
   * (else the version just read). Throws AlreadyExistsError, NotFoundError or ConflictError.
   */
  async commit(ops: BatchOp[]): Promise<MilpaObject[]> {
    if (ops.length > MAX_BATCH) {
      throw new TransactionTooLargeError(
        `too many objects in one request: ${ops.length} (at most ${MAX_BATCH} are written together)`,
        [{ field: "items", message: `at most ${MAX_BATCH} objects`, value: ops.length }],
      );
    }
    const now = isoTime(this.clock.now());
    const atomic = this.kv.atomic();
    const budget = new TxBudget();
    const results: { type: WatchEventType; object: MilpaObject; replaced?: MilpaObject }[] = [];
    const keys = ops.map((o) => {
      const k = info(o.object.kind);
      return objKey(k, o.object.metadata.namespace, o.object.metadata.name);
    });
    const seen = new Set<string>();
    keys.forEach((key, i) => {
      const s = JSON.stringify(key);
      if (seen.has(s)) {
        throw atOp(
          i,
          new ValidationError(`the same object appears twice: ${key.slice(1).join("/")}`),
        );
      }
      seen.add(s);
    });
    const currents: Deno.KvEntryMaybe<MilpaObject>[] = [];
    for (let i = 0; i < keys.length; i += 10) {
      currents.push(...await this.kv.getMany<MilpaObject[]>(keys.slice(i, i + 10)));
    }
    const set = (key: Deno.KvKey, value: unknown) => {
      budget.add(key, value);
      atomic.set(key, value);
    };
    const del = (key: Deno.KvKey) => {
      budget.add(key);
      atomic.delete(key);
    };
    ops.forEach((o, i) => {
      try {
        results.push(this.#plan(o, keys[i], currents[i], now, atomic, set, del));
      } catch (e) {
        throw atOp(i, e);
      }
    });
    budget.check();
    const res = await atomic.commit();
    if (!res.ok) {
      throw new ConflictError("the objects changed while they were being written; retry");
    }
    const out = results.map((r) =>
      r.type === "DELETED" ? r.object : withVersion(r.object, res.versionstamp)
    );
    out.forEach((object, i) => {
      const replaced = results[i].replaced;
      if (replaced) this.emit({ type: "DELETED", object: replaced });
      this.emit({ type: results[i].type, object });
    });
    return out;
  }

  /** Adds one operation's checks and writes to a transaction; returns its watch event. */
  #plan(
    o: BatchOp,
    key: Deno.KvKey,
    cur: Deno.KvEntryMaybe<MilpaObject>,
    now: string,
    atomic: Deno.AtomicOperation,
    set: (key: Deno.KvKey, value: unknown) => void,
    del: (key: Deno.KvKey) => void,
  ): { type: WatchEventType; object: MilpaObject; replaced?: MilpaObject } {
    const k = info(o.object.kind);
    if (o.op === "create" || o.op === "replace") {
      if (o.op === "create" && cur.value) {
        throw new AlreadyExistsError(`${describe(k, o.object)} already exists`);
      }
      if (o.op === "replace" && cur.versionstamp !== o.previous.metadata.resourceVersion) {
        throw new ConflictError(
          `${describe(k, o.object)} changed while it was being replaced; retry`,
        );
      }
      const object: MilpaObject = {
        ...o.object,
        metadata: {
          ...o.object.metadata,
          namespace: k.namespaced ? nsOf(k, o.object.metadata.namespace) : undefined,
          uid: o.object.metadata.uid ?? crypto.randomUUID(),
          creationTimestamp: o.object.metadata.creationTimestamp ?? now,
          generation: 1,
        },
      };
      if (!k.namespaced) delete object.metadata.namespace;
      atomic.check({ key, versionstamp: cur.versionstamp });
      set(key, toStored(object));
      relabel(k, cur.value ?? undefined, object, set, del);
      const replaced = cur.value ? withVersion(cur.value, cur.versionstamp!) : undefined;
      return { type: "ADDED", object, replaced };
    }
    if (!cur.value) throw new NotFoundError(`${describe(k, o.object)} not found`);
    const rv = o.object.metadata.resourceVersion;
    if (rv && rv !== cur.versionstamp) {
      throw new ConflictError(
        `${describe(k, o.object)} was changed by someone else (resourceVersion ${rv} is stale, ` +
          `now ${cur.versionstamp}); read it again and retry`,
      );
    }
    atomic.check({ key, versionstamp: cur.versionstamp });
    if (o.op === "delete") {
      relabel(k, cur.value, undefined, set, del);
      del(key);
      return { type: "DELETED", object: withVersion(cur.value, cur.versionstamp) };
    }
    const object: MilpaObject = {
      ...o.object,
      metadata: {
        ...o.object.metadata,
        ...(k.namespaced ? { namespace: nsOf(k, o.object.metadata.namespace) } : {}),
        uid: cur.value.metadata.uid,
        creationTimestamp: cur.value.metadata.creationTimestamp,
        generation: (cur.value.metadata.generation ?? 1) +
          (specChanged(cur.value, o.object) ? 1 : 0),
      },
    };
    set(key, toStored(object));
    relabel(k, cur.value, object, set, del);
    return { type: "MODIFIED", object };
  }

  /**
   * Calls `listener` after every committed change; returns the function that stops it.
   * `onClose` is called if the store ends every watch (closeWatches) first.
   */
  watch(listener: WatchListener, onClose?: () => void): () => void {
    this.#listeners.add(listener);
    if (onClose) this.#closers.set(listener, onClose);
    return () => {
      this.#listeners.delete(listener);
      this.#closers.delete(listener);
    };
  }

  /** Ends every watch (their `onClose` runs): open streams must not hold a shutdown up. */
  closeWatches(): void {
    const closers = [...this.#closers.values()];
    this.#listeners.clear();
    this.#closers.clear();
    for (const c of closers) c();
  }

  /** Tells watchers about a change committed outside commit() (actor status writes). */
  emit(event: WatchEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (e) {
        console.error("watch listener failed:", e);
      }
    }
  }
}
