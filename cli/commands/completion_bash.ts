/**
 * The bash completion script (zsh runs the same one through bashcompinit). Verbs, flags and
 * kinds are embedded; object names come from `milpactl get KIND -o name` as you type.
 */
import type { CompletionSpec, FlagSpec, VerbSpec } from "./completion_spec.ts";

/** `s` single-quoted for the shell. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Every verb and subcommand with its path: `get`, `rollout status`. */
export function verbPaths(spec: CompletionSpec): Array<{ path: string; verb: VerbSpec }> {
  return spec.verbs.flatMap((verb) => [
    { path: verb.name, verb },
    ...verb.subcommands.map((sub) => ({ path: `${verb.name} ${sub.name}`, verb: sub })),
  ]);
}

/** How a flag's value is completed: `choices A B`, `file`, `dir` or `any`. */
export function valueCompletion(flag: FlagSpec): string {
  if (flag.choices.length) return `choices ${flag.choices.join(" ")}`;
  return flag.path ?? "any";
}

function caseArm(patterns: string[], body: string): string {
  return `    ${patterns.map(shellQuote).join("|")}) ${body};;`;
}

function flagsFunction(spec: CompletionSpec): string {
  const global = spec.globalFlags.flatMap((f) => f.names).join(" ");
  const arms = verbPaths(spec).map(({ path, verb }) =>
    caseArm([path], `echo ${shellQuote(verb.flags.flatMap((f) => f.names).join(" "))}`)
  );
  return `# The flags of a verb ("get", "rollout status"), the global ones included.
_milpactl_flags() {
  echo ${shellQuote(global)}
  case "$1" in
${arms.join("\n")}
  esac
}`;
}

function flagValueFunction(spec: CompletionSpec): string {
  const global = spec.globalFlags.filter((f) => f.takesValue).map((f) =>
    caseArm(f.names, `echo ${shellQuote(valueCompletion(f))}; return`)
  );
  const arms = verbPaths(spec).flatMap(({ path, verb }) =>
    verb.flags.filter((f) => f.takesValue).map((f) =>
      caseArm(f.names.map((n) => `${path} ${n}`), `echo ${shellQuote(valueCompletion(f))}`)
    )
  );
  return `# How the value of flag $2 of verb $1 is completed: "choices WORD...", "file", "dir" or
# "any"; nothing when the flag takes no value.
_milpactl_flag_value() {
  case "$2" in
${global.join("\n")}
  esac
  case "$1 $2" in
${arms.join("\n")}
  esac
}`;
}

function subcommandsFunction(spec: CompletionSpec): string {
  const arms = spec.verbs.filter((v) => v.subcommands.length).map((v) =>
    caseArm([v.name], `echo ${shellQuote(v.subcommands.map((s) => s.name).join(" "))}`)
  );
  return `# The subcommands of a verb, if it has any.
_milpactl_subcommands() {
  case "$1" in
${arms.join("\n")}
  esac
}`;
}

function argsFunction(spec: CompletionSpec): string {
  const arms = spec.verbs.filter((v) => v.args !== "none").map((v) =>
    caseArm([v.name], `echo ${v.args}`)
  );
  return `# What the positional arguments of a verb are.
_milpactl_args() {
  case "$1" in
${arms.join("\n")}
  esac
}`;
}

/** The part of the script that does not depend on the command tree. */
const LOGIC =
  `# The names of the objects of kind $1 (in the namespace given with -n), by asking milpactl.
_milpactl_names() {
  local line
  while IFS= read -r line; do
    echo "\${line#*/}"
  done < <(milpactl get "$1" -o name \${_milpactl_ns:+--namespace "$_milpactl_ns"} 2>/dev/null)
}

# Sets COMPREPLY to the words of $1 that start with $cur.
_milpactl_reply() {
  COMPREPLY=($(compgen -W "$1" -- "$cur"))
}

# TYPE/NAME: completes the names of TYPE, written TYPE/NAME.
_milpactl_type_slash_name() {
  local kind="\${cur%%/*}"
  COMPREPLY=($(compgen -P "$kind/" -W "$(_milpactl_names "$kind")" -- "\${cur#*/}"))
}

# TYPE[,TYPE] [NAME...] or TYPE/NAME...: kinds from $1, then names of the kind given.
_milpactl_objects() {
  if [[ $cur == */* ]]; then
    _milpactl_type_slash_name
  elif ((\${#args[@]} == 0)); then
    if [[ $cur == *,* ]]; then
      COMPREPLY=($(compgen -P "\${cur%,*}," -W "$1" -- "\${cur##*,}"))
    else
      _milpactl_reply "$1"
    fi
  elif [[ \${args[0]} != */* && \${args[0]} != *,* && \${args[0]} != all ]]; then
    _milpactl_reply "$(_milpactl_names "\${args[0]}")"
  fi
}

# (No variable is called "path": zsh ties that name to PATH.)
_milpactl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD - 1]}"
  local verb="" verbpath="" ns="" word value i
  local -a args=()
  for ((i = 1; i < COMP_CWORD; i++)); do
    word="\${COMP_WORDS[i]}"
    # After "--" come the words of a command run in a pod: nothing to complete.
    [[ $word == -- ]] && return 0
    if [[ $word == -* ]]; then
      case "$word" in
        -n | --namespace) ns="\${COMP_WORDS[i + 1]}" ;;
        --namespace=*) ns="\${word#*=}" ;;
      esac
      [[ $word != *=* && -n "$(_milpactl_flag_value "$verbpath" "$word")" ]] && ((i++))
    elif [[ -z $verb ]]; then
      verb="$word" verbpath="$word"
    elif [[ $verbpath == "$verb" && -n "$(_milpactl_subcommands "$verb")" ]]; then
      verbpath="$verb $word"
    else
      args+=("$word")
    fi
  done
  _milpactl_ns="$ns"
  if [[ $prev == -* && $prev != *=* && $cur != -* ]]; then
    value="$(_milpactl_flag_value "$verbpath" "$prev")"
    case "$value" in
      choices*) _milpactl_reply "\${value#choices }" ; return 0 ;;
      file | dir)
        type compopt &>/dev/null && compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen "-\${value:0:1}" -- "$cur"))
        return 0
        ;;
      any) return 0 ;;
    esac
  fi
  if [[ $cur == -* ]]; then
    _milpactl_reply "$(_milpactl_flags "$verbpath")"
  elif [[ -z $verb ]]; then
    _milpactl_reply "$_milpactl_verbs"
  elif [[ $verbpath == "$verb" && -n "$(_milpactl_subcommands "$verb")" ]]; then
    _milpactl_reply "$(_milpactl_subcommands "$verb")"
  else
    case "$(_milpactl_args "$verb")" in
      objects) _milpactl_objects "$_milpactl_kinds all" ;;
      scalable) _milpactl_objects "$_milpactl_scalable" ;;
      kind) ((\${#args[@]} == 0)) && _milpactl_reply "$_milpactl_kinds" ;;
      pod)
        if ((\${#args[@]} == 0)); then
          if [[ $cur == */* ]]; then _milpactl_type_slash_name; else _milpactl_reply "$(_milpactl_names pods)"; fi
        fi
        ;;
      deployment)
        if [[ $cur == */* ]]; then
          _milpactl_type_slash_name
        elif ((\${#args[@]} == 0)); then
          _milpactl_reply "deploy deployment deployments"
        elif ((\${#args[@]} == 1)) && [[ \${args[0]} != */* ]]; then
          _milpactl_reply "$(_milpactl_names deployments)"
        fi
        ;;
      machine)
        if ((\${#args[@]} == 0)); then
          _milpactl_reply "$_milpactl_machines"
        elif ((\${#args[@]} == 1)) && [[ \${args[0]} != nodepool && \${args[0]} != supervisor ]]; then
          _milpactl_reply "$(_milpactl_names "\${args[0]}")"
        fi
        ;;
      shell) ((\${#args[@]} == 0)) && _milpactl_reply "$_milpactl_shells" ;;
    esac
  fi
  return 0
}

complete -F _milpactl milpactl`;

/** The bash completion script. */
export function bashScript(spec: CompletionSpec): string {
  const verbs = [...spec.verbs.map((v) => v.name), "help"];
  return `# bash completion for milpactl (written by: milpactl completion bash).
# In this shell:      source <(milpactl completion bash)
# In every new shell: milpactl completion bash > ~/.local/share/bash-completion/completions/milpactl
# Object names are completed by running "milpactl get KIND -o name" in the background.

_milpactl_verbs=${shellQuote(verbs.join(" "))}
_milpactl_kinds=${shellQuote(spec.kinds.join(" "))}
_milpactl_scalable=${shellQuote(spec.scalableKinds.join(" "))}
_milpactl_machines=${shellQuote(spec.machines.join(" "))}
_milpactl_shells=${shellQuote(spec.shells.join(" "))}

${flagsFunction(spec)}

${flagValueFunction(spec)}

${subcommandsFunction(spec)}

${argsFunction(spec)}

${LOGIC}
`;
}
