/** The `get` tables: columns and row cells for every kind, in Milpa's layout. */
import type { Deployment, ReplicaSet } from "../../model/deployment.ts";
import type { Secret } from "../../model/secret.ts";
import type { Event } from "../../model/event.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { Node } from "../../model/node.ts";
import type { Pod } from "../../model/pod.ts";
import type { Service } from "../../model/service.ts";
import { age } from "./age.ts";
import {
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
import { formatTable } from "./tabwriter.ts";

/** How one kind is shown as a table row. */
interface TableDef {
  columns: string[];
  /** Extra columns for `-o wide`. */
  wideColumns?: string[];
  // deno-lint-ignore no-explicit-any
  row(obj: any, now: number): string[];
  // deno-lint-ignore no-explicit-any
  wideRow?(obj: any): string[];
}

const created = (obj: MilpaObject, now: number) => age(obj.metadata?.creationTimestamp, now);

/** Table definitions by kind. */
const TABLES: Record<string, TableDef> = {
  Pod: {
    columns: ["NAME", "UNITS", "RUNNING", "STATUS", "RESTARTS", "NODE", "IP", "AGE"],
    row: (pod: Pod, now) => [
      pod.metadata.name,
      String(pod.spec?.units?.length ?? 0),
      String(runningUnits(pod)),
      podStatusString(pod),
      String(podRestarts(pod)),
      pod.status?.boundNodeName || "<unassigned>",
      podIP(pod),
      created(pod, now),
    ],
  },
  Node: {
    columns: ["NAME", "STATUS", "INSTANCE-TYPE", "INSTANCE", "IP", "AGE"],
    row: (node: Node, now) => [
      node.metadata.name,
      node.status?.phase ?? "",
      nodeInstanceType(node),
      node.status?.instanceID ?? "",
      nodeIP(node),
      created(node, now),
    ],
  },
  Service: {
    columns: ["NAME", "PORT(S)", "SOURCES", "INGRESS ADDRESS", "AGE"],
    wideColumns: ["SELECTOR"],
    row: (svc: Service, now) => [
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
    row: (d: Deployment, now) => [
      d.metadata.name,
      String(d.spec?.replicas ?? 1),
      String(d.status?.replicas ?? 0),
      String(d.status?.updatedReplicas ?? 0),
      String(d.status?.availableReplicas ?? 0),
      created(d, now),
    ],
  },
  ReplicaSet: {
    columns: ["NAME", "DESIRED", "CURRENT", "AGE"],
    row: (rs: ReplicaSet, now) => [
      rs.metadata.name,
      String(rs.spec?.replicas ?? 1),
      String(rs.status?.replicas ?? 0),
      created(rs, now),
    ],
  },
  Secret: {
    // Values are never printed in tables (only base64, with -o yaml/json, as kubectl does).
    columns: ["NAME", "TYPE", "DATA", "AGE"],
    row: (secret: Secret, now) => [
      secret.metadata.name,
      secret.type ?? "Opaque",
      String(Object.keys(secret.data ?? {}).length),
      created(secret, now),
    ],
  },
  Event: {
    columns: ["TIMESTAMP", "NAME", "KIND", "STATUS", "SOURCE", "MESSAGE"],
    row: (ev: Event, now) => [
      created(ev, now),
      ev.involvedObject?.name ?? "",
      ev.involvedObject?.kind ?? "",
      ev.status ?? "",
      ev.source ?? "",
      ev.message ?? "",
    ],
  },
};

/** What to add to the basic columns. */
export interface TableOptions {
  wide?: boolean;
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

/** The header cells of a kind's table. */
export function tableHeader(kind: string, options: TableOptions): string[] {
  const def = definition(kind);
  return [
    ...(options.withNamespace ? ["NAMESPACE"] : []),
    ...def.columns,
    ...(options.wide ? def.wideColumns ?? [] : []),
    ...(options.showLabels ? ["LABELS"] : []),
  ];
}

/** The cells of one object's row. */
export function tableRow(kind: string, obj: MilpaObject, options: TableOptions): string[] {
  const def = definition(kind);
  return [
    ...(options.withNamespace ? [obj.metadata?.namespace ?? ""] : []),
    ...def.row(obj, options.now),
    ...(options.wide && def.wideRow ? def.wideRow(obj) : []),
    ...(options.showLabels ? [formatLabels(obj.metadata?.labels)] : []),
  ];
}

/** A whole aligned table: header and one row per object. */
export function renderTable(kind: string, objects: MilpaObject[], options: TableOptions): string {
  return formatTable([
    tableHeader(kind, options),
    ...objects.map((o) => tableRow(kind, o, options)),
  ]);
}
