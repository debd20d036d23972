/** `describe`: a readable, multi-line view of one object and its events, like kubectl's. */
import type { Deployment, PodTemplate, ReplicaSet } from "../../model/deployment.ts";
import type { Event } from "../../model/event.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { Node } from "../../model/node.ts";
import type {
  NetworkAddress,
  Pod,
  ResourceSpec,
  Unit,
  UnitState,
  UnitStatus,
} from "../../model/pod.ts";
import type { Service } from "../../model/service.ts";
import { age } from "./age.ts";
import {
  formatIngress,
  formatSelector,
  formatServicePort,
  formatSources,
  nodeInstanceType,
  podIP,
  podStatusString,
} from "./fields.ts";
import { clean, DescribeWriter, keyValues, timeWithAge } from "./describe_writer.ts";

function writeMeta(w: DescribeWriter, obj: MilpaObject, now: number): void {
  w.field(0, "Name", obj.metadata.name);
  if (obj.metadata.namespace) w.field(0, "Namespace", obj.metadata.namespace);
  w.multi(0, "Labels", keyValues(obj.metadata.labels));
  w.multi(0, "Annotations", keyValues(obj.metadata.annotations));
  w.field(0, "Created", timeWithAge(obj.metadata.creationTimestamp, now));
  if (obj.metadata.deletionTimestamp) {
    w.field(0, "Deleted", timeWithAge(obj.metadata.deletionTimestamp, now));
  }
  const owner = obj.metadata.ownerReferences?.find((o) => o.controller) ??
    obj.metadata.ownerReferences?.[0];
  if (owner) w.field(0, "Controlled By", `${owner.kind}/${owner.name}`);
}

function formatAddresses(addresses: NetworkAddress[] | undefined): string[] {
  return (addresses ?? []).map((a) => `${a.type}: ${a.address}`);
}

function writeResources(w: DescribeWriter, level: number, resources: ResourceSpec | undefined) {
  const entries = Object.entries(resources ?? {}).filter(([, v]) => v !== undefined);
  if (!entries.length) return void w.field(level, "Resources", "<none>");
  w.field(level, "Resources");
  for (const [k, v] of entries) w.field(level + 1, k, String(v));
}

function writeState(w: DescribeWriter, level: number, key: string, state: UnitState | undefined) {
  if (state?.running) {
    w.field(level, key, "Running");
    w.field(level + 1, "Started", state.running.startedAt);
  } else if (state?.terminated) {
    const t = state.terminated;
    w.field(level, key, "Terminated");
    w.field(level + 1, "Exit Code", t.exitCode);
    if (t.reason) w.field(level + 1, "Reason", t.reason);
    if (t.message) w.field(level + 1, "Message", t.message);
    if (t.startedAt) w.field(level + 1, "Started", t.startedAt);
    w.field(level + 1, "Finished", t.finishedAt);
  } else if (state?.waiting) {
    w.field(level, key, "Waiting");
    w.field(level + 1, "Reason", state.waiting.reason || "<none>");
    if (state.waiting.startFailure) w.field(level + 1, "Start Failure", "true");
  } else {
    w.field(level, key, "<unknown>");
  }
}

function writeUnits(
  w: DescribeWriter,
  level: number,
  key: string,
  units: Unit[] | undefined,
  statuses?: UnitStatus[],
): void {
  if (!units?.length) return void w.field(level, key, "<none>");
  w.field(level, key);
  for (const unit of units) {
    const status = statuses?.find((s) => s.name === unit.name);
    w.field(level + 1, unit.name);
    w.field(level + 2, "Image", unit.image || "<none>");
    if (unit.command?.length) w.field(level + 2, "Command", unit.command.join(" "));
    if (unit.args?.length) w.field(level + 2, "Args", unit.args.join(" "));
    if (unit.workingDir) w.field(level + 2, "Working Dir", unit.workingDir);
    if (unit.ports?.length) {
      w.field(
        level + 2,
        "Ports",
        unit.ports.map((p) => `${p.containerPort}/${p.protocol ?? "TCP"}`).join(", "),
      );
    }
    if (unit.env?.length) {
      w.multi(
        level + 2,
        "Environment",
        unit.env.map((e) =>
          e.valueFrom?.secretKeyRef
            ? `${e.name}=<secret ${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}>`
            : `${e.name}=${e.value ?? ""}`
        ),
      );
    }
    if (status || statuses) {
      writeState(w, level + 2, "State", status?.state);
      if (status?.lastState && Object.keys(status.lastState).length) {
        writeState(w, level + 2, "Last State", status.lastState);
      }
      if (status?.ready !== undefined) w.field(level + 2, "Ready", status.ready);
      w.field(level + 2, "Restart Count", status?.restartCount ?? 0);
    }
  }
}

function writeTemplate(w: DescribeWriter, template: PodTemplate | undefined): void {
  w.field(0, "Pod Template");
  w.multi(1, "Labels", keyValues(template?.metadata?.labels));
  const spec = template?.spec;
  if (spec?.instanceType) w.field(1, "Instance Type", spec.instanceType);
  writeResources(w, 1, spec?.resources);
  if (spec?.initUnits?.length) writeUnits(w, 1, "Init Units", spec.initUnits);
  writeUnits(w, 1, "Units", spec?.units);
}

function describePod(w: DescribeWriter, pod: Pod): void {
  const status = pod.status;
  w.field(0, "Status", podStatusString(pod));
  w.field(0, "Phase", status?.phase ?? "<unknown>");
  w.field(0, "Desired Phase", pod.spec?.phase ?? "Running");
  if (status?.reason) w.field(0, "Reason", status.reason);
  if (status?.message) w.field(0, "Message", status.message);
  w.field(0, "Node", status?.boundNodeName || "<unassigned>");
  w.field(0, "Instance", status?.boundInstanceID || "<none>");
  w.field(0, "IP", podIP(pod));
  w.multi(0, "Addresses", formatAddresses(status?.addresses));
  w.field(0, "Restart Policy", pod.spec?.restartPolicy ?? "Always");
  w.field(0, "Instance Type", pod.spec?.instanceType || "<unset>");
  w.field(0, "Spot", pod.spec?.spot?.policy ?? "Never");
  if (pod.spec?.placement?.availabilityZone) {
    w.field(0, "Availability Zone", pod.spec.placement.availabilityZone);
  }
  writeResources(w, 0, pod.spec?.resources);
  w.field(0, "Start Failures", status?.startFailures ?? 0);
  writeUnits(w, 0, "Init Units", pod.spec?.initUnits, status?.initUnitStatuses ?? []);
  writeUnits(w, 0, "Units", pod.spec?.units, status?.unitStatuses ?? []);
  if (pod.spec?.volumes?.length) {
    w.multi(
      0,
      "Volumes",
      pod.spec.volumes.map((v) => `${v.name} (${v.emptyDir ? "emptyDir" : "unknown"})`),
    );
  }
}

function describeNode(w: DescribeWriter, node: Node): void {
  w.field(0, "Phase", node.status?.phase ?? "<unknown>");
  if (node.spec?.terminate) w.field(0, "Terminate", "requested");
  if (node.status?.message) w.field(0, "Message", node.status.message);
  w.field(0, "Instance Type", nodeInstanceType(node) || "<unset>");
  w.field(0, "Instance ID", node.status?.instanceID || "<none>");
  if (node.spec?.bootImage) w.field(0, "Boot Image", node.spec.bootImage);
  if (node.spec?.placement?.availabilityZone) {
    w.field(0, "Availability Zone", node.spec.placement.availabilityZone);
  }
  w.multi(0, "Addresses", formatAddresses(node.status?.addresses));
  w.field(0, "Bound Pod", node.status?.boundPodName || "<none>");
  writeResources(w, 0, node.spec?.resources);
}

function describeService(w: DescribeWriter, svc: Service): void {
  w.field(0, "Type", svc.spec?.type || "<none>");
  w.field(0, "Selector", formatSelector(svc.spec?.selector));
  w.multi(
    0,
    "Ports",
    (svc.spec?.ports ?? []).map((p) =>
      `${p.name ? p.name + " " : ""}${formatServicePort(p)}` +
      (p.nodePort && p.nodePort !== p.port ? ` -> node port ${p.nodePort}` : "")
    ),
  );
  w.field(0, "Sources", formatSources(svc));
  w.field(0, "Ingress", formatIngress(svc));
}

function describeDeployment(w: DescribeWriter, d: Deployment): void {
  const s = d.status ?? {};
  w.field(
    0,
    "Replicas",
    `${d.spec?.replicas ?? 1} desired | ${s.updatedReplicas ?? 0} updated | ` +
      `${s.replicas ?? 0} total | ${s.availableReplicas ?? 0} available | ` +
      `${s.unavailableReplicas ?? 0} unavailable`,
  );
  w.field(0, "Selector", formatSelector(d.spec?.selector));
  const rolling = d.spec?.strategy?.rollingUpdate;
  w.field(0, "Strategy", d.spec?.strategy?.type ?? "RollingUpdate");
  w.field(0, "Max Surge", d.spec?.maxSurge ?? rolling?.maxSurge ?? "25%");
  w.field(0, "Max Unavailable", d.spec?.maxUnavailable ?? rolling?.maxUnavailable ?? "25%");
  w.field(0, "Min Ready Seconds", d.spec?.minReadySeconds ?? 0);
  if (d.spec?.paused) w.field(0, "Paused", "true");
  if (s.conditions?.length) {
    w.field(0, "Conditions");
    w.raw("  TYPE\tSTATUS\tREASON\tMESSAGE");
    for (const c of s.conditions) {
      w.raw(`  ${c.type}\t${c.status}\t${c.reason ?? ""}\t${clean(c.message ?? "")}`);
    }
  }
  writeTemplate(w, d.spec?.template);
}

function describeReplicaSet(w: DescribeWriter, rs: ReplicaSet): void {
  const s = rs.status;
  w.field(0, "Replicas", `${s?.replicas ?? 0} current / ${rs.spec?.replicas ?? 1} desired`);
  w.field(0, "Ready", s?.readyReplicas ?? 0);
  w.field(0, "Available", s?.availableReplicas ?? 0);
  w.field(0, "Selector", formatSelector(rs.spec?.selector));
  writeTemplate(w, rs.spec?.template);
}

function describeEvent(w: DescribeWriter, ev: Event): void {
  const o = ev.involvedObject;
  w.field(0, "Involved Object", o ? `${o.kind}/${o.name}` : "<none>");
  w.field(0, "Type", ev.type ?? "Normal");
  w.field(0, "Status", ev.status ?? "");
  w.field(0, "Source", ev.source ?? "");
  w.field(0, "Message", ev.message ?? "");
}

// deno-lint-ignore no-explicit-any
const DESCRIBERS: Record<string, (w: DescribeWriter, obj: any) => void> = {
  Pod: describePod,
  Node: describeNode,
  Service: describeService,
  Deployment: describeDeployment,
  ReplicaSet: describeReplicaSet,
  Event: describeEvent,
};

/** The events about an object, oldest first. */
export function eventsFor(obj: MilpaObject, events: Event[]): Event[] {
  return events
    .filter((e) =>
      e.involvedObject?.kind === obj.kind && e.involvedObject?.name === obj.metadata.name
    )
    .sort((a, b) =>
      Date.parse(a.metadata.creationTimestamp ?? "") -
      Date.parse(b.metadata.creationTimestamp ?? "")
    );
}

/**
 * The describe text of one object. `events` are the object's events, oldest first;
 * a string instead says why they could not be read.
 */
export function describeObject(obj: MilpaObject, events: Event[] | string, now: number): string {
  const w = new DescribeWriter();
  writeMeta(w, obj, now);
  DESCRIBERS[obj.kind]?.(w, obj);
  if (obj.kind !== "Event") {
    if (typeof events === "string") {
      w.field(0, "Events", `<unavailable: ${events}>`);
    } else if (!events.length) {
      w.field(0, "Events", "<none>");
    } else {
      w.field(0, "Events");
      w.raw("  AGE\tSTATUS\tSOURCE\tMESSAGE");
      for (const e of events) {
        w.raw(
          `  ${age(e.metadata.creationTimestamp, now)}\t${clean(e.status ?? "")}\t` +
            `${clean(e.source ?? "")}\t${clean(e.message ?? "")}`,
        );
      }
    }
  }
  return w.toString();
}
