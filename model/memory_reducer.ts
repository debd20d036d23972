/**
 * Gives the heap's empty pages back after a burst, once the process is quiet: what V8's own
 * memory reducer does in a browser or Node, and never does under Deno (measured: with
 * `--trace-memory-reducer` it printed nothing in 20 s idle).
 *
 * V8 grows its heap to about twice what is live before it collects (`--heap-growing-percent`),
 * and keeps the pages it touched: a burst of 10,000 pods left 286 MiB of heap committed for 141
 * MiB in use, and a collection does not return them, only a compacting one does. So, every
 * period, the reducer reads how much heap is committed and how much CPU the process used; when
 * the heap grew well past its low since the last compaction and the process has been quiet for
 * two periods in a row, it runs one memory-reducing (compacting) collection. Measured in
 * process at 10,000 pods: 475–545 ms, and RSS 452 → 320 MiB. A busy process is never paused by it.
 *
 * The heap does not grow when the controller lets go of many objects (the purge of 10,000 pods a
 * rollout finished, three minutes later), but their pages stay committed, each partly empty: a
 * controller with 10,000 live pods after a rollout kept 350 MiB of heap committed and 475 MiB of
 * RSS for minutes, where a compaction brought them to 209 and 339. So it also compacts, once quiet,
 * when the objects the process holds (the stores' count, given to {@linkcode holdMemoryReducer})
 * fell by a quarter and by at least 2,000 since their peak.
 */
import process from "node:process";
import v8 from "node:v8";
import vm from "node:vm";
import { type Clock, every, systemClock } from "./clock.ts";
import { log } from "./log.ts";

/** What the reducer reads each period. */
export interface ProcessSample {
  /** Bytes of JavaScript heap committed (`heapTotal`). */
  heapTotal: number;
  /** Resident set, bytes. */
  rss: number;
  /** CPU time the process used so far (user + system), milliseconds. */
  cpuMs: number;
  /** Objects the process holds in memory (its stores'), when known. */
  objects?: number;
}

/** Tuning; the defaults suit a controller. */
export interface MemoryReducerOptions {
  /** How often it looks. @default 2000 */
  periodMs?: number;
  /** CPU share of one core under which a period counts as quiet. @default 0.25 */
  quietCpu?: number;
  /** Quiet periods in a row before a compaction. @default 2 */
  quietPeriods?: number;
  /**
   * Committed heap, as a multiple of the least it was since the last compaction, that is worth
   * one. V8 lets the heap grow to twice what is live between collections (deno task start sets
   * `--heap-growing-percent=100`), so a steady heap stays under 1.5 of its low. @default 1.5
   */
  growth?: number;
  /** Committed heap under which nothing is done, bytes. @default 64 MiB */
  floorBytes?: number;
  /**
   * Share of the objects held at their peak since the last compaction that, once gone, is worth
   * one (with at least `minFreedObjects` gone). @default 0.25
   */
  shrink?: number;
  /** Fewest objects gone since their peak that is worth a compaction. @default 2000 */
  minFreedObjects?: number;
  /** Least time between two compactions. @default 60000 */
  minIntervalMs?: number;
  clock?: Clock;
  /** Reads the process. @default {@linkcode readProcess} */
  read?: () => ProcessSample;
}

/** One compaction: when, how long it took, and the process before and after. */
export interface Compaction {
  at: number;
  ms: number;
  before: ProcessSample;
  after: ProcessSample;
}

/** Reads heap, RSS and CPU time of this process, and the objects `counts` say it holds. */
export function readProcess(counts?: Iterable<() => number>): ProcessSample {
  const m = Deno.memoryUsage();
  const cpu = process.cpuUsage();
  const s: ProcessSample = {
    heapTotal: m.heapTotal,
    rss: m.rss,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
  if (counts) {
    let objects: number | undefined;
    for (const count of counts) objects = (objects ?? 0) + count();
    if (objects !== undefined) s.objects = objects;
  }
  return s;
}

let compactor: ((options: object) => void) | undefined;

/**
 * A memory-reducing collection: V8's `gc({flavor: "last-resort"})`, which compacts and frees the
 * pages it emptied. The `gc` function comes from a context created with `--expose-gc` set at run
 * time, so the controller needs no flag and no global `gc`.
 */
export function v8Compactor(): () => void {
  if (!compactor) {
    v8.setFlagsFromString("--expose-gc");
    compactor = vm.runInNewContext("gc") as (options: object) => void;
  }
  const gc = compactor;
  return () => gc({ type: "major", flavor: "last-resort" });
}

/** Watches the process and compacts its heap when a burst is over. */
export class MemoryReducer {
  readonly #periodMs: number;
  readonly #quietCpu: number;
  readonly #quietPeriods: number;
  readonly #growth: number;
  readonly #shrink: number;
  readonly #minFreed: number;
  readonly #floor: number;
  readonly #minInterval: number;
  readonly #clock: Clock;
  readonly #read: () => ProcessSample;
  readonly #compact: () => void;
  #stop?: () => void;
  #last?: ProcessSample;
  #lastAt = 0;
  #quiet = 0;
  /** The least committed heap since the last compaction (or since the first look). */
  #baseline = 0;
  /** The most objects held since the last compaction (or since the first look). */
  #peakObjects = 0;
  #lastCompactionAt = -Infinity;
  /** Compactions run, and the seconds they took together. */
  readonly totals = { count: 0, seconds: 0 };

  /** @param compact runs one memory-reducing collection ({@linkcode v8Compactor}). */
  constructor(compact: () => void, options: MemoryReducerOptions = {}) {
    this.#compact = compact;
    this.#periodMs = options.periodMs ?? 2_000;
    this.#quietCpu = options.quietCpu ?? 0.25;
    this.#quietPeriods = options.quietPeriods ?? 2;
    this.#growth = options.growth ?? 1.5;
    this.#shrink = options.shrink ?? 0.25;
    this.#minFreed = options.minFreedObjects ?? 2_000;
    this.#floor = options.floorBytes ?? 64 * 2 ** 20;
    this.#minInterval = options.minIntervalMs ?? 60_000;
    this.#clock = options.clock ?? systemClock;
    this.#read = options.read ?? readProcess;
  }

  /** Starts looking every period (idempotent). */
  start(): void {
    this.#stop ??= every(this.#clock, this.#periodMs, () => this.check());
  }

  stop(): void {
    this.#stop?.();
    this.#stop = undefined;
  }

  /** Whether it is looking (started, not stopped). */
  get running(): boolean {
    return this.#stop !== undefined;
  }

  /**
   * One look: compacts when the heap grew, or the objects held fell, and the process was quiet
   * long enough.
   */
  check(): Compaction | undefined {
    const now = this.#clock.now();
    const s = this.#read();
    const last = this.#last;
    const lastAt = this.#lastAt;
    this.#last = s;
    this.#lastAt = now;
    const objects = s.objects ?? 0;
    this.#peakObjects = Math.max(this.#peakObjects, objects);
    if (!last) {
      this.#baseline = s.heapTotal;
      return undefined;
    }
    const elapsed = Math.max(1, now - lastAt);
    const quiet = (s.cpuMs - last.cpuMs) / elapsed <= this.#quietCpu;
    this.#quiet = quiet ? this.#quiet + 1 : 0;
    // The heap also shrinks by itself when whole pages empty: follow it down.
    this.#baseline = Math.min(this.#baseline, s.heapTotal);
    const freed = this.#peakObjects - objects;
    const grown = s.heapTotal > this.#baseline * this.#growth;
    const emptied = freed >= this.#minFreed && freed >= this.#peakObjects * this.#shrink;
    if (s.heapTotal < this.#floor || !(grown || emptied)) return undefined;
    if (this.#quiet < this.#quietPeriods) return undefined;
    if (now - this.#lastCompactionAt < this.#minInterval) return undefined;
    const t = performance.now();
    this.#compact();
    const ms = performance.now() - t;
    const after = this.#read();
    // The pause is not the process being busy: the next period starts from here.
    this.#last = after;
    this.#lastAt = this.#clock.now();
    this.#baseline = after.heapTotal;
    this.#peakObjects = after.objects ?? 0;
    this.#lastCompactionAt = this.#lastAt;
    this.totals.count++;
    this.totals.seconds += ms / 1000;
    const mib = (b: number) => Math.round(b / 2 ** 20);
    log.debug("compacted the heap", {
      after: grown ? "it grew" : `${freed} objects let go`,
      ms: Math.round(ms),
      heapMiB: `${mib(s.heapTotal)} → ${mib(after.heapTotal)}`,
      rssMiB: `${mib(s.rss)} → ${mib(after.rss)}`,
    });
    return { at: now, ms, before: s, after };
  }
}

let shared: MemoryReducer | undefined;
let holders = 0;
/** What the holders hold: each one's count of objects (a controller's store). */
const objectCounts = new Set<() => number>();

/**
 * The process's one reducer (there is one heap however many controllers a process runs),
 * started while anyone holds it. `objects` counts what the holder keeps in memory (its store's
 * objects), so that a purge of many is followed by a compaction. Returns the release.
 */
export function holdMemoryReducer(objects?: () => number): () => void {
  shared ??= new MemoryReducer(v8Compactor(), { read: () => readProcess(objectCounts) });
  // A function of its own per hold: two holders with the same counter both count.
  const count = objects && (() => objects());
  if (count) objectCounts.add(count);
  if (holders++ === 0) shared.start();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (count) objectCounts.delete(count);
    if (--holders === 0) shared?.stop();
  };
}

/** The objects the holders of the process's reducer say they hold now (undefined: none counts). */
export function memoryReducerObjects(): number | undefined {
  return readProcess(objectCounts).objects;
}

/** Whether the process's reducer runs now (someone holds it). */
export function memoryReducerRunning(): boolean {
  return shared?.running ?? false;
}

/** Compactions the process's reducer ran, and the seconds they took (for `/metrics`). */
export function memoryReducerTotals(): { count: number; seconds: number } {
  return { ...(shared?.totals ?? { count: 0, seconds: 0 }) };
}
