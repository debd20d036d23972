/**
 * `get` tables as milpactl prints them, aligned: filled in here from objects, or by the
 * controller (a Table: server-side printing, as kubectl asks for); api/table/rows.ts has the
 * columns and cells of each kind.
 */
import type { Table } from "../../model/api_types.ts";
import type { MilpaObject } from "../../model/meta.ts";
import { formatLabels } from "../../api/table/fields.ts";
import { tableHeader, type TableOptions, tableRow } from "../../api/table/rows.ts";
import { formatTable } from "./tabwriter.ts";

/** A whole aligned table: header and one row per object. */
export function renderTable(kind: string, objects: MilpaObject[], options: TableOptions): string {
  return formatTable([
    tableHeader(kind, options),
    ...objects.map((o) => tableRow(kind, o, options)),
  ]);
}

/** What the printer adds to a controller's Table. */
export interface RowsOptions {
  /** A NAMESPACE column in front (`--all-namespaces`). */
  withNamespace?: boolean;
  /** A LABELS column at the end (`--show-labels`). */
  showLabels?: boolean;
  /** Also the pods whose deletion finished (`-a`): rows marked `DeletionFinished`. */
  showAll?: boolean;
}

/**
 * A controller's Table, aligned as renderTable() aligns the same objects: its columns, with
 * NAMESPACE and LABELS added from each row's metadata when asked for.
 */
export function renderTableRows(table: Table, options: RowsOptions): string {
  const rows = options.showAll
    ? table.rows
    : table.rows.filter((r) => !r.conditions?.some((c) => c.type === "DeletionFinished"));
  return formatTable([
    [
      ...(options.withNamespace ? ["NAMESPACE"] : []),
      ...table.columnDefinitions.map((c) => c.name),
      ...(options.showLabels ? ["LABELS"] : []),
    ],
    ...rows.map((r) => [
      ...(options.withNamespace ? [r.object.metadata.namespace ?? ""] : []),
      ...r.cells,
      ...(options.showLabels ? [formatLabels(r.object.metadata.labels)] : []),
    ]),
  ]);
}
