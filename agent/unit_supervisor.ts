/**
 * One unit's life on the node: start it, watch it exit, restart it per the restart policy with
 * backoff, probe its readiness while it runs, and keep its UnitStatus (states and reasons as
 * itzo reported them).
 *
 * `ready` is "running" for a unit without a readiness probe. With one, every run starts not
 * ready and the probe decides (readiness.ts). Init units ignore readiness probes, as
 * Kubernetes does not allow them there.
 */
import type { RestartPolicy, Unit, UnitState, UnitStatus } from "../model/pod.ts";
import { RestartBackoff } from "./backoff.ts";
import type { Clock, TimerId } from "../model/clock.ts";
import type { LogSink, UnitLog } from "./logs.ts";
import { unitArgv } from "./pod_spec.ts";
import { probeKey, type Prober } from "./probe.ts";
import { ReadinessWorker } from "./readiness.ts";
import {
  type RunningUnit,
  type UnitContext,
  type UnitExit,
  type UnitLaunch,
  type UnitRuntime,
  UnitStartError,
  type UnitStdin,
} from "./unit_runtime.ts";

/** How a unit's supervision ended: exited 0 for good, failed for good, or stopped by us. */
export type UnitOutcome = "succeeded" | "failed" | "stopped";

/** Options of {@linkcode UnitSupervisor}. */
export interface UnitSupervisorOptions {
  unit: Unit;
  /** Init units treat restart policy Always as OnFailure. */
  init: boolean;
  /** The pod's current restart policy (read at every exit). */
  policy: () => RestartPolicy;
  runtime: UnitRuntime;
  /** Carries out readiness checks. */
  prober: Prober;
  /** Host of httpGet and tcpSocket probes (the pod IP). */
  podIP: string;
  clock: Clock;
  log: UnitLog;
  cwd: string;
  /** The unit's environment (read at every start). */
  env: () => Record<string, string>;
  onChange: () => void;
  /** The agent's own log. */
  report?: (message: string) => void;
  /** Restart count and last state inherited from the unit's previous definition. */
  previous?: { restartCount: number; lastState?: UnitState };
  /** The unit's pod context for the runtime (read at every start). */
  context?: () => UnitContext;
}

/** What exec and attach need to know of a running unit (UnitSupervisor.current). */
export interface UnitRunInfo {
  pid?: number;
  env: Record<string, string>;
  cwd: string;
  context?: UnitContext;
  /** The run's stdin pipe (a unit with `stdin: true`). */
  stdin?: UnitStdin;
}

/** The status of a unit that has not started: `waiting{reason: "Unit waiting"}`. */
export function waitingStatus(unit: Unit): UnitStatus {
  const status: UnitStatus = {
    name: unit.name,
    state: { waiting: { reason: "Unit waiting" } },
    restartCount: 0,
  };
  if (unit.image) status.image = unit.image;
  status.ready = false;
  return status;
}

/** Runs and restarts one unit. */
export class UnitSupervisor {
  #unit: Unit;
  /** Settles once the unit will not run again. */
  readonly finished: Promise<UnitOutcome>;
  #o: UnitSupervisorOptions;
  #status: UnitStatus;
  #backoff: RestartBackoff;
  #resolve!: (outcome: UnitOutcome) => void;
  #started = false;
  #stopped = false;
  #prepared = false;
  #preparing?: Promise<void>;
  #abort = new AbortController();
  #timer?: TimerId;
  #run?: {
    unit: RunningUnit;
    handled: Promise<void>;
    startedAt: number;
    env: Record<string, string>;
    readiness?: ReadinessWorker;
  };

  constructor(options: UnitSupervisorOptions) {
    this.#o = options;
    this.#unit = options.unit;
    this.#status = waitingStatus(options.unit);
    if (options.previous) {
      this.#status.restartCount = options.previous.restartCount;
      if (options.previous.lastState) this.#status.lastState = options.previous.lastState;
    }
    this.#backoff = new RestartBackoff(options.clock);
    this.finished = new Promise((resolve) => this.#resolve = resolve);
  }

  /** The unit's definition (the latest, after {@linkcode UnitSupervisor.updateProbe}). */
  get unit(): Unit {
    return this.#unit;
  }

  /** A copy of the unit's status. */
  get status(): UnitStatus {
    return structuredClone(this.#status);
  }

  /**
   * The current run while the unit runs: its process id (the launcher's, for image units),
   * environment, working directory, pod context and stdin. Undefined between runs.
   */
  get current(): UnitRunInfo | undefined {
    const run = this.#run;
    if (!run || this.#status.state.running === undefined) return undefined;
    const info: UnitRunInfo = {
      pid: run.unit.pid,
      env: run.env,
      cwd: this.#o.cwd,
      context: this.#o.context?.(),
    };
    if (run.unit.stdin) info.stdin = run.unit.stdin;
    return info;
  }

  /** True once start() was called. */
  get started(): boolean {
    return this.#started;
  }

  /** Starts the unit (once; later calls and calls after stop() do nothing). */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#launch();
  }

  /**
   * Takes a definition of the unit that differs at most in its readiness probe, without a
   * restart. A changed probe starts probing the current run afresh: not ready, the initial
   * delay counted from the run's start. An unchanged probe changes nothing.
   */
  updateProbe(unit: Unit): void {
    const changed = probeKey(unit.readinessProbe) !== probeKey(this.#unit.readinessProbe);
    this.#unit = unit;
    const run = this.#run;
    if (!changed || !run || this.#stopped) return;
    run.readiness?.stop();
    run.readiness = this.#probe(run.startedAt, run.env);
    this.#setReady(run.readiness?.ready ?? true);
  }

  /** Stops the unit for good: cancels a pending restart and probing, stops a running process. */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#abort.abort();
    await this.#preparing;
    const run = this.#run;
    run?.readiness?.stop();
    if (run) {
      await run.unit.stop(graceMs);
      await run.handled;
    }
    this.#resolve("stopped");
  }

  #launch(): void {
    if (this.#stopped) return;
    const { log, clock } = this.#o;
    const unit = this.#unit;
    const env = this.#o.env();
    const sinks: { out?: LogSink; err?: LogSink } = {};
    const launch: UnitLaunch = {
      name: unit.name,
      argv: unitArgv(unit),
      image: unit.image,
      volumeMounts: unit.volumeMounts,
      env,
      cwd: this.#o.cwd,
      onStdout: (chunk) => sinks.out?.write(chunk),
      onStderr: (chunk) => sinks.err?.write(chunk),
      context: this.#o.context?.(),
      stdin: unit.stdin === true,
    };
    if (!this.#prepared && this.#prepare(launch)) return;
    sinks.out = log.sink("stdout");
    sinks.err = log.sink("stderr");
    let running: RunningUnit;
    try {
      running = this.#o.runtime.start(launch);
    } catch (e) {
      sinks.out.end();
      sinks.err.end();
      this.#startFailed(e);
      return;
    }
    const startMs = clock.now();
    const startedAt = new Date(startMs).toISOString();
    this.#backoff.started();
    const handled = running.exited.then((exit) => {
      sinks.out?.end();
      sinks.err?.end();
      this.#exited(exit, startedAt);
    });
    const readiness = this.#probe(startMs, env);
    this.#run = { unit: running, handled, startedAt: startMs, env, readiness };
    this.#set({ running: { startedAt } });
  }

  /**
   * Runs the runtime's prepare step for this definition. True when the launch must wait (it
   * is resumed once preparing succeeded) or failed; false when the unit can start now.
   */
  #prepare(launch: UnitLaunch): boolean {
    let pending: Promise<void> | void;
    try {
      pending = this.#o.runtime.prepare?.(launch, this.#abort.signal);
    } catch (e) {
      this.#startFailed(e);
      return true;
    }
    if (!pending) {
      this.#prepared = true;
      return false;
    }
    const unit = this.#unit;
    this.#set({
      waiting: { reason: unit.image ? `Pulling image "${unit.image}"` : "Preparing unit" },
    });
    this.#preparing = pending.then(() => {
      this.#preparing = undefined;
      this.#prepared = true;
      this.#launch();
    }, (e) => {
      this.#preparing = undefined;
      if (!this.#stopped) this.#startFailed(e);
    });
    return true;
  }

  /** Records a start that failed for good: waiting with the reason, startFailure set. */
  #startFailed(e: unknown): void {
    const reason = e instanceof UnitStartError
      ? e.message
      : `cannot start: ${e instanceof Error ? e.message : String(e)}`;
    this.#o.report?.(`unit "${this.#unit.name}" failed to start: ${reason}`);
    this.#set({ waiting: { reason, startFailure: true } });
    this.#resolve("failed");
  }

  /** Starts probing the current run, when the unit has a probe that applies. */
  #probe(startedAt: number, env: Record<string, string>): ReadinessWorker | undefined {
    const unit = this.#unit;
    const probe = unit.readinessProbe;
    if (!probe || this.#o.init) return undefined;
    const worker: ReadinessWorker = new ReadinessWorker({
      unit: unit.name,
      probe,
      target: { host: this.#o.podIP, env, cwd: this.#o.cwd },
      prober: this.#o.prober,
      clock: this.#o.clock,
      startedAt,
      onChange: (ready, result) => {
        if (this.#run?.readiness !== worker) return;
        this.#o.report?.(
          ready
            ? `unit "${unit.name}" is ready`
            : `unit "${unit.name}" is not ready: ${result.detail}`,
        );
        this.#setReady(ready);
      },
    });
    return worker;
  }

  #exited(exit: UnitExit, startedAt: string): void {
    this.#run?.readiness?.stop();
    this.#run = undefined;
    const { clock } = this.#o;
    const unit = this.#unit;
    const terminated: UnitState["terminated"] = {
      exitCode: exit.code,
      finishedAt: new Date(clock.now()).toISOString(),
      startedAt,
    };
    if (exit.signal) terminated.reason = `Killed by ${exit.signal}`;
    if (this.#stopped) {
      this.#set({ terminated });
      return;
    }
    let policy = this.#o.policy();
    if (this.#o.init && policy === "Always") policy = "OnFailure";
    if (policy === "Never" || (policy === "OnFailure" && exit.code === 0)) {
      this.#o.report?.(`unit "${unit.name}" exited with code ${exit.code}`);
      this.#set({ terminated });
      this.#resolve(exit.code === 0 ? "succeeded" : "failed");
      return;
    }
    const delay = this.#backoff.exited(exit.code);
    this.#o.report?.(
      `unit "${unit.name}" exited with code ${exit.code}; restarting in ${delay / 1000} s`,
    );
    this.#status.lastState = { terminated };
    this.#status.restartCount++;
    this.#set({ waiting: { reason: `Waiting for unit restart, last exit code: ${exit.code}` } });
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      this.#launch();
    }, delay);
  }

  #set(state: UnitState): void {
    this.#status.state = state;
    this.#status.ready = state.running !== undefined && (this.#run?.readiness?.ready ?? true);
    this.#o.onChange();
  }

  /** Sets readiness while running; fires onChange only when it changed. */
  #setReady(ready: boolean): void {
    if (!this.#status.state.running || this.#status.ready === ready) return;
    this.#status.ready = ready;
    this.#o.onChange();
  }
}
