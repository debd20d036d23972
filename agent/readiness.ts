/**
 * The readiness probing of one run of a unit, as Kubernetes' prober worker does it: not ready at
 * first; `successThreshold` consecutive successes make it ready, `failureThreshold` consecutive
 * failures make it not ready. Time comes from the injected clock.
 *
 * Schedule: the first check at the run's start + initialDelaySeconds, then one every
 * periodSeconds counted from the previous check's start. Checks never overlap: a check that is
 * still running when the next is due delays it. A check that takes longer than timeoutSeconds is
 * aborted and counts as a failure.
 */
import type { Probe } from "../model/pod.ts";
import type { Clock, TimerId } from "../model/clock.ts";
import {
  probeCheck,
  type Prober,
  type ProbeResult,
  type ProbeTarget,
  type ProbeTiming,
  probeTiming,
} from "./probe.ts";

/** Options of {@linkcode ReadinessWorker}. */
export interface ReadinessWorkerOptions {
  unit: string;
  probe: Probe;
  target: ProbeTarget;
  prober: Prober;
  clock: Clock;
  /** When the run started (epoch ms); the initial delay counts from it. */
  startedAt: number;
  /** Called when readiness flips, with the result that flipped it. */
  onChange: (ready: boolean, result: ProbeResult) => void;
}

interface InFlight {
  abort: AbortController;
  timer: TimerId;
  settle: (result: ProbeResult | undefined) => void;
}

/** Probes one run of a unit until stopped; starts not ready. */
export class ReadinessWorker {
  #o: ReadinessWorkerOptions;
  #timing: ProbeTiming;
  #ready = false;
  #last?: boolean;
  #streak = 0;
  #stopped = false;
  #timer?: TimerId;
  #inFlight?: InFlight;

  constructor(options: ReadinessWorkerOptions) {
    this.#o = options;
    this.#timing = probeTiming(options.probe);
    const due = options.startedAt + this.#timing.initialDelaySeconds * 1000;
    this.#schedule(due - options.clock.now());
  }

  /** True once the probe passed successThreshold times in a row, until it fails enough. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Stops probing: cancels the next check and aborts a running one. Idempotent. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const check = this.#inFlight;
    this.#inFlight = undefined;
    if (check) {
      this.#o.clock.clearTimeout(check.timer);
      check.abort.abort();
      check.settle(undefined);
    }
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#probe();
    }, Math.max(0, delayMs));
  }

  async #probe(): Promise<void> {
    const { clock, prober, unit, probe, target } = this.#o;
    const startedAt = clock.now();
    const timeoutMs = this.#timing.timeoutSeconds * 1000;
    const abort = new AbortController();
    const result = await new Promise<ProbeResult | undefined>((settle) => {
      const timer = clock.setTimeout(() => {
        this.#inFlight = undefined;
        abort.abort();
        settle({ ok: false, detail: `timed out after ${this.#timing.timeoutSeconds} s` });
      }, timeoutMs);
      this.#inFlight = { abort, timer, settle };
      const done = (result: ProbeResult) => {
        if (this.#inFlight?.abort !== abort) return;
        this.#inFlight = undefined;
        clock.clearTimeout(timer);
        settle(result);
      };
      const failed = (err: unknown) =>
        done({ ok: false, detail: err instanceof Error ? err.message : String(err) });
      try {
        prober.check(probeCheck(unit, probe, target), abort.signal).then(done, failed);
      } catch (err) {
        failed(err);
      }
    });
    if (this.#stopped || !result) return;
    this.#record(result);
    this.#schedule(startedAt + this.#timing.periodSeconds * 1000 - clock.now());
  }

  #record(result: ProbeResult): void {
    if (result.ok === this.#last) this.#streak++;
    else {
      this.#last = result.ok;
      this.#streak = 1;
    }
    const threshold = result.ok ? this.#timing.successThreshold : this.#timing.failureThreshold;
    if (this.#streak < threshold || this.#ready === result.ok) return;
    this.#ready = result.ok;
    this.#o.onChange(result.ok, result);
  }
}
