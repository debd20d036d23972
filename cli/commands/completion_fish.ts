/**
 * The fish completion script: a `complete` line per verb and flag, and one function that
 * completes positional arguments (kinds, then names from `milpactl get KIND -o name`).
 */
import { verbPaths } from "./completion_bash.ts";
import type { CompletionSpec, FlagSpec } from "./completion_spec.ts";

/** `s` single-quoted for fish (where a backslash escapes a quote or a backslash). */
function fishQuote(s: string): string {
  return `'${s.replace(/[\\']/g, "\\$&")}'`;
}

/** `-s o -l output`: a flag's names as `complete` options. */
function flagNames(flag: FlagSpec): string {
  return flag.names.map((n) => n.startsWith("--") ? `-l ${n.slice(2)}` : `-s ${n.slice(1)}`)
    .join(" ");
}

/** The options of `complete` for a flag's value. */
function valueOptions(flag: FlagSpec): string {
  if (!flag.takesValue) return "";
  if (flag.choices.length) return ` -x -a ${fishQuote(flag.choices.join(" "))}`;
  if (flag.path === "file") return " -r -F";
  if (flag.path === "dir") return ` -x -a '(__fish_complete_directories)'`;
  return " -x";
}

function flagLine(flag: FlagSpec, condition?: string): string {
  const when = condition ? ` -n ${fishQuote(condition)}` : "";
  return `complete -c milpactl${when} ${flagNames(flag)}${valueOptions(flag)} ` +
    `-d ${fishQuote(flag.description)}`;
}

/** The `switch` arms of __milpactl_takes_value: "PATH FLAG" of every flag taking a value. */
function takesValueArms(spec: CompletionSpec): string {
  const patterns = [
    ...spec.globalFlags.filter((f) => f.takesValue).flatMap((f) => f.names.map((n) => `* ${n}`)),
    ...verbPaths(spec).flatMap(({ path, verb }) =>
      verb.flags.filter((f) => f.takesValue).flatMap((f) => f.names.map((n) => `${path} ${n}`))
    ),
  ];
  return patterns.map(fishQuote).join(" ");
}

const LOGIC = String
  .raw`# The words typed so far, read: sets __milpactl_path ("get", "rollout status"),
# __milpactl_args (positional arguments) and __milpactl_ns (the -n value).
function __milpactl_read_line
    set -g __milpactl_path
    set -g __milpactl_args
    set -g __milpactl_ns
    set -l verb
    set -l words (commandline -opc)
    set -e words[1]
    set -l skip 0
    for word in $words
        if test $skip = 1
            set skip 0
            continue
        end
        if test "$word" = --
            set -a __milpactl_args --
        else if string match -q -- '-*' $word
            if not string match -q -- '*=*' $word; and __milpactl_takes_value "$__milpactl_path" $word
                set skip 1
            end
        else if test -z "$verb"
            set verb $word
            set __milpactl_path $word
        else if test "$__milpactl_path" = "$verb"; and contains -- $verb $__milpactl_with_subcommands
            set __milpactl_path "$verb $word"
        else
            set -a __milpactl_args $word
        end
    end
    set -l at (contains -i -- -n $words; or contains -i -- --namespace $words)
    if test -n "$at"; and test (count $words) -gt $at
        set __milpactl_ns $words[(math $at + 1)]
    end
end

# Whether the line's verb (with its subcommand) is $argv[1]; "" for none yet.
function __milpactl_path_is
    __milpactl_read_line
    test "$__milpactl_path" = "$argv[1]"
end

# The names of the objects of kind $argv[1], by asking milpactl.
function __milpactl_names
    set -l ns
    test -n "$__milpactl_ns"; and set ns --namespace $__milpactl_ns
    for line in (milpactl get $argv[1] -o name $ns 2>/dev/null)
        string replace -r '^[^/]*/' '' -- $line
    end
end

# TYPE/NAME for the TYPE in the token being completed.
function __milpactl_type_slash_name
    set -l kind (string split -m1 / -- (commandline -ct))[1]
    for name in (__milpactl_names $kind)
        echo "$kind/$name"
    end
end

# TYPE[,TYPE] [NAME...] or TYPE/NAME...: kinds from $argv, then names of the kind given.
function __milpactl_objects
    set -l token (commandline -ct)
    if string match -q -- '*/*' $token
        __milpactl_type_slash_name
    else if test (count $__milpactl_args) -eq 0
        set -l before (string match -r '^.*,' -- $token)
        printf "$before%s\n" $argv
    else if not string match -q -r '[/,]|^all$' -- $__milpactl_args[1]
        __milpactl_names $__milpactl_args[1]
    end
end

# The candidates for the positional argument being typed.
function __milpactl_positional
    __milpactl_read_line
    contains -- -- $__milpactl_args; and return
    set -l verb (string split ' ' -- $__milpactl_path)[1]
    set -l n (count $__milpactl_args)
    switch (__milpactl_arg_kind $verb)
        case objects
            __milpactl_objects $__milpactl_kinds all
        case scalable
            __milpactl_objects $__milpactl_scalable
        case kind
            test $n -eq 0; and printf '%s\n' $__milpactl_kinds
        case pod
            if test $n -eq 0
                if string match -q -- '*/*' (commandline -ct)
                    __milpactl_type_slash_name
                else
                    __milpactl_names pods
                end
            end
        case deployment
            if string match -q -- '*/*' (commandline -ct)
                __milpactl_type_slash_name
            else if test $n -eq 0
                printf '%s\n' deploy deployment deployments
            else if test $n -eq 1; and not string match -q -- '*/*' $__milpactl_args[1]
                __milpactl_names deployments
            end
        case machine
            if test $n -eq 0
                printf '%s\n' $__milpactl_machines
            else if test $n -eq 1; and not contains -- $__milpactl_args[1] nodepool supervisor
                __milpactl_names $__milpactl_args[1]
            end
        case shell
            test $n -eq 0; and printf '%s\n' $__milpactl_shells
    end
end`;

/** The fish completion script. */
export function fishScript(spec: CompletionSpec): string {
  const withSubcommands = spec.verbs.filter((v) => v.subcommands.length).map((v) => v.name);
  const argArms = spec.verbs.filter((v) => v.args !== "none").map((v) =>
    `        case ${fishQuote(v.name)}\n            echo ${v.args}`
  );
  const verbLines = spec.verbs.map((v) =>
    `complete -c milpactl -n '__milpactl_path_is ""' -a ${fishQuote(v.name)} ` +
    `-d ${fishQuote(v.summary)}`
  );
  const subLines = spec.verbs.flatMap((v) =>
    v.subcommands.map((s) =>
      `complete -c milpactl -n ${fishQuote(`__milpactl_path_is ${v.name}`)} ` +
      `-a ${fishQuote(s.name)} -d ${fishQuote(s.summary)}`
    )
  );
  const flagLines = verbPaths(spec).flatMap(({ path, verb }) =>
    verb.flags.filter((f) => f.names[0] !== "-h").map((f) =>
      flagLine(f, `__milpactl_path_is '${path}'`)
    )
  );
  return `# fish completion for milpactl (written by: milpactl completion fish).
# In this shell:      milpactl completion fish | source
# In every new shell: milpactl completion fish > ~/.config/fish/completions/milpactl.fish
# Object names are completed by running "milpactl get KIND -o name" in the background.

set -g __milpactl_kinds ${spec.kinds.map(fishQuote).join(" ")}
set -g __milpactl_scalable ${spec.scalableKinds.map(fishQuote).join(" ")}
set -g __milpactl_machines ${spec.machines.map(fishQuote).join(" ")}
set -g __milpactl_shells ${spec.shells.map(fishQuote).join(" ")}
set -g __milpactl_with_subcommands ${withSubcommands.map(fishQuote).join(" ")}

# Whether flag $argv[2] of verb $argv[1] takes a value.
function __milpactl_takes_value
    for pattern in ${takesValueArms(spec)}
        string match -q -- $pattern "$argv[1] $argv[2]"; and return 0
    end
    return 1
end

# What the positional arguments of verb $argv[1] are.
function __milpactl_arg_kind
    switch $argv[1]
${argArms.join("\n")}
    end
end

${LOGIC}

complete -c milpactl -f
${spec.globalFlags.map((f) => flagLine(f)).join("\n")}
${verbLines.join("\n")}
complete -c milpactl -n '__milpactl_path_is ""' -a help -d 'help on a command'
${subLines.join("\n")}
${flagLines.join("\n")}
complete -c milpactl -n 'not __milpactl_path_is ""' -a '(__milpactl_positional)'
`;
}
