/** `describe` of Deployments and ReplicaSets, with their replica sets, pods and templates. */
import type { Deployment, PodTemplate, ReplicaSet } from "../../model/deployment.ts";
import type { Pod, PodPhase } from "../../model/pod.ts";
import { controllerOf } from "../../model/workload.ts";
import { clean, DescribeWriter, keyValues } from "./describe_writer.ts";
import { writeResources, writeUnits } from "./describe_units.ts";
import { formatSelector } from "../../api/table/fields.ts";
import { formatReplicaSets, splitReplicaSets } from "./replica_sets.ts";

/** `Pod Template:` with its labels, resources and units. */
export function writeTemplate(w: DescribeWriter, template: PodTemplate | undefined): void {
  w.field(0, "Pod Template");
  w.multi(1, "Labels", keyValues(template?.metadata?.labels));
  const spec = template?.spec;
  if (spec?.instanceType) w.field(1, "Instance Type", spec.instanceType);
  writeResources(w, 1, spec?.resources);
  if (spec?.initUnits?.length) writeUnits(w, 1, "Init Units", spec.initUnits);
  writeUnits(w, 1, "Units", spec?.units);
}

/** The text of a pod template alone, as `rollout history --revision` prints it. */
export function describeTemplate(template: PodTemplate | undefined): string {
  const w = new DescribeWriter();
  writeTemplate(w, template);
  return w.toString();
}

/**
 * Objects that describe shows beside the described one: a deployment's replica sets, a
 * replica set's pods. A string says why they could not be read; absent, nothing is shown.
 */
export interface Related {
  replicaSets?: ReplicaSet[] | string;
  pods?: Pod[] | string;
}

/** kubectl's `RollingUpdateStrategy`; Milpa's top-level fields win over strategy.rollingUpdate. */
export function rollingUpdateStrategy(d: Deployment): string {
  const rolling = d.spec?.strategy?.rollingUpdate;
  const unavailable = d.spec?.maxUnavailable ?? rolling?.maxUnavailable ?? "25%";
  const surge = d.spec?.maxSurge ?? rolling?.maxSurge ?? "25%";
  return `${unavailable} max unavailable, ${surge} max surge`;
}

/** The Deployment part of describe. */
export function describeDeployment(w: DescribeWriter, d: Deployment, related: Related): void {
  const s = d.status ?? {};
  w.field(
    0,
    "Replicas",
    `${d.spec?.replicas ?? 1} desired | ${s.updatedReplicas ?? 0} updated | ` +
      `${s.replicas ?? 0} total | ${s.availableReplicas ?? 0} available | ` +
      `${s.unavailableReplicas ?? 0} unavailable`,
  );
  w.field(0, "Selector", formatSelector(d.spec?.selector));
  const strategy = d.spec?.strategy?.type ?? "RollingUpdate";
  w.field(0, "Strategy", strategy);
  if (strategy === "RollingUpdate") w.field(0, "RollingUpdateStrategy", rollingUpdateStrategy(d));
  w.field(0, "Min Ready Seconds", d.spec?.minReadySeconds ?? 0);
  if (d.spec?.paused) w.field(0, "Paused", "true");
  writeTemplate(w, d.spec?.template);
  if (s.conditions?.length) {
    w.field(0, "Conditions");
    w.raw("  TYPE\tSTATUS\tREASON\tMESSAGE");
    for (const c of s.conditions) {
      w.raw(`  ${c.type}\t${c.status}\t${c.reason ?? ""}\t${clean(c.message ?? "")}`);
    }
  }
  if (typeof related.replicaSets === "string") {
    w.field(0, "ReplicaSets", `<unavailable: ${related.replicaSets}>`);
  } else if (related.replicaSets) {
    const { newRS, old } = splitReplicaSets(d, related.replicaSets);
    w.field(0, "OldReplicaSets", formatReplicaSets(old));
    w.field(0, "NewReplicaSet", formatReplicaSets(newRS ? [newRS] : []));
  }
}

/** How describe counts pods: kubectl's four buckets, and Milpa's Terminated. */
type PhaseBucket = "Running" | "Waiting" | "Succeeded" | "Failed" | "Terminated";

/** Milpa's pod phases in those buckets (Dispatching is still waiting). */
const PHASE_BUCKETS: Record<PodPhase, PhaseBucket> = {
  Waiting: "Waiting",
  Dispatching: "Waiting",
  Running: "Running",
  Succeeded: "Succeeded",
  Failed: "Failed",
  Terminated: "Terminated",
};

/**
 * `2 Running / 1 Waiting / 0 Succeeded / 0 Failed` over the pods `rs` controls (by owner
 * uid); `/ N Terminated` is added when some ended by being deleted.
 */
export function podsStatus(rs: ReplicaSet, pods: Pod[]): string {
  const counts: Record<PhaseBucket, number> = {
    Running: 0,
    Waiting: 0,
    Succeeded: 0,
    Failed: 0,
    Terminated: 0,
  };
  for (const pod of pods) {
    if (rs.metadata.uid === undefined || controllerOf(pod)?.uid !== rs.metadata.uid) continue;
    counts[PHASE_BUCKETS[pod.status?.phase ?? "Waiting"] ?? "Waiting"]++;
  }
  const text = `${counts.Running} Running / ${counts.Waiting} Waiting / ` +
    `${counts.Succeeded} Succeeded / ${counts.Failed} Failed`;
  return counts.Terminated ? `${text} / ${counts.Terminated} Terminated` : text;
}

/** The ReplicaSet part of describe. */
export function describeReplicaSet(w: DescribeWriter, rs: ReplicaSet, related: Related): void {
  const s = rs.status;
  w.field(0, "Replicas", `${s?.replicas ?? 0} current / ${rs.spec?.replicas ?? 1} desired`);
  if (typeof related.pods === "string") {
    w.field(0, "Pods Status", `<unavailable: ${related.pods}>`);
  } else if (related.pods) {
    w.field(0, "Pods Status", podsStatus(rs, related.pods));
  }
  w.field(0, "Ready", s?.readyReplicas ?? 0);
  w.field(0, "Available", s?.availableReplicas ?? 0);
  w.field(0, "Selector", formatSelector(rs.spec?.selector));
  writeTemplate(w, rs.spec?.template);
}
