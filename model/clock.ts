/** Time, injected everywhere so tests can move it. */

/** A source of the current time. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
}

/** The real clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private t = Date.UTC(2026, 0, 1)) {}
  /** Current time in epoch milliseconds. */
  now(): number {
    return this.t;
  }
  /** Moves time forward. */
  advance(ms: number): void {
    this.t += ms;
  }
}

/** RFC 3339 time with milliseconds, as objects carry it. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
