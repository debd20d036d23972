/** Zod building blocks every kind shares: formatted strings, numbers, quantities, metadata. */
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import type { OwnerReference } from "../meta.ts";
import { parseQuantity } from "../quantity.ts";
import {
  dns1123LabelProblem,
  labelKeyProblem,
  labelValueProblem,
  MAX_ANNOTATIONS_BYTES,
} from "./formats.ts";
import { rule } from "./issues.ts";

/** Metadata fields the server owns: accepted so that `get -o yaml` output applies, then dropped. */
export const SERVER_OWNED_METADATA = [
  "uid",
  "creationTimestamp",
  "deletionTimestamp",
  "generation",
] as const;

/** A string that `problem` accepts; otherwise `problem`'s message is the error. */
export function formatted(problem: (s: string) => string | undefined) {
  return z.string().superRefine((s, ctx) => {
    const message = problem(s);
    if (message) ctx.addIssue({ code: "custom", message, input: s });
  });
}

/** A string with at least one character. */
export const nonEmptyString = z.string().min(1);

/** An integer ≥ 0. */
export const nonNegativeInt = z.number().int().min(0);

/** An integer ≥ 1. */
export const positiveInt = z.number().int().min(1);

/** A TCP or UDP port, 1–65535. */
export const portNumber = z.number().int().refine((n) => n >= 1 && n <= 65535, {
  message: "must be between 1 and 65535",
});

/** A YAML scalar that may come out as a number (`cpu: 2`); numbers are returned as strings. */
export function stringOrNumber(message: string) {
  return z.union([z.string(), z.number().transform(String)], { error: message });
}

/** A quantity greater than zero, such as "0.4Gi", "500m" or 2; a number comes out as a string. */
export const positiveQuantity = stringOrNumber('must be a quantity such as "512Mi" or "0.5"')
  .superRefine((q, ctx) => {
    const message = positiveQuantityProblem(q);
    if (message) ctx.addIssue({ code: "custom", message, input: q });
  });

function positiveQuantityProblem(q: string): string | undefined {
  try {
    return parseQuantity(q) > 0 ? undefined : "must be greater than 0";
  } catch (e) {
    if (e instanceof ValidationError) return e.message;
    throw e;
  }
}

const INT_OR_PERCENT = 'must be a non-negative integer or a percentage such as "25%"';

/** A non-negative integer or an integer percentage string ("25%"), as maxSurge takes. */
export const intOrPercent = z.union([z.number(), z.string()], { error: INT_OR_PERCENT })
  .superRefine((v, ctx) => {
    const ok = typeof v === "number" ? Number.isInteger(v) && v >= 0 : /^\d+%$/.test(v);
    if (!ok) ctx.addIssue({ code: "custom", message: INT_OR_PERCENT, input: v });
  });

/** Reports every key of a map that is not a valid `[prefix/]name` label key. */
const validKeys = rule<Record<string, unknown>>([], (map, report) => {
  for (const key of Object.keys(map)) {
    const message = labelKeyProblem(key);
    if (message) report([key], message, key);
  }
});

/** Labels: valid keys, and values of at most 63 characters (or empty). */
export const labels = z.record(z.string(), formatted(labelValueProblem)).check(validKeys);

/** Annotations: valid keys, any string values, at most 256 KiB in all. */
export const annotations = z.record(z.string(), z.string()).check(
  validKeys,
  rule<Record<string, string>>("all", (map, report) => {
    const encoder = new TextEncoder();
    const bytes = Object.entries(map).reduce(
      (sum, [k, v]) => sum + encoder.encode(k).length + encoder.encode(v).length,
      0,
    );
    if (bytes > MAX_ANNOTATIONS_BYTES) {
      report([], `take ${bytes} bytes; at most ${MAX_ANNOTATIONS_BYTES} are allowed`);
    }
  }),
);

const ownerReference: z.ZodType<OwnerReference> = z.strictObject({
  apiVersion: nonEmptyString.describe("The owner's apiVersion."),
  kind: nonEmptyString.describe("The owner's kind, e.g. ReplicaSet."),
  name: nonEmptyString.describe("The owner's name, in this object's namespace."),
  uid: nonEmptyString.describe("The owner's uid: a new object of the same name is not the owner."),
  controller: z.boolean().optional().describe("Whether the owner manages this object."),
  blockOwnerDeletion: z.boolean().optional().describe("Accepted for Kubernetes; not used."),
});

/** ObjectMeta as a manifest may write it, with `name` checked by `nameProblem`. */
export function objectMeta(nameProblem: (name: string) => string | undefined) {
  const serverOwned = "Set by the server; accepted in a manifest and ignored.";
  return z.strictObject({
    name: formatted(nameProblem).describe(
      "The object's name, unique among objects of its kind in its namespace; it cannot change.",
    ),
    namespace: formatted(dns1123LabelProblem).optional().describe(
      'The namespace the object lives in; "default" when left out (or milpactl\'s -n).',
    ),
    labels: labels.optional().describe(
      "Key/value pairs that selectors match (a Service's or a Deployment's selector, " +
        "milpactl -l). Keys are [prefix/]name, values at most 63 characters.",
    ),
    annotations: annotations.optional().describe(
      "Key/value pairs for tools and for Milpa's own settings (e.g. " +
        "pod.elotl.co/milpactl-volume-name); at most 256 KiB in all.",
    ),
    resourceVersion: stringOrNumber("must be a string").optional().describe(
      "The version of the object that an update is based on: an update carrying a stale one " +
        "fails with 409 Conflict; without it the update applies to the current object.",
    ),
    ownerReferences: z.array(ownerReference).optional().describe(
      "The objects this one belongs to (a pod's ReplicaSet, a ReplicaSet's Deployment); " +
        "deleting an owner deletes what it owns, unless --cascade=false.",
    ),
    uid: z.unknown().optional().describe(serverOwned),
    creationTimestamp: z.unknown().optional().describe(serverOwned),
    deletionTimestamp: z.unknown().optional().describe(serverOwned),
    generation: z.unknown().optional().describe(serverOwned),
  });
}

/** One repeated key: the item at `index` repeats the key of the item at `first`. */
export interface Duplicate<T> {
  index: number;
  first: number;
  key: string;
  item: T;
}

/** The items whose `key` an earlier item already has, in order; undefined keys never clash. */
export function duplicates<T>(
  items: readonly T[],
  key: (item: T) => string | undefined,
): Duplicate<T>[] {
  const seen = new Map<string, number>();
  const found: Duplicate<T>[] = [];
  items.forEach((item, index) => {
    const k = key(item);
    if (k === undefined) return;
    const first = seen.get(k);
    if (first === undefined) seen.set(k, index);
    else found.push({ index, first, key: k, item });
  });
  return found;
}
