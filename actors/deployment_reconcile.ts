/**
 * One pass of a Deployment: one ReplicaSet per pod template (named `<deployment>-<hash>`),
 * rolled over with Kubernetes' rolling-update rules — the new ReplicaSet grows while all
 * ReplicaSets together stay within replicas + maxSurge, the old ones shrink while at least
 * replicas − maxUnavailable pods stay available — or, for Recreate, old first, then new.
 */
import type { Clock } from "../model/clock.ts";
import { isoTime } from "../model/clock.ts";
import { resolveIntOrPercent } from "../model/defaults.ts";
import {
  type Deployment,
  type DeploymentCondition,
  type DeploymentStatus,
  MAX_REPLICAS,
  type ReplicaSet,
} from "../model/deployment.ts";
import { AlreadyExistsError, NotFoundError } from "../model/errors.ts";
import { API_VERSION } from "../model/meta.ts";
import { normalizeSelector } from "../model/selector.ts";
import {
  controllerOf,
  controllerRef,
  podTemplateHash,
  REVISION_ANNOTATION,
  TEMPLATE_HASH_LABEL,
} from "../model/workload.ts";
import type { EventInput } from "../store/events.ts";
import type { ObjectStore } from "../store/object_store.ts";
import type { PassResult, ReconcilerInput } from "./reconciler_machine.ts";

/** Why a revision was made; copied from the Deployment to its new ReplicaSet. */
export const CHANGE_CAUSE_ANNOTATION = "kubernetes.io/change-cause";

/** What a Deployment pass needs. */
export interface DeploymentDeps {
  store: ObjectStore;
  clock: Clock;
  event: (e: EventInput) => void;
}

/** Kept between passes: when the rollout last made progress, and what it looked like then. */
export interface DeploymentMemo {
  progressAt: number;
  fingerprint: string;
}

/** The revision number of a ReplicaSet (0 when it has none). */
export function revisionOf(rs: ReplicaSet): number {
  return Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0;
}

/** The ReplicaSets a Deployment owns, oldest revision first. */
export async function replicaSetsOf(store: ObjectStore, d: Deployment): Promise<ReplicaSet[]> {
  const all = await store.list<ReplicaSet>("replicasets", { namespace: d.metadata.namespace });
  return all.filter((rs) => controllerOf(rs)?.uid === d.metadata.uid)
    .sort((a, b) =>
      revisionOf(a) - revisionOf(b) || a.metadata.name.localeCompare(b.metadata.name)
    );
}

/** The deployment's replicas, at most MAX_REPLICAS (an object stored before the limit existed). */
export function desiredReplicas(d: Deployment): number {
  return Math.min(d.spec.replicas ?? 1, MAX_REPLICAS);
}

/** Surge and unavailability bounds in pods: Milpa's top-level fields win over strategy.rollingUpdate. */
export function rolloutBounds(d: Deployment): { maxSurge: number; maxUnavailable: number } {
  const desired = desiredReplicas(d);
  const ru = d.spec.strategy?.rollingUpdate ?? {};
  const maxSurge = resolveIntOrPercent(d.spec.maxSurge ?? ru.maxSurge ?? "25%", desired, true);
  let maxUnavailable = resolveIntOrPercent(
    d.spec.maxUnavailable ?? ru.maxUnavailable ?? "25%",
    desired,
    false,
  );
  if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  return { maxSurge, maxUnavailable };
}

const specOf = (rs: ReplicaSet) => rs.spec.replicas ?? 0;
const activeOf = (rs: ReplicaSet) => rs.status?.replicas ?? 0;
const availableOf = (rs: ReplicaSet) => rs.status?.availableReplicas ?? 0;
const sum = (xs: ReplicaSet[], f: (rs: ReplicaSet) => number) => xs.reduce((n, rs) => n + f(rs), 0);

/** A new ReplicaSet for the deployment's current template. */
function newReplicaSet(
  d: Deployment,
  hash: string,
  revision: number,
  replicas: number,
): ReplicaSet {
  const cause = d.metadata.annotations?.[CHANGE_CAUSE_ANNOTATION];
  const sel = normalizeSelector(d.spec.selector ?? d.spec.template.metadata?.labels ?? {});
  const labels = { ...(d.spec.template.metadata?.labels ?? {}), [TEMPLATE_HASH_LABEL]: hash };
  return {
    kind: "ReplicaSet",
    apiVersion: API_VERSION,
    metadata: {
      name: `${d.metadata.name}-${hash}`,
      namespace: d.metadata.namespace,
      labels,
      annotations: {
        [REVISION_ANNOTATION]: String(revision),
        ...(cause ? { [CHANGE_CAUSE_ANNOTATION]: cause } : {}),
      },
      ownerReferences: [controllerRef(d)],
    },
    spec: {
      replicas,
      minReadySeconds: d.spec.minReadySeconds ?? 0,
      selector: {
        matchLabels: { ...sel.matchLabels, [TEMPLATE_HASH_LABEL]: hash },
        ...(sel.matchExpressions.length ? { matchExpressions: sel.matchExpressions } : {}),
      },
      template: { ...d.spec.template, metadata: { ...d.spec.template.metadata, labels } },
    },
    status: { replicas: 0 },
  };
}

/** Decides each ReplicaSet's replicas for this pass (pure). */
export function planReplicas(
  d: Deployment,
  newRS: ReplicaSet,
  old: ReplicaSet[],
): Map<string, number> {
  const plan = new Map<string, number>([newRS, ...old].map((rs) => [rs.metadata.name, specOf(rs)]));
  const get = (rs: ReplicaSet) => plan.get(rs.metadata.name)!;
  const desired = desiredReplicas(d);
  if (d.spec.strategy?.type === "Recreate") {
    for (const rs of old) plan.set(rs.metadata.name, 0);
    if (sum(old, activeOf) === 0) plan.set(newRS.metadata.name, desired);
    return plan;
  }
  const { maxSurge, maxUnavailable } = rolloutBounds(d);
  // The deployment shrank: drop the excess, old ReplicaSets (newest first) before the new one.
  let excess = sum([newRS, ...old], get) - (desired + maxSurge);
  for (const rs of [...old].reverse()) {
    if (excess <= 0) break;
    const cut = Math.min(get(rs), excess);
    plan.set(rs.metadata.name, get(rs) - cut);
    excess -= cut;
  }
  if (get(newRS) > desired) plan.set(newRS.metadata.name, desired);
  // Grow the new ReplicaSet within replicas + maxSurge.
  const room = desired + maxSurge - sum([newRS, ...old], get);
  if (room > 0 && get(newRS) < desired) {
    plan.set(newRS.metadata.name, get(newRS) + Math.min(room, desired - get(newRS)));
  }
  // Shrink old ReplicaSets while replicas − maxUnavailable stay available.
  const minAvailable = desired - maxUnavailable;
  const newUnavailable = Math.max(0, get(newRS) - availableOf(newRS));
  let budget = sum([newRS, ...old], activeOf) - minAvailable - newUnavailable;
  if (budget <= 0) return plan;
  // First the old pods that are not available anyway, oldest ReplicaSet first...
  for (const rs of old) {
    if (budget <= 0) break;
    const cut = Math.min(Math.max(0, get(rs) - availableOf(rs)), budget);
    plan.set(rs.metadata.name, get(rs) - cut);
    budget -= cut;
  }
  // ...then available ones, as long as enough stay available.
  let availableBudget = sum([newRS, ...old], availableOf) - minAvailable;
  for (const rs of old) {
    if (availableBudget <= 0) break;
    const cut = Math.min(get(rs), availableBudget);
    plan.set(rs.metadata.name, get(rs) - cut);
    availableBudget -= cut;
  }
  return plan;
}

function condition(
  type: string,
  ok: boolean,
  reason: string,
  message: string,
  now: string,
  previous?: DeploymentCondition[],
): DeploymentCondition {
  const prev = previous?.find((c) => c.type === type);
  const status = ok ? "True" : "False";
  return {
    type,
    status,
    reason,
    message,
    lastUpdateTime: now,
    lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
  };
}

/** One reconcile pass of Deployment `input`; undefined when it is gone. */
export async function reconcileDeployment(
  deps: DeploymentDeps,
  input: ReconcilerInput & { memo?: DeploymentMemo; status?: DeploymentStatus },
): Promise<PassResult<DeploymentStatus, DeploymentMemo> | undefined> {
  const d = await deps.store.get<Deployment>("deployments", input.namespace, input.name);
  if (!d || d.metadata.uid !== input.uid) return undefined;
  const now = deps.clock.now();
  const involved = {
    kind: "Deployment",
    name: d.metadata.name,
    namespace: d.metadata.namespace,
    uid: d.metadata.uid,
  };
  const desired = desiredReplicas(d);
  let all = await replicaSetsOf(deps.store, d);
  const hash = podTemplateHash(d.spec.template);
  let newRS = all.find((rs) => rs.metadata.labels?.[TEMPLATE_HASH_LABEL] === hash);
  const maxRevision = Math.max(0, ...all.map(revisionOf));

  if (!d.spec.paused) {
    if (!newRS) {
      const fresh = newReplicaSet(d, hash, maxRevision + 1, 0);
      try {
        newRS = await deps.store.create(fresh);
      } catch (e) {
        if (e instanceof AlreadyExistsError) {
          throw new Error(
            `replicaset ${fresh.metadata.name} exists and is not this deployment's; retrying`,
          );
        }
        throw e;
      }
      deps.event({
        involvedObject: involved,
        status: "ScalingReplicaSet",
        source: "deployment-controller",
        message: `Created new replica set ${newRS.metadata.name} (revision ${maxRevision + 1})`,
      });
      all = [...all, newRS];
    } else if (revisionOf(newRS) < maxRevision) {
      // Rolled back to an older template: it becomes the newest revision again.
      newRS = await deps.store.mutate<ReplicaSet>(
        "replicasets",
        d.metadata.namespace,
        newRS.metadata.name,
        (rs) => ({
          ...rs,
          metadata: {
            ...rs.metadata,
            annotations: {
              ...rs.metadata.annotations,
              [REVISION_ANNOTATION]: String(maxRevision + 1),
            },
          },
        }),
      );
      all = all.map((rs) => rs.metadata.name === newRS!.metadata.name ? newRS! : rs);
    }
    const old = all.filter((rs) => rs !== newRS && rs.metadata.name !== newRS!.metadata.name);
    const plan = planReplicas(d, newRS, old);
    for (const rs of all) {
      const want = plan.get(rs.metadata.name)!;
      if (want === specOf(rs)) continue;
      await deps.store.mutate<ReplicaSet>(
        "replicasets",
        rs.metadata.namespace,
        rs.metadata.name,
        (cur) => ({ ...cur, spec: { ...cur.spec, replicas: want } }),
      ).catch((e) => {
        if (!(e instanceof NotFoundError)) throw e;
      });
      deps.event({
        involvedObject: involved,
        status: "ScalingReplicaSet",
        source: "deployment-controller",
        message: `Scaled ${
          want > specOf(rs) ? "up" : "down"
        } replica set ${rs.metadata.name} from ${specOf(rs)} to ${want}`,
      });
    }
    await pruneHistory(deps, d, all, newRS);
  }

  const current = await replicaSetsOf(deps.store, d);
  const latest = current.find((rs) => rs.metadata.labels?.[TEMPLATE_HASH_LABEL] === hash);
  const olds = current.filter((rs) => rs !== latest);
  const replicas = sum(current, activeOf);
  const updated = latest ? activeOf(latest) : 0;
  const available = sum(current, availableOf);
  const { maxUnavailable } = d.spec.strategy?.type === "Recreate"
    ? { maxUnavailable: desired }
    : rolloutBounds(d);
  const complete = updated === desired && replicas === desired && available === desired &&
    sum(olds, activeOf) === 0 &&
    (latest?.status?.observedGeneration ?? 0) >= (latest?.metadata.generation ?? 0);
  const fingerprint = JSON.stringify([
    replicas,
    updated,
    available,
    sum(current, (rs) => rs.status?.readyReplicas ?? 0),
    hash,
  ]);
  const memo: DeploymentMemo = !input.memo || input.memo.fingerprint !== fingerprint
    ? { progressAt: now, fingerprint }
    : input.memo;
  const deadlineMs = (d.spec.progressDeadlineSeconds ?? 600) * 1000;
  const stalled = !complete && !d.spec.paused && now - memo.progressAt > deadlineMs;
  const iso = isoTime(now);
  const prev = input.status?.conditions;
  const conditions = [
    condition(
      "Available",
      available >= desired - maxUnavailable,
      available >= desired - maxUnavailable
        ? "MinimumReplicasAvailable"
        : "MinimumReplicasUnavailable",
      `${available} of ${desired} replicas available (at least ${
        Math.max(0, desired - maxUnavailable)
      } needed)`,
      iso,
      prev,
    ),
    condition(
      "Progressing",
      !stalled,
      complete
        ? "NewReplicaSetAvailable"
        : d.spec.paused
        ? "DeploymentPaused"
        : stalled
        ? "ProgressDeadlineExceeded"
        : "ReplicaSetUpdated",
      complete
        ? `ReplicaSet "${latest?.metadata.name}" has successfully progressed.`
        : stalled
        ? `ReplicaSet "${latest?.metadata.name}" has timed out progressing.`
        : `ReplicaSet "${latest?.metadata.name ?? "(none yet)"}" is progressing.`,
      iso,
      prev,
    ),
  ];
  const status: DeploymentStatus = {
    replicas,
    updatedReplicas: updated,
    readyReplicas: sum(current, (rs) => rs.status?.readyReplicas ?? 0),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, desired - available),
    observedGeneration: d.metadata.generation,
    conditions,
  };
  const state = d.spec.paused
    ? "Paused"
    : complete
    ? "Complete"
    : stalled
    ? "Stalled"
    : "Progressing";
  return {
    status,
    state,
    memo,
    recheckAt: state === "Progressing" ? memo.progressAt + deadlineMs + 1 : undefined,
  };
}

/** Deletes empty old ReplicaSets beyond revisionHistoryLimit (oldest first). */
async function pruneHistory(
  deps: DeploymentDeps,
  d: Deployment,
  all: ReplicaSet[],
  newRS: ReplicaSet,
): Promise<void> {
  const limit = d.spec.revisionHistoryLimit ?? 10;
  const empty = all.filter((rs) =>
    rs.metadata.name !== newRS.metadata.name && specOf(rs) === 0 && activeOf(rs) === 0
  );
  for (const rs of empty.slice(0, Math.max(0, empty.length - limit))) {
    await deps.store.delete("replicasets", rs.metadata.namespace, rs.metadata.name).catch(() => {});
  }
}
