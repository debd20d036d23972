/** The milpactl command tree and `run()`, which turns every outcome into an exit code. */
import { Command, CommanderError } from "commander";
import { applyCommand } from "./commands/apply.ts";
import { createCommand } from "./commands/create.ts";
import { deleteCommand } from "./commands/delete.ts";
import { deployCommand } from "./commands/deploy.ts";
import { describeCommand } from "./commands/describe.ts";
import { explainCommand } from "./commands/explain.ts";
import { getCommand } from "./commands/get.ts";
import { logsCommand } from "./commands/logs.ts";
import { attachCommand } from "./commands/attach.ts";
import { completionCommand } from "./commands/completion.ts";
import { execCommand } from "./commands/exec.ts";
import { portForwardCommand } from "./commands/port_forward.ts";
import { RemoteExit } from "./commands/stream_session.ts";
import { rolloutCommand } from "./commands/rollout.ts";
import { runCommand } from "./commands/run.ts";
import { scaleCommand } from "./commands/scale.ts";
import { CLIENT_VERSION, examples } from "./commands/shared.ts";
import { statechartCommand } from "./commands/statechart.ts";
import { tokenCommand } from "./commands/token.ts";
import { updateCommand } from "./commands/update.ts";
import { versionCommand } from "./commands/version.ts";
import type { CliContext } from "./context.ts";
import { EXIT, reportError, UsageError } from "./errors.ts";
import { FLAGS } from "./flags.ts";

const COMMANDS = [
  getCommand,
  describeCommand,
  explainCommand,
  createCommand,
  applyCommand,
  updateCommand,
  deleteCommand,
  scaleCommand,
  rolloutCommand,
  logsCommand,
  deployCommand,
  runCommand,
  execCommand,
  attachCommand,
  portForwardCommand,
  statechartCommand,
  tokenCommand,
  versionCommand,
  completionCommand,
];

/** Builds the root command with every subcommand; nothing runs until it parses. */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command("milpactl")
    .description(
      "Control a Milpa controller: every pod runs on its own right-sized node.\n\n" +
        "The controller is found through --endpoint/--token, then MILPA_ENDPOINT/MILPA_TOKEN, " +
        "then $MILPA_HOME/client.yaml, ./.milpa/client.yaml or ~/.milpa/client.yaml " +
        "(written by the controller when it starts: `deno task start`). An https controller " +
        "must have a certificate from the CA in MILPA_CA_FILE, else the certificateAuthority " +
        "of that client.yaml (or one the system trusts).\n\n" +
        "Objects are named as kubectl names them: TYPE NAME..., TYPE,TYPE (or all) NAME..., or " +
        "TYPE/NAME... (get, describe, delete, scale; logs, exec, attach and port-forward take " +
        "NAME or pod/NAME).\n\n" +
        "Exit codes: 0 ok; 1 the controller answered with an error, a manifest it refused " +
        "included (422, naming the field), or a kind or field that Milpa does not have (get " +
        "pdos, explain pod.spec.foo); 2 bad usage, or a manifest file that cannot be read or " +
        "parsed; 3 controller unreachable or not configured.",
    )
    .addOption(FLAGS.endpoint())
    .addOption(FLAGS.token())
    .addOption(FLAGS.namespace())
    .version(`milpactl version ${CLIENT_VERSION}`, "--version", "print the client version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.stdout.write(text),
      writeErr: (text) => ctx.stderr.write(text),
      outputError: () => {}, // run() prints usage errors through the one error printer.
    })
    .showSuggestionAfterError()
    .addHelpText(
      "after",
      examples([
        ["milpactl get pods", "list pods"],
        ["milpactl get all", "pods, services, deployments and replica sets"],
        ["milpactl create -f helloworld-pod.yml", "create the objects in a file"],
        ["milpactl logs helloworld -u helloserver", "print a unit's log"],
        ["milpactl delete pod helloworld", "terminate a pod"],
        ["milpactl rollout status deploy/backend-deployment", "wait for a deployment's rollout"],
        ["milpactl statechart pod helloworld", "where a pod's actor is in its state machine"],
        ["milpactl explain pod.spec.resources", "what a manifest's fields mean"],
        ["source <(milpactl completion bash)", "Tab completion in bash (also zsh, fish)"],
        ["milpactl get --help", "help on one command"],
      ]),
    );
  for (const make of COMMANDS) {
    const cmd = make(ctx);
    inheritSettings(cmd, program);
    program.addCommand(cmd);
  }
  return program;
}

/** Gives a command and its subcommands (rollout status, ...) the root's output and exit settings. */
function inheritSettings(cmd: Command, parent: Command): void {
  cmd.copyInheritedSettings(parent);
  for (const sub of cmd.commands) inheritSettings(sub, cmd);
}

/** The command path the user typed (`rollout status`), for the usage hint. */
function commandPath(program: Command, args: string[]): string {
  const path: string[] = [];
  let cmd = program;
  for (const arg of args) {
    const sub = cmd.commands.find((c) => c.name() === arg);
    if (!sub) continue;
    path.push(arg);
    cmd = sub;
  }
  return path.join(" ");
}

/** Turns a commander parse failure into an exit code, printing it like every other error. */
function commanderExit(err: CommanderError, program: Command, args: string[], ctx: CliContext) {
  if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return EXIT.ok;
  // Help was printed to stderr because no command was given.
  if (err.code === "commander.help") return EXIT.usage;
  const command = commandPath(program, args);
  return reportError(
    new UsageError(
      err.message.replace(/^error: /, ""),
      `run 'milpactl ${command ? command + " " : ""}--help' for usage`,
    ),
    ctx.stderr,
  );
}

/** Runs milpactl with `args` (without the program name); resolves with the exit code. */
export async function run(args: string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(args, { from: "user" });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) return commanderExit(err, program, args, ctx);
    // exec and attach exit with the remote command's code, which is no error of milpactl's.
    if (err instanceof RemoteExit) return err.code;
    // The reader went away (`milpactl get pods | head`): not a failure of ours.
    if (err instanceof Deno.errors.BrokenPipe) return EXIT.ok;
    return reportError(err, ctx.stderr);
  }
}
