/**
 * What `get` prints in each `-o` format, for a whole answer or one watch event at a time, and
 * which pods it leaves out unless `--show-all`.
 */
import type { KindInfo } from "../../model/kinds.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { Node } from "../../model/node.ts";
import type { GetOutputFormat } from "../flags.ts";
import { deletionFinished, type Pod } from "../../model/pod.ts";
import { applyTemplate, type JsonPathTemplate, parseTemplate } from "./jsonpath.ts";
import { formatObject } from "./output.ts";
import { tableHeader, type TableOptions, tableRow } from "../../api/table/rows.ts";
import { renderTable } from "./tables.ts";
import { StreamingTable } from "./tabwriter.ts";

/** An `-o` value taken apart, with the jsonpath template parsed. */
export type GetFormat =
  | { type: "table"; wide: boolean }
  | { type: "json" | "yaml" | "name" }
  | { type: "jsonpath"; template: JsonPathTemplate };

/** The format an `-o` value asks for; a bad jsonpath template throws a TemplateError. */
export function getFormat(output: GetOutputFormat | undefined): GetFormat {
  if (output === undefined || output === "wide") return { type: "table", wide: !!output };
  if (output.startsWith("jsonpath=")) {
    return { type: "jsonpath", template: parseTemplate(output.slice("jsonpath=".length)) };
  }
  return { type: output as "json" | "yaml" | "name" };
}

/** `pod/web`, as kubectl's `-o name` prints an object. */
export function typeName(kind: KindInfo, o: MilpaObject): string {
  return `${kind.singular}/${o.metadata?.name}`;
}

/** True for an object `get` lists only with `--show-all`: a pod whose deletion finished. */
export function hiddenByDefault(kind: KindInfo, o: MilpaObject): boolean {
  return kind.kind === "Pod" && deletionFinished(o as Pod);
}

/** A get's answer: the objects, and the value `-o json` prints for them. */
export interface GetResult {
  kind: KindInfo;
  objects: MilpaObject[];
  /** The object for one name, else a list with `items`; undefined when nothing was found. */
  value: unknown;
  /** A table with no rows still prints its header (a listing, not a lookup by name). */
  headerWhenEmpty: boolean;
}

/** The text of a get's answer in a format. */
export function formatGetResult(format: GetFormat, result: GetResult, table: TableOptions): string {
  const { kind, objects, value } = result;
  switch (format.type) {
    case "json":
    case "yaml":
      return value === undefined ? "" : formatObject(value, format.type);
    case "jsonpath":
      return value === undefined ? "" : applyTemplate(format.template, value);
    case "name":
      return objects.map((o) => `${typeName(kind, o)}\n`).join("");
    case "table":
      // An empty list prints the header alone, as Milpa's milpactl did.
      return objects.length || result.headerWhenEmpty ? renderTable(kind.kind, objects, table) : "";
  }
}

/**
 * Prints a watch's objects one event at a time: tables stay aligned, YAML documents are
 * separated by `---`, a jsonpath template is applied to each object. Unless `showAll`, a pod
 * whose deletion finished is printed once, as the change that ended it, and only if it was
 * printed before; then no more.
 */
export class WatchPrinter {
  #rows = new StreamingTable();
  #count = 0;
  #seen = new Set<string>();
  #ended = new Set<string>();

  constructor(
    private readonly format: GetFormat,
    private readonly kind: KindInfo,
    private readonly table: TableOptions,
    private readonly showAll = false,
  ) {}

  /** The text for one changed object ("" when it is left out); `nodes` as in TableOptions. */
  event(object: MilpaObject, now: number, nodes?: ReadonlyMap<string, Node>): string {
    const id = object.metadata?.uid ?? object.metadata?.name;
    if (!this.showAll && hiddenByDefault(this.kind, object)) {
      if (!this.#seen.has(id) || this.#ended.has(id)) return "";
      this.#ended.add(id);
    }
    this.#seen.add(id);
    const text = this.#format(object, { ...this.table, now, nodes });
    this.#count++;
    return text;
  }

  #format(object: MilpaObject, table: TableOptions): string {
    const format = this.format;
    switch (format.type) {
      case "json":
      case "yaml":
        return (format.type === "yaml" && this.#count > 0 ? "---\n" : "") +
          formatObject(object, format.type);
      case "jsonpath":
        return applyTemplate(format.template, object);
      case "name":
        return `${typeName(this.kind, object)}\n`;
      case "table": {
        const row = tableRow(this.kind.kind, object, table);
        if (this.#count > 0) return this.#rows.row(row);
        // Size the header to the first row too, so they line up.
        this.#rows.widen(row);
        return this.#rows.row(tableHeader(this.kind.kind, this.table)) + this.#rows.row(row);
      }
    }
  }
}
