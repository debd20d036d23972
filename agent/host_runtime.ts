/**
 * Runs units as plain host processes with `Deno.Command`.
 *
 * Units stay in the agent's process group (the local cloud ends a node by signalling that
 * group), so a unit is stopped through its process tree: its descendants are found in /proc
 * (Linux) and signalled one by one. A process the unit left running after it exited is no
 * longer part of its tree and is not stopped.
 */
import { keepStdin, pipeOutput } from "./child_output.ts";
import { descendants, isAlive, type ProcEntry, signal } from "./proc.ts";
import {
  type RunningUnit,
  type UnitExit,
  type UnitLaunch,
  type UnitRuntime,
  UnitStartError,
  type UnitStdin,
} from "./unit_runtime.ts";

/** How often a stop checks whether the unit's processes are gone. */
const STOP_POLL_MS = 50;

/** The runtime of nodes without containers: a unit's command runs directly on the host. */
export class HostRuntime implements UnitRuntime {
  /** Starts the unit's command; throws {@linkcode UnitStartError} with the reason it cannot. */
  start(launch: UnitLaunch): RunningUnit {
    checkLaunch(launch);
    const [program, ...args] = launch.argv;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(program, {
        args,
        env: launch.env,
        clearEnv: true,
        cwd: launch.cwd,
        stdin: launch.stdin ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      throw new UnitStartError(`exec "${program}": ${spawnProblem(err)}`, { cause: err });
    }
    return new HostUnit(child, launch);
  }
}

function checkLaunch(launch: UnitLaunch): void {
  if (launch.argv.length === 0) {
    if (launch.image) {
      throw new UnitStartError(
        `image "${launch.image}" needs the container runtime, which this node does not have; ` +
          `give the unit a command to run it as a host process`,
      );
    }
    throw new UnitStartError(`unit "${launch.name}" has neither a command nor an image`);
  }
  // A host process sees no mounts; a volume mounted at its workingDir is its working directory.
  const workingDir = launch.context?.unit.workingDir;
  const mount = launch.volumeMounts?.find((m) => m.mountPath !== workingDir);
  if (mount) {
    throw new UnitStartError(
      `volume mount "${mount.name}" at "${mount.mountPath}" needs the container runtime, ` +
        `which this node does not have; a host process gets only the volume mounted at its ` +
        `workingDir (as its working directory)`,
    );
  }
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(launch.cwd);
  } catch {
    throw new UnitStartError(`working directory "${launch.cwd}": not found`);
  }
  if (!info.isDirectory) {
    throw new UnitStartError(`working directory "${launch.cwd}": not a directory`);
  }
}

/** Why `Deno.Command(...).spawn()` failed, in a few words ("not found"). */
export function spawnProblem(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "not found";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  return err instanceof Error ? err.message : String(err);
}

class HostUnit implements RunningUnit {
  readonly pid: number;
  readonly exited: Promise<UnitExit>;
  readonly stdin?: UnitStdin;
  #done = false;
  #stopping?: Promise<void>;

  constructor(child: Deno.ChildProcess, launch: UnitLaunch) {
    this.pid = child.pid;
    const drained = pipeOutput(child, launch);
    const stdin = launch.stdin ? keepStdin(child) : undefined;
    this.stdin = stdin;
    this.exited = (async () => {
      const status = await child.status;
      this.#done = true;
      await stdin?.close();
      await drained();
      return status.signal ? { code: status.code, signal: status.signal } : { code: status.code };
    })();
  }

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    if (this.#done) {
      await this.exited;
      return;
    }
    const tracked = new Map<number, ProcEntry>();
    const track = () => {
      if (this.#done) return;
      for (const proc of descendants(this.pid)) tracked.set(proc.pid, proc);
    };
    const alive = () => [...tracked.values()].filter(isAlive);
    track();
    signal(this.pid, "SIGTERM");
    for (const proc of alive()) signal(proc.pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline) {
      track();
      if (this.#done && alive().length === 0) break;
      await sleep(Math.min(STOP_POLL_MS, deadline - Date.now()));
    }
    track();
    if (!this.#done) signal(this.pid, "SIGKILL");
    for (const proc of alive()) signal(proc.pid, "SIGKILL");
    await this.exited;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
