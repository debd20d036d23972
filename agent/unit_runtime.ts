/**
 * The seam between the pod runner and whatever actually runs a unit's process: host processes
 * today (host_runtime.ts), containers later, and an in-memory fake for tests and the simulator.
 */
import { MilpaError } from "../model/errors.ts";
import type { VolumeMount } from "../model/pod.ts";

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
  /** Starts one run of a unit; throws {@linkcode UnitStartError} when it cannot start. */
  start(launch: UnitLaunch): RunningUnit;
}

/** A unit that could not be started; the message is the reason shown in its waiting state. */
export class UnitStartError extends MilpaError {}
