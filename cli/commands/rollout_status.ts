/**
 * `milpactl rollout status`: follows a Deployment until its rollout finishes, fails or times
 * out. It reads the deployment once, then watches the namespace's deployments (SSE on the
 * list route, `?watch=true`) and keeps the events about this one; when the controller ends
 * the stream, it reads the deployment again and watches again after REWATCH_DELAY_MS.
 */
import type { Deployment } from "../../model/deployment.ts";
import { findKind } from "../../model/kinds.ts";
import type { MilpaClient } from "../client.ts";
import { CliError, RolloutError } from "../errors.ts";
import { rolloutStatus } from "../printers/rollout.ts";

const DEPLOYMENTS = findKind("deployments")!;

/** Pause before watching again after the controller ended a watch. */
export const REWATCH_DELAY_MS = 500;

/** Options of `rollout status`. */
export interface FollowOptions {
  /** false: report the current state once. */
  watch: boolean;
  /** Give up after this many milliseconds; 0 or absent: never. */
  timeout?: number;
}

/** `90000` → `1m30s`, as Go prints durations. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = (ms % 60_000) / 1000;
  return (h ? `${h}h` : "") + (h || m ? `${m}m` : "") + `${s}s`;
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Follows one watch stream; true when `report` saw the rollout finish, false when the stream
 * ended or broke first (the caller watches again).
 */
async function watchOnce(
  client: MilpaClient,
  namespace: string,
  name: string,
  signal: AbortSignal,
  report: (d: Deployment) => boolean,
): Promise<boolean> {
  try {
    for await (const event of client.watch(DEPLOYMENTS, { namespace, signal })) {
      if (event.object?.metadata?.name !== name) continue;
      if (event.type === "DELETED") {
        throw new RolloutError(`deployment "${name}" was deleted while its rollout was watched`);
      }
      if (report(event.object as Deployment)) return true;
    }
  } catch (err) {
    // A stream that broke (the controller restarted) is watched again; anything said is not.
    if (err instanceof CliError || signal.aborted) throw err;
  }
  return false;
}

/**
 * Prints kubectl's progress line for the deployment each time it changes, until the rollout
 * is complete. Throws RolloutError when the progress deadline passed, the timeout expired,
 * or (without watch) the rollout is not complete yet.
 */
export async function followRollout(
  client: MilpaClient,
  namespace: string,
  name: string,
  opts: FollowOptions,
  write: (text: string) => void,
): Promise<void> {
  let last: string | undefined;
  const report = (d: Deployment): boolean => {
    const state = rolloutStatus(d);
    if (state.failed) throw new RolloutError(state.failed);
    if (state.message !== last) write(state.message + "\n");
    last = state.message;
    return state.done;
  };
  const abort = new AbortController();
  let timedOut = false;
  const timer = opts.timeout
    ? setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, opts.timeout)
    : undefined;
  const read = () => client.get<Deployment>(DEPLOYMENTS, namespace, name, abort.signal);
  try {
    if (report(await read())) return;
    if (!opts.watch) {
      throw new RolloutError(
        `deployment "${name}" has not finished rolling out`,
        `run 'milpactl rollout status deploy/${name}' to wait for it`,
      );
    }
    while (!await watchOnce(client, namespace, name, abort.signal, report)) {
      await sleep(REWATCH_DELAY_MS, abort.signal);
      if (report(await read())) return;
    }
  } catch (err) {
    if (timedOut && !(err instanceof RolloutError)) {
      throw new RolloutError(
        `timed out after ${
          formatDuration(opts.timeout!)
        } waiting for deployment "${name}" rollout to finish`,
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
