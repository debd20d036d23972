/** `milpactl exec POD [-u UNIT] [-i] [-t] -- COMMAND...`: run a command in a pod's unit. */
import { Command, Option } from "commander";
import type { CliContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { podName } from "../resource_args.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";
import { openSocket, queryString, runSession } from "./stream_session.ts";

/** Options of `exec` and `attach`. */
export interface StreamOptions {
  unit?: string;
  stdin?: boolean;
  tty?: boolean;
}

/** The flags `exec` and `attach` share. */
export function streamFlags(cmd: Command): Command {
  return cmd
    .addOption(new Option("-u, --unit <unit>", "unit (default: the pod's first unit)"))
    .addOption(new Option("-i, --stdin", "send standard input to the command"))
    .addOption(
      new Option("-t, --tty", "run on a terminal: raw mode here, Ctrl-C goes to the command"),
    );
}

/** The path of a pod's stream route. */
export function podStreamPath(namespace: string, pod: string, kind: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${
    encodeURIComponent(pod)
  }/${kind}`;
}

async function runExec(
  ctx: CliContext,
  pod: string,
  command: string[],
  opts: StreamOptions,
  cmd: Command,
) {
  if (command.length === 0) {
    throw new UsageError("exec needs a command", "e.g. milpactl exec helloworld -- sh -c 'ls'");
  }
  const globals = globalsOf(cmd);
  const client = await connect(ctx, globals);
  const size = opts.tty ? ctx.terminal?.size() : undefined;
  const query = queryString([
    ["unit", opts.unit],
    ...command.map((c): [string, string] => ["command", c]),
    ["stdin", opts.stdin ? "1" : undefined],
    ["tty", opts.tty ? "1" : undefined],
    ["cols", size ? String(size.cols) : undefined],
    ["rows", size ? String(size.rows) : undefined],
  ]);
  const ws = await openSocket(client, podStreamPath(namespaceOf(globals), pod, "exec") + query);
  try {
    await runSession(ctx, ws, { stdin: opts.stdin === true, tty: opts.tty === true });
  } finally {
    client.close();
  }
}

/** Builds the `exec` command. */
export function execCommand(ctx: CliContext): Command {
  return streamFlags(
    new Command("exec")
      .summary("run a command in a pod's unit")
      .description(
        "Run a command in a running pod's unit, with the unit's environment and working " +
          "directory (in its container for a unit from an image). milpactl exits with the " +
          "command's exit code. Without -t, Ctrl-C ends the command (exit code 130).",
      )
      .argument("<pod>", "the pod: NAME or pod/NAME")
      .argument("<command...>", "the command and its arguments, after --"),
  )
    .addHelpText(
      "after",
      examples([
        ["milpactl exec helloworld -- env", "the environment of the first unit"],
        ["milpactl exec helloworld -u helloserver -- sh -c 'exit 3'", "exits 3"],
        ["echo hi | milpactl exec -i helloworld -- cat", "send standard input"],
        ["milpactl exec -it helloworld -- sh", "a shell on a terminal"],
      ]),
    )
    .action((pod: string, command: string[], opts: StreamOptions, cmd: Command) =>
      runExec(ctx, podName(pod, "exec"), command, opts, cmd)
    );
}
