/**
 * The bridge between zod and Milpa's FieldErrors: Kubernetes-style paths, our own wording
 * (zod's messages never reach users), and cross-field rules that run alongside type checks.
 */
import { z } from "zod";
import type { FieldError } from "../errors.ts";

/** One step of a path into a document: a field name, map key or list index. */
export type PathSegment = string | number;

/** Reports a problem at `path`, relative to the object a rule checks. */
export type Report = (path: readonly PathSegment[], message: string, value?: unknown) => void;

/** Hints for fields people bring over from Kubernetes manifests. */
const UNKNOWN_FIELD_HINTS: Record<string, string> = {
  containers: 'Milpa pods have "units", not "containers"',
  initContainers: 'Milpa pods have "initUnits", not "initContainers"',
  requests: 'Milpa resources are flat ("memory: 1Gi"), with no "requests" or "limits"',
  limits: 'Milpa resources are flat ("memory: 1Gi"), with no "requests" or "limits"',
  targetPort: 'Milpa service ports have "nodePort" (the port on the pod\'s node), not "targetPort"',
};

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * Renders a path after `prefix`: ["spec", "units", 0, "command"] → "spec.units[0].command".
 * Map keys that are not identifiers go in brackets: `metadata.labels[app.example.com/tier]`.
 */
export function formatPath(path: readonly PropertyKey[], prefix = ""): string {
  let out = prefix;
  for (const segment of path) {
    if (typeof segment === "string" && IDENTIFIER.test(segment)) {
      out += out === "" ? segment : `.${segment}`;
    } else {
      out += `[${String(segment)}]`;
    }
  }
  return out;
}

/**
 * Converts zod issues into FieldErrors, one per bad field, each path starting with `prefix`.
 * Parse with `{ reportInput: true }`: the input tells "required" from a wrong value.
 */
export function issuesToFieldErrors(
  issues: readonly z.core.$ZodIssue[],
  prefix = "",
): FieldError[] {
  return issues.flatMap((issue): FieldError[] => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        field: formatPath([...issue.path, key], prefix),
        message: unknownFieldMessage(key),
        value: issue.input?.[key],
      }));
    }
    const error: FieldError = { field: formatPath(issue.path, prefix), message: describe(issue) };
    if (issue.input !== undefined) error.value = issue.input;
    return [error];
  });
}

function unknownFieldMessage(key: string): string {
  const hint = UNKNOWN_FIELD_HINTS[key];
  return hint ? `unknown field; ${hint}` : "unknown field";
}

/** Our wording for one issue. Custom issues and unions always carry a message we wrote. */
function describe(issue: z.core.$ZodIssue): string {
  const missing = issue.code === "invalid_type" || issue.code === "invalid_value" ||
    issue.code === "invalid_union";
  if (missing && issue.input === undefined) return "required";
  switch (issue.code) {
    case "custom":
    case "invalid_union":
      return issue.message;
    case "invalid_type":
      return describeType(issue.expected, issue.input);
    case "invalid_value":
      return issue.values.length === 1
        ? `must be ${JSON.stringify(issue.values[0])}`
        : `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return describeSize("at least", issue.origin, Number(issue.minimum));
    case "too_big":
      return describeSize("at most", issue.origin, Number(issue.maximum));
    case "invalid_key":
      return issue.issues.map(describe).join("; ");
    default:
      return "invalid value";
  }
}

function describeType(expected: string, input: unknown): string {
  if (input === null) return "must not be empty";
  switch (expected) {
    case "string":
      return typeof input === "number" || typeof input === "boolean"
        ? `must be a string; put quotes around ${JSON.stringify(String(input))}`
        : "must be a string";
    case "int":
      return "must be an integer";
    case "boolean":
      return "must be true or false";
    case "array":
      return "must be a list";
    case "object":
    case "record":
      return "must be a map";
    default:
      return `must be a ${expected}`;
  }
}

function describeSize(bound: string, origin: string, limit: number): string {
  if (origin === "string") {
    return limit === 1 && bound === "at least"
      ? "must not be empty"
      : `must be ${bound} ${limit} characters`;
  }
  if (origin === "array") return `must have ${bound} ${limit} item${limit === 1 ? "" : "s"}`;
  return `must be ${bound} ${limit}`;
}

/**
 * A cross-field check for an object schema, used as `schema.check(rule(...))`. It runs even
 * when other fields are bad, so every problem is reported at once, but not when a field it
 * `reads` has a type error (nor when the object itself has one): `fn` always sees the types it
 * declares. `reads` are dotted paths where `*` is any list index or key, e.g. "units.*.name";
 * `"all"` means it reads the whole value.
 */
export function rule<T>(
  reads: readonly string[] | "all",
  fn: (value: T, report: Report) => void,
): z.core.$ZodCheck<T> {
  const patterns = reads === "all" ? [] : reads.map((r) => r.split("."));
  const when = reads === "all"
    ? undefined
    : (payload: z.core.ParsePayload) =>
      !payload.issues.some((issue) =>
        issue.continue !== true && patterns.some((pattern) => overlaps(issue.path ?? [], pattern))
      );
  return z.superRefine<T>((value, ctx) => {
    fn(value, (path, message, input) => {
      ctx.addIssue({ code: "custom", path: [...path], message, input });
    });
  }, { when });
}

/** Whether an issue at `path` concerns a value at `pattern`: one lies inside the other. */
function overlaps(path: readonly PropertyKey[], pattern: readonly string[]): boolean {
  const shared = Math.min(path.length, pattern.length);
  for (let i = 0; i < shared; i++) {
    if (pattern[i] !== "*" && pattern[i] !== String(path[i])) return false;
  }
  return true;
}
