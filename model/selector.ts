/**
 * Label selectors: the manifest forms (long `{matchLabels, matchExpressions}` and short
 * `{app: web}`), matching, the `-l` string syntax and validation.
 */
import { z } from "zod";
import { type FieldError, ValidationError } from "./errors.ts";
import type { LabelSelector, LabelSelectorRequirement } from "./selector_types.ts";
import { formatted, labels } from "./validation/common.ts";
import { labelKeyProblem, labelValueProblem } from "./validation/formats.ts";
import { issuesToFieldErrors, rule } from "./validation/issues.ts";

/** A selector in long form with both parts present. */
export interface NormalizedSelector {
  matchLabels: Record<string, string>;
  matchExpressions: LabelSelectorRequirement[];
}

/** Whether `sel` is written in the long form (it has a matchLabels or matchExpressions key). */
function isLongForm(sel: object): boolean {
  return Object.hasOwn(sel, "matchLabels") || Object.hasOwn(sel, "matchExpressions");
}

/** The long form of any selector, as a copy; absent means empty. */
export function normalizeSelector(sel: LabelSelector | undefined): NormalizedSelector {
  if (!sel) return { matchLabels: {}, matchExpressions: [] };
  if (!isLongForm(sel)) {
    return { matchLabels: { ...sel as Record<string, string> }, matchExpressions: [] };
  }
  const long = sel as {
    matchLabels?: Record<string, string>;
    matchExpressions?: LabelSelectorRequirement[];
  };
  return {
    matchLabels: { ...long.matchLabels },
    matchExpressions: (long.matchExpressions ?? []).map((r) => ({
      ...r,
      values: r.values && [...r.values],
    })),
  };
}

/** True when `sel` has no requirement at all, and so matches every object. */
export function isEmptySelector(sel: LabelSelector | undefined): boolean {
  const { matchLabels, matchExpressions } = normalizeSelector(sel);
  return Object.keys(matchLabels).length === 0 && matchExpressions.length === 0;
}

/** Whether `labels` satisfy every requirement of `sel`; an empty or absent selector matches all. */
export function matchesSelector(
  sel: LabelSelector | undefined,
  labels: Record<string, string> | undefined,
): boolean {
  return selectorMatcher(sel)(labels);
}

/**
 * `matchesSelector(sel, ·)` with `sel` read once: for a list that tests thousands of objects'
 * labels against one selector.
 */
export function selectorMatcher(
  sel: LabelSelector | undefined,
): (labels: Record<string, string> | undefined) => boolean {
  const { matchLabels, matchExpressions } = normalizeSelector(sel);
  const equal = Object.entries(matchLabels);
  return (labels) => {
    const have = labels ?? {};
    for (const [k, v] of equal) if (!Object.hasOwn(have, k) || have[k] !== v) return false;
    for (const r of matchExpressions) if (!matchesRequirement(r, have)) return false;
    return true;
  };
}

function matchesRequirement(r: LabelSelectorRequirement, labels: Record<string, string>): boolean {
  const present = Object.hasOwn(labels, r.key);
  const listed = present && (r.values ?? []).includes(labels[r.key]);
  switch (r.operator) {
    case "In":
      return listed;
    case "NotIn":
      return !listed;
    case "Exists":
      return present;
    case "DoesNotExist":
      return !present;
    default:
      return false;
  }
}

/**
 * Parses `-l` syntax: `app=web,tier!=db,env in (a,b),env notin (c),x,!y` (`==` works as `=`).
 * An empty string is the empty selector.
 * @throws {ValidationError} naming the requirement that is wrong.
 */
export function parseSelectorString(s: string): NormalizedSelector {
  const sel: NormalizedSelector = { matchLabels: {}, matchExpressions: [] };
  if (s.trim() === "") return sel;
  for (const part of splitRequirements(s).map((p) => p.trim())) {
    const parsed = parseRequirement(part);
    if (typeof parsed === "string") throw badSelector(s, part, parsed);
    const { requirement, label } = parsed;
    if (label !== undefined && !Object.hasOwn(sel.matchLabels, requirement.key)) {
      sel.matchLabels[requirement.key] = label;
    } else {
      sel.matchExpressions.push(requirement);
    }
  }
  return sel;
}

function badSelector(s: string, part: string, problem: string): ValidationError {
  const message = `invalid label selector ${JSON.stringify(s)}: ${JSON.stringify(part)} ${problem}`;
  return new ValidationError(message, [{ field: "labelSelector", message: problem, value: part }]);
}

/** Splits on the commas that are not inside parentheses. */
function splitRequirements(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    if (s[i] === "(") depth++;
    else if (s[i] === ")") depth--;
    else if (s[i] === "," && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

const SET_REQUIREMENT = /^(\S+)\s+(in|notin)\s*\((.*)\)$/;
const EQUALITY_REQUIREMENT = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/;
const EXISTENCE_REQUIREMENT = /^(!?)\s*([^=!\s(),]+)$/;

/**
 * One requirement of `-l` syntax, or what is wrong with it. `label` is the value of an
 * `app=web` form, which can go in matchLabels.
 */
function parseRequirement(
  part: string,
): { requirement: LabelSelectorRequirement; label?: string } | string {
  let parsed: { requirement: LabelSelectorRequirement; label?: string };
  let match: RegExpExecArray | null;
  if ((match = SET_REQUIREMENT.exec(part))) {
    const values = match[3].split(",").map((v) => v.trim());
    if (values.length === 1 && values[0] === "") return "needs at least one value in ( )";
    const operator = match[2] === "in" ? "In" : "NotIn";
    parsed = { requirement: { key: match[1], operator, values } };
  } else if ((match = EQUALITY_REQUIREMENT.exec(part))) {
    const [, key, operator, value] = match;
    parsed = operator === "!="
      ? { requirement: { key, operator: "NotIn", values: [value] } }
      : { requirement: { key, operator: "In", values: [value] }, label: value };
  } else if ((match = EXISTENCE_REQUIREMENT.exec(part))) {
    parsed = { requirement: { key: match[2], operator: match[1] ? "DoesNotExist" : "Exists" } };
  } else {
    return "is not a requirement such as app=web, app!=web, app in (a,b), app or !app";
  }
  const { key, values = [] } = parsed.requirement;
  const problem = labelKeyProblem(key) ?? values.map(labelValueProblem).find((p) => p);
  return problem ? `has an ${problem}` : parsed;
}

/** The `-l` form of a selector: `app=web,tier!=db,env in (a,b),x,!y`; "" when empty. */
export function selectorToString(sel: LabelSelector | undefined): string {
  const { matchLabels, matchExpressions } = normalizeSelector(sel);
  return [
    ...Object.entries(matchLabels).map(([k, v]) => `${k}=${v}`),
    ...matchExpressions.map(requirementToString),
  ].join(",");
}

function requirementToString(r: LabelSelectorRequirement): string {
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return `${r.key} in (${values.join(",")})`;
    case "NotIn":
      return values.length === 1
        ? `${r.key}!=${values[0]}`
        : `${r.key} notin (${values.join(",")})`;
    case "Exists":
      return r.key;
    case "DoesNotExist":
      return `!${r.key}`;
  }
}

const requirement = z.strictObject({
  key: formatted(labelKeyProblem),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
  values: z.array(formatted(labelValueProblem)).optional(),
}).check(rule(["operator", "values"], (r, report) => {
  const needsValues = r.operator === "In" || r.operator === "NotIn";
  if (needsValues && !r.values?.length) {
    report(["values"], `${r.operator} needs at least one value`);
  }
  if (!needsValues && r.values?.length) report(["values"], `${r.operator} takes no values`);
}));

const longForm = z.strictObject({
  matchLabels: labels.optional(),
  matchExpressions: z.array(requirement).optional(),
});

/** Schema of a selector in either form; the long form is picked by its keys. */
export const labelSelectorSchema: z.ZodType<LabelSelector> = z.custom<LabelSelector>()
  .superRefine((value, ctx) => {
    const long = typeof value === "object" && value !== null && isLongForm(value);
    const result = (long ? longForm : labels).safeParse(value, { reportInput: true });
    for (const issue of result.error?.issues ?? []) {
      const continuable = issue.code === "custom" || issue.code === "unrecognized_keys";
      ctx.addIssue({ ...issue, continue: continuable });
    }
  });

/** Every problem of a selector, with paths under `path` (e.g. "spec.selector.matchLabels"). */
export function validateSelector(sel: unknown, path: string): FieldError[] {
  const result = labelSelectorSchema.safeParse(sel, { reportInput: true });
  return result.success ? [] : issuesToFieldErrors(result.error.issues, path);
}
