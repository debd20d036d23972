/**
 * The node's unit runtime: sends each unit to the container runtime or the host runtime by
 * the agent's `runtime` option ("auto" | "oci" | "host"). Units without an image always run
 * on the host. An image unit that cannot run the way the option asks fails to start with a
 * waiting reason saying why; it never falls back silently to something else.
 */
import type { UnitLaunch, UnitRuntime } from "./unit_runtime.ts";
import { UnitStartError } from "./unit_runtime.ts";

/** The agent's `runtime` option. */
export type RuntimeMode = "auto" | "oci" | "host";

/** Options of {@linkcode SelectingRuntime}. */
export interface SelectingRuntimeOptions {
  mode: RuntimeMode;
  host: UnitRuntime;
  /** The container runtime; absent when the node cannot run containers. */
  container?: UnitRuntime;
  /** Why the node cannot run containers, for waiting reasons. */
  unavailable?: string;
}

/** Picks the runtime per unit: see the module comment. */
export class SelectingRuntime implements UnitRuntime {
  #o: SelectingRuntimeOptions;

  constructor(options: SelectingRuntimeOptions) {
    this.#o = options;
  }

  /** Prepares the unit on the runtime it goes to (containers pull their image here). */
  prepare(launch: UnitLaunch, signal: AbortSignal): Promise<void> | void {
    return this.pick(launch).prepare?.(launch, signal);
  }

  /** Starts the unit on the runtime it goes to. */
  start(launch: UnitLaunch): ReturnType<UnitRuntime["start"]> {
    return this.pick(launch).start(launch);
  }

  /** The runtime for `launch`; throws {@linkcode UnitStartError} when none can run it. */
  pick(launch: UnitLaunch): UnitRuntime {
    const { mode, host, container } = this.#o;
    const image = launch.image;
    if (!image) return host;
    const hasCommand = launch.argv.length > 0;
    if (mode === "host") {
      if (hasCommand) return host;
      throw new UnitStartError(
        `image "${image}" cannot run: this node's runtime is "host" (units run as host ` +
          `processes); give the unit a command to run it as a host process`,
      );
    }
    if (container) return container;
    const why = this.#o.unavailable ?? "no container runtime";
    if (mode === "oci") {
      throw new UnitStartError(
        `image "${image}" cannot run: the node's runtime is "oci" but it cannot run ` +
          `containers (${why})`,
      );
    }
    if (hasCommand) return host;
    throw new UnitStartError(
      `image "${image}" needs a container runtime, which this node does not have (${why}); ` +
        `give the unit a command to run it as a host process`,
    );
  }
}
