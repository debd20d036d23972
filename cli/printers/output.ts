/** The `-o json` and `-o yaml` printers, and the List wrapper for several objects. */
import { stringify } from "yaml";
import type { KindInfo } from "../../model/kinds.ts";
import { API_VERSION, type MilpaObject, type ObjectList } from "../../model/meta.ts";

/** JSON indented by 4 spaces, as Milpa printed it, with a final newline. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, null, 4) + "\n";
}

/** YAML as kubectl and Milpa print it: keys sorted, sequences at their key's indentation. */
export function toYaml(value: unknown): string {
  return stringify(value, { indentSeq: false, sortMapEntries: true });
}

/** A `<Kind>List` holding `items`. */
export function listOf(kind: KindInfo, items: MilpaObject[]): ObjectList {
  return { kind: `${kind.kind}List`, apiVersion: API_VERSION, metadata: {}, items };
}

/** Prints a value in the given machine format. */
export function formatObject(value: unknown, format: "json" | "yaml"): string {
  return format === "json" ? toJson(value) : toYaml(value);
}
