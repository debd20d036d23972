/**
 * What the shell completion scripts complete, read from the command tree itself (verbs,
 * subcommands, flags and their choices), so a new verb or flag is completed without edits here.
 * Only what each verb's positional arguments are (kinds, pods, ...) is said in one table.
 */
import type { Command, Option } from "commander";
import { KINDS } from "../../model/kinds.ts";
import { GET_OUTPUT_FORMATS } from "../flags.ts";
import { MACHINE_NAMES } from "./statechart.ts";

/** What a verb's positional arguments are, for completing them. */
export type ArgKind =
  /** TYPE[,TYPE] [NAME...] or TYPE/NAME...: kinds (and `all`), then names of that kind. */
  | "objects"
  /** As objects, but only deployments and replica sets (scale). */
  | "scalable"
  /** One kind, no names (explain). */
  | "kind"
  /** A pod's name (logs, exec, ...). */
  | "pod"
  /** deploy/NAME, or deploy then NAME (rollout's subcommands). */
  | "deployment"
  /** A state machine, then an actor's name (statechart). */
  | "machine"
  /** bash, zsh or fish (completion). */
  | "shell"
  | "none";

/** The positional arguments of each verb; verbs not listed take nothing completable. */
const VERB_ARGS: Record<string, ArgKind> = {
  get: "objects",
  describe: "objects",
  delete: "objects",
  scale: "scalable",
  explain: "kind",
  logs: "pod",
  exec: "pod",
  attach: "pod",
  "port-forward": "pod",
  deploy: "pod",
  rollout: "deployment",
  statechart: "machine",
  completion: "shell",
};

/** Shells `milpactl completion` writes a script for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

/** A flag, as the scripts need it. */
export interface FlagSpec {
  /** `--output`, `-o`. */
  names: string[];
  description: string;
  /** Whether a value follows (`-o json`). */
  takesValue: boolean;
  choices: string[];
  /** The value is a file (`-f`) or a directory (`--workdir`). */
  path?: "file" | "dir";
}

/** A verb or subcommand. */
export interface VerbSpec {
  name: string;
  summary: string;
  flags: FlagSpec[];
  subcommands: VerbSpec[];
  args: ArgKind;
}

/** Everything a completion script embeds. */
export interface CompletionSpec {
  /** Flags every verb takes (`-n`, `--endpoint`, `--token`, `-h`). */
  globalFlags: FlagSpec[];
  verbs: VerbSpec[];
  /** Every word naming a kind: plurals, singulars, aliases (not `all`). */
  kinds: string[];
  /** The words of the kinds scale takes. */
  scalableKinds: string[];
  machines: string[];
  shells: string[];
}

const PATH_FLAGS: Record<string, "file" | "dir"> = { "--filename": "file", "--workdir": "dir" };

/** Values of flags that check them with a parser rather than a list of choices. */
const VALUE_WORDS: Record<string, readonly string[]> = {
  "get --output": [...GET_OUTPUT_FORMATS, "jsonpath="],
};

const HELP_FLAG: FlagSpec = {
  names: ["-h", "--help"],
  description: "show help",
  takesValue: false,
  choices: [],
};

function flagSpec(option: Option, verb = ""): FlagSpec {
  const names = [option.short, option.long].filter((n): n is string => !!n);
  return {
    names,
    description: option.description,
    takesValue: option.required || option.optional,
    choices: [...(option.argChoices ?? VALUE_WORDS[`${verb} ${option.long}`] ?? [])],
    path: option.long ? PATH_FLAGS[option.long] : undefined,
  };
}

function verbSpec(cmd: Command, args: ArgKind): VerbSpec {
  return {
    name: cmd.name(),
    summary: cmd.summary() || cmd.description().split("\n")[0],
    flags: [...cmd.options.filter((o) => !o.hidden).map((o) => flagSpec(o, cmd.name())), HELP_FLAG],
    subcommands: cmd.commands.map((sub) => verbSpec(sub, args)),
    args,
  };
}

function words(kinds: readonly { plural: string; singular: string; aliases: string[] }[]) {
  return kinds.flatMap((k) => [k.plural, k.singular, ...k.aliases]);
}

/** The completion spec of milpactl's root command. */
export function completionSpec(program: Command): CompletionSpec {
  return {
    globalFlags: [
      ...program.options.filter((o) => o.long !== "--version").map((o) => flagSpec(o)),
      HELP_FLAG,
    ],
    verbs: program.commands.map((cmd) => verbSpec(cmd, VERB_ARGS[cmd.name()] ?? "none")),
    kinds: words(KINDS),
    scalableKinds: words(KINDS.filter((k) => k.kind === "Deployment" || k.kind === "ReplicaSet")),
    machines: [...MACHINE_NAMES],
    shells: [...SHELLS],
  };
}
