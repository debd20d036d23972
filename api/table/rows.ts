/**
 * The `get` tables: columns and row cells for every kind, in Milpa's layout but narrower by
 * default (a one-word pod STATUS, node UUIDs cut to 8 characters); `-o wide` adds columns and
 * shows Milpa's whole text. The controller fills them in (a list asked for `as=Table`, as
 * kubectl asks: `objectTable`) and milpactl prints them (cli/printers/tables.ts), or fills them
 * in itself from objects (a watch, a controller without tables).
 */
import type { Deployment, ReplicaSet } from "../../model/deployment.ts";
import type { Secret } from "../../model/secret.ts";
import { type Event, lastTimestampOf } from "../../model/event.ts";
import type {
  ObjectListMeta,
  PartialObjectMetadata,
  Table,
  TableColumnDefinition,
  TableRow,
} from "../../model/api_types.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { Node } from "../../model/node.ts";
import { deletionFinished, type Pod } from "../../model/pod.ts";
import type { Service } from "../../model/service.ts";
import { age } from "./age.ts";
import {
  formatImages,
  formatUnitNames,
  nodePricePerHour,
  podStatusShort,
  shortNodeName,
} from "./columns.ts";
import {
  addressOf,
  formatIngress,
  formatLabels,
  formatSelector,
  formatServicePorts,
  formatSources,
  nodeInstanceType,
  nodeIP,
  podIP,
  podRestarts,
  podStatusString,
  runningUnits,
} from "./fields.ts";

/** How one kind is shown as a table row. */
interface TableDef {
  columns: string[];
  /** Extra columns for `-o wide`. */
  wideColumns?: string[];
  // deno-lint-ignore no-explicit-any
  row(obj: any, options: TableOptions): string[];
  // deno-lint-ignore no-explicit-any
  wideRow?(obj: any, options: TableOptions): string[];
}

const created = (obj: MilpaObject, now: number) => age(obj.metadata?.creationTimestamp, now);

/** The node a pod runs on, when the table was given the nodes and it is among them. */
function nodeOfPod(pod: Pod, options: TableOptions): Node | undefined {
  const name = pod.status?.boundNodeName;
  return name ? options.nodes?.get(name) : undefined;
}

/** A node-derived cell of a pod: `<none>` without a node, `<unknown>` when it cannot be read. */
function podNodeCell(pod: Pod, options: TableOptions, cell: (node: Node) => string): string {
  if (!pod.status?.boundNodeName) return "<none>";
  const node = nodeOfPod(pod, options);
  return node ? cell(node) : "<unknown>";
}

/** The wide columns of a workload (Deployment, ReplicaSet), as kubectl has them. */
const WORKLOAD_WIDE_COLUMNS = ["UNITS", "IMAGES", "SELECTOR"];

const workloadWideRow = (w: Deployment | ReplicaSet) => [
  formatUnitNames(w.spec?.template?.spec?.units),
  formatImages(w.spec?.template?.spec?.units),
  formatSelector(w.spec?.selector),
];

/** Table definitions by kind. */
const TABLES: Record<string, TableDef> = {
  Pod: {
    columns: ["NAME", "UNITS", "RUNNING", "STATUS", "RESTARTS", "NODE", "IP", "AGE"],
    wideColumns: ["INSTANCE-TYPE", "PRICE/HR", "INSTANCE", "PUBLIC-IP", "IMAGES"],
    row: (pod: Pod, options) => {
      const node = pod.status?.boundNodeName;
      return [
        pod.metadata.name,
        String(pod.spec?.units?.length ?? 0),
        String(runningUnits(pod)),
        options.wide ? podStatusString(pod) : podStatusShort(pod),
        String(podRestarts(pod)),
        node ? (options.wide ? node : shortNodeName(node)) : "<unassigned>",
        podIP(pod),
        created(pod, options.now),
      ];
    },
    wideRow: (pod: Pod, options) => [
      podNodeCell(pod, options, nodeInstanceType),
      podNodeCell(pod, options, nodePricePerHour),
      pod.status?.boundInstanceID || "<none>",
      addressOf(pod.status?.addresses, "PublicIP") ?? "<none>",
      formatImages(pod.spec?.units),
    ],
  },
  Node: {
    columns: ["NAME", "STATUS", "INSTANCE-TYPE", "INSTANCE", "IP", "AGE"],
    wideColumns: ["PRICE/HR", "PRIVATE-IP", "POD"],
    row: (node: Node, options) => [
      node.metadata.name,
      node.status?.phase ?? "",
      nodeInstanceType(node),
      node.status?.instanceID ?? "",
      nodeIP(node),
      created(node, options.now),
    ],
    wideRow: (node: Node) => [
      nodePricePerHour(node),
      addressOf(node.status?.addresses, "PrivateIP") ?? "<none>",
      node.status?.boundPodName || "<none>",
    ],
  },
  Service: {
    columns: ["NAME", "PORT(S)", "SOURCES", "INGRESS ADDRESS", "AGE"],
    wideColumns: ["SELECTOR"],
    row: (svc: Service, { now }) => [
      svc.metadata.name,
      formatServicePorts(svc),
      formatSources(svc),
      formatIngress(svc),
      created(svc, now),
    ],
    wideRow: (svc: Service) => [formatSelector(svc.spec?.selector)],
  },
  Deployment: {
    columns: ["NAME", "DESIRED", "CURRENT", "UP-TO-DATE", "AVAILABLE", "AGE"],
    wideColumns: WORKLOAD_WIDE_COLUMNS,
    row: (d: Deployment, { now }) => [
      d.metadata.name,
      String(d.spec?.replicas ?? 1),
      String(d.status?.replicas ?? 0),
      String(d.status?.updatedReplicas ?? 0),
      String(d.status?.availableReplicas ?? 0),
      created(d, now),
    ],
    wideRow: workloadWideRow,
  },
  ReplicaSet: {
    columns: ["NAME", "DESIRED", "CURRENT", "AGE"],
    wideColumns: WORKLOAD_WIDE_COLUMNS,
    row: (rs: ReplicaSet, { now }) => [
      rs.metadata.name,
      String(rs.spec?.replicas ?? 1),
      String(rs.status?.replicas ?? 0),
      created(rs, now),
    ],
    wideRow: workloadWideRow,
  },
  Secret: {
    // Values are never printed in tables (only base64, with -o yaml/json, as kubectl does).
    columns: ["NAME", "TYPE", "DATA", "AGE"],
    row: (secret: Secret, { now }) => [
      secret.metadata.name,
      secret.type ?? "Opaque",
      String(Object.keys(secret.data ?? {}).length),
      created(secret, now),
    ],
  },
  Event: {
    // TIMESTAMP: when it last happened; -o wide adds how often, and since when.
    columns: ["TIMESTAMP", "NAME", "KIND", "STATUS", "SOURCE", "MESSAGE"],
    wideColumns: ["COUNT", "FIRST-SEEN"],
    row: (ev: Event, { now }) => [
      age(lastTimestampOf(ev), now),
      ev.involvedObject?.name ?? "",
      ev.involvedObject?.kind ?? "",
      ev.status ?? "",
      ev.source ?? "",
      ev.message ?? "",
    ],
    wideRow: (ev: Event, { now }) => [String(ev.count ?? 1), created(ev, now)],
  },
};

/** What to add to the basic columns. */
export interface TableOptions {
  /** `-o wide`: extra columns, and Milpa's whole STATUS text and node names. */
  wide?: boolean;
  /**
   * The nodes by name, for the node columns of `get pods -o wide`; absent when they could not
   * be read (those cells then say `<unknown>`).
   */
  nodes?: ReadonlyMap<string, Node>;
  showLabels?: boolean;
  /** Add a NAMESPACE column in front (for `--all-namespaces`). */
  withNamespace?: boolean;
  now: number;
}

function definition(kind: string): TableDef {
  const def = TABLES[kind];
  if (!def) throw new Error(`no table layout for kind ${kind}`);
  return def;
}

/** The extra columns of `-o wide` (none otherwise). */
function wideColumns(def: TableDef, options: TableOptions): string[] {
  return options.wide ? def.wideColumns ?? [] : [];
}

/** An object's cells in its kind's columns (and, `-o wide`, the wide ones). */
function cellsOf(def: TableDef, obj: MilpaObject, options: TableOptions): string[] {
  return [
    ...def.row(obj, options),
    ...(options.wide && def.wideRow ? def.wideRow(obj, options) : []),
  ];
}

/** The header cells of a kind's table. */
export function tableHeader(kind: string, options: TableOptions): string[] {
  const def = definition(kind);
  return [
    ...(options.withNamespace ? ["NAMESPACE"] : []),
    ...def.columns,
    ...wideColumns(def, options),
    ...(options.showLabels ? ["LABELS"] : []),
  ];
}

/** The cells of one object's row. */
export function tableRow(kind: string, obj: MilpaObject, options: TableOptions): string[] {
  const def = definition(kind);
  return [
    ...(options.withNamespace ? [obj.metadata?.namespace ?? ""] : []),
    ...cellsOf(def, obj, options),
    ...(options.showLabels ? [formatLabels(obj.metadata?.labels)] : []),
  ];
}

/** Whether there is a table layout for a kind (every kind `get` lists). */
export function hasTable(kind: string): boolean {
  return kind in TABLES;
}

const column = (priority: number) => (name: string): TableColumnDefinition => ({
  name,
  type: "string",
  format: "",
  description: "",
  priority,
});

/** An object's metadata, as a Table row carries it. */
function partialMetadata(o: MilpaObject): PartialObjectMetadata {
  const m = o.metadata;
  return {
    kind: "PartialObjectMetadata",
    apiVersion: "meta.k8s.io/v1",
    metadata: {
      name: m.name,
      ...(m.namespace ? { namespace: m.namespace } : {}),
      ...(m.uid ? { uid: m.uid } : {}),
      ...(m.resourceVersion ? { resourceVersion: m.resourceVersion } : {}),
      ...(m.creationTimestamp ? { creationTimestamp: m.creationTimestamp } : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
      ...(m.labels && Object.keys(m.labels).length ? { labels: m.labels } : {}),
    },
  };
}

/**
 * The objects of a kind as a Table (server-side printing): the kind's columns (and, `wide`, its
 * wide ones, at priority 1), each object's cells as `get` prints them, its metadata, and
 * `DeletionFinished` on a pod whose deletion finished. The NAMESPACE and LABELS columns are the
 * printer's to add (`withNamespace` and `showLabels` are not looked at).
 */
export function objectTable(
  kind: string,
  objects: MilpaObject[],
  options: TableOptions,
  metadata: ObjectListMeta = {},
): Table {
  const def = definition(kind);
  const rows = objects.map((o): TableRow => ({
    cells: cellsOf(def, o, options),
    ...(kind === "Pod" && deletionFinished(o as Pod)
      ? { conditions: [{ type: "DeletionFinished", status: "True" }] }
      : {}),
    object: partialMetadata(o),
  }));
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata,
    columnDefinitions: [
      ...def.columns.map(column(0)),
      ...wideColumns(def, options).map(column(1)),
    ],
    rows,
  };
}
