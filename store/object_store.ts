/**
 * Objects in Deno KV with optimistic concurrency, label lists and an in-process watch.
 *
 * Layout (see keys.ts): `["o", plural, namespace, name]` holds an object as its JSON in UTF-8
 * (namespace "" for cluster-scoped kinds). An object's resourceVersion is the KV versionstamp
 * of its last write, so a write carrying a stale resourceVersion fails with ConflictError
 * instead of being lost. Label selectors are answered from the in-memory index, which reads
 * labels from the objects; KV keeps no label index.
 *
 * Reads are served from an in-memory index of every object (its JSON and versionstamp),
 * loaded from KV per kind on first use and updated by every commit after KV accepted it.
 * The index is kept coherent with KV by versionstamps: every write checks the versionstamp
 * the index holds, so a write by anyone else (another process on the same database) makes
 * the write fail, the index re-reads those keys, and the caller's retry sees the truth.
 * One controller writes a database; reads may lag another writer's writes until then.
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
import { selectorMatcher } from "../model/selector.ts";
import { controllerOf } from "../model/workload.ts";
import type { LabelSelector } from "../model/selector_types.ts";
import { byCodePoint, SortedNames } from "./sorted_names.ts";
import { GroupCommitter, type Mutation, type Write } from "./group_commit.ts";
import { LEGACY_LABELS, objectKey, OBJECTS } from "./keys.ts";
import { log } from "../model/log.ts";
import { nextTurn } from "../model/turn.ts";

/**
 * Largest object the store writes, in bytes as Deno KV counts them (see storedSize) for the
 * value it stores: the object's JSON as UTF-8. KV takes 65,536 per value; the rest is room for
 * the status actors write (`store/actor_store.ts`).
 */
export const MAX_OBJECT_BYTES = 60_000;

/**
 * The bytes Deno KV counts for a value: its V8 serialization, the form KV stores. For a byte
 * array (what the store writes for an object) that is its length and a few bytes of header. A
 * JavaScript string would take 2 bytes per UTF-16 code unit, ASCII included, as soon as one
 * character is past Latin-1 ("€", "日"): the reason objects are stored as UTF-8.
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
  /**
   * The labels the object had before this change, when the change replaced them (an update of
   * its labels): a reader that follows objects by label (a Service's pods) learns that one left.
   */
  previousLabels?: Record<string, string>;
  /**
   * The object's JSON as GET serves it (resourceVersion first in its metadata), made from the
   * text the store wrote instead of stringifying the object again; absent when the store does
   * not have it at hand (a deletion).
   */
  json?: () => string;
}

/** A callback for changes. */
export type WatchListener = (event: WatchEvent) => void;

/** One write of a batch. */
export type BatchOp =
  | {
    op: "create";
    object: MilpaObject;
    /**
     * The caller made the name unique (a random UUID in it): KV is not asked to check that it
     * is free (the index still is), so the create uses none of KV's 100 checks a transaction
     * and a burst of them shares transactions with everything else.
     */
    unique?: boolean;
  }
  | { op: "update"; object: MilpaObject }
  | { op: "delete"; object: MilpaObject }
  /** Overwrites `previous` (which must still be current) with a brand-new object. */
  | { op: "replace"; object: MilpaObject; previous: MilpaObject };

/** Options of commit(). */
export interface CommitOptions {
  /**
   * A client's request waits for it: the write goes before queued background writes (actors'
   * snapshots, events) into the next KV transaction.
   */
  urgent?: boolean;
}

/** Options of list(). */
export interface ListOptions {
  namespace?: string;
  selector?: LabelSelector;
  /**
   * Only objects whose controlling owner (`ownerReferences` with `controller: true`) has this
   * uid: a ReplicaSet's pods, found without decoding the others.
   */
  owner?: string;
}

/** Options of listPage(): list() with paging. */
export interface PageOptions extends ListOptions {
  /** Most objects on the page; all when absent. */
  limit?: number;
  /** Where the previous page ended (its `continue`). */
  continue?: string;
}

/** One page of a list. */
export interface Page<T> {
  items: T[];
  /** Pass as `continue` for the next page; absent on the last page. */
  continue?: string;
  /** Objects after this page (when there is a next page). */
  remainingItemCount?: number;
}

/**
 * A reader's own summary of each object of a kind (see ObjectStore.listProjected): `of` runs once
 * per stored version of an object, and its result is kept beside that version, weakly (a version
 * replaced or deleted takes its summary with it). For a reader that goes over many objects again
 * and again while few of them change: a Service's pass reads every pod it selects, and decoding
 * 10,000 pods (JSON.parse) took ~100 ms of the main thread each time. `of` must not keep the
 * object it is given, and callers must not change what it returned: the next list gives the same.
 */
export class Projection<T extends MilpaObject, V> {
  readonly #made = new WeakMap<Indexed, { v: V }>();

  constructor(private readonly of: (obj: T) => V) {}

  /** The summary of an index entry (for ObjectStore). */
  summaryOf(e: Indexed): V {
    let made = this.#made.get(e);
    if (!made) this.#made.set(e, made = { v: this.of(decode<T>(e)) });
    return made.v;
  }
}

/** Objects a list decodes before it lets others run. */
const YIELD_EVERY = 500;

/** What the index holds of one object. */
interface Indexed {
  /** The stored form (without resourceVersion), as JSON: a compact, private copy. */
  json: string;
  versionstamp: string;
  labels?: Record<string, string>;
  /** The uid of the object's controlling owner (a pod's ReplicaSet), if it has one. */
  owner?: string;
  /**
   * The labels and owner are not read yet (loaded from KV as bytes): labelsOf() and ownerOf()
   * read them once.
   */
  unread?: true;
}

/** The index of one kind: namespace → name → object, with each namespace's names in order. */
class KindIndex {
  readonly byNamespace = new Map<string, Map<string, Indexed>>();
  /**
   * Sorted names per namespace (store/sorted_names.ts), made when a list first needs them and
   * then kept up to date through every create and delete.
   */
  readonly #sorted = new Map<string, SortedNames>();
  /**
   * Per namespace, the sorted names of the objects each controlling owner has (a ReplicaSet's
   * pods), made when a list by owner first needs them and then kept up to date: a ReplicaSet's
   * pass reads its own pods, not every pod of the namespace (in a rollout, two ReplicaSets of
   * 10,000 pods each, and the old one's pods still leaving).
   */
  readonly #owned = new Map<string, Map<string, SortedNames>>();
  #namespaces: string[] | undefined;
  /** Objects held, in every namespace. */
  count = 0;

  get(ns: string, name: string): Indexed | undefined {
    return this.byNamespace.get(ns)?.get(name);
  }

  set(ns: string, name: string, e: Indexed): void {
    let names = this.byNamespace.get(ns);
    if (!names) {
      this.byNamespace.set(ns, names = new Map());
      this.#namespaces = undefined;
    }
    const before = names.get(name);
    if (!before) {
      this.count++;
      this.#sorted.get(ns)?.add(name);
    }
    const owned = this.#owned.get(ns);
    if (owned) {
      const from = before && ownerOf(before);
      const to = ownerOf(e);
      if (from !== to) {
        if (from !== undefined) dropOwned(owned, from, name);
        if (to !== undefined) addOwned(owned, to, name);
      }
    }
    names.set(name, e);
  }

  delete(ns: string, name: string): void {
    const names = this.byNamespace.get(ns);
    const e = names?.get(name);
    if (!names || !e) return;
    names.delete(name);
    this.count--;
    if (names.size === 0) {
      this.byNamespace.delete(ns);
      this.#namespaces = undefined;
      this.#sorted.delete(ns);
      this.#owned.delete(ns);
      return;
    }
    this.#sorted.get(ns)?.delete(name);
    const owned = this.#owned.get(ns);
    const owner = owned && ownerOf(e);
    if (owner !== undefined) dropOwned(owned!, owner, name);
  }

  /** Namespaces in order. */
  namespaces(): string[] {
    return this.#namespaces ??= [...this.byNamespace.keys()].sort(byCodePoint);
  }

  /** A namespace's names in order. */
  names(ns: string): SortedNames {
    let sorted = this.#sorted.get(ns);
    if (!sorted) {
      sorted = new SortedNames(this.byNamespace.get(ns)?.keys());
      if (sorted.size) this.#sorted.set(ns, sorted);
    }
    return sorted;
  }

  /** The names, in order, of a namespace's objects whose controlling owner has uid `owner`. */
  ownedBy(ns: string, owner: string): SortedNames {
    let owned = this.#owned.get(ns);
    if (!owned) {
      const names = this.byNamespace.get(ns);
      if (!names) return new SortedNames();
      const byOwner = new Map<string, string[]>();
      for (const [name, e] of names) {
        const o = ownerOf(e);
        if (o === undefined) continue;
        let list = byOwner.get(o);
        if (!list) byOwner.set(o, list = []);
        list.push(name);
      }
      owned = new Map([...byOwner].map(([o, list]) => [o, new SortedNames(list)]));
      this.#owned.set(ns, owned);
    }
    return owned.get(owner) ?? new SortedNames();
  }
}

function addOwned(owned: Map<string, SortedNames>, owner: string, name: string): void {
  let names = owned.get(owner);
  if (!names) owned.set(owner, names = new SortedNames());
  names.add(name);
}

function dropOwned(owned: Map<string, SortedNames>, owner: string, name: string): void {
  const names = owned.get(owner);
  if (names?.delete(name) && names.size === 0) owned.delete(owner);
}

function indexed(stored: MilpaObject, versionstamp: string, json?: string): Indexed {
  const labels = stored.metadata.labels;
  const owner = controllerOf(stored)?.uid;
  return {
    json: json ?? JSON.stringify(stored),
    versionstamp,
    ...(labels && Object.keys(labels).length ? { labels } : {}),
    ...(owner ? { owner } : {}),
  };
}

/**
 * The index entry of a value read from KV: the object's JSON as UTF-8 (what this store writes),
 * or the object itself (what versions before 2026-12-06 wrote; rewritten as JSON on its next
 * write). JSON is kept as it is: its labels are read when a selector first needs them.
 */
function indexedValue(value: MilpaObject | Uint8Array, versionstamp: string): Indexed {
  if (!(value instanceof Uint8Array)) return indexed(value, versionstamp);
  return { json: fromUtf8.decode(value), versionstamp, unread: true };
}

/** An entry's labels (read from its JSON the first time, for an entry loaded as bytes). */
function labelsOf(e: Indexed): Record<string, string> {
  if (e.unread) setRead(e, JSON.parse(e.json) as MilpaObject);
  return e.labels ?? {};
}

/** The uid of an entry's controlling owner (read as labelsOf() reads the labels). */
function ownerOf(e: Indexed): string | undefined {
  if (e.unread) setRead(e, JSON.parse(e.json) as MilpaObject);
  return e.owner;
}

/** Notes the labels (a copy: `obj` may be the caller's) and owner of an entry loaded as bytes. */
function setRead(e: Indexed, obj: MilpaObject): void {
  delete e.unread;
  const labels = obj.metadata.labels;
  if (labels && Object.keys(labels).length) e.labels = { ...labels };
  const owner = controllerOf(obj)?.uid;
  if (owner) e.owner = owner;
}

/** A fresh object from the index, with its resourceVersion. */
function decode<T extends MilpaObject>(e: Indexed): T {
  const obj = JSON.parse(e.json) as T;
  // Decoded anyway: an entry loaded as bytes learns its labels and owner.
  if (e.unread) setRead(e, obj);
  obj.metadata.resourceVersion = e.versionstamp;
  return obj;
}

const METADATA_KEY = '"metadata":{';

/**
 * Where the members of the top-level `metadata` object begin in an object's JSON (just after
 * its `{`), or -1. Strings are skipped whole, so a `"metadata":{` inside a value or deeper in
 * the object (a template's) is not taken; a string at depth 1 followed by `:` is a key.
 */
export function metadataMembersAt(json: string): number {
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 34) { // "
      if (depth === 1 && json.startsWith(METADATA_KEY, i)) return i + METADATA_KEY.length;
      for (i++; i < json.length; i++) {
        const d = json.charCodeAt(i);
        if (d === 92) i++; // a backslash escapes the next character
        else if (d === 34) break;
      }
    } else if (c === 123 || c === 91) depth++; // { [
    else if (c === 125 || c === 93) depth--; // } ]
  }
  return -1;
}

/**
 * The object's JSON as the API serves it, its resourceVersion added, without decoding it: what
 * decode() then JSON.stringify() would give, but for member order (resourceVersion first).
 */
function encoded(e: Indexed): string {
  const at = metadataMembersAt(e.json);
  if (at < 0) return JSON.stringify(decode(e));
  const rv = `"resourceVersion":${JSON.stringify(e.versionstamp)}`;
  return e.json.slice(0, at) + rv + (e.json.charCodeAt(at) === 125 ? "" : ",") +
    e.json.slice(at);
}

/** Throws the NotFoundError of a missing object (kubectl's message). */
function notFound(k: KindInfo, name: string): never {
  throw new NotFoundError(`${k.plural} "${name}" not found`);
}

/** The continue token of a page that ended at this object. */
function continueToken(ns: string, name: string): string {
  return btoa(JSON.stringify([ns, name]));
}

function parseContinue(token: string): [string, string] {
  try {
    const v = JSON.parse(atob(token));
    if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === "string")) {
      return v as [string, string];
    }
  } catch { /* reported below */ }
  throw new ValidationError(`continue token ${JSON.stringify(token)} is not valid`, [
    { field: "continue", message: "not a token from an earlier page", value: token },
  ]);
}

type KindArg = KindInfo | string;

function info(kind: KindArg): KindInfo {
  return typeof kind === "string" ? kindOrThrow(kind) : kind;
}

function nsOf(k: KindInfo, namespace: string | undefined): string {
  return k.namespaced ? namespace ?? "default" : "";
}

function objKey(k: KindInfo, namespace: string | undefined, name: string): Deno.KvKey {
  return objectKey(k.plural, nsOf(k, namespace), name);
}

function describe(k: KindInfo, obj: Pick<MilpaObject, "metadata">): string {
  return `${k.plural} "${obj.metadata.name}"`;
}

/** Stored form: without resourceVersion, which the versionstamp supplies on read. */
/**
 * An upper bound of the bytes KV stores for a value whose JSON has `length` characters: V8's
 * form of a value takes at most 3 bytes per JSON character (a double such as `0.5` takes 9
 * bytes for 3 characters and a separator; a two-byte string 2 per character; an empty object
 * 5 bytes for `{}`), plus its header.
 */
function jsonBound(length: number): number {
  return length * 3 + 64;
}

/** An upper bound of the bytes KV stores for a byte array: its length and a short header. */
function valueBound(value: Uint8Array): number {
  return value.length + 64;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** An object as the store writes it (see toStored). */
interface Stored {
  stored: MilpaObject;
  json: string;
  value: Uint8Array;
}

/**
 * Stored form: without resourceVersion, which the versionstamp supplies on read; its JSON; and
 * what KV keeps, the JSON's UTF-8 bytes.
 */
function toStored(obj: MilpaObject): Stored {
  const { resourceVersion: _rv, ...metadata } = obj.metadata;
  const stored = { ...obj, metadata };
  const json = JSON.stringify(stored);
  const value = utf8.encode(json);
  // Exact sizes only for objects that may be near the limit.
  const size = valueBound(value) <= MAX_OBJECT_BYTES ? 0 : storedSize(value);
  if (size > MAX_OBJECT_BYTES) {
    throw new ValidationError(
      `${obj.kind} "${obj.metadata.name}" is too large: ${size} bytes (max ${MAX_OBJECT_BYTES})`,
      [{ field: "", message: `object is ${size} bytes, more than ${MAX_OBJECT_BYTES}` }],
    );
  }
  return { stored, json, value };
}

/** Whether two label sets are equal (absent and empty are). */
function sameLabels(a: Record<string, string> = {}, b: Record<string, string> = {}): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) if (!Object.hasOwn(b, k) || a[k] !== b[k]) return false;
  return true;
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
  /** Upper bounds of the bytes, cheap to count; exact counts only when these are over. */
  #bytesBound = 0;
  #keyBytesBound = 0;
  readonly #writes: [Deno.KvKey, unknown][] = [];

  /**
   * Counts one write; a delete has no value. `jsonLength`, the length of the value's JSON when
   * the caller has it, spares serializing it to count: KV's form takes at most 3 bytes for
   * every character of JSON (see jsonBound). A byte array (an object's UTF-8 JSON) counts as
   * its length and a header.
   */
  add(key: Deno.KvKey, value?: unknown, jsonLength?: number): void {
    const keyBound = JSON.stringify(key).length * 3;
    this.mutations++;
    this.#writes.push([key, value]);
    this.#keyBytesBound += keyBound;
    this.#bytesBound += keyBound +
      (value === undefined
        ? 0
        : jsonLength !== undefined
        ? jsonBound(jsonLength)
        : value instanceof Uint8Array
        ? valueBound(value)
        : storedSize(value));
  }

  /** An upper bound of the bytes of the writes counted. */
  get bytesBound(): number {
    return this.#bytesBound;
  }

  check(): void {
    if (
      this.mutations <= TxBudget.MUTATIONS && this.#bytesBound <= TxBudget.BYTES &&
      this.#keyBytesBound <= TxBudget.KEY_BYTES
    ) return;
    let bytes = 0;
    let keyBytes = 0;
    for (const [key, value] of this.#writes) {
      const k = new TextEncoder().encode(JSON.stringify(key)).length;
      keyBytes += k;
      bytes += k + (value === undefined ? 0 : storedSize(value));
    }
    if (
      this.mutations > TxBudget.MUTATIONS || bytes > TxBudget.BYTES ||
      keyBytes > TxBudget.KEY_BYTES
    ) {
      throw new TransactionTooLargeError(
        `the request is too large to write at once (${this.mutations} writes, ${bytes} bytes, ` +
          `${keyBytes} bytes of keys; at most ${TxBudget.MUTATIONS} writes, ` +
          `${TxBudget.BYTES} bytes and ${TxBudget.KEY_BYTES} bytes of keys): ` +
          `split it into smaller files`,
        [{ field: "items", message: "too large for one transaction" }],
      );
    }
  }
}

/** A current entry as a commit plans against it. */
type Current = { value: MilpaObject | null; versionstamp: string | null };

/** A status write decided for another store's transaction (see statusWrite). */
export interface StagedStatus {
  plural: string;
  namespace: string;
  name: string;
  stored: MilpaObject;
  json: string;
}

/** Objects of every kind, kept in one Deno KV database. */
export class ObjectStore {
  #listeners = new Set<WatchListener>();
  #closers = new Map<WatchListener, () => void>();
  readonly #index = new Map<string, KindIndex>();
  readonly #loading = new Map<string, Promise<KindIndex>>();
  readonly #kv: Deno.Kv;
  readonly #committer: GroupCommitter;

  constructor(kv: Deno.Kv, private readonly clock: Clock = systemClock) {
    this.#kv = kv;
    this.#committer = GroupCommitter.of(kv);
  }

  /** The index of a kind, loaded from KV on first use. */
  #kind(k: KindInfo): KindIndex | Promise<KindIndex> {
    const have = this.#index.get(k.plural);
    if (have) return have;
    let loading = this.#loading.get(k.plural);
    if (!loading) {
      loading = this.#load(k).finally(() => this.#loading.delete(k.plural));
      this.#loading.set(k.plural, loading);
    }
    return loading;
  }

  async #load(k: KindInfo): Promise<KindIndex> {
    const idx = new KindIndex();
    const prefix = [OBJECTS, k.plural];
    // 500 a batch: KV's most (100 by default).
    for await (const e of this.#kv.list<MilpaObject | Uint8Array>({ prefix }, { batchSize: 500 })) {
      const [, , ns, name] = e.key as string[];
      idx.set(ns, name, indexedValue(e.value, e.versionstamp));
    }
    this.#index.set(k.plural, idx);
    return idx;
  }

  /**
   * Objects held in memory, of every kind loaded so far: what the process's memory reducer
   * follows (a purge of many leaves the heap's pages half empty; model/memory_reducer.ts).
   */
  get objectCount(): number {
    let n = 0;
    for (const idx of this.#index.values()) n += idx.count;
    return n;
  }

  /** Loads the index of these kinds (all objects of them) now rather than on first use. */
  async preload(kinds: KindArg[]): Promise<void> {
    await Promise.all(kinds.map((k) => this.#kind(info(k))));
  }

  /**
   * Deletes what is left of the label index that controllers wrote before 2026-12-07
   * (keys.ts LEGACY_LABELS), 1,000 keys a transaction; returns how many it deleted. Nothing
   * read it: selectors are answered from the in-memory index.
   */
  async dropLegacyLabelIndex(): Promise<number> {
    let deleted = 0;
    for (;;) {
      const keys: Deno.KvKey[] = [];
      for await (const e of this.#kv.list({ prefix: [LEGACY_LABELS] }, { limit: 1000 })) {
        keys.push(e.key);
      }
      if (!keys.length) return deleted;
      const op = this.#kv.atomic();
      for (const key of keys) op.delete(key);
      await op.commit();
      deleted += keys.length;
    }
  }

  /** Re-reads keys from KV into the index (after a write found it stale). */
  async #refresh(keys: Deno.KvKey[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 10) {
      const entries = await this.#kv.getMany<(MilpaObject | Uint8Array)[]>(keys.slice(i, i + 10));
      for (const e of entries) {
        const [, plural, ns, name] = e.key as string[];
        const idx = this.#index.get(plural);
        if (!idx) continue;
        if (e.value) idx.set(ns, name, indexedValue(e.value, e.versionstamp!));
        else idx.delete(ns, name);
      }
    }
  }

  /** The object, or null when there is none. */
  async get<T extends MilpaObject = MilpaObject>(
    kind: KindArg,
    namespace: string | undefined,
    name: string,
  ): Promise<T | null> {
    const e = await this.#entry(kind, namespace, name);
    return e ? decode<T>(e) : null;
  }

  /**
   * The object's resourceVersion, or null when there is none: what a delete at that version
   * needs, without decoding the object.
   */
  async resourceVersion(
    kind: KindArg,
    namespace: string | undefined,
    name: string,
  ): Promise<string | null> {
    return (await this.#entry(kind, namespace, name))?.versionstamp ?? null;
  }

  /** What the index holds of an object. */
  async #entry(kind: KindArg, namespace: string | undefined, name: string) {
    const k = info(kind);
    return (await this.#kind(k)).get(nsOf(k, namespace), name);
  }

  /**
   * The object's JSON with its resourceVersion (what the API serves), or null when there is
   * none: get() without decoding the object and encoding it again.
   */
  async getJson(
    kind: KindArg,
    namespace: string | undefined,
    name: string,
  ): Promise<string | null> {
    const e = await this.#entry(kind, namespace, name);
    return e ? encoded(e) : null;
  }

  /** Like getJson(), but throws NotFoundError. */
  async mustGetJson(kind: KindArg, namespace: string | undefined, name: string): Promise<string> {
    const k = info(kind);
    return await this.getJson(k, namespace, name) ?? notFound(k, name);
  }

  /** Like get(), but throws NotFoundError. */
  async mustGet<T extends MilpaObject = MilpaObject>(
    kind: KindArg,
    namespace: string | undefined,
    name: string,
  ): Promise<T> {
    const k = info(kind);
    return await this.get<T>(k, namespace, name) ?? notFound(k, name);
  }

  /** Objects of a kind, optionally in one namespace and matching a label selector, by name. */
  async list<T extends MilpaObject = MilpaObject>(
    kind: KindArg,
    opts: ListOptions = {},
  ): Promise<T[]> {
    return (await this.listPage<T>(kind, opts)).items;
  }

  /**
   * Like list(), a page at a time: at most `limit` objects after `continue`. Pages follow the
   * order of list() (namespace, then name); objects created or deleted between pages are seen
   * or not depending on where they fall, as with Kubernetes' paging.
   */
  async listPage<T extends MilpaObject = MilpaObject>(
    kind: KindArg,
    opts: PageOptions = {},
  ): Promise<Page<T>> {
    return await this.#page(info(kind), opts, decode<T>);
  }

  /**
   * Like list(), each object as `projection` summarizes it: an object is decoded and summarized
   * once per version, the first time a list through `projection` sees that version.
   */
  async listProjected<T extends MilpaObject, V>(
    kind: KindArg,
    projection: Projection<T, V>,
    opts: ListOptions = {},
  ): Promise<V[]> {
    return (await this.#page(info(kind), opts, (e) => projection.summaryOf(e))).items;
  }

  /** Like listPage(), each object as its JSON (what getJson() gives): none is decoded. */
  async listPageJson(kind: KindArg, opts: PageOptions = {}): Promise<Page<string>> {
    return await this.#page(info(kind), opts, encoded);
  }

  async #page<T>(k: KindInfo, opts: PageOptions, item: (e: Indexed) => T): Promise<Page<T>> {
    const idx = await this.#kind(k);
    const ns = opts.namespace === undefined ? undefined : nsOf(k, opts.namespace);
    const selects = opts.selector ? selectorMatcher(opts.selector) : undefined;
    const after = opts.continue ? parseContinue(opts.continue) : undefined;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
    const namespaces = ns === undefined ? idx.namespaces() : idx.byNamespace.has(ns) ? [ns] : [];
    const items: T[] = [];
    // Where the last item came from (for the continue token).
    let lastNs: string | undefined;
    let lastName = "";
    let remaining = 0;
    for (const n of namespaces) {
      if (after && n < after[0]) continue;
      const names = idx.byNamespace.get(n);
      if (!names) continue;
      const sorted = (opts.owner === undefined ? idx.names(n) : idx.ownedBy(n, opts.owner))
        .cursor(after && n === after[0] ? after[1] : undefined);
      for (let name = sorted.next(); name !== undefined; name = sorted.next()) {
        const e = names.get(name);
        if (!e) continue; // deleted while this list let others run
        if (selects && !selects(labelsOf(e))) continue;
        if (opts.owner !== undefined && ownerOf(e) !== opts.owner) continue;
        if (items.length >= limit) {
          if (!selects && opts.owner === undefined) {
            // The rest of this namespace, without a look each.
            remaining += 1 + sorted.remaining();
            break;
          }
          remaining++;
          continue;
        }
        items.push(item(e));
        lastNs = n;
        lastName = name;
        // A long list lets others run now and then (a request, a tick): no long stall.
        if (items.length % YIELD_EVERY === 0) await nextTurn();
      }
    }
    return remaining > 0 && lastNs !== undefined
      ? { items, continue: continueToken(lastNs, lastName), remainingItemCount: remaining }
      : { items };
  }

  /** How many objects of a kind there are (optionally in one namespace). */
  async count(kind: KindArg, namespace?: string): Promise<number> {
    const k = info(kind);
    const idx = await this.#kind(k);
    if (namespace !== undefined) return idx.byNamespace.get(nsOf(k, namespace))?.size ?? 0;
    let n = 0;
    for (const names of idx.byNamespace.values()) n += names.size;
    return n;
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
   * name is free (in the index, and in KV unless `unique`); updates and deletes check the object's resourceVersion when it is given
   * (else the version just read). Throws AlreadyExistsError, NotFoundError or ConflictError.
   */
  async commit(ops: BatchOp[], opts: CommitOptions = {}): Promise<MilpaObject[]> {
    if (ops.length > MAX_BATCH) {
      throw new TransactionTooLargeError(
        `too many objects in one request: ${ops.length} (at most ${MAX_BATCH} are written together)`,
        [{ field: "items", message: `at most ${MAX_BATCH} objects`, value: ops.length }],
      );
    }
    const kinds = ops.map((o) => info(o.object.kind));
    for (const k of kinds) await this.#kind(k);
    const now = isoTime(this.clock.now());
    const write: Write = { checks: [], mutations: [], bytes: 0, urgent: opts.urgent };
    const check = (c: Deno.AtomicCheck) => write.checks.push(c);
    const budget = new TxBudget();
    const results: { type: WatchEventType; object: MilpaObject; replaced?: MilpaObject }[] = [];
    const keys = ops.map((o, i) =>
      objKey(kinds[i], o.object.metadata.namespace, o.object.metadata.name)
    );
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
    const currents: Current[] = keys.map(([, plural, ns, name]) => {
      const e = this.#index.get(plural as string)!.get(ns as string, name as string);
      return e
        ? { value: JSON.parse(e.json) as MilpaObject, versionstamp: e.versionstamp }
        : { value: null, versionstamp: null };
    });
    const set = (key: Deno.KvKey, value: unknown, jsonLength?: number) => {
      budget.add(key, value, jsonLength);
      write.mutations.push({ type: "set", key, value });
    };
    const del = (key: Deno.KvKey) => {
      budget.add(key);
      write.mutations.push({ type: "delete", key });
    };
    const stored: (Stored | undefined)[] = [];
    ops.forEach((o, i) => {
      try {
        const planned = this.#plan(o, keys[i], currents[i], now, check, set, del);
        results.push(planned);
        stored.push(planned.stored);
      } catch (e) {
        throw atOp(i, e);
      }
    });
    budget.check();
    write.bytes = budget.bytesBound;
    const res = await this.#committer.commit(write);
    if (!res.ok) {
      // Someone else wrote one of them: the index learns what is there now.
      await this.#refresh(keys);
      throw new ConflictError("the objects changed while they were being written; retry");
    }
    const entries = keys.map(([, plural, ns, name], i) => {
      const idx = this.#index.get(plural as string)!;
      const s = stored[i];
      if (!s) return void idx.delete(ns as string, name as string);
      const e = indexed(s.stored, res.versionstamp, s.json);
      idx.set(ns as string, name as string, e);
      return e;
    });
    const out = results.map((r) =>
      r.type === "DELETED" ? r.object : withVersion(r.object, res.versionstamp)
    );
    out.forEach((object, i) => {
      const replaced = results[i].replaced;
      if (replaced) this.emit({ type: "DELETED", object: replaced });
      const before = results[i].type === "MODIFIED"
        ? currents[i].value?.metadata.labels
        : undefined;
      const e = entries[i];
      const event: WatchEvent =
        results[i].type === "MODIFIED" && !sameLabels(before, object.metadata.labels)
          ? { type: "MODIFIED", object, previousLabels: before ?? {} }
          : { type: results[i].type, object };
      if (e) event.json = () => encoded(e);
      this.emit(event);
    });
    return out;
  }

  /**
   * A write of an object's status for another store's write (an actor's snapshot goes with its
   * object's status in one transaction), decided when the group committer forms that
   * transaction (`Write.late`): the object as committed by then, with `owned.status`; nothing
   * when the object is gone or already has that status. Pass `committed` the transaction's
   * versionstamp once it committed. The kind must be loaded (preload()). `statusJson` is
   * `owned.status` as JSON, for a caller that made it already.
   */
  statusWrite(
    owned: { kind: string; namespace?: string; name: string; status: unknown },
    statusJson: string = JSON.stringify(owned.status ?? null),
  ): {
    key: Deno.KvKey;
    bytes: number;
    late: () => Mutation[];
    committed: (versionstamp: string) => void;
  } {
    const k = info(owned.kind);
    const ns = nsOf(k, owned.namespace);
    const key = objectKey(k.plural, ns, owned.name);
    const now = this.#index.get(k.plural)?.get(ns, owned.name);
    let staged: StagedStatus | undefined;
    return {
      key,
      bytes: jsonBound((now?.json.length ?? 0) + statusJson.length) + key.length * 200,
      late: () => {
        staged = undefined;
        const idx = this.#index.get(k.plural);
        if (!idx) throw new Error(`${k.plural} are not loaded: preload them first`);
        const e = idx.get(ns, owned.name);
        if (!e) return [];
        const current = JSON.parse(e.json) as MilpaObject & { status?: unknown };
        if (JSON.stringify(current.status ?? null) === statusJson) return [];
        const stored = { ...current, status: owned.status } as MilpaObject;
        staged = {
          plural: k.plural,
          namespace: ns,
          name: owned.name,
          stored,
          json: JSON.stringify(stored),
        };
        return [{ type: "set", key, value: utf8.encode(staged.json) }];
      },
      committed: (versionstamp) => {
        if (staged) this.statusCommitted([staged], versionstamp);
      },
    };
  }

  /** Records staged status writes as committed at `versionstamp` and tells watchers. */
  statusCommitted(staged: StagedStatus[], versionstamp: string): void {
    const entries = staged.map((s) => {
      const e = indexed(s.stored, versionstamp, s.json);
      this.#index.get(s.plural)?.set(s.namespace, s.name, e);
      return e;
    });
    staged.forEach((s, i) => {
      const e = entries[i];
      this.emit({
        type: "MODIFIED",
        object: withVersion(s.stored, versionstamp),
        json: () => encoded(e),
      });
    });
  }

  /** Adds one operation's checks and writes to a transaction; returns its watch event. */
  #plan(
    o: BatchOp,
    key: Deno.KvKey,
    cur: Current,
    now: string,
    check: (c: Deno.AtomicCheck) => void,
    set: (key: Deno.KvKey, value: unknown, jsonLength?: number) => void,
    del: (key: Deno.KvKey) => void,
  ): {
    type: WatchEventType;
    object: MilpaObject;
    replaced?: MilpaObject;
    stored?: Stored;
  } {
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
      if (!(o.op === "create" && o.unique)) check({ key, versionstamp: cur.versionstamp });
      const stored = toStored(object);
      set(key, stored.value);
      const replaced = cur.value ? withVersion(cur.value, cur.versionstamp!) : undefined;
      return { type: "ADDED", object, replaced, stored };
    }
    if (!cur.value) throw new NotFoundError(`${describe(k, o.object)} not found`);
    const rv = o.object.metadata.resourceVersion;
    if (rv && rv !== cur.versionstamp) {
      throw new ConflictError(
        `${describe(k, o.object)} was changed by someone else (resourceVersion ${rv} is stale, ` +
          `now ${cur.versionstamp}); read it again and retry`,
      );
    }
    check({ key, versionstamp: cur.versionstamp });
    if (o.op === "delete") {
      del(key);
      return { type: "DELETED", object: withVersion(cur.value, cur.versionstamp!) };
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
    const stored = toStored(object);
    set(key, stored.value);
    return { type: "MODIFIED", object, stored };
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
        log.error("watch listener failed", { error: e });
      }
    }
  }
}
