/** `milpactl logs POD [-u UNIT] [-f] [--lines N]`: a unit's log, optionally followed. */
import { Command } from "commander";
import type { CliContext } from "../context.ts";
import { FLAGS } from "../flags.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";

/** Options of `logs`. */
interface LogsOptions {
  unit?: string;
  follow?: boolean;
  lines?: number;
}

async function runLogs(ctx: CliContext, pod: string, opts: LogsOptions, cmd: Command) {
  const globals = globalsOf(cmd);
  const client = await connect(ctx, globals);
  const body = await client.logs(namespaceOf(globals), pod, {
    unit: opts.unit,
    lines: opts.lines,
    follow: opts.follow,
  });
  for await (const chunk of body) ctx.stdout.write(chunk);
}

/** Builds the `logs` command. */
export function logsCommand(ctx: CliContext): Command {
  return new Command("logs")
    .summary("print the log of a pod's unit")
    .description(
      "Print the log of a pod's unit. -u is needed when the pod has several units. " +
        "With -f, keep printing new lines until Ctrl-C or until the pod ends.",
    )
    .argument("<pod>", "name of the pod")
    .addOption(FLAGS.unit())
    .addOption(FLAGS.follow())
    .addOption(FLAGS.lines())
    .addHelpText(
      "after",
      examples([
        ["milpactl logs helloworld", "the log of a one-unit pod"],
        ["milpactl logs helloworld -u helloserver", "the log of one unit"],
        ["milpactl logs mongo -u mongo --lines 20 -f", "the last 20 lines, then follow"],
      ]),
    )
    .action((pod: string, opts: LogsOptions, cmd: Command) => runLogs(ctx, pod, opts, cmd));
}
