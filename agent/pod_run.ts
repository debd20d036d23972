/**
 * One pod (one uid) on the node, for PodRunner: its unit supervisors, logs, working
 * directories and the init sequence (init units one at a time, then every unit).
 *
 * Its files live in `<dataDir>/pods/<uid>/`: `volumes/<name>/` (emptyDir volumes, shared by
 * its units) and `units/<unit>.<n>/` (one state directory per unit definition, where image
 * runtimes unpack root file systems). That directory goes when the pod stops; logs stay.
 * The pod's directory and `<dataDir>/logs/` are private (0700), unit logs 0600: they hold the
 * units' environment (Secret values) and output.
 */
import type { DesiredPod } from "../model/agent_protocol.ts";
import type { Unit, UnitStatus } from "../model/pod.ts";
import type { Clock } from "../model/clock.ts";
import { UnitLog } from "./logs.ts";
import { type BaseEnv, podHostname, unitEnv, unitKey, unitSpecEnv } from "./pod_spec.ts";
import { makePrivateDir } from "./private_files.ts";
import type { Prober } from "./probe.ts";
import type { UnitRuntime } from "./unit_runtime.ts";
import { UnitSupervisor, waitingStatus } from "./unit_supervisor.ts";

/** What every unit of a pod shares, handed down by the PodRunner. */
export interface PodContext {
  dataDir: string;
  runtime: UnitRuntime;
  prober: Prober;
  /** Host of httpGet and tcpSocket probes. */
  podIP: string;
  clock: Clock;
  base: BaseEnv;
  onChange: () => void;
  log: (message: string) => void;
}

/** One pod (one uid) on the node: its supervisors, logs and init sequence. */
export class PodRun {
  pod: DesiredPod;
  readonly logs = new Map<string, UnitLog>();
  #ctx: PodContext;
  #init = new Map<string, UnitSupervisor>();
  #units = new Map<string, UnitSupervisor>();
  #initDone = false;
  #stopped = false;
  #dir: string;
  #generation = 0;
  #stateDirs = new Map<UnitSupervisor, string>();

  constructor(pod: DesiredPod, ctx: PodContext) {
    this.pod = pod;
    this.#ctx = ctx;
    this.#dir = `${ctx.dataDir}/pods/${safeName(pod.uid)}`;
  }

  /** Unit statuses in spec order; units without a supervisor yet are waiting. */
  statuses(): { unitStatuses: UnitStatus[]; initUnitStatuses: UnitStatus[] } {
    const of = (units: Unit[], sups: Map<string, UnitSupervisor>) =>
      units.map((u) => sups.get(u.name)?.status ?? waitingStatus(u));
    return {
      unitStatuses: of(this.pod.spec.units, this.#units),
      initUnitStatuses: of(this.pod.spec.initUnits ?? [], this.#init),
    };
  }

  /** Prepares directories and logs, then starts the init sequence in the background. */
  async begin(): Promise<void> {
    const init = this.pod.spec.initUnits ?? [];
    await this.#prepare([...init, ...this.pod.spec.units]);
    for (const unit of init) this.#init.set(unit.name, this.#supervisor(unit, true));
    for (const unit of this.pod.spec.units) {
      this.#units.set(unit.name, this.#supervisor(unit, false));
    }
    this.#runInit().catch((err) => this.#ctx.log(`init units of ${podName(this.pod)}: ${err}`));
  }

  /**
   * Applies a new definition of the same pod (same uid and init units). A unit whose readiness
   * probe alone changed keeps running and is probed anew.
   */
  async update(pod: DesiredPod, graceMs: number): Promise<void> {
    this.pod = pod;
    const desired = new Map(pod.spec.units.map((u) => [u.name, u]));
    for (const [name, sup] of this.#units) {
      const want = desired.get(name);
      if (want && unitKey(want) === unitKey(sup.unit)) sup.updateProbe(want);
    }
    const outgoing = [...this.#units].filter(([name, sup]) => {
      const want = desired.get(name);
      return !want || unitKey(want) !== unitKey(sup.unit);
    });
    const incoming = pod.spec.units.filter((u) => {
      const sup = this.#units.get(u.name);
      return !sup || unitKey(u) !== unitKey(sup.unit);
    });
    if (outgoing.length === 0 && incoming.length === 0) return;
    await this.#prepare(incoming);
    await Promise.all(outgoing.map(([, sup]) => sup.stop(graceMs)));
    for (const [name, old] of outgoing) {
      this.#units.delete(name);
      await this.#removeState(old);
      if (!desired.has(name)) {
        this.#ctx.log(`unit "${name}" removed`);
        this.logs.get(name)?.close();
        this.logs.delete(name);
        continue;
      }
      this.#ctx.log(`unit "${name}" changed; restarting it`);
      const status = old.status;
      const previous = { restartCount: status.restartCount + 1, lastState: status.state };
      this.#units.set(name, this.#supervisor(desired.get(name)!, false, previous));
    }
    for (const unit of incoming) {
      if (!this.#units.has(unit.name)) this.#units.set(unit.name, this.#supervisor(unit, false));
    }
    if (this.#initDone) { for (const sup of this.#units.values()) sup.start(); }
    this.#ctx.onChange();
  }

  /** Stops every unit and closes the logs. */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    const sups = [...this.#init.values(), ...this.#units.values()];
    await Promise.all(sups.map((sup) => sup.stop(graceMs)));
    for (const log of this.logs.values()) log.close();
    await removeAll(this.#dir, this.#ctx.log);
  }

  async #runInit(): Promise<void> {
    for (const sup of this.#init.values()) {
      if (this.#stopped) return;
      sup.start();
      const outcome = await sup.finished;
      if (outcome !== "succeeded") {
        if (outcome === "failed") {
          this.#ctx.log(
            `init unit "${sup.unit.name}" failed; units of ${podName(this.pod)} stay waiting`,
          );
        }
        return;
      }
    }
    if (this.#stopped) return;
    this.#initDone = true;
    for (const sup of this.#units.values()) sup.start();
  }

  /** Creates default working directories and opens logs of units that have none yet. */
  async #prepare(units: Unit[]): Promise<void> {
    const { dataDir } = this.#ctx;
    // Private: units' output and environment (the pod's Secret values) end up below these.
    await makePrivateDir(`${dataDir}/logs`);
    await makePrivateDir(this.#dir);
    for (const dir of Object.values(this.#volumes())) {
      // emptyDir volumes are world-writable, as in Kubernetes: units may run as any user.
      await Deno.mkdir(dir, { recursive: true });
      await Deno.chmod(dir, 0o777);
    }
    for (const unit of units) {
      if (!unit.workingDir) await Deno.mkdir(unitDir(dataDir, unit), { recursive: true });
      if (!this.logs.has(unit.name)) {
        this.logs.set(unit.name, new UnitLog({ file: `${dataDir}/logs/${unit.name}.log` }));
      }
    }
  }

  #supervisor(
    unit: Unit,
    init: boolean,
    previous?: { restartCount: number; lastState?: UnitStatus["state"] },
  ): UnitSupervisor {
    const ctx = this.#ctx;
    const stateDir = `${this.#dir}/units/${unit.name}.${++this.#generation}`;
    const sup: UnitSupervisor = new UnitSupervisor({
      unit,
      init,
      policy: () => this.pod.spec.restartPolicy ?? "Always",
      runtime: ctx.runtime,
      prober: ctx.prober,
      podIP: ctx.podIP,
      clock: ctx.clock,
      log: this.logs.get(unit.name)!,
      cwd: unit.workingDir || unitDir(ctx.dataDir, unit),
      env: () => unitEnv(unit, this.pod, ctx.base),
      onChange: ctx.onChange,
      report: ctx.log,
      previous,
      context: () => ({
        unit,
        hostname: podHostname(this.pod),
        specEnv: unitSpecEnv(unit, this.pod),
        volumes: this.#volumes(),
        stateDir,
        credentials: this.pod.credentials ?? {},
      }),
    });
    this.#stateDirs.set(sup, stateDir);
    return sup;
  }

  /** Host directories of the pod's volumes, by name (names unsafe as file names are left out). */
  #volumes(): Record<string, string> {
    const dirs: Record<string, string> = {};
    for (const volume of this.pod.spec.volumes ?? []) {
      if (safeName(volume.name) === volume.name) {
        dirs[volume.name] = `${this.#dir}/volumes/${volume.name}`;
      }
    }
    return dirs;
  }

  async #removeState(sup: UnitSupervisor): Promise<void> {
    const dir = this.#stateDirs.get(sup);
    this.#stateDirs.delete(sup);
    if (dir) await removeAll(dir, this.#ctx.log);
  }
}

/** `name` with every character that is unsafe in a file name replaced by "_". */
function safeName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, "_");
  return safe === "." || safe === ".." || safe === "" ? "_" : safe;
}

async function removeAll(path: string, log: (message: string) => void): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) log(`cannot remove "${path}": ${err}`);
  }
}

function unitDir(dataDir: string, unit: Unit): string {
  return `${dataDir}/units/${unit.name}`;
}

/** "namespace/name" of a pod, for log messages. */
export function podName(pod: DesiredPod): string {
  return `${pod.namespace}/${pod.name}`;
}
