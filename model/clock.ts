/**
 * Time and timers: the one clock every actor, the agent, the health checker and the supervisor
 * take, injected so that tests move time by hand (`FakeClock` in `model/fake_clock.ts`) instead
 * of sleeping.
 */

/** Opaque handle of a timer set through a {@linkcode Clock}. */
export type TimerId = unknown;

/** Wall time and one-shot timers. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms` milliseconds (negative delays count as 0). */
  setTimeout(fn: () => void, ms: number): TimerId;
  /** Cancels a timer; unknown or fired ids are ignored. */
  clearTimeout(id: TimerId): void;
}

/** The real clock: `Date.now()` and the global timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.max(0, ms)),
  clearTimeout: (id) => clearTimeout(id as number),
};

/** Runs `fn` every `periodMs` until the returned function is called. */
export function every(clock: Clock, periodMs: number, fn: () => void): () => void {
  let timer: TimerId;
  let stopped = false;
  const arm = () => {
    timer = clock.setTimeout(() => {
      if (stopped) return;
      arm();
      fn();
    }, periodMs);
  };
  arm();
  return () => {
    stopped = true;
    clock.clearTimeout(timer);
  };
}

/** Resolves after `ms` milliseconds of `clock` time, or as soon as `signal` aborts. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clock.clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Settles with `promise`, or with undefined once `ms` milliseconds of `clock` time passed
 * first. The timer is cleared either way.
 */
export async function within<T>(
  clock: Clock,
  ms: number,
  promise: Promise<T>,
): Promise<T | undefined> {
  let timer: TimerId;
  const timeout = new Promise<undefined>((r) => timer = clock.setTimeout(() => r(undefined), ms));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clock.clearTimeout(timer);
  }
}

let lastMs = NaN;
let lastIso = "";

/** RFC 3339 time with milliseconds, as objects carry it. */
export function isoTime(ms: number): string {
  // The same millisecond is formatted many times over in a burst (every status of every actor).
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}

/** Epoch ms of an RFC 3339 time, or undefined when absent or not a time. */
export function epochMs(iso: string | undefined): number | undefined {
  const ms = Date.parse(iso ?? "");
  return Number.isNaN(ms) ? undefined : ms;
}
