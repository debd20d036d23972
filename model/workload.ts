/**
 * Rules shared by ReplicaSets and Deployments: pod-template hashes, generated names,
 * when a pod counts as ready and available, and which pods go first when scaling down.
 */
import type { OwnerReference } from "./meta.ts";
import type { ObjectMeta } from "./meta.ts";
import type { Pod, PodPhase } from "./pod.ts";
import { INSTANCE_TYPE_ANNOTATION, LB_GATE_PREFIX } from "./pod.ts";
import { isTerminalPodPhase } from "./pod.ts";
import type { PodTemplate } from "./deployment.ts";

/** The label a Deployment puts on its ReplicaSets and their pods. */
export const TEMPLATE_HASH_LABEL = "pod-template-hash";

/** The annotation holding a ReplicaSet's revision number within its Deployment. */
export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";

/** Characters of generated names: no vowels, so no words (as Milpa's and Kubernetes' names). */
const SAFE = "bcdfghjklmnpqrstvwxz2456789";

/** Keys sorted at every level, so equal templates serialize equally. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${
      Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(
          ",",
        )
    }}`;
  }
  return JSON.stringify(v);
}

/** FNV-1a 32-bit. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A stable 10-character hash of a pod template (its labels without the hash label, and spec). */
export function podTemplateHash(template: PodTemplate): string {
  const labels = { ...(template.metadata?.labels ?? {}) };
  delete labels[TEMPLATE_HASH_LABEL];
  const text = canonical({ ...template, metadata: { ...template.metadata, labels } });
  let a = fnv1a(text);
  let b = fnv1a(`${text}#`);
  let out = "";
  for (let i = 0; i < 10; i++) {
    const src = i < 5 ? a : b;
    out += SAFE[src % SAFE.length];
    if (i < 5) a = Math.floor(a / SAFE.length);
    else b = Math.floor(b / SAFE.length);
  }
  return out;
}

/** A random suffix of `n` safe characters for generated pod names. */
export function randomSuffix(n = 5): string {
  const bytes = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(bytes, (x) => SAFE[x % SAFE.length]).join("");
}

/** The owner reference that marks `owner` as the controller of an object. */
export function controllerRef(
  owner: { kind: string; metadata: { name: string; uid?: string } },
): OwnerReference {
  return {
    apiVersion: "v1",
    kind: owner.kind,
    name: owner.metadata.name,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The controller owner reference of an object, if it has one. */
export function controllerOf(
  obj: { metadata: { ownerReferences?: OwnerReference[] } },
): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller);
}

/** Metadata marked "instance type chosen by the selector" (see INSTANCE_TYPE_ANNOTATION). */
export function withSelectedMark<M extends Partial<ObjectMeta>>(meta: M): M {
  return { ...meta, annotations: { ...meta.annotations, [INSTANCE_TYPE_ANNOTATION]: "selected" } };
}

/** The pod with termination asked for: `spec.phase` Terminated and a deletionTimestamp. */
export function requestTermination(pod: Pod, now: number): Pod {
  return {
    ...pod,
    metadata: { ...pod.metadata, deletionTimestamp: new Date(now).toISOString() },
    spec: { ...pod.spec, phase: "Terminated" },
  };
}

/** A pod that is neither finished nor being deleted: it counts toward replicas. */
export function isActivePod(pod: Pod): boolean {
  return !isTerminalPodPhase(pod.status?.phase) && pod.spec.phase !== "Terminated";
}

/** Since when the pod has been ready (epoch ms), or undefined when it is not ready. */
export function readySince(pod: Pod): number | undefined {
  const c = pod.status?.conditions?.find((c) => c.type === "Ready");
  return pod.status?.phase === "Running" && c?.status === "True"
    ? Date.parse(c.lastTransitionTime)
    : undefined;
}

/**
 * A pod on its way out: deletion asked for (`spec.phase` Terminated), or draining and stopping
 * (evicted from its node). Services stop sending it new traffic; it is never available.
 */
export function isTerminating(pod: Pod): boolean {
  return pod.spec.phase === "Terminated" || pod.status?.termination !== undefined;
}

/** The readiness gate condition type of the load balancer of Service `service`. */
export function lbGateType(service: string): `${typeof LB_GATE_PREFIX}${string}` {
  return `${LB_GATE_PREFIX}${service}`;
}

/** The Services whose load balancers admitted the pod (their readiness gates are True). */
export function admittedBy(pod: Pod): string[] {
  const out: string[] = [];
  for (const c of pod.status?.conditions ?? []) {
    if (c.status === "True" && c.type.startsWith(LB_GATE_PREFIX)) {
      out.push(c.type.slice(LB_GATE_PREFIX.length));
    }
  }
  return out;
}

/** What a pod's availability depends on (see availableAt), read from the pod once. */
export interface Readiness {
  /** Since when it has been ready (epoch ms); absent when it is not ready. */
  readySince?: number;
  /** On its way out (see isTerminating). */
  terminating: boolean;
  /** The Services whose load balancers admitted it. */
  admittedBy: readonly string[];
}

/** The pod's readiness, for availableAt. */
export function readinessOf(pod: Pod): Readiness {
  return {
    readySince: readySince(pod),
    terminating: isTerminating(pod),
    admittedBy: admittedBy(pod),
  };
}

/**
 * When the pod is (or becomes) available (epoch ms): `minReadySeconds` after it became ready,
 * if it is ready, not terminating and admitted by the load balancer of each Service in `gates`;
 * undefined otherwise.
 */
export function availableAt(
  pod: Readiness,
  minReadySeconds: number,
  gates: readonly string[] = [],
): number | undefined {
  const since = pod.readySince;
  return since !== undefined && !pod.terminating &&
      gates.every((service) => pod.admittedBy.includes(service))
    ? since + minReadySeconds * 1000
    : undefined;
}

const PHASE_RANK: Partial<Record<PodPhase, number>> = { Waiting: 0, Dispatching: 1, Running: 2 };

/** A pod's place in the order a ReplicaSet deletes its pods in (see inDeletionOrder). */
export interface DeletionRank {
  node: number;
  phase: number;
  ready: number;
  since: number;
  restarts: number;
  created: number;
}

/** The pod's deletion rank, worked out once (times parsed, restarts summed). */
export function deletionRank(p: Pod): DeletionRank {
  const since = readySince(p);
  return {
    node: p.status?.boundNodeName ? 1 : 0,
    phase: PHASE_RANK[p.status?.phase ?? "Waiting"] ?? 0,
    ready: since === undefined ? 0 : 1,
    since: since ?? 0,
    restarts: (p.status?.unitStatuses ?? []).reduce((n, u) => n + (u.restartCount ?? 0), 0),
    created: Date.parse(p.metadata.creationTimestamp ?? "") || 0,
  };
}

/**
 * Compares two deletion ranks as Kubernetes orders pods to delete: no node before a node,
 * earlier phase before later, not ready before ready, ready for less time before longer, more
 * restarts before fewer, newer before older.
 */
export function byDeletionRank(a: DeletionRank, b: DeletionRank): number {
  return a.node - b.node || a.phase - b.phase || a.ready - b.ready || b.since - a.since ||
    b.restarts - a.restarts || b.created - a.created;
}

/**
 * The pods in the order to delete them (byDeletionRank). Each pod's rank is worked out once (a
 * comparator that parsed times at every comparison took 3 % of the controller's thread in a
 * rollout of 10,000).
 */
export function inDeletionOrder(pods: readonly Pod[]): Pod[] {
  return pods.map((p) => ({ p, rank: deletionRank(p) }))
    .sort((a, b) => byDeletionRank(a.rank, b.rank))
    .map((k) => k.p);
}
