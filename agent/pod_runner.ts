/**
 * Runs the one pod of a node. `apply()` converges idempotently to a desired pod: the same pod
 * twice changes nothing, a new uid (or changed init units) replaces everything, changed units
 * restart (a changed readiness probe alone is applied without a restart), removed units stop,
 * added units start, and null stops everything.
 *
 * Applies run one at a time; while one runs, only the latest waiting apply is carried out.
 */
import type { DesiredPod } from "../model/agent_protocol.ts";
import type { UnitStatus } from "../model/pod.ts";
import { type Clock, systemClock } from "../model/clock.ts";
import type { UnitLog } from "./logs.ts";
import { type PodContext, podName, PodRun } from "./pod_run.ts";
import { checkDesiredPod, defaultUnitPath, sameUnits } from "./pod_spec.ts";
import { HostProber } from "./host_prober.ts";
import type { Prober } from "./probe.ts";
import type { UnitRuntime } from "./unit_runtime.ts";

/** Host of httpGet and tcpSocket readiness probes when the pod IP is unknown. */
export const DEFAULT_PROBE_HOST = "127.0.0.1";

/** Grace period between SIGTERM and SIGKILL when units stop. */
export const DEFAULT_STOP_GRACE_MS = 10_000;

/** Options of {@linkcode PodRunner}. */
export interface PodRunnerOptions {
  /** Holds `units/<unit>/` (default working directories) and `logs/<unit>.log`. */
  dataDir: string;
  runtime: UnitRuntime;
  /** Carries out readiness probe checks. @default new HostProber() */
  prober?: Prober;
  /** The pod's address: host of httpGet and tcpSocket probes. @default DEFAULT_PROBE_HOST */
  podIP?: string;
  /** @default systemClock */
  clock?: Clock;
  /** Called whenever any status changes (readiness included). */
  onChange?: () => void;
  /** @default DEFAULT_STOP_GRACE_MS */
  stopGraceMs?: number;
  /** The agent's own log. */
  log?: (message: string) => void;
  /** PATH of units. @default the directory of Deno.execPath(), then HOST_PATH */
  path?: string;
  /** HOME of units. @default the agent's HOME, else "/root" */
  home?: string;
}

/** What the runner reports: the pod's uid and its units' statuses. */
export interface PodRunnerStatus {
  podUid?: string;
  unitStatuses: UnitStatus[];
  initUnitStatuses: UnitStatus[];
}

/** Runs at most one pod, converging to whatever `apply()` was given last. */
export class PodRunner {
  #ctx: PodContext;
  #graceMs: number;
  #run?: PodRun;
  #queue: Promise<void> = Promise.resolve();
  #latest = 0;

  constructor(options: PodRunnerOptions) {
    this.#graceMs = options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS;
    this.#ctx = {
      dataDir: options.dataDir,
      runtime: options.runtime,
      prober: options.prober ?? new HostProber(),
      podIP: options.podIP || DEFAULT_PROBE_HOST,
      clock: options.clock ?? systemClock,
      base: { PATH: options.path ?? defaultUnitPath(), HOME: options.home ?? agentHome() },
      onChange: options.onChange ?? (() => {}),
      log: options.log ?? (() => {}),
    };
  }

  /**
   * Converges to `pod`. Resolves once units that had to go are stopped and the pod's start is
   * under way (init units may still be running); rejects when the pod cannot be run at all.
   */
  apply(pod: DesiredPod | null, graceMs = this.#graceMs): Promise<void> {
    try {
      if (pod) checkDesiredPod(pod);
    } catch (err) {
      return Promise.reject(err);
    }
    const ticket = ++this.#latest;
    const done = this.#queue.then(() =>
      ticket === this.#latest ? this.#apply(pod, graceMs) : undefined
    );
    this.#queue = done.catch(() => {});
    return done;
  }

  /** Stops every unit; same as `apply(null)`. */
  stop(graceMs = this.#graceMs): Promise<void> {
    return this.apply(null, graceMs);
  }

  /** The pod being run, if any. */
  get pod(): DesiredPod | undefined {
    return this.#run?.pod;
  }

  /** Statuses of the current pod's units, in spec order. */
  status(): PodRunnerStatus {
    const run = this.#run;
    if (!run) return { unitStatuses: [], initUnitStatuses: [] };
    return { podUid: run.pod.uid, ...run.statuses() };
  }

  /** The log of a unit (init or not) of the current pod. */
  logs(unit: string): UnitLog | undefined {
    return this.#run?.logs.get(unit);
  }

  /** Names of the current pod's units, init units first. */
  unitNames(): string[] {
    const spec = this.#run?.pod.spec;
    return spec ? [...(spec.initUnits ?? []), ...spec.units].map((u) => u.name) : [];
  }

  async #apply(pod: DesiredPod | null, graceMs: number): Promise<void> {
    const current = this.#run;
    if (!pod) {
      if (!current) return;
      this.#run = undefined;
      this.#ctx.onChange();
      this.#ctx.log(`stopping pod ${podName(current.pod)}`);
      await current.stop(graceMs);
      return;
    }
    if (
      current && current.pod.uid === pod.uid &&
      sameUnits(current.pod.spec.initUnits, pod.spec.initUnits)
    ) {
      await current.update(pod, graceMs);
      return;
    }
    const next = new PodRun(pod, this.#ctx);
    this.#run = next;
    this.#ctx.onChange();
    if (current) {
      this.#ctx.log(`replacing pod ${podName(current.pod)} with ${podName(pod)} (uid ${pod.uid})`);
      await current.stop(graceMs);
    } else {
      this.#ctx.log(`running pod ${podName(pod)} (uid ${pod.uid})`);
    }
    try {
      await next.begin();
    } catch (err) {
      await next.stop(0);
      if (this.#run === next) this.#run = undefined;
      this.#ctx.onChange();
      throw err;
    }
  }
}

function agentHome(): string {
  try {
    return Deno.env.get("HOME") || "/root";
  } catch {
    return "/root";
  }
}
