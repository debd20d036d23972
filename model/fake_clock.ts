/**
 * A {@linkcode Clock} for tests: time moves only when told to, and timers fire in time order as
 * it moves. Only tests (and test harnesses) import this file.
 */
import type { Clock, TimerId } from "./clock.ts";

interface FakeTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. `advance()` fires due timers in time order and lets
 * pending promise callbacks run between them, so code reacting to a timer settles before the
 * next one fires.
 */
export class FakeClock implements Clock {
  #now: number;
  #timers = new Map<number, FakeTimer>();
  #nextId = 1;

  /** @param start epoch milliseconds; @default 2026-01-01T00:00:00Z */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  /** Current fake time. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at now + ms (negative delays count as 0). */
  setTimeout(fn: () => void, ms: number): number {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), seq: id, fn });
    return id;
  }

  /** Cancels a pending timer. */
  clearTimeout(id: TimerId): void {
    this.#timers.delete(id as number);
  }

  /** Number of timers not fired yet. */
  get pendingTimers(): number {
    return this.#timers.size;
  }

  /** Milliseconds until the next timer fires, or undefined when none is pending. */
  nextTimerIn(): number | undefined {
    const next = this.#next();
    return next ? next[1].at - this.#now : undefined;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (let next = this.#next(); next && next[1].at <= end; next = this.#next()) {
      const [id, timer] = next;
      this.#timers.delete(id);
      this.#now = Math.max(this.#now, timer.at);
      timer.fn();
      await settle();
    }
    this.#now = Math.max(this.#now, end);
  }

  /** Moves time to the next timer and fires it (and any due at the same instant). */
  async runNext(): Promise<void> {
    const wait = this.nextTimerIn();
    if (wait !== undefined) await this.advance(wait);
  }

  #next(): [number, FakeTimer] | undefined {
    let best: [number, FakeTimer] | undefined;
    for (const entry of this.#timers) {
      const [, t] = entry;
      if (!best || t.at < best[1].at || (t.at === best[1].at && t.seq < best[1].seq)) best = entry;
    }
    return best;
  }
}

/** Lets every queued promise callback run (one macrotask turn). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
