/**
 * Group commit: every store's writes to one Deno KV database go through one committer, which
 * writes what was submitted while its previous transaction was in flight as one transaction.
 * KV writes one transaction at a time (on disk, each waits for its sync), so a write's cost is
 * shared by everything that queued behind it: a burst of thousands of small writes takes tens of
 * transactions instead of thousands, and a lone write waits for at most the one in flight.
 *
 * Each write keeps its own meaning:
 * - Its checks and mutations are applied together or not at all.
 * - Writes merged into one transaction touch disjoint keys (a write that shares a key with one
 *   already in the batch waits for the next), so no write's check is decided on a key another
 *   write of the same transaction changes.
 * - When a merged transaction fails a check, each of its writes is committed again alone, so that
 *   each caller learns its own result; likewise when KV refuses a merged transaction (a value too
 *   large, a limit), so that one bad write fails alone.
 * - A transaction stays within KV's limits: 1,000 mutations, 100 checks, 800 KB (by the byte
 *   bounds the writes declare).
 */

/** One mutation of a write. */
export type Mutation =
  | { type: "set"; key: Deno.KvKey; value: unknown; expireIn?: number }
  | { type: "delete"; key: Deno.KvKey };

/** One caller's atomic write. */
export interface Write {
  checks: Deno.AtomicCheck[];
  mutations: Mutation[];
  /** An upper bound of the bytes of its keys and values as KV counts them. */
  bytes: number;
  /**
   * Mutations decided when the write is put into a transaction (at most `lateKeys.length`, one
   * per key), from what is committed by then: every transaction before it has committed, and
   * no other write of its transaction touches those keys. So they need no check (a status
   * derived from the current object cannot overwrite a change it did not see).
   */
  late?: () => Mutation[];
  /** The keys `late` may write. */
  lateKeys?: Deno.KvKey[];
  /**
   * Someone waits for it (a client's request): it goes before background writes (actor
   * snapshots, events) that are queued, into the next transaction.
   */
  urgent?: boolean;
}

/** KV's limits of one transaction, with some room. */
const MAX_MUTATIONS = 1000;
const MAX_CHECKS = 100;
const MAX_BYTES = 780_000;
/** Queued writes looked at for one transaction (those that do not fit wait for the next). */
const MAX_SCAN = 2_000;
/**
 * Transactions handed to KV at once. KV writes them in order; the second is formed while the
 * first is written, so the writer does not wait for this thread between them. Writes in flight
 * at once touch disjoint keys, so late mutations still see every earlier write of their keys.
 */
const MAX_IN_FLIGHT = 2;
/** Keys KV reads in one getMany. */
const GET_MANY = 10;

interface Queued {
  write: Write;
  /** When it was submitted (performance.now()). */
  at: number;
  /** The late mutations, decided when its transaction was formed. */
  late?: Mutation[];
  keys: string[];
  resolve: (r: Deno.KvCommitResult | Deno.KvCommitError) => void;
  reject: (e: unknown) => void;
}

/** A transaction being formed. */
interface Taking {
  batch: Queued[];
  keys: Set<string>;
  mutations: number;
  checks: number;
  bytes: number;
}

/**
 * How a key is compared for overlap: one string per key, equal only for equal keys. Each part is
 * tagged with its type (KV tells `1`, `1n` and `"1"` apart) and a string with its length, so no
 * two keys meet. (A JSON.stringify with a replacer for bigints did the same at several times the
 * cost, ~2 % of the main thread in a burst of pods, and took `"1n"` for `1n`.)
 */
export function keyId(key: Deno.KvKey): string {
  let id = "";
  for (const part of key) {
    switch (typeof part) {
      case "string":
        id += `s${part.length}:${part}`;
        break;
      case "number":
        id += `n${part};`;
        break;
      case "bigint":
        id += `b${part};`;
        break;
      case "boolean":
        id += part ? "t;" : "f;";
        break;
      default:
        id += `u${(part as Uint8Array).join(",")};`;
    }
  }
  return id;
}

function keysOf(w: Write): string[] {
  const ids = new Set<string>();
  for (const c of w.checks) ids.add(keyId(c.key));
  for (const m of w.mutations) ids.add(keyId(m.key));
  for (const k of w.lateKeys ?? []) ids.add(keyId(k));
  return [...ids];
}

function apply(atomic: Deno.AtomicOperation, w: Write, late: Mutation[] = []): void {
  for (const c of w.checks) atomic.check(c);
  for (const m of [...w.mutations, ...late]) {
    if (m.type === "set") {
      atomic.set(m.key, m.value, m.expireIn ? { expireIn: m.expireIn } : undefined);
    } else atomic.delete(m.key);
  }
}

/** Counters, for benchmarks and tests. */
export interface CommitStats {
  /** Transactions KV committed or refused. */
  transactions: number;
  /** Writes submitted. */
  writes: number;
  /** Mutations in transactions. */
  mutations: number;
}

/** The group committer of one KV database. */
export class GroupCommitter {
  static readonly #byKv = new WeakMap<Deno.Kv, GroupCommitter>();

  /** The one committer of a database: every store writing it shares it. */
  static of(kv: Deno.Kv): GroupCommitter {
    let c = GroupCommitter.#byKv.get(kv);
    if (!c) GroupCommitter.#byKv.set(kv, c = new GroupCommitter(kv));
    return c;
  }

  readonly stats: CommitStats = { transactions: 0, writes: 0, mutations: 0 };
  /** Hears how long each KV transaction took to commit, in seconds (the controller's metrics). */
  onCommit?: (seconds: number) => void;
  #queue: Queued[] = [];
  /** Urgent writes: taken before the others. */
  #urgent: Queued[] = [];
  /** Transactions in flight, and the keys they write (no write to those joins another). */
  #inFlight = 0;
  readonly #busy = new Set<string>();
  #scheduled = false;
  #idle: PromiseWithResolvers<void> | undefined;

  private constructor(private readonly kv: Deno.Kv) {}

  /**
   * Commits a write, together with others submitted meanwhile. Resolves with KV's result for
   * this write: `ok: false` when one of its checks failed.
   */
  commit(write: Write): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    this.stats.writes++;
    return new Promise((resolve, reject) => {
      (write.urgent ? this.#urgent : this.#queue).push({
        write,
        at: performance.now(),
        keys: keysOf(write),
        resolve,
        reject,
      });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // After the current turn's microtasks: writes submitted together share a transaction.
        queueMicrotask(() => {
          this.#scheduled = false;
          this.#pump();
        });
      }
    });
  }

  /**
   * Starts transactions while fewer than MAX_IN_FLIGHT are in flight: KV applies them one after
   * another, but the next one is formed and handed over while the last is being written.
   */
  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && (this.#urgent.length || this.#queue.length)) {
      const batch = this.#take();
      if (batch.length === 0) break; // all queued writes wait for keys in flight
      const keys = batch.flatMap((q) => q.keys);
      for (const k of keys) this.#busy.add(k);
      this.#inFlight++;
      let answered = false;
      // KV answered: its slot takes the next transaction before this one's writers run (their
      // work, a watch event and an actor's step per write, takes the main thread a while, and
      // KV's writer would wait for it). Its keys stay reserved until the writers saw the answer.
      const freeSlot = () => {
        if (answered) return;
        answered = true;
        this.#inFlight--;
        this.#pump();
      };
      void this.#commitBatch(batch, freeSlot).finally(() => {
        for (const k of keys) this.#busy.delete(k);
        freeSlot();
        this.#pump();
        if (this.#inFlight === 0 && !this.#urgent.length && !this.#queue.length) {
          this.#idle?.resolve();
          this.#idle = undefined;
        }
      });
    }
  }

  /**
   * The writes waiting for a transaction and how long the oldest of them has waited (ms): how far
   * KV's writer is behind (the controller's metrics). Each queue is in submission order.
   */
  backlog(now = performance.now()): { writes: number; oldestMs: number } {
    const oldest = Math.min(this.#urgent[0]?.at ?? Infinity, this.#queue[0]?.at ?? Infinity);
    return {
      writes: this.#urgent.length + this.#queue.length,
      oldestMs: oldest === Infinity ? 0 : Math.max(0, now - oldest),
    };
  }

  /** Resolves once every write submitted so far is committed (or refused). */
  flush(): Promise<void> {
    if (this.#inFlight === 0 && !this.#urgent.length && !this.#queue.length) {
      return Promise.resolve();
    }
    this.#idle ??= Promise.withResolvers<void>();
    return this.#idle.promise;
  }

  /**
   * The next transaction's writes: urgent ones first, then the others, each in submission order;
   * disjoint keys, within KV's limits.
   */
  #take(): Queued[] {
    const t: Taking = { batch: [], keys: new Set(), mutations: 0, checks: 0, bytes: 0 };
    this.#urgent = this.#takeFrom(this.#urgent, t);
    this.#queue = this.#takeFrom(this.#queue, t);
    return t.batch;
  }

  /** Moves what fits of `queue` into the transaction being formed; returns what is left. */
  #takeFrom(queue: Queued[], t: Taking): Queued[] {
    const rest: Queued[] = [];
    let i = 0;
    for (; i < queue.length; i++) {
      // Full, or looked far enough: the rest waits, in order, for the next transaction. (When
      // only the checks are used up, writes without checks still join: most background writes,
      // statuses and snapshots, have none, and must not wait behind a run of checked creates.)
      if (t.mutations >= MAX_MUTATIONS || i >= MAX_SCAN) break;
      const q = queue[i];
      const w = q.write;
      // Not with a write of a transaction in flight (its late mutations must see that one).
      const busy = q.keys.some((k) => this.#busy.has(k));
      const fits = !busy && (t.batch.length === 0 || (
        t.mutations + w.mutations.length + (w.lateKeys?.length ?? 0) <= MAX_MUTATIONS &&
        t.checks + w.checks.length <= MAX_CHECKS &&
        t.bytes + w.bytes <= MAX_BYTES &&
        !q.keys.some((k) => t.keys.has(k))
      ));
      // A write that waits keeps its keys reserved, so that later writes to them stay behind it.
      if (!fits) {
        rest.push(q);
        for (const k of q.keys) t.keys.add(k);
        continue;
      }
      t.batch.push(q);
      for (const k of q.keys) t.keys.add(k);
      t.mutations += w.mutations.length + (w.lateKeys?.length ?? 0);
      t.checks += w.checks.length;
      t.bytes += w.bytes;
    }
    return i < queue.length ? rest.concat(queue.slice(i)) : rest;
  }

  async #commitBatch(batch: Queued[], answered: () => void): Promise<void> {
    // Every earlier transaction of these keys has committed (and its writers saw it): late
    // mutations now.
    for (const q of batch) q.late = q.write.late?.();
    await this.#settle(batch, answered);
  }

  /**
   * Commits `batch` as one transaction and answers each of its writes. When a check fails, the
   * writes whose checks fail now are found by reading their checked keys, and answered `ok:
   * false`; the others are committed together again. (Each write alone, as before, made up to
   * 1,000 transactions in a row for one stale event: seconds, with every key of the batch
   * reserved, while the controller's other writes queued behind.) When KV refuses the whole
   * transaction (a value too large), each half is tried, down to the write it refuses.
   */
  async #settle(batch: Queued[], answered: () => void = () => {}): Promise<void> {
    if (batch.length === 1) {
      const [q] = batch;
      try {
        const res = await this.#commitOne(q);
        answered();
        q.resolve(res);
      } catch (e) {
        q.reject(e);
      }
      return;
    }
    const atomic = this.kv.atomic();
    for (const q of batch) apply(atomic, q.write, q.late);
    let res: Deno.KvCommitResult | Deno.KvCommitError;
    const started = performance.now();
    try {
      res = await atomic.commit();
      this.onCommit?.((performance.now() - started) / 1000);
      this.#count(batch.map((q) => q.write));
    } catch {
      // One of them is refused: halves, until the one that is.
      const half = batch.length >> 1;
      await this.#settle(batch.slice(0, half));
      await this.#settle(batch.slice(half));
      return;
    }
    if (res.ok) {
      answered();
      for (const q of batch) q.resolve(res);
      return;
    }
    // The keys of this batch are reserved (no other transaction writes them until it is
    // answered), so what is read now is what the checks are decided against.
    const failing = await this.#failingChecks(batch);
    const rest = batch.filter((q) => !failing.has(q));
    for (const q of failing) q.resolve({ ok: false });
    if (rest.length < batch.length) {
      if (rest.length) await this.#settle(rest);
      return;
    }
    // None found failing (a key written by someone else than this committer): each alone.
    for (const q of batch) {
      try {
        q.resolve(await this.#commitOne(q));
      } catch (e) {
        q.reject(e);
      }
    }
  }

  /** The writes of `batch` with a check that does not hold now. */
  async #failingChecks(batch: Queued[]): Promise<Set<Queued>> {
    const checks: { q: Queued; check: Deno.AtomicCheck }[] = [];
    for (const q of batch) for (const check of q.write.checks) checks.push({ q, check });
    const reads: Promise<Deno.KvEntryMaybe<unknown>[]>[] = [];
    for (let i = 0; i < checks.length; i += GET_MANY) {
      reads.push(this.kv.getMany(checks.slice(i, i + GET_MANY).map((c) => c.check.key)));
    }
    const entries = (await Promise.all(reads)).flat();
    const failing = new Set<Queued>();
    checks.forEach(({ q, check }, i) => {
      if (entries[i].versionstamp !== check.versionstamp) failing.add(q);
    });
    return failing;
  }

  async #commitOne(q: Queued): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    const atomic = this.kv.atomic();
    apply(atomic, q.write, q.late);
    const started = performance.now();
    try {
      return await atomic.commit();
    } finally {
      this.onCommit?.((performance.now() - started) / 1000);
      this.#count([q.write]);
    }
  }

  #count(writes: Write[]): void {
    this.stats.transactions++;
    for (const w of writes) this.stats.mutations += w.mutations.length + (w.lateKeys?.length ?? 0);
  }
}
