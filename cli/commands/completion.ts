/**
 * `milpactl completion bash|zsh|fish`: prints a shell completion script for verbs, their
 * subcommands and flags, kinds, and object names (which the script reads by running
 * `milpactl get KIND -o name`). zsh gets the bash script, run by zsh's bashcompinit.
 */
import { Command } from "commander";
import type { CliContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { bashScript } from "./completion_bash.ts";
import { fishScript } from "./completion_fish.ts";
import { type CompletionSpec, completionSpec, SHELLS } from "./completion_spec.ts";
import { examples } from "./shared.ts";

/** The zsh script: the bash one, after loading zsh's compinit and bashcompinit if needed. */
function zshScript(spec: CompletionSpec): string {
  return `#compdef milpactl
# zsh completion for milpactl (written by: milpactl completion zsh): the bash script, run by
# zsh's bashcompinit.
# In this shell:      source <(milpactl completion zsh)
# In every new shell: add that line to ~/.zshrc.

(( $+functions[compdef] )) || { autoload -U +X compinit && compinit }
(( $+functions[complete] )) || { autoload -U +X bashcompinit && bashcompinit }

${bashScript(spec)}`;
}

const SCRIPTS: Record<(typeof SHELLS)[number], (spec: CompletionSpec) => string> = {
  bash: bashScript,
  zsh: zshScript,
  fish: fishScript,
};

function runCompletion(ctx: CliContext, shell: string, cmd: Command): void {
  if (!(SHELLS as readonly string[]).includes(shell)) {
    throw new UsageError(`no completion for the shell "${shell}": give ${SHELLS.join(", ")}`);
  }
  // The root command: its verbs and flags are what gets completed.
  const program = cmd.parent!;
  ctx.stdout.write(SCRIPTS[shell as keyof typeof SCRIPTS](completionSpec(program)));
}

/** Builds the `completion` command. */
export function completionCommand(ctx: CliContext): Command {
  return new Command("completion")
    .summary("print a shell completion script (bash, zsh or fish)")
    .description(
      "Print a script that makes the shell complete milpactl's verbs, subcommands, flags " +
        "and their values, kinds (also in comma lists), and the names of objects, also as " +
        "TYPE/NAME. Names are read by running `milpactl get KIND -o name` (with the -n of the " +
        "line) as you press Tab, so `milpactl` must run as a command of that name (on the " +
        "PATH, or a bash alias defined before the script is loaded) and find its controller.",
    )
    .argument("<shell>", SHELLS.join(", "))
    .addHelpText(
      "after",
      examples([
        ["source <(milpactl completion bash)", "bash, in this shell (add it to ~/.bashrc)"],
        ["source <(milpactl completion zsh)", "zsh, in this shell (add it to ~/.zshrc)"],
        ["milpactl completion fish | source", "fish, in this shell"],
        [
          "milpactl completion fish > ~/.config/fish/completions/milpactl.fish",
          "fish, in every new shell",
        ],
      ]),
    )
    .action((shell: string, _opts: unknown, cmd: Command) => runCompletion(ctx, shell, cmd));
}
