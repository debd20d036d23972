/**
 * `milpactl run NAME [flags] -- COMMAND...`: one command in a one-shot pod on its own node.
 *
 * Creates pod `NAME-<5 random characters>` (restartPolicy Never, one unit named NAME), waits
 * until it runs (a progress line on stderr per change), ships `--workdir DIR` as package
 * "workdir" (the unit's working directory, a packagePath volume), streams the unit's log to
 * stdout, waits for the pod to end and exits with the unit's exit code. The pod is deleted at
 * the end unless `--keep`, also when anything fails, on Ctrl-C (exit 130) and at `--timeout`
 * (exit 124).
 */
import { Command, Option } from "commander";
import { findKind } from "../../model/kinds.ts";
import type { Pod, PodSpec, Unit } from "../../model/pod.ts";
import { isTerminalPodPhase } from "../../model/pod.ts";
import { type DeployedPackage, type MilpaClient, objectPath } from "../client.ts";
import type { CliContext } from "../context.ts";
import { ApiError, CommandExit, UsageError } from "../errors.ts";
import { parseDuration } from "../flags.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";

/** Options of `run`. */
interface RunOptions {
  image?: string;
  memory?: string;
  cpu?: string;
  instanceType?: string;
  env?: string[];
  workdir?: string;
  timeout?: number;
  keep?: boolean;
}

/** The packagePath volume (and package) `--workdir` ships, and where the unit sees it. */
export const RUN_WORKDIR_VOLUME = "workdir";
/** Where the unit's working directory is for image units (host units run in the volume). */
export const RUN_WORKDIR_PATH = "/workdir";
/** Exit code after Ctrl-C (SIGINT/SIGTERM), as shells use for SIGINT. */
export const EXIT_INTERRUPTED = 130;
/** Exit code after `--timeout`, as timeout(1) uses. */
export const EXIT_TIMED_OUT = 124;

/** How often the pod is read while waiting. */
const POLL_MS = 500;
/** How long the end of the log may take to arrive once the pod ended. */
const LOG_DRAIN_MS = 15_000;

const PODS = findKind("pods")!;

/** A random suffix of 5 lowercase letters and digits, so parallel runs never collide. */
export function runSuffix(random: (n: number) => Uint8Array = randomBytes): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...random(5)].map((b) => alphabet[b % alphabet.length]).join("");
}

function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** The one-shot pod `run` creates. */
export function runPod(
  podName: string,
  namespace: string,
  unitName: string,
  command: string[],
  opts: RunOptions,
): Pod {
  const env = (opts.env ?? []).map((kv) => {
    const eq = kv.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env "${kv}": expected NAME=VALUE`);
    return { name: kv.slice(0, eq), value: kv.slice(eq + 1) };
  });
  const unit: Unit = { name: unitName, command };
  if (opts.image) unit.image = opts.image;
  if (env.length) unit.env = env;
  const spec: PodSpec = { restartPolicy: "Never", units: [unit] };
  if (opts.workdir) {
    unit.workingDir = RUN_WORKDIR_PATH;
    unit.volumeMounts = [{ name: RUN_WORKDIR_VOLUME, mountPath: RUN_WORKDIR_PATH }];
    spec.volumes = [{ name: RUN_WORKDIR_VOLUME, packagePath: {} }];
  }
  if (opts.memory || opts.cpu) {
    spec.resources = {
      ...(opts.memory ? { memory: opts.memory } : {}),
      ...(opts.cpu ? { cpu: opts.cpu } : {}),
    };
  }
  if (opts.instanceType) spec.instanceType = opts.instanceType;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: podName, namespace, labels: { "milpa.io/run": unitName } },
    spec,
  } as Pod;
}

/** What a waiting or dispatching pod waits for, in a few words. */
function progressOf(pod: Pod): string {
  const s = pod.status;
  const phase = s?.phase ?? "Waiting";
  const waiting = s?.unitStatuses?.find((u) => u.state.waiting)?.state.waiting?.reason;
  const detail = s?.reason ?? s?.message ??
    (phase === "Waiting" ? "node booting" : phase === "Dispatching" ? "starting units" : waiting);
  return `pod/${pod.metadata.name}: ${phase}${detail ? ` (${detail})` : ""}...`;
}

/** Resolves after `ms`, rejects when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    signal.throwIfAborted();
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Reads the pod until `done` says so, printing a progress line on every change. */
async function waitFor(
  ctx: CliContext,
  client: MilpaClient,
  namespace: string,
  name: string,
  done: (pod: Pod) => boolean,
  signal: AbortSignal,
  progress: boolean,
): Promise<Pod> {
  let last = "";
  for (;;) {
    const pod = await client.get<Pod>(PODS, namespace, name, signal);
    if (done(pod)) return pod;
    const line = progressOf(pod);
    if (progress && line !== last) ctx.stderr.write(`${line}\n`);
    last = line;
    await sleep(POLL_MS, signal);
  }
}

/** Streams the unit's log to stdout until the stream ends or `signal` aborts. */
async function streamLog(
  ctx: CliContext,
  client: MilpaClient,
  namespace: string,
  pod: string,
  unit: string,
  follow: boolean,
  signal: AbortSignal,
): Promise<void> {
  const res = await client.request(
    "GET",
    `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`,
    { query: { unit, follow: follow ? "true" : undefined }, signal },
  );
  if (!res.body) return;
  for await (const chunk of res.body) ctx.stdout.write(chunk);
}

/** The exit code of the pod's unit, or why there is none. */
function unitExit(pod: Pod, unit: string): { code: number } | { problem: string } {
  const status = pod.status?.unitStatuses?.find((u) => u.name === unit);
  const terminated = status?.state.terminated ?? status?.lastState?.terminated;
  if (terminated) return { code: terminated.exitCode };
  const why = status?.state.waiting?.reason ?? pod.status?.message ?? "the unit never ran";
  return { problem: `pod/${pod.metadata.name} ${pod.status?.phase ?? "ended"}: ${why}` };
}

async function runRun(
  ctx: CliContext,
  name: string,
  command: string[],
  opts: RunOptions,
  cmd: Command,
): Promise<void> {
  if (!command.length) {
    throw new UsageError(
      "run needs a command after the name: milpactl run NAME [flags] -- COMMAND [ARGS...]",
    );
  }
  if (opts.workdir && !ctx.packDirectory) throw new UsageError("--workdir cannot pack here");
  const globals = globalsOf(cmd);
  const namespace = namespaceOf(globals);
  const podName = `${name}-${runSuffix()}`;
  const pod = runPod(podName, namespace, name, command, opts);
  const client = await connect(ctx, globals);
  const abort = new AbortController();
  const signal = abort.signal;
  const stop = (why: "SIGINT" | "SIGTERM" | "timeout") => {
    if (!signal.aborted) abort.abort(why);
  };
  const unlisten = ["SIGINT", "SIGTERM"].map((sig) =>
    ctx.terminal?.onSignal(sig as "SIGINT" | "SIGTERM", () => stop(sig as "SIGINT")) ??
      (() => {})
  );
  const timer = opts.timeout ? setTimeout(() => stop("timeout"), opts.timeout) : undefined;
  let created = false;
  let outcome: { code: number } | { problem: string };
  try {
    await client.request("POST", objectPath(PODS, namespace), { body: pod, signal });
    created = true;
    ctx.stderr.write(`pod/${podName} created\n`);
    const running = await waitFor(
      ctx,
      client,
      namespace,
      podName,
      (p) => p.status?.phase === "Running" || isTerminalPodPhase(p.status?.phase),
      signal,
      true,
    );
    let ended: Pod;
    if (isTerminalPodPhase(running.status?.phase)) {
      await streamLog(ctx, client, namespace, podName, name, false, signal);
      ended = running;
    } else {
      ctx.stderr.write(`pod/${podName}: Running on node ${running.status?.boundNodeName}\n`);
      // Followed before the package goes, so that not a line of the unit's output is missed.
      const drain = new AbortController();
      const logDone = streamLog(
        ctx,
        client,
        namespace,
        podName,
        name,
        true,
        AbortSignal.any([signal, drain.signal]),
      ).catch((err) => {
        if (!signal.aborted && !drain.signal.aborted) {
          ctx.stderr.write(`warning: the log stream broke: ${(err as Error).message}\n`);
        }
      });
      if (opts.workdir) {
        const done = await deployWorkdir(ctx, client, namespace, podName, opts.workdir, signal);
        ctx.stderr.write(
          `pod/${podName}: ${opts.workdir} deployed (${done.size} bytes, sha256 ${
            done.sha256.slice(0, 12)
          })\n`,
        );
      }
      ended = await waitFor(
        ctx,
        client,
        namespace,
        podName,
        (p) => isTerminalPodPhase(p.status?.phase),
        signal,
        false,
      );
      const drained = setTimeout(() => drain.abort(), LOG_DRAIN_MS);
      await logDone;
      clearTimeout(drained);
    }
    outcome = unitExit(ended, name);
  } catch (err) {
    if (!signal.aborted) throw err;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    for (const off of unlisten) off();
    if (created && !opts.keep) {
      try {
        await client.delete(PODS, namespace, podName, true);
        ctx.stderr.write(`pod/${podName} deleted\n`);
      } catch (err) {
        ctx.stderr.write(`warning: cannot delete pod/${podName}: ${(err as Error).message}\n`);
      }
    } else if (created) ctx.stderr.write(`pod/${podName} kept (--keep)\n`);
    client.close();
  }
  if (signal.aborted) {
    if (signal.reason === "timeout") {
      throw new CommandExit(
        EXIT_TIMED_OUT,
        `pod/${podName} did not finish within --timeout ${opts.timeout! / 1000} s`,
      );
    }
    throw new CommandExit(EXIT_INTERRUPTED, `interrupted (${signal.reason})`);
  }
  if ("problem" in outcome!) throw new CommandExit(1, outcome.problem);
  if (outcome!.code !== 0) {
    throw new CommandExit(
      outcome!.code,
      `pod/${podName}: unit "${name}" exited with code ${outcome!.code}`,
    );
  }
}

/** Builds the `run` command. */
export function runCommand(ctx: CliContext): Command {
  return new Command("run")
    .summary("run a command in a one-shot pod, print its output and exit with its code")
    .description(
      "Run COMMAND in a new pod NAME-<random> (restartPolicy Never) on its own node: " +
        "a host process, or in --image. With --workdir, DIR is packed (the system's tar) and " +
        "deployed as the unit's working directory. Progress goes to stderr, the unit's output " +
        "to stdout; milpactl exits with the unit's exit code, and deletes the pod (unless " +
        "--keep), also on errors, Ctrl-C (exit 130) and --timeout (exit 124).",
    )
    .argument("<name>", "name of the unit, and the start of the pod's name")
    .argument("<command...>", "the command and its arguments (after --)")
    .addOption(new Option("--image <image>", "run in this image (default: a host process)"))
    .addOption(new Option("--memory <quantity>", "memory the pod needs, e.g. 512Mi"))
    .addOption(new Option("--cpu <quantity>", "vCPUs the pod needs, e.g. 1 or 500m"))
    .addOption(new Option("--instance-type <type>", "the node's instance type, e.g. t3.small"))
    .addOption(
      new Option("--env <NAME=VALUE>", "an environment variable (repeatable)")
        .argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]),
    )
    .addOption(
      new Option("--workdir <dir>", `ship DIR as the unit's working directory`),
    )
    .addOption(
      new Option("--timeout <duration>", "delete the pod and fail after this long, e.g. 10m")
        .argParser(parseDuration),
    )
    .addOption(new Option("--keep", "keep the pod when it ended (default: delete it)"))
    .addHelpText(
      "after",
      examples([
        ["milpactl run unit-tests --workdir ./helloserver -- ./run-tests.sh", "run a test script"],
        ["milpactl run hello --image busybox -- echo hi", "a command in an image"],
        ["milpactl run big --memory 4Gi --timeout 30m -- ./build.sh", "a bigger node, bounded"],
      ]),
    )
    .action((name: string, command: string[], opts: RunOptions, cmd: Command) =>
      runRun(ctx, name, command, opts, cmd)
    );
}

/** Tries a deploy that met a node briefly away (503: its agent reconnecting) this often. */
const DEPLOY_ATTEMPTS = 5;

/**
 * Ships `workdir` into the pod's work volume. A 503 (the node's agent was between connections)
 * is tried again, with the directory packed anew, up to DEPLOY_ATTEMPTS times a second apart.
 */
async function deployWorkdir(
  ctx: CliContext,
  client: MilpaClient,
  namespace: string,
  podName: string,
  workdir: string,
  signal: AbortSignal,
): Promise<DeployedPackage> {
  for (let attempt = 1;; attempt++) {
    try {
      return await client.deployPackage(
        namespace,
        podName,
        RUN_WORKDIR_VOLUME,
        ctx.packDirectory!(workdir),
        signal,
      );
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== 503 || attempt >= DEPLOY_ATTEMPTS) throw err;
      ctx.stderr.write(`pod/${podName}: ${err.message}; deploying again\n`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      signal.throwIfAborted();
    }
  }
}
