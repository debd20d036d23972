/**
 * Active health checks of a load balancer's backends, in the manner of a classic ELB: each
 * backend is probed every interval; `healthyThreshold` consecutive passes bring it into rotation
 * and `unhealthyThreshold` consecutive failures take it out.
 *
 * Choices beyond ELB's, for a balancer on one machine:
 * - A new backend is probed at once rather than an interval later, so it joins after
 *   `(healthyThreshold - 1) × interval`.
 * - Cold start: backends added while no backend is healthy (a new Service, or one whose
 *   backends all died) join on their first passing check, since serving beats refusing.
 * - A failed connection from the balancer to a backend counts as a failed check, so a dead
 *   backend with traffic leaves sooner than its checks alone would take it out.
 * - A backend whose checks pass and fail alternately never changes state.
 */
import { type Clock, systemClock, type TimerId } from "../../model/clock.ts";
import type { HealthCheckConfig } from "../lb_annotations.ts";

/**
 * One check of a backend address: resolves when it is healthy, rejects with the reason when
 * not. It must settle soon after `signal` aborts, which happens when the check times out.
 */
export type Probe = (address: string, signal: AbortSignal) => Promise<void>;

/** A probe that passes when a TCP connection to `address:port` opens; it closes it at once. */
export function tcpProbe(port: number): Probe {
  return async (address, signal) => {
    const conn = await Deno.connect({ hostname: address, port, signal });
    conn.close();
  };
}

/** A backend of a load balancer: a stable id (the pod) and the address it is reached at. */
export interface Backend {
  id: string;
  address: string;
}

/** What the checker knows about one backend. */
export interface BackendHealth extends Backend {
  /** In rotation. Backends start out of it. */
  healthy: boolean;
  consecutiveSuccesses: number;
  consecutiveFailures: number;
  /** Epoch milliseconds of the last check that finished. */
  lastCheckAt?: number;
  /** Why the last failed check or connection failed, until a check passes. */
  lastError?: string;
  /** Connections the balancer failed to open to it since it was added. */
  connectFailures: number;
}

/** How a {@linkcode HealthChecker} reaches backends and reports changes. */
export interface HealthCheckerOptions {
  probe: Probe;
  /** @default systemClock */
  clock?: Clock;
  /** Called after a backend enters or leaves rotation; what it throws is ignored. */
  onChange?: (backend: BackendHealth) => void;
}

interface Target {
  health: BackendHealth;
  /** Joins on its first passing check (cold start); cleared by the first check. */
  fastJoin: boolean;
  removed: boolean;
  timer?: TimerId;
  check?: { abort: AbortController; done: Promise<void> };
}

/** Checks a changing set of backends on a schedule and keeps which of them are healthy. */
export class HealthChecker {
  readonly #config: HealthCheckConfig;
  readonly #probe: Probe;
  readonly #clock: Clock;
  readonly #onChange: (backend: BackendHealth) => void;
  #targets = new Map<string, Target>();
  #running = new Set<Promise<void>>();
  #closed = false;

  /**
   * Accepts any positive timing, including the sub-second ones tests need; the ranges users
   * may ask for are enforced by `parseHealthCheck`.
   * @throws {RangeError} when a time is not positive or a threshold not a positive integer.
   */
  constructor(config: HealthCheckConfig, options: HealthCheckerOptions) {
    const { intervalMs, timeoutMs, healthyThreshold, unhealthyThreshold } = config;
    if (!(intervalMs > 0) || !(timeoutMs > 0)) {
      throw new RangeError("health check interval and timeout must be positive");
    }
    for (const n of [healthyThreshold, unhealthyThreshold]) {
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError("health check thresholds must be positive integers");
      }
    }
    this.#config = { ...config };
    this.#probe = options.probe;
    this.#clock = options.clock ?? systemClock;
    this.#onChange = options.onChange ?? (() => {});
  }

  /**
   * Replaces the backend set; the order given is the rotation order. A backend kept with the
   * same id and address keeps its health; a new one (or one whose address changed) starts out of
   * rotation and is checked at once; a removed one leaves rotation at once.
   * @throws {TypeError} when two backends share an id.
   */
  setBackends(backends: readonly Backend[]): void {
    if (this.#closed) return;
    const ids = new Set(backends.map((b) => b.id));
    if (ids.size !== backends.length) throw new TypeError("backend ids must be unique");
    const next = new Map<string, Target>();
    const added: Target[] = [];
    for (const { id, address } of backends) {
      const old = this.#targets.get(id);
      if (old && old.health.address === address) {
        next.set(id, old);
        continue;
      }
      const target: Target = {
        health: {
          id,
          address,
          healthy: false,
          consecutiveSuccesses: 0,
          consecutiveFailures: 0,
          connectFailures: 0,
        },
        fastJoin: false,
        removed: false,
      };
      added.push(target);
      next.set(id, target);
    }
    for (const [id, old] of this.#targets) if (next.get(id) !== old) this.#stop(old);
    this.#targets = next;
    const coldStart = ![...next.values()].some((t) => t.health.healthy);
    for (const target of added) {
      target.fastJoin = coldStart;
      target.timer = this.#clock.setTimeout(() => this.#check(target), 0);
    }
  }

  /** The backends in rotation, in rotation order. */
  healthy(): Backend[] {
    const out: Backend[] = [];
    for (const { health: { id, address, healthy } } of this.#targets.values()) {
      if (healthy) out.push({ id, address });
    }
    return out;
  }

  /** Whether the backend is in rotation. */
  isHealthy(id: string): boolean {
    return this.#targets.get(id)?.health.healthy ?? false;
  }

  /** Counts a failed connection to the backend as a failed check. */
  reportConnectFailure(id: string, error: string): void {
    const target = this.#targets.get(id);
    if (!target || this.#closed) return;
    target.health.connectFailures++;
    this.#failed(target, error, false);
  }

  /** Every backend with its health, in rotation order. */
  status(): BackendHealth[] {
    return [...this.#targets.values()].map((t) => ({ ...t.health }));
  }

  /** Stops every check and waits for running ones to end. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const target of this.#targets.values()) this.#stop(target);
    await Promise.all(this.#running);
  }

  #stop(target: Target): void {
    target.removed = true;
    this.#clock.clearTimeout(target.timer);
    target.check?.abort.abort();
  }

  /** Runs one check and schedules the next an interval after this one started. */
  #check(target: Target): void {
    if (target.removed || this.#closed) return;
    const { intervalMs, timeoutMs } = this.#config;
    target.timer = this.#clock.setTimeout(() => this.#check(target), intervalMs);
    if (target.check) return; // the last one is still running: its timeout exceeds the interval
    const abort = new AbortController();
    let timer: unknown;
    const timedOut = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    const probe = this.#probe(target.health.address, abort.signal);
    const done = Promise.race([probe, timedOut]).then(
      () => this.#passed(target),
      (error) => this.#failed(target, errorText(error)),
    ).finally(async () => {
      this.#clock.clearTimeout(timer);
      abort.abort();
      await probe.catch(() => {});
      target.check = undefined;
      this.#running.delete(done);
    });
    target.check = { abort, done };
    this.#running.add(done);
  }

  #passed(target: Target): void {
    if (target.removed || this.#closed) return;
    const h = target.health;
    h.lastCheckAt = this.#clock.now();
    h.consecutiveSuccesses++;
    h.consecutiveFailures = 0;
    delete h.lastError;
    const joins = h.consecutiveSuccesses >= this.#config.healthyThreshold || target.fastJoin;
    target.fastJoin = false;
    if (!h.healthy && joins) this.#change(target, true);
  }

  #failed(target: Target, error: string, fromCheck = true): void {
    if (target.removed || this.#closed) return;
    const h = target.health;
    if (fromCheck) h.lastCheckAt = this.#clock.now();
    h.consecutiveFailures++;
    h.consecutiveSuccesses = 0;
    h.lastError = error;
    target.fastJoin = false;
    if (h.healthy && h.consecutiveFailures >= this.#config.unhealthyThreshold) {
      this.#change(target, false);
    }
  }

  #change(target: Target, healthy: boolean): void {
    target.health.healthy = healthy;
    try {
      this.#onChange({ ...target.health });
    } catch {
      // a listener's failure must not stop the checks
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
