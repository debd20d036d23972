/**
 * One pod (one uid) on the node, for PodRunner: its unit supervisors, logs, working
 * directories and the init sequence (init units one at a time, then every unit).
 *
 * Its files live in `<dataDir>/pods/<uid>/`: `volumes/<name>/` (emptyDir volumes, shared by
 * its units), `packages/<name>` (deployed packages, packages.ts; a packagePath volume is a
 * path in one) and `units/<unit>.<n>/` (one state directory per unit definition, where image
 * runtimes unpack root file systems). That directory goes when the pod stops; logs stay.
 *
 * A unit that mounts a packagePath volume whose package was not deployed yet waits (its
 * status says which package and how to deploy it) and starts once it is. A host unit whose
 * `workingDir` is the mountPath of one of its volume mounts runs in that volume's directory.
 * The pod's directory and `<dataDir>/logs/` are private (0700), unit logs 0600: they hold the
 * units' environment (Secret values) and output.
 */
import { milpactlEnv, type MilpactlSource, provideMilpactl } from "./milpactl_volume.ts";
import type { DesiredPod } from "../model/agent_protocol.ts";
import { packageSubpath, type Unit, type UnitStatus } from "../model/pod.ts";
import type { Clock } from "../model/clock.ts";
import { UnitLog } from "./logs.ts";
import { type BaseEnv, podHostname, unitEnv, unitKey, unitSpecEnv } from "./pod_spec.ts";
import { makePrivateDir } from "./private_files.ts";
import { installPackage, packageLink } from "./packages.ts";
import type { UnpackedPackage } from "./package_unpack.ts";
import type { Prober } from "./probe.ts";
import type { UnitRuntime } from "./unit_runtime.ts";
import { type UnitRunInfo, UnitSupervisor, waitingStatus } from "./unit_supervisor.ts";

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
  /** Where milpactl comes from, for pods that drive Milpa; absent: they get no milpactl. */
  milpactl?: MilpactlSource;
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
  /** Names of the packages deployed (their symlink exists). */
  #deployed = new Set<string>();
  #packageWaiters: (() => void)[] = [];
  #deploying: Promise<unknown> = Promise.resolve();

  constructor(pod: DesiredPod, ctx: PodContext) {
    this.pod = pod;
    this.#ctx = ctx;
    this.#dir = `${ctx.dataDir}/pods/${safeName(pod.uid)}`;
  }

  /** Unit statuses in spec order; units without a supervisor yet are waiting. */
  statuses(): { unitStatuses: UnitStatus[]; initUnitStatuses: UnitStatus[] } {
    const of = (units: Unit[], sups: Map<string, UnitSupervisor>) =>
      units.map((u) => {
        const sup = sups.get(u.name);
        const missing = sup?.started ? undefined : this.#missingPackage(u);
        const status = sup?.status ?? waitingStatus(u);
        if (missing) {
          status.state = {
            waiting: {
              reason: `waiting for package "${missing}" ` +
                `(milpactl deploy ${this.pod.name} ${missing} FILE)`,
            },
          };
        }
        return status;
      });
    return {
      unitStatuses: of(this.pod.spec.units, this.#units),
      initUnitStatuses: of(this.pod.spec.initUnits ?? [], this.#init),
    };
  }

  /** A unit (init or not) by name, with its current run while it runs. */
  unit(name: string): { unit: Unit; status: UnitStatus; run?: UnitRunInfo } | undefined {
    const sup = this.#units.get(name) ?? this.#init.get(name);
    return sup && { unit: sup.unit, status: sup.status, run: sup.current };
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
    if (this.#initDone) this.#startUnits();
    this.#ctx.onChange();
  }

  /** Stops every unit and closes the logs. */
  async stop(graceMs: number): Promise<void> {
    this.#stopped = true;
    this.#wakePackageWaiters();
    await this.#deploying;
    const sups = [...this.#init.values(), ...this.#units.values()];
    await Promise.all(sups.map((sup) => sup.stop(graceMs)));
    for (const log of this.logs.values()) log.close();
    await removeAll(this.#dir, this.#ctx.log);
  }

  async #runInit(): Promise<void> {
    for (const sup of this.#init.values()) {
      await this.#whenPackagesDeployed(sup.unit);
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
    this.#startUnits();
  }

  /**
   * Deploys package `name` (the pod must have a packagePath volume of that name): `download`
   * writes the checked tarball to the file it is given; it is then unpacked and swapped in, and
   * units that waited for it start. Deployments of one pod run one at a time.
   */
  deployPackage(
    name: string,
    download: (file: string) => Promise<void>,
  ): Promise<UnpackedPackage> {
    const volume = (this.pod.spec.volumes ?? []).find((v) => v.name === name && v.packagePath);
    if (!volume || safeName(name) !== name) {
      const names = (this.pod.spec.volumes ?? []).filter((v) => v.packagePath).map((v) => v.name);
      return Promise.reject(
        new Error(
          `pod ${podName(this.pod)} has no packagePath volume "${name}" (it has ${
            names.length ? names.map((n) => `"${n}"`).join(", ") : "none"
          })`,
        ),
      );
    }
    const run = async () => {
      if (this.#stopped) throw new Error(`pod ${podName(this.pod)} is stopping`);
      const dir = this.#packagesDir();
      await makePrivateDir(this.#dir);
      await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
      const file = `${dir}/.${name}.${crypto.randomUUID().slice(0, 8)}.tar`;
      try {
        await download(file);
        if (this.#stopped) throw new Error(`pod ${podName(this.pod)} is stopping`);
        const unpacked = await installPackage(dir, name, file);
        this.#deployed.add(name);
        this.#ctx.log(
          `package "${name}" of ${podName(this.pod)} deployed: ${unpacked.files} files, ` +
            `${unpacked.bytes} bytes`,
        );
        this.#wakePackageWaiters();
        if (this.#initDone) this.#startUnits();
        this.#ctx.onChange();
        return unpacked;
      } finally {
        await Deno.remove(file).catch(() => {});
      }
    };
    const done = this.#deploying.then(run, run);
    this.#deploying = done.catch(() => {});
    return done;
  }

  /** Starts every unit whose packages are deployed (the others start when they are). */
  #startUnits(): void {
    for (const sup of this.#units.values()) {
      if (!this.#missingPackage(sup.unit)) sup.start();
    }
  }

  /** Resolves once every package `unit` mounts is deployed, or the pod stops. */
  async #whenPackagesDeployed(unit: Unit): Promise<void> {
    while (!this.#stopped && this.#missingPackage(unit)) {
      await new Promise<void>((resolve) => this.#packageWaiters.push(resolve));
    }
  }

  #wakePackageWaiters(): void {
    for (const wake of this.#packageWaiters.splice(0)) wake();
  }

  /** The first package `unit` mounts that is not deployed yet. */
  #missingPackage(unit: Unit): string | undefined {
    for (const mount of unit.volumeMounts ?? []) {
      const volume = this.pod.spec.volumes?.find((v) => v.name === mount.name);
      if (volume?.packagePath && !this.#deployed.has(volume.name)) return volume.name;
    }
    return undefined;
  }

  #packagesDir(): string {
    return `${this.#dir}/packages`;
  }

  /** Creates default working directories and opens logs of units that have none yet. */
  async #prepare(units: Unit[]): Promise<void> {
    const { dataDir } = this.#ctx;
    // Private: units' output and environment (the pod's Secret values) end up below these.
    await makePrivateDir(`${dataDir}/logs`);
    await makePrivateDir(this.#dir);
    for (const volume of this.pod.spec.volumes ?? []) {
      const dir = this.#volumes()[volume.name];
      if (!dir) continue;
      if (volume.packagePath) {
        // Deployed earlier (an agent that restarts keeps the pod's directory only while it runs).
        const link = packageLink(this.#packagesDir(), volume.name);
        if (await Deno.lstat(link).then(() => true, () => false)) this.#deployed.add(volume.name);
        continue;
      }
      // emptyDir volumes are world-writable, as in Kubernetes: units may run as any user.
      await Deno.mkdir(dir, { recursive: true });
      await Deno.chmod(dir, 0o777);
    }
    const milpactlDir = this.#milpactlDir();
    if (milpactlDir && this.#ctx.milpactl) {
      await provideMilpactl(milpactlDir, this.#ctx.milpactl);
    } else if (this.pod.milpactl) {
      this.#ctx.log(`pod ${podName(this.pod)} wants milpactl, which this agent cannot provide`);
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
      cwd: this.#cwd(unit),
      env: () => unitEnv(unit, this.#withMilpactl(unit), ctx.base),
      onChange: ctx.onChange,
      report: ctx.log,
      previous,
      context: () => ({
        unit,
        hostname: podHostname(this.pod),
        specEnv: unitSpecEnv(unit, this.#withMilpactl(unit)),
        volumes: this.#volumes(),
        stateDir,
        credentials: this.pod.credentials ?? {},
      }),
    });
    this.#stateDirs.set(sup, stateDir);
    return sup;
  }

  /** The host directory of the pod's milpactl volume, if it wants one. */
  #milpactlDir(): string | undefined {
    const volume = this.pod.milpactl?.volume;
    return volume === undefined ? undefined : this.#volumes()[volume];
  }

  /** The pod with the env of `unit` for driving Milpa (model/pod_milpactl.ts) added. */
  #withMilpactl(unit: Unit): DesiredPod {
    const extra = milpactlEnv(this.pod, unit, this.#milpactlDir(), this.#ctx.milpactl);
    if (Object.keys(extra).length === 0) return this.pod;
    return { ...this.pod, env: { ...extra, ...this.pod.env } };
  }

  /**
   * Host paths of the pod's volumes, by name (names unsafe as file names are left out): an
   * emptyDir's directory, or the path a packagePath volume exposes in its package.
   */
  #volumes(): Record<string, string> {
    const dirs: Record<string, string> = {};
    for (const volume of this.pod.spec.volumes ?? []) {
      if (safeName(volume.name) !== volume.name) continue;
      if (volume.packagePath) {
        const sub = packageSubpath(volume);
        dirs[volume.name] = packageLink(this.#packagesDir(), volume.name) + (sub ? `/${sub}` : "");
      } else dirs[volume.name] = `${this.#dir}/volumes/${volume.name}`;
    }
    return dirs;
  }

  /**
   * A unit's working directory on the host: the directory of the volume mounted at its
   * workingDir, else its workingDir, else its own directory under the data directory.
   */
  #cwd(unit: Unit): string {
    const mount = unit.volumeMounts?.find((m) => m.mountPath === unit.workingDir);
    const dir = mount ? this.#volumes()[mount.name] : undefined;
    return dir ?? (unit.workingDir || unitDir(this.#ctx.dataDir, unit));
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
