/**
 * What `rollout` prints, computed from objects alone: kubectl's progress lines for a
 * Deployment and its revision history.
 */
import type { Deployment, ReplicaSet } from "../../model/deployment.ts";
import { describeTemplate } from "./describe_workloads.ts";
import { revisionOf } from "./replica_sets.ts";
import { tabwrite } from "./tabwriter.ts";

/** The annotation kubectl reads a revision's change cause from. */
export const CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause";

/** Where a rollout stands, as `rollout status` reports it. */
export interface RolloutState {
  /** The line to print (without its newline). */
  message: string;
  /** The rollout finished: every desired replica is updated and available, none is left over. */
  done: boolean;
  /** Set when the rollout failed for good (the progress deadline passed). */
  failed?: string;
}

/**
 * kubectl's rollout status of a Deployment. It is complete when the controller has seen the
 * current spec (observedGeneration ≥ generation) and updated = total = available = desired.
 */
export function rolloutStatus(d: Deployment): RolloutState {
  const name = d.metadata.name;
  const s = d.status ?? {};
  const waiting = (what: string) => ({
    message: `Waiting for deployment "${name}" rollout to finish: ${what}...`,
    done: false,
  });
  if ((s.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
    return { message: "Waiting for deployment spec update to be observed...", done: false };
  }
  const progressing = s.conditions?.find((c) => c.type === "Progressing");
  if (progressing?.reason === "ProgressDeadlineExceeded") {
    const failed = `deployment "${name}" exceeded its progress deadline`;
    return { message: failed, done: false, failed };
  }
  const desired = d.spec?.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  const total = s.replicas ?? 0;
  const available = s.availableReplicas ?? 0;
  if (updated < desired) {
    return waiting(`${updated} out of ${desired} new replicas have been updated`);
  }
  if (total > updated) return waiting(`${total - updated} old replicas are pending termination`);
  if (available < updated) {
    return waiting(`${available} of ${updated} updated replicas are available`);
  }
  // kubectl stops here; Milpa also waits for a scale-down of the new replicas to finish.
  if (updated > desired) {
    return waiting(`${updated - desired} extra replicas are pending termination`);
  }
  return { message: `deployment "${name}" successfully rolled out`, done: true };
}

/** `deployment.apps/NAME`, as kubectl names a deployment in rollout output. */
export function deploymentRef(name: string): string {
  return `deployment.apps/${name}`;
}

/** `rollout history`: the deployment, then a REVISION / CHANGE-CAUSE table. */
export function historyTable(name: string, sets: ReplicaSet[]): string {
  const rows = ["REVISION\tCHANGE-CAUSE"];
  for (const rs of [...sets].sort((a, b) => revisionOf(a) - revisionOf(b))) {
    const cause = rs.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION] || "<none>";
    rows.push(`${revisionOf(rs)}\t${cause.replace(/[\t\r\n]+/g, " ")}`);
  }
  return `${deploymentRef(name)}\n${tabwrite(rows.join("\n"), { minWidth: 0, padding: 2 })}\n`;
}

/** `rollout history --revision N`: that revision's pod template. */
export function revisionDetail(name: string, rs: ReplicaSet): string {
  return `${deploymentRef(name)} with revision #${revisionOf(rs)}\n` +
    describeTemplate(rs.spec?.template);
}
