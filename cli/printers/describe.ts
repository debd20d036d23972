/** `describe`: a readable, multi-line view of one object and its events, like kubectl's. */
import { type Event, lastSeen, lastTimestampOf } from "../../model/event.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { Node } from "../../model/node.ts";
import {
  DEFAULT_TERMINATION_GRACE_SECONDS,
  type NetworkAddress,
  type Pod,
} from "../../model/pod.ts";
import type { Service } from "../../model/service.ts";
import { age } from "../../api/table/age.ts";
import {
  formatIngress,
  formatSelector,
  formatServicePort,
  formatSources,
  nodeInstanceType,
  podIP,
  podStatusString,
} from "../../api/table/fields.ts";
import { clean, DescribeWriter, keyValues, timeWithAge } from "./describe_writer.ts";
import { writeResources, writeUnits } from "./describe_units.ts";
import { describeDeployment, describeReplicaSet, type Related } from "./describe_workloads.ts";

export type { Related } from "./describe_workloads.ts";

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

function describePod(w: DescribeWriter, pod: Pod): void {
  const status = pod.status;
  w.field(0, "Status", podStatusString(pod));
  w.field(0, "Phase", status?.phase ?? "<unknown>");
  w.field(0, "Desired Phase", pod.spec?.phase ?? "Running");
  if (status?.reason) w.field(0, "Reason", status.reason);
  if (status?.message) w.field(0, "Message", status.message);
  const t = status?.termination;
  if (t) {
    w.field(
      0,
      "Termination",
      t.state === "Draining"
        ? `Draining (${t.reason}): out of its Services, units stop at ${t.drainUntil}`
        : `Stopping (${t.reason}): units got SIGTERM, SIGKILL after ${
          pod.spec?.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS
        }s`,
    );
  }
  if (status?.launchFailures) w.field(0, "Launch Failures", status.launchFailures);
  if (status?.nextLaunchAt) w.field(0, "Next Launch", status.nextLaunchAt);
  if (status?.conditions?.length) {
    w.multi(0, "Conditions", status.conditions.map((c) => `${c.type}: ${c.status}`));
  }
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

function describeEvent(w: DescribeWriter, ev: Event): void {
  const o = ev.involvedObject;
  w.field(0, "Involved Object", o ? `${o.kind}/${o.name}` : "<none>");
  w.field(0, "Type", ev.type ?? "Normal");
  w.field(0, "Status", ev.status ?? "");
  w.field(0, "Source", ev.source ?? "");
  w.field(0, "Message", ev.message ?? "");
  if ((ev.count ?? 1) > 1) {
    w.field(0, "Count", String(ev.count));
    w.field(0, "Last Seen", ev.lastTimestamp ?? "");
  }
}

// deno-lint-ignore no-explicit-any
const DESCRIBERS: Record<string, (w: DescribeWriter, obj: any, related: Related) => void> = {
  Pod: describePod,
  Node: describeNode,
  Service: describeService,
  Deployment: describeDeployment,
  ReplicaSet: describeReplicaSet,
  Event: describeEvent,
};

/** The events about an object, by when they last happened (as kubectl), oldest first. */
export function eventsFor(obj: MilpaObject, events: Event[]): Event[] {
  return events
    .filter((e) =>
      e.involvedObject?.kind === obj.kind && e.involvedObject?.name === obj.metadata.name
    )
    .sort((a, b) => lastSeen(a) - lastSeen(b));
}

/**
 * The describe text of one object. `events` are the object's events, oldest first;
 * a string instead says why they could not be read. `related` adds a deployment's replica
 * sets and a replica set's pods.
 */
export function describeObject(
  obj: MilpaObject,
  events: Event[] | string,
  now: number,
  related: Related = {},
): string {
  const w = new DescribeWriter();
  writeMeta(w, obj, now);
  DESCRIBERS[obj.kind]?.(w, obj, related);
  if (obj.kind !== "Event") {
    if (typeof events === "string") {
      w.field(0, "Events", `<unavailable: ${events}>`);
    } else if (!events.length) {
      w.field(0, "Events", "<none>");
    } else {
      w.field(0, "Events");
      w.raw("  AGE\tSTATUS\tSOURCE\tMESSAGE");
      for (const e of events) {
        // As kubectl: "3m (x25 over 10m)" for an event that happened 25 times.
        const seen = age(lastTimestampOf(e), now) +
          ((e.count ?? 1) > 1
            ? ` (x${e.count} over ${age(e.metadata.creationTimestamp, now)})`
            : "");
        w.raw(
          `  ${seen}\t${clean(e.status ?? "")}\t` +
            `${clean(e.source ?? "")}\t${clean(e.message ?? "")}`,
        );
      }
    }
  }
  return w.toString();
}
