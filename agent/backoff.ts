/**
 * Unit restart backoff: itzo's constants (1 s doubling per restart up to 5 min) with
 * Kubernetes' CrashLoopBackOff rule for the reset: only a run of 10 min or more brings the
 * delay back to 1 s. The exit code does not matter, so a unit that exits 0 at once under
 * `restartPolicy: Always` backs off like one that crashes.
 */
import type { Clock } from "../model/clock.ts";

/** Tunables of a restart backoff. */
export interface BackoffPolicy {
  /** First delay, and the delay after a reset. */
  initialMs: number;
  /** Largest delay. */
  maxMs: number;
  /** A run at least this long resets the delay. */
  resetAfterMs: number;
}

/** itzo's constants: 1 s, 5 min cap, reset after a 10 min run. */
export const UNIT_RESTART_BACKOFF: BackoffPolicy = {
  initialMs: 1_000,
  maxMs: 5 * 60_000,
  resetAfterMs: 10 * 60_000,
};

/** How the last run of a unit ended. */
export interface RunResult {
  /** How long the unit ran, in milliseconds. */
  ranMs: number;
  /** Any code, 0 included, counts alike: only `ranMs` can reset the delay. */
  exitCode: number;
}

/**
 * The delay before the next restart, given the delay used for the previous one (undefined
 * before the first restart) and how the last run ended: double the previous delay up to
 * `maxMs`, or `initialMs` after a run of at least `resetAfterMs`. Pure.
 */
export function nextRestartDelay(
  previousMs: number | undefined,
  run: RunResult,
  policy: BackoffPolicy = UNIT_RESTART_BACKOFF,
): number {
  if (previousMs === undefined || run.ranMs >= policy.resetAfterMs) {
    return policy.initialMs;
  }
  return Math.min(previousMs * 2, policy.maxMs);
}

/** Backoff state of one unit: call `started()` when it starts, `exited()` when it exits. */
export class RestartBackoff {
  #previousMs?: number;
  #startedAt?: number;

  constructor(readonly clock: Clock, readonly policy: BackoffPolicy = UNIT_RESTART_BACKOFF) {}

  /** Records that the unit started now. */
  started(): void {
    this.#startedAt = this.clock.now();
  }

  /** Records that the unit exited now and returns the delay before restarting it. */
  exited(exitCode: number): number {
    const ranMs = this.#startedAt === undefined ? 0 : this.clock.now() - this.#startedAt;
    this.#previousMs = nextRestartDelay(this.#previousMs, { ranMs, exitCode }, this.policy);
    return this.#previousMs;
  }
}
