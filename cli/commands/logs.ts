/**
 * `milpactl logs (POD | pod/POD | -l SELECTOR) [-u UNIT] [-f] [--lines N]`: a unit's log,
 * optionally followed; with -l, the logs of every matching pod, each line prefixed with
 * `[pod/NAME]` when there are several (kubectl's --prefix).
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { findKind } from "../../model/kinds.ts";
import type { LogOptions, MilpaClient } from "../client.ts";
import type { CliContext, Output } from "../context.ts";
import { ApiError, CommandErrors, UsageError } from "../errors.ts";
import { FLAGS } from "../flags.ts";
import { hiddenByDefault } from "../printers/get_output.ts";
import { podName } from "../resource_args.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";

const PODS = findKind("pods")!;

/** How many logs `-l -f` follows at once unless --max-log-requests says otherwise (kubectl's). */
const DEFAULT_MAX_LOG_REQUESTS = 5;

/** Options of `logs`. */
interface LogsOptions {
  unit?: string;
  follow?: boolean;
  lines?: number;
  selector?: string;
  maxLogRequests: number;
}

function maxLogRequestsOption(): Option {
  return new Option(
    "--max-log-requests <n>",
    "with -l -f: the most pods followed at once; more is refused",
  ).argParser((value) => {
    if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError("expected a number from 1 up.");
    return Number(value);
  }).default(DEFAULT_MAX_LOG_REQUESTS);
}

/**
 * Writes a byte stream to `out` with `prefix` in front of every line. A last line without a
 * newline is ended with one, so it does not run into another pod's next line.
 */
export async function writePrefixed(
  body: ReadableStream<Uint8Array>,
  out: Output,
  prefix: string,
): Promise<void> {
  let pending = "";
  for await (const text of body.pipeThrough(new TextDecoderStream())) {
    const lines = (pending + text).split("\n");
    pending = lines.pop()!;
    if (lines.length) out.write(lines.map((line) => `${prefix}${line}\n`).join(""));
  }
  if (pending) out.write(`${prefix}${pending}\n`);
}

/** One pod's log to stdout; an error answer for it is returned, not thrown. */
async function podLog(
  ctx: CliContext,
  client: MilpaClient,
  namespace: string,
  pod: string,
  options: LogOptions & { prefix: boolean },
): Promise<Error | undefined> {
  try {
    const body = await client.logs(namespace, pod, options);
    if (options.prefix) await writePrefixed(body, ctx.stdout, `[pod/${pod}] `);
    else for await (const chunk of body) ctx.stdout.write(chunk);
  } catch (err) {
    if (err instanceof ApiError) return err.withContext(`pod/${pod}`);
    throw err;
  }
  return undefined;
}

/** The logs of every pod the selector matches: one after another, or together with -f. */
async function selectedLogs(
  ctx: CliContext,
  client: MilpaClient,
  namespace: string,
  opts: LogsOptions,
): Promise<void> {
  // Pods whose deletion finished are gone to kubectl, and their logs with them.
  const pods = (await client.list(PODS, { namespace, labelSelector: opts.selector })).items
    .filter((pod) => !hiddenByDefault(PODS, pod));
  if (!pods.length) {
    ctx.stderr.write(`No resources found in ${namespace} namespace.\n`);
    return;
  }
  if (opts.follow && pods.length > opts.maxLogRequests) {
    throw new UsageError(
      `-l ${opts.selector} matches ${pods.length} pods, more than --max-log-requests ` +
        `(${opts.maxLogRequests}) to follow at once`,
      "narrow the selector, or raise --max-log-requests",
    );
  }
  const options = { unit: opts.unit, lines: opts.lines, follow: opts.follow };
  const prefix = pods.length > 1;
  const names = pods.map((p) => p.metadata.name);
  const errors: (Error | undefined)[] = [];
  if (opts.follow) {
    errors.push(
      ...await Promise.all(
        names.map((name) => podLog(ctx, client, namespace, name, { ...options, prefix })),
      ),
    );
  } else {
    for (const name of names) {
      errors.push(await podLog(ctx, client, namespace, name, { ...options, prefix }));
    }
  }
  const failed = errors.filter((e) => e !== undefined);
  if (failed.length) throw failed.length === 1 ? failed[0] : new CommandErrors(failed);
}

async function runLogs(
  ctx: CliContext,
  podArg: string | undefined,
  opts: LogsOptions,
  cmd: Command,
): Promise<void> {
  if (podArg !== undefined && opts.selector !== undefined) {
    throw new UsageError("give a pod or -l, not both");
  }
  if (podArg === undefined && opts.selector === undefined) {
    throw new UsageError(
      "logs needs a pod (NAME or pod/NAME) or -l SELECTOR",
      "run 'milpactl logs --help' for examples",
    );
  }
  const globals = globalsOf(cmd);
  const namespace = namespaceOf(globals);
  const client = await connect(ctx, globals);
  if (opts.selector !== undefined) return await selectedLogs(ctx, client, namespace, opts);
  const body = await client.logs(namespace, podName(podArg!, "logs"), {
    unit: opts.unit,
    lines: opts.lines,
    follow: opts.follow,
  });
  for await (const chunk of body) ctx.stdout.write(chunk);
}

/** Builds the `logs` command. */
export function logsCommand(ctx: CliContext): Command {
  return new Command("logs")
    .summary("print the log of a pod's unit, or of every pod matching a selector")
    .description(
      "Print the log of a pod's unit (the pod as NAME or pod/NAME). -u is needed when the " +
        "pod has several units. With -f, keep printing new lines until Ctrl-C or until the " +
        "pod ends.\n\n" +
        "With -l, print the logs of every pod in the namespace that the selector matches (not " +
        "those whose deletion finished), one " +
        "pod after another (with -f, all at once, at most --max-log-requests of them); when " +
        "there are several, each line starts with [pod/NAME]. A pod whose log cannot be read " +
        "is reported at the end (exit 1), after the others.",
    )
    .argument("[pod]", "the pod: NAME or pod/NAME")
    .addOption(FLAGS.unit())
    .addOption(FLAGS.follow())
    .addOption(FLAGS.lines())
    .addOption(FLAGS.selector())
    .addOption(maxLogRequestsOption())
    .addHelpText(
      "after",
      examples([
        ["milpactl logs helloworld", "the log of a one-unit pod"],
        ["milpactl logs pod/helloworld -u helloserver", "the log of one unit"],
        ["milpactl logs mongo -u mongo --lines 20 -f", "the last 20 lines, then follow"],
        ["milpactl logs -l app=backend -u helloserver", "every backend pod's log, prefixed"],
      ]),
    )
    .action((pod: string | undefined, opts: LogsOptions, cmd: Command) =>
      runLogs(ctx, pod, opts, cmd)
    );
}
