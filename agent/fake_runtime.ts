/**
 * An in-memory {@linkcode UnitRuntime} for tests and the controller's in-process simulator.
 * Units "run" until stopped unless a script says otherwise; time comes from the injected clock.
 * Unlike the host runtime it accepts image-only units and volume mounts (it plays a node that
 * has a container runtime).
 */
import { type Clock, systemClock, type TimerId } from "../model/clock.ts";
import {
  type RunningUnit,
  type UnitExit,
  type UnitLaunch,
  type UnitRuntime,
  UnitStartError,
} from "./unit_runtime.ts";

/** What one fake run does. Every field is optional; `{}` runs until stopped. */
export interface FakeBehavior {
  /** Fail to start, with this reason. */
  startError?: string;
  /** Exit on its own after this many milliseconds of the clock. */
  exitAfterMs?: number;
  /** Exit code used with `exitAfterMs`. @default 0 */
  exitCode?: number;
  /** Written to stdout right after the start. */
  stdout?: string;
  /** Written to stderr right after the start. */
  stderr?: string;
  /** Ignore SIGTERM: a stop then takes the whole grace period and ends with SIGKILL. */
  ignoreTerm?: boolean;
}

/** Decides the behaviour of each launch; returning nothing means "run until stopped". */
export type FakeScript = (launch: UnitLaunch) => FakeBehavior | undefined;

/** Plays a runtime's prepare step (an image pull); returning nothing means "nothing to do". */
export type FakePreparer = (launch: UnitLaunch, signal: AbortSignal) => Promise<void> | void;

/** Options of {@linkcode FakeRuntime}. */
export interface FakeRuntimeOptions {
  /** @default systemClock */
  clock?: Clock;
  script?: FakeScript;
  /** @default nothing to prepare */
  preparer?: FakePreparer;
}

const encoder = new TextEncoder();

/** One fake run of a unit. */
export class FakeUnit implements RunningUnit {
  readonly exited: Promise<UnitExit>;
  /** Set once the run ended. */
  exit?: UnitExit;
  #resolve!: (exit: UnitExit) => void;
  #timer?: TimerId;
  #stopping?: Promise<void>;

  constructor(
    readonly pid: number,
    readonly launch: UnitLaunch,
    readonly behavior: FakeBehavior,
    readonly clock: Clock,
  ) {
    this.exited = new Promise((resolve) => this.#resolve = resolve);
    if (behavior.exitAfterMs !== undefined) {
      this.#timer = clock.setTimeout(
        () => this.finish(behavior.exitCode ?? 0),
        behavior.exitAfterMs,
      );
    }
  }

  /** True once stop() was called. */
  get stopRequested(): boolean {
    return this.#stopping !== undefined;
  }

  /** True until the run ended. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** Ends the run now with this exit code (no-op when it already ended). */
  finish(code: number, signal?: string): void {
    if (this.exit) return;
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.exit = signal ? { code, signal } : { code };
    this.#resolve(this.exit);
  }

  /** Writes output as the process would. */
  write(text: string, stream: "stdout" | "stderr" = "stdout"): void {
    const chunk = encoder.encode(text);
    if (stream === "stdout") this.launch.onStdout(chunk);
    else this.launch.onStderr(chunk);
  }

  /** SIGTERM ends the run at once (code 143), or after the grace with SIGKILL (137). */
  stop(graceMs: number): Promise<void> {
    this.#stopping ??= new Promise<void>((resolve) => {
      if (!this.running) return resolve();
      if (!this.behavior.ignoreTerm) {
        this.finish(143, "SIGTERM");
        return resolve();
      }
      const timer = this.clock.setTimeout(() => this.finish(137, "SIGKILL"), graceMs);
      this.exited.then(() => {
        this.clock.clearTimeout(timer);
        resolve();
      });
    });
    return this.#stopping;
  }
}

/** The fake runtime: records every launch; tests make units exit or write output on demand. */
export class FakeRuntime implements UnitRuntime {
  /** Every launch, in order (start failures included). */
  readonly launches: UnitLaunch[] = [];
  /** Every run that started, in order. */
  readonly runs: FakeUnit[] = [];
  /** Every prepare call, in order. */
  readonly prepares: UnitLaunch[] = [];
  /** Behaviour of the next launches; replaceable at any time. */
  script: FakeScript;
  /** Behaviour of the next prepare calls; replaceable at any time. */
  preparer?: FakePreparer;
  readonly clock: Clock;
  #nextPid = 1000;

  constructor(options: FakeRuntimeOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.script = options.script ?? (() => undefined);
    this.preparer = options.preparer;
  }

  /** Records the call and does what the preparer says. */
  prepare(launch: UnitLaunch, signal: AbortSignal): Promise<void> | void {
    this.prepares.push(launch);
    return this.preparer?.(launch, signal);
  }

  /** Starts a fake run as the script says. */
  start(launch: UnitLaunch): RunningUnit {
    this.launches.push(launch);
    const behavior = this.script(launch) ?? {};
    if (behavior.startError !== undefined) throw new UnitStartError(behavior.startError);
    const unit = new FakeUnit(this.#nextPid++, launch, behavior, this.clock);
    this.runs.push(unit);
    if (behavior.stdout) unit.write(behavior.stdout, "stdout");
    if (behavior.stderr) unit.write(behavior.stderr, "stderr");
    return unit;
  }

  /** The live run of a unit, if it is running. */
  unit(name: string): FakeUnit | undefined {
    return this.runs.findLast((run) => run.launch.name === name && run.running);
  }

  /** Names of the units running now. */
  runningUnits(): string[] {
    return this.runs.filter((run) => run.running).map((run) => run.launch.name);
  }

  /** How many times a unit was launched. */
  launchCount(name: string): number {
    return this.launches.filter((launch) => launch.name === name).length;
  }

  /** Makes the live run of a unit exit; throws when it is not running. */
  exit(name: string, code = 0): void {
    this.#live(name).finish(code);
  }

  /** Writes output for the live run of a unit; throws when it is not running. */
  write(name: string, text: string, stream: "stdout" | "stderr" = "stdout"): void {
    this.#live(name).write(text, stream);
  }

  #live(name: string): FakeUnit {
    const unit = this.unit(name);
    if (!unit) throw new Error(`unit "${name}" is not running`);
    return unit;
  }
}
