/**
 * `milpactl attach POD [-u UNIT] [-i] [-t]`: a running unit's output, live; with -i, input to
 * a unit that has `stdin: true`. Units have no terminal, so -t is refused by the node.
 */
import { Command } from "commander";
import type { CliContext } from "../context.ts";
import { podName } from "../resource_args.ts";
import { podStreamPath, streamFlags, type StreamOptions } from "./exec.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";
import { openSocket, queryString, runSession } from "./stream_session.ts";

async function runAttach(ctx: CliContext, pod: string, opts: StreamOptions, cmd: Command) {
  const globals = globalsOf(cmd);
  const client = await connect(ctx, globals);
  const query = queryString([
    ["unit", opts.unit],
    ["stdin", opts.stdin ? "1" : undefined],
    ["tty", opts.tty ? "1" : undefined],
  ]);
  const ws = await openSocket(client, podStreamPath(namespaceOf(globals), pod, "attach") + query);
  try {
    await runSession(ctx, ws, { stdin: opts.stdin === true, tty: opts.tty === true });
  } finally {
    client.close();
  }
}

/** Builds the `attach` command. */
export function attachCommand(ctx: CliContext): Command {
  return streamFlags(
    new Command("attach")
      .summary("show a running unit's output as it comes; with -i, write to its stdin")
      .description(
        "Print what a running pod's unit writes from now on, until Ctrl-C or until the unit " +
          "is stopped. With -i, standard input goes to the unit's stdin: only a unit with " +
          "stdin: true has one (others run with it closed, and -i is refused). The end of the " +
          "input ends only this attach's input; the unit's stdin stays open for the next " +
          "attach. Units have no terminal, so -t is refused.",
      )
      .argument("<pod>", "the pod: NAME or pod/NAME"),
  )
    .addHelpText(
      "after",
      examples([
        ["milpactl attach helloworld", "the first unit's output"],
        ["milpactl attach mypod -u repl", "one unit's output"],
        ["printf 'a\\n' | milpactl attach -i mypod -u repl", "send a line to a stdin: true unit"],
      ]),
    )
    .action((pod: string, opts: StreamOptions, cmd: Command) =>
      runAttach(ctx, podName(pod, "attach"), opts, cmd)
    );
}
