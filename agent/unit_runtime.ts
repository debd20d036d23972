/**
 * The seam between the pod runner and whatever actually runs a unit's process: host processes
 * (host_runtime.ts), containers from images (container_runtime.ts), the choice between them
 * (runtime_select.ts), and an in-memory fake for tests and the simulator.
 */
import { MilpaError } from "../model/errors.ts";
import type { Unit, VolumeMount } from "../model/pod.ts";

/**
 * What a runtime that isolates units needs to know beyond a host process's launch; the pod
 * runner always fills it, host runtimes ignore it.
 */
export interface UnitContext {
  /** The unit as the pod spec defines it (command and args apart, workingDir as written). */
  unit: Unit;
  /** Hostname inside the unit: the pod name (at most 63 characters). */
  hostname: string;
  /** The environment the pod sets (pod env, then the unit's env), without the node's PATH/HOME. */
  specEnv: Record<string, string>;
  /** Host directory of each pod volume, by volume name. */
  volumes: Record<string, string>;
  /**
   * A directory private to this definition of the unit: kept across its restarts, removed when
   * the unit is removed or changed, or the pod goes. May not exist yet.
   */
  stateDir: string;
  /** Registry credentials by registry host (DesiredPod.credentials). */
  credentials: Record<string, { username: string; password: string }>;
}

/** Everything a runtime needs to start one run of a unit. */
export interface UnitLaunch {
  /** Unit name (a safe file name). */
  name: string;
  /** Program and arguments (the unit's command followed by its args); empty for image-only units. */
  argv: string[];
  /** The unit's image, if any. */
  image?: string;
  volumeMounts?: VolumeMount[];
  /** The complete environment of the process. */
  env: Record<string, string>;
  /** Working directory; exists when the launch is made. */
  cwd: string;
  /** Receives output chunks as they arrive. */
  onStdout(chunk: Uint8Array): void;
  onStderr(chunk: Uint8Array): void;
  /** The unit's pod context, for runtimes that run images. */
  context?: UnitContext;
  /** Give the process a stdin pipe kept open for the run (the unit's `stdin: true`). */
  stdin?: boolean;
}

/** The writing end of a unit's stdin pipe, open for the whole run. */
export interface UnitStdin {
  /**
   * Queues bytes for the unit's stdin (in call order); resolves once written. Never rejects:
   * bytes for a unit that exited or closed its stdin are dropped.
   */
  write(bytes: Uint8Array): Promise<void>;
}

/** How a run ended. `code` is 128 + signal number when a signal killed the process. */
export interface UnitExit {
  code: number;
  signal?: string;
}

/** One started run of a unit. */
export interface RunningUnit {
  /** Process id, when the runtime has one. */
  readonly pid?: number;
  /** The run's stdin, when it was launched with `stdin: true` and the runtime supports it. */
  readonly stdin?: UnitStdin;
  /** Settles once the process exited and its output was delivered; never rejects. */
  readonly exited: Promise<UnitExit>;
  /**
   * Sends SIGTERM to the unit and its descendants, SIGKILL to whatever is left after
   * `graceMs`; resolves once the unit exited. Safe to call more than once or after the exit.
   */
  stop(graceMs: number): Promise<void>;
}

/** Starts units. */
export interface UnitRuntime {
  /**
   * Gets a unit's definition ready before its first run (pulls and unpacks its image). The
   * supervisor calls it once per definition, before the first `start`, and shows the unit as
   * waiting meanwhile; a returned promise rejects with {@linkcode UnitStartError} (or throws
   * one at once) when the unit cannot run, and rejects soon after `signal` aborts. Returns
   * nothing when there is nothing to prepare. Optional: runtimes without it need no preparing.
   */
  prepare?(launch: UnitLaunch, signal: AbortSignal): Promise<void> | void;
  /** Starts one run of a unit; throws {@linkcode UnitStartError} when it cannot start. */
  start(launch: UnitLaunch): RunningUnit;
}

/** A unit that could not be started; the message is the reason shown in its waiting state. */
export class UnitStartError extends MilpaError {}
