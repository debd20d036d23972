/**
 * An in-memory {@linkcode Prober} for tests and the controller's in-process simulator: every
 * check succeeds unless a script says otherwise, and every check is recorded.
 */
import type { ProbeCheck, Prober, ProbeResult } from "./probe.ts";

/** What one fake check does: pass (true), fail (false), a full result, or hang until aborted. */
export type FakeProbeOutcome = boolean | ProbeResult | "hang";

/** Decides the outcome of each check; returning nothing means success. */
export type FakeProbeScript = (check: ProbeCheck) => FakeProbeOutcome | undefined;

/** Options of {@linkcode FakeProber}. */
export interface FakeProberOptions {
  script?: FakeProbeScript;
}

/** The fake prober: records checks and answers them as scripted, at once. */
export class FakeProber implements Prober {
  /** Every check, in order. */
  readonly checks: ProbeCheck[] = [];
  /** Outcome of the next checks; replaceable at any time. */
  script: FakeProbeScript;
  #hanging = 0;

  constructor(options: FakeProberOptions = {}) {
    this.script = options.script ?? (() => undefined);
  }

  /** Number of hanging checks not aborted yet. */
  get hanging(): number {
    return this.#hanging;
  }

  /** How many checks of a unit were made. */
  checkCount(unit: string): number {
    return this.checks.filter((check) => check.unit === unit).length;
  }

  /** Answers as the script says; a hanging check fails once `signal` aborts. */
  check(check: ProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
    this.checks.push(check);
    const outcome = this.script(check) ?? true;
    if (outcome === "hang") {
      this.#hanging++;
      return new Promise((resolve) => {
        const end = () => {
          this.#hanging--;
          resolve({ ok: false, detail: "aborted" });
        };
        if (signal.aborted) end();
        else signal.addEventListener("abort", end, { once: true });
      });
    }
    if (typeof outcome === "object") return Promise.resolve(outcome);
    return Promise.resolve({ ok: outcome, detail: outcome ? "fake success" : "fake failure" });
  }
}
