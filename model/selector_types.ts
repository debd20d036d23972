/** Label selector types. Matching and parsing live in selector.ts. */

/** One requirement of a set-based selector. */
export interface LabelSelectorRequirement {
  key: string;
  operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
  values?: string[];
}

/**
 * A label selector as manifests write it: either the long form
 * `{matchLabels, matchExpressions}` or the short map form `{app: web}`
 * (a map with neither key), which means matchLabels.
 */
export type LabelSelector =
  | { matchLabels?: Record<string, string>; matchExpressions?: LabelSelectorRequirement[] }
  | Record<string, string>;
