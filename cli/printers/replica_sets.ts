/** A Deployment's ReplicaSets from a list: which it owns, which is new, their revisions. */
import type { Deployment, ReplicaSet } from "../../model/deployment.ts";
import {
  controllerOf,
  podTemplateHash,
  REVISION_ANNOTATION,
  TEMPLATE_HASH_LABEL,
} from "../../model/workload.ts";

/** The revision number of a ReplicaSet (0 when it has none). */
export function revisionOf(rs: ReplicaSet): number {
  return Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0;
}

/** The ReplicaSets `d` controls (by owner uid), oldest revision first. */
export function replicaSetsOf(d: Deployment, all: ReplicaSet[]): ReplicaSet[] {
  return all
    .filter((rs) => d.metadata.uid !== undefined && controllerOf(rs)?.uid === d.metadata.uid)
    .sort((a, b) =>
      revisionOf(a) - revisionOf(b) || a.metadata.name.localeCompare(b.metadata.name)
    );
}

/**
 * `d`'s ReplicaSets as kubectl's describe sorts them: the new one runs the current pod
 * template (its pod-template-hash label); the old ones are the others that still want pods.
 */
export function splitReplicaSets(
  d: Deployment,
  all: ReplicaSet[],
): { newRS?: ReplicaSet; old: ReplicaSet[] } {
  const owned = replicaSetsOf(d, all);
  const hash = d.spec?.template ? podTemplateHash(d.spec.template) : undefined;
  const newRS = owned.find((rs) => rs.metadata.labels?.[TEMPLATE_HASH_LABEL] === hash);
  return { newRS, old: owned.filter((rs) => rs !== newRS && (rs.spec?.replicas ?? 0) !== 0) };
}

/** kubectl's `name (current/desired replicas created)` list, `<none>` when empty. */
export function formatReplicaSets(sets: ReplicaSet[]): string {
  if (!sets.length) return "<none>";
  return sets.map((rs) =>
    `${rs.metadata.name} (${rs.status?.replicas ?? 0}/${rs.spec?.replicas ?? 0} replicas created)`
  ).join(", ");
}
