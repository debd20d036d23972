/**
 * The seam between the container runtime and the tool that starts an isolated process:
 * runc (runc_launcher.ts) or util-linux's unshare with chroot (unshare_launcher.ts).
 */

/** A bind mount of a pod volume into a unit. */
export interface ContainerMount {
  /** Host directory of the volume. */
  source: string;
  /** Path inside the unit (the volumeMount's mountPath). */
  destination: string;
  /** The host path of `destination` inside the rootfs, resolved and created beforehand. */
  target: string;
}

/** Everything needed to start one isolated run of a unit. */
export interface ContainerProcess {
  /** Unique id of this run (a safe file name). */
  id: string;
  /** The unit's state directory (holds `rootfs/`; launchers may keep files beside it). */
  stateDir: string;
  /** Root file system (`<stateDir>/rootfs`). */
  rootfs: string;
  hostname: string;
  argv: string[];
  env: Record<string, string>;
  /** Working directory inside the rootfs; exists. */
  cwd: string;
  uid: number;
  gid: number;
  mounts: ContainerMount[];
  /** Spawn with a stdin pipe (passed through to the unit) instead of stdin closed. */
  stdin?: boolean;
}

/** A started isolated process. */
export interface LaunchedContainer {
  /** The launcher's own process; its exit status is the unit's. */
  child: Deno.ChildProcess;
  /** Signals the unit (PID 1 of its PID namespace; SIGKILL ends the whole namespace). */
  signal(sig: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Tidies up after the launcher's process exited (before the run counts as ended). */
  cleanup?(): Promise<void>;
}

/** Starts isolated processes: own PID, mount and UTS namespaces, the node's network. */
export interface Launcher {
  /** "runc" or "unshare", as reported in `hello`. */
  readonly kind: "runc" | "unshare";
  /**
   * Spawns the run with stdout/stderr piped and stdin closed, or piped through to the unit
   * with `stdin`; throws when it cannot spawn.
   */
  spawn(process: ContainerProcess): LaunchedContainer;
}
