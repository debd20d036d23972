/**
 * The object arguments every verb takes, read as kubectl reads them:
 *
 * - `TYPE [NAME...]`: one kind (`pods`, `po`, `pod`, `Pod`) and names in it;
 * - `TYPE,TYPE [NAME...]`: several kinds, each name looked up in each kind; `all` stands for
 *   pods, services, deployments and replicasets;
 * - `TYPE/NAME...`: each argument names its own kind (`pod/web svc/web`).
 *
 * The two forms do not mix. An unknown kind is an UnknownKindError that suggests the nearest.
 */
import { ALL_KINDS, findKind, KIND_WORDS, type KindInfo, KINDS } from "../model/kinds.ts";
import { UnknownKindError, UsageError } from "./errors.ts";
import { didYouMean, nearest } from "./suggest.ts";

/** One kind and the names asked for in it; no names means every object of the kind. */
export interface KindRequest {
  kind: KindInfo;
  names: string[];
}

/** What a verb's object arguments ask for, kinds in the order given. */
export interface ResourceArgs {
  requests: KindRequest[];
  /** Whether the arguments were TYPE/NAME (so every request has names). */
  slashForm: boolean;
}

/** The word that stands for ALL_KINDS. */
export const ALL = "all";

/** Every kind with its aliases, for help texts: "pods (po), nodes (no), ...". */
export const KIND_NAMES: string = KINDS.map((k) =>
  k.aliases.length ? `${k.plural} (${k.aliases.join(", ")})` : k.plural
).join(", ");

/** What `all` covers, for help texts. */
export const ALL_NAMES: string = ALL_KINDS.map((k) => k.plural).join(", ");

/**
 * The kind a user typed (plural, singular, kind name or alias, any case).
 * @throws {UnknownKindError} naming it, with the nearest known kinds as suggestions.
 */
export function resolveKind(word: string): KindInfo {
  const kind = findKind(word);
  if (kind) return kind;
  const suggestion = didYouMean(nearest(word, KIND_WORDS));
  throw new UnknownKindError(
    `the server doesn't have a resource type "${word}"` + (suggestion ? `; ${suggestion}` : ""),
    `known types: ${KIND_NAMES}`,
  );
}

/** The kinds of a comma list (`deploy,svc`, `all`), each once, in order. */
function kindList(word: string): KindInfo[] {
  const kinds: KindInfo[] = [];
  for (const part of word.split(",")) {
    if (part === "") {
      throw new UsageError(`"${word}": the list of kinds has an empty item`);
    }
    for (const kind of part.toLowerCase() === ALL ? ALL_KINDS : [resolveKind(part)]) {
      if (!kinds.includes(kind)) kinds.push(kind);
    }
  }
  return kinds;
}

/** `pod/web` as a kind and a name. */
function typeSlashName(arg: string): { kind: KindInfo; name: string } {
  const slash = arg.indexOf("/");
  const type = arg.slice(0, slash);
  const name = arg.slice(slash + 1);
  if (type === "" || name === "" || name.includes("/")) {
    throw new UsageError(`"${arg}" is not TYPE/NAME: write one kind and one name, e.g. pod/web`);
  }
  if (type.includes(",") || type.toLowerCase() === ALL) {
    throw new UsageError(`"${arg}": TYPE/NAME takes one kind, e.g. pod/web`);
  }
  return { kind: resolveKind(type), name };
}

/** TYPE/NAME arguments, grouped by kind in the order each kind first appears. */
function slashForm(args: string[]): KindRequest[] {
  const requests: KindRequest[] = [];
  for (const arg of args) {
    if (!arg.includes("/")) {
      throw new UsageError(
        `"${arg}" has no kind: with TYPE/NAME arguments, write every object as TYPE/NAME`,
      );
    }
    const { kind, name } = typeSlashName(arg);
    const request = requests.find((r) => r.kind === kind);
    if (!request) requests.push({ kind, names: [name] });
    else if (!request.names.includes(name)) request.names.push(name);
  }
  return requests;
}

/**
 * Reads a verb's object arguments (`args` as typed: `["deploy,svc", "web"]`,
 * `["pod/web", "svc/web"]`).
 * @throws {UsageError} for no arguments, an empty kind or name, or the two forms mixed.
 * @throws {UnknownKindError} for a kind Milpa does not have.
 */
export function parseResourceArgs(args: string[]): ResourceArgs {
  const [first, ...rest] = args;
  if (first === undefined || first === "") {
    throw new UsageError(`a kind is needed, e.g. pods; known types: ${KIND_NAMES}`);
  }
  if (first.includes("/")) return { requests: slashForm(args), slashForm: true };
  const slashed = rest.find((name) => name.includes("/"));
  if (slashed) {
    throw new UsageError(
      `"${slashed}": give either TYPE NAME... or TYPE/NAME..., not both ` +
        `(e.g. "${slashed}" alone, without "${first}" before it)`,
    );
  }
  const names = [...new Set(rest)];
  if (names.includes("")) throw new UsageError("an object's name cannot be empty");
  return { requests: kindList(first).map((kind) => ({ kind, names })), slashForm: false };
}

/**
 * A pod named as `NAME` or `pod/NAME` (`po/NAME`, `pods/NAME`), for the verbs that act on
 * one pod (logs, exec, attach, port-forward).
 * @throws {UsageError} for another kind, or an empty name.
 */
export function podName(arg: string, verb: string): string {
  if (!arg.includes("/")) {
    if (arg === "") throw new UsageError(`${verb} needs a pod's name`);
    return arg;
  }
  const { kind, name } = typeSlashName(arg);
  if (kind.kind !== "Pod") {
    throw new UsageError(`${verb} works on pods, not ${kind.plural}: "${arg}"`);
  }
  return name;
}
