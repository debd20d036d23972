/**
 * Runs the one pod of a node. `apply()` converges idempotently to a desired pod: the same pod
 * twice changes nothing, a new uid (or changed init units) replaces everything, changed units
 * restart (a changed readiness probe alone is applied without a restart), removed units stop,
 * added units start, and null stops everything.
 *
 * Units an apply stops get SIGTERM, then SIGKILL after the pod's
 * `terminationGracePeriodSeconds`: that of the pod that goes (null, a new uid), or of the
 * desired pod (changed and removed units). An apply resolves only once they exited.
 *
 * After `apply(null)` the stopped pod stays visible until another pod is applied: `status()`
 * reports its uid with its unit statuses (final, terminated or waiting, once the apply
 * resolved) and `logs()` reads its logs. `pod` is undefined from the moment the stop begins.
 *
 * Applies run one at a time; while one runs, only the latest waiting apply is carried out.
 */
import type { MilpactlSource } from "./milpactl_volume.ts";
import type { DesiredPod } from "../model/agent_protocol.ts";
import type { UnitStatus } from "../model/pod.ts";
import { type Clock, systemClock } from "../model/clock.ts";
import type { UnitLog } from "./logs.ts";
import { type PodContext, podName, PodRun } from "./pod_run.ts";
import { checkDesiredPod, defaultUnitPath, podGraceMs, sameUnits } from "./pod_spec.ts";
import { HostProber } from "./host_prober.ts";
import type { Prober } from "./probe.ts";
import type { UnitRuntime } from "./unit_runtime.ts";

/** Host of httpGet and tcpSocket readiness probes when the pod IP is unknown. */
export const DEFAULT_PROBE_HOST = "127.0.0.1";

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
  /**
   * Grace period between SIGTERM and SIGKILL for every stop, instead of each pod's own (for
   * tests). @default the pod's terminationGracePeriodSeconds
   */
  stopGraceMs?: number;
  /** The agent's own log. */
  log?: (message: string) => void;
  /** PATH of units. @default the directory of Deno.execPath(), then HOST_PATH */
  path?: string;
  /** HOME of units. @default the agent's HOME, else "/root" */
  home?: string;
  /**
   * HOSTNAME of host-process units: the name of the node they share.
   * @default this process's hostname, else the pod name
   */
  hostname?: string;
  /** Where milpactl comes from, for pods that drive Milpa (`agent/milpactl_volume.ts`). */
  milpactl?: MilpactlSource;
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
  #graceMs?: number;
  #run?: PodRun;
  /** The run `apply(null)` stopped last, kept for its logs until another pod is applied. */
  #stopped?: PodRun;
  #queue: Promise<void> = Promise.resolve();
  #latest = 0;

  constructor(options: PodRunnerOptions) {
    this.#graceMs = options.stopGraceMs;
    this.#ctx = {
      dataDir: options.dataDir,
      runtime: options.runtime,
      prober: options.prober ?? new HostProber(),
      podIP: options.podIP || DEFAULT_PROBE_HOST,
      clock: options.clock ?? systemClock,
      base: {
        PATH: options.path ?? defaultUnitPath(),
        HOME: options.home ?? agentHome(),
        HOSTNAME: options.hostname ?? agentHostname(),
      },
      onChange: options.onChange ?? (() => {}),
      log: options.log ?? (() => {}),
      milpactl: options.milpactl,
    };
  }

  /**
   * Converges to `pod`. Resolves once units that had to go are stopped and the pod's start is
   * under way (init units may still be running); rejects when the pod cannot be run at all.
   * `graceMs` replaces the pod's grace period for the units this apply stops.
   */
  apply(pod: DesiredPod | null, graceMs?: number): Promise<void> {
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
  stop(graceMs?: number): Promise<void> {
    return this.apply(null, graceMs);
  }

  /** The pod being run, if any. */
  get pod(): DesiredPod | undefined {
    return this.#run?.pod;
  }

  /** The run of the pod being run, if any (deployPackage goes there). */
  get run(): PodRun | undefined {
    return this.#run;
  }

  /** The pod `apply(null)` stopped last (or is stopping), until another pod is applied. */
  get stoppedPod(): DesiredPod | undefined {
    return this.#stopped?.pod;
  }

  /**
   * Statuses of the current pod's units, in spec order; when there is none, of the
   * {@linkcode stoppedPod}'s units (final once its stop resolved).
   */
  status(): PodRunnerStatus {
    const run = this.#run ?? this.#stopped;
    if (!run) return { unitStatuses: [], initUnitStatuses: [] };
    return { podUid: run.pod.uid, ...run.statuses() };
  }

  /**
   * The log of a unit (init or not) of the current pod, else of the {@linkcode stoppedPod}
   * (closed once its stop ended: following it ends at once).
   */
  logs(unit: string): UnitLog | undefined {
    return (this.#run ?? this.#stopped)?.logs.get(unit);
  }

  /** A unit of the current pod by name, with its current run while it runs (for exec). */
  unit(name: string): ReturnType<PodRun["unit"]> {
    return this.#run?.unit(name);
  }

  /** Names of the current pod's units, init units first. */
  unitNames(): string[] {
    const spec = this.#run?.pod.spec;
    return spec ? [...(spec.initUnits ?? []), ...spec.units].map((u) => u.name) : [];
  }

  async #apply(pod: DesiredPod | null, graceMs: number | undefined): Promise<void> {
    const current = this.#run;
    const { log } = this.#ctx;
    if (!pod) {
      if (!current) return;
      this.#run = undefined;
      this.#stopped = current;
      this.#ctx.onChange();
      const grace = this.#grace(current.pod, graceMs);
      log(`stopping pod ${podName(current.pod)} (grace period ${grace / 1000} s)`);
      await current.stop(grace);
      log(`pod ${podName(current.pod)} stopped: ${describeEnds(current)}`);
      return;
    }
    this.#stopped = undefined;
    if (
      current && current.pod.uid === pod.uid &&
      sameUnits(current.pod.spec.initUnits, pod.spec.initUnits)
    ) {
      await current.update(pod, this.#grace(pod, graceMs));
      return;
    }
    const next = new PodRun(pod, this.#ctx);
    this.#run = next;
    this.#ctx.onChange();
    if (current) {
      log(`replacing pod ${podName(current.pod)} with ${podName(pod)} (uid ${pod.uid})`);
      await current.stop(this.#grace(current.pod, graceMs));
    } else {
      log(`running pod ${podName(pod)} (uid ${pod.uid})`);
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

  /** The grace period for stopping units of `pod`: the caller's, the runner's, else the pod's. */
  #grace(pod: DesiredPod, graceMs: number | undefined): number {
    return graceMs ?? this.#graceMs ?? podGraceMs(pod);
  }
}

/** How each unit of a stopped run ended, for the agent's log: `web: Killed by SIGTERM; ...`. */
function describeEnds(run: PodRun): string {
  const { initUnitStatuses, unitStatuses } = run.statuses();
  return [...initUnitStatuses, ...unitStatuses].map((s) => {
    const { terminated: t, waiting } = s.state;
    if (t) return `${s.name}: ${t.reason ?? `exited with code ${t.exitCode}`}`;
    return `${s.name}: ${waiting ? `not running (${waiting.reason})` : "running"}`;
  }).join("; ");
}

/** This process's hostname (its node's, on a local node with namespaces), if it may know it. */
function agentHostname(): string | undefined {
  try {
    return Deno.hostname();
  } catch {
    return undefined;
  }
}

function agentHome(): string {
  try {
    return Deno.env.get("HOME") || "/root";
  } catch {
    return "/root";
  }
}
