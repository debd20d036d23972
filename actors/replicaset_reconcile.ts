/**
 * One pass of a ReplicaSet: keep `spec.replicas` active pods from the template, replacing
 * pods that ended or were deleted, and deleting the surplus (pods without a node, not yet
 * running, not ready, newest first).
 *
 * A pass creates or deletes at most `BURST` pods and then looks again at once, so that no
 * replica count makes one pass hold every pod in memory. A pod counts as available when it has
 * been ready for minReadySeconds and every `type: LoadBalancer` Service that selects it has
 * admitted it (its readiness gate), so a rollout never outruns the load balancers.
 */
import { withInstanceType } from "../cloud/instance_selector.ts";
import type { InstanceType } from "../cloud/catalog.ts";
import type { Clock } from "../model/clock.ts";
import { isoTime } from "../model/clock.ts";
import type { ServerConfig } from "../model/config.ts";
import { MAX_REPLICAS, type ReplicaSet, type ReplicaSetStatus } from "../model/deployment.ts";
import { AlreadyExistsError, NotFoundError } from "../model/errors.ts";
import { API_VERSION } from "../model/meta.ts";
import { newPodStatus, type Pod } from "../model/pod.ts";
import { selectorMatcher } from "../model/selector.ts";
import { settleAll } from "../model/settle.ts";
import type { Service } from "../model/service.ts";
import {
  availableAt,
  byDeletionRank,
  controllerRef,
  type DeletionRank,
  deletionRank,
  isActivePod,
  randomSuffix,
  type Readiness,
  readinessOf,
  requestTermination,
  withSelectedMark,
} from "../model/workload.ts";
import type { EventInput } from "../store/events.ts";
import { type ObjectStore, opIndexOf, Projection } from "../store/object_store.ts";
import type { PassResult, ReconcilerInput } from "./reconciler_machine.ts";

/** Most pods created in one transaction. */
const CHUNK = 50;

/** Most pods one pass creates or deletes; the next pass follows at once. */
export const BURST = 500;

/** What a ReplicaSet pass needs. */
export interface ReplicaSetDeps {
  store: ObjectStore;
  clock: Clock;
  config: ServerConfig;
  catalog: InstanceType[];
  event: (e: EventInput) => void;
}

/** The names of the `type: LoadBalancer` Services of a namespace, with their selectors compiled. */
async function loadBalancersOf(store: ObjectStore, namespace?: string) {
  return (await store.list<Service>("services", { namespace }))
    .filter((s) => s.spec.type === "LoadBalancer" && s.spec.selector)
    .map((s) => ({ name: s.metadata.name, selects: selectorMatcher(s.spec.selector) }));
}

/** What a pass needs of one of its pods, when the pod is active (see isActivePod). */
export interface ReplicaPod extends Readiness {
  name: string;
  labels: Record<string, string>;
  rank: DeletionRank;
}

/** A pod as a pass sees it; null when it no longer counts (finished, or being deleted). */
function replicaPod(p: Pod): ReplicaPod | null {
  if (!isActivePod(p)) return null;
  return {
    name: p.metadata.name,
    labels: p.metadata.labels ?? {},
    rank: deletionRank(p),
    ...readinessOf(p),
  };
}

/**
 * Pods as passes see them, made once per version of a pod (the store keeps them): a ReplicaSet of
 * 10,000 is passed over again and again while its pods start, and each pass decoded all of them.
 */
const REPLICA_PODS = new Projection<Pod, ReplicaPod | null>(replicaPod);

/**
 * The active pods a ReplicaSet owns (by controller reference uid), found by the store's index of
 * owners: in a rollout, two ReplicaSets of 10,000 pods each read only their own.
 */
export async function podsOf(store: ObjectStore, rs: ReplicaSet): Promise<ReplicaPod[]> {
  const pods = await store.listProjected("pods", REPLICA_PODS, {
    namespace: rs.metadata.namespace,
    owner: rs.metadata.uid,
  });
  return pods.filter((p) => p !== null);
}

function newPod(rs: ReplicaSet, deps: ReplicaSetDeps): Pod {
  const t = rs.spec.template;
  const spec = withInstanceType({ ...t.spec, phase: "Running" }, {
    catalog: deps.catalog,
    defaultInstanceType: deps.config.nodes.defaultInstanceType,
    instanceFamilies: deps.config.nodes.instanceFamilies,
  });
  return {
    kind: "Pod",
    apiVersion: API_VERSION,
    metadata: {
      name: `${rs.metadata.name}-${randomSuffix()}`,
      namespace: rs.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}) },
      ...(t.spec.instanceType
        ? (t.metadata?.annotations ? { annotations: { ...t.metadata.annotations } } : {})
        : { annotations: withSelectedMark({ annotations: t.metadata?.annotations }).annotations }),
      ownerReferences: [controllerRef(rs)],
    },
    spec,
    status: newPodStatus(isoTime(deps.clock.now())),
  };
}

/**
 * Creates the pods, CHUNK a transaction, the chunks at once (the group committer shares
 * transactions among them; one after another, a pass of BURST pods waited for ten commits in a
 * row). A generated name that is taken (5 random characters collide now and then in a burst of
 * hundreds) gets another suffix and its chunk is tried again, so that a pass creates every pod
 * it counts and records events for pods that exist. Resolves once every chunk is settled;
 * rejects with the first chunk's error, if any failed.
 */
async function createChunks(store: ObjectStore, rs: ReplicaSet, pods: Pod[]): Promise<void> {
  const names = new Set<string>();
  for (const p of pods) {
    while (names.has(p.metadata.name)) p.metadata.name = `${rs.metadata.name}-${randomSuffix()}`;
    names.add(p.metadata.name);
  }
  const chunks: Pod[][] = [];
  for (let i = 0; i < pods.length; i += CHUNK) chunks.push(pods.slice(i, i + CHUNK));
  await settleAll(chunks.map((chunk) => createChunk(store, rs, chunk)));
}

/** Creates one chunk of pods in one transaction, renaming a pod whose name is taken. */
async function createChunk(store: ObjectStore, rs: ReplicaSet, chunk: Pod[]): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await store.commit(chunk.map((object) => ({ op: "create", object })));
      return;
    } catch (e) {
      const at = opIndexOf(e);
      if (!(e instanceof AlreadyExistsError) || at === undefined || attempt >= 5) throw e;
      chunk[at].metadata.name = `${rs.metadata.name}-${randomSuffix()}`;
    }
  }
}

/** One reconcile pass of ReplicaSet `input`; undefined when it is gone. */
export async function reconcileReplicaSet(
  deps: ReplicaSetDeps,
  input: ReconcilerInput,
): Promise<PassResult<ReplicaSetStatus, never> | undefined> {
  const rs = await deps.store.get<ReplicaSet>("replicasets", input.namespace, input.name);
  if (!rs || rs.metadata.uid !== input.uid) return undefined;
  const now = deps.clock.now();
  // An object stored before the limit existed runs as if it asked for the limit.
  const desired = Math.min(rs.spec.replicas ?? 1, MAX_REPLICAS);
  let active = await podsOf(deps.store, rs);
  const involved = {
    kind: "ReplicaSet",
    name: rs.metadata.name,
    namespace: rs.metadata.namespace,
    uid: rs.metadata.uid,
  };
  let more = false;
  if (active.length < desired && !rs.metadata.deletionTimestamp) {
    const missing = desired - active.length;
    more = missing > BURST;
    if ((rs.spec.replicas ?? 1) > MAX_REPLICAS && active.length === 0) {
      deps.event({
        involvedObject: involved,
        status: "ReplicasLimited",
        source: "replicaset-controller",
        message: `spec.replicas ${rs.spec.replicas} is above the limit ${MAX_REPLICAS}; ` +
          `keeping ${MAX_REPLICAS}`,
        type: "Warning",
      });
    }
    const pods = Array.from({ length: Math.min(missing, BURST) }, () => newPod(rs, deps));
    try {
      await createChunks(deps.store, rs, pods);
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e; // a name collision: the next pass retries
    }
    for (const p of pods) {
      deps.event({
        involvedObject: involved,
        status: "SuccessfulCreate",
        source: "replicaset-controller",
        message: `Created pod: ${p.metadata.name}`,
      });
    }
    active = [...active, ...pods.map((p) => replicaPod(p)!)];
  } else if (active.length > desired) {
    more = active.length - desired > BURST;
    const doomed = [...active].sort((a, b) => byDeletionRank(a.rank, b.rank)).slice(
      0,
      Math.min(active.length - desired, BURST),
    );
    // One read-modify-write each (pod statuses change all the time, so a batch would
    // conflict), all at once: the group committer shares transactions among them, where one
    // after another a pass of BURST pods took 2-3.5 s.
    await settleAll(doomed.map((p) =>
      deps.store.mutate<Pod>(
        "pods",
        rs.metadata.namespace,
        p.name,
        (cur) => isActivePod(cur) ? requestTermination(cur, now) : null,
      ).catch((e) => {
        if (!(e instanceof NotFoundError)) throw e;
      })
    ));
    for (const p of doomed) {
      deps.event({
        involvedObject: involved,
        status: "SuccessfulDelete",
        source: "replicaset-controller",
        message: `Deleted pod: ${p.name}`,
      });
    }
    const gone = new Set(doomed.map((p) => p.name));
    active = active.filter((p) => !gone.has(p.name));
  }
  const minReady = rs.spec.minReadySeconds ?? 0;
  const balancers = await loadBalancersOf(deps.store, rs.metadata.namespace);
  const gatesOf = (p: ReplicaPod) =>
    balancers.filter((b) => b.selects(p.labels)).map((b) => b.name);
  // One loop over the pods: a ReplicaSet of 10,000 is passed over again and again while they start.
  let ready = 0;
  let available = 0;
  // A ready pod its balancers admitted becomes available at readySince + minReadySeconds (a
  // gate that opens later changes the pod, which brings the next pass).
  let nextAt: number | undefined;
  for (const p of active) {
    if (p.readySince === undefined) continue;
    ready++;
    const at = availableAt(p, minReady, gatesOf(p));
    if (at === undefined) continue;
    if (at <= now) available++;
    else if (nextAt === undefined || at < nextAt) nextAt = at;
  }
  const status: ReplicaSetStatus = {
    replicas: active.length,
    readyReplicas: ready,
    availableReplicas: available,
    observedGeneration: rs.metadata.generation,
  };
  return {
    status,
    state: active.length === desired && available === desired ? "Settled" : "Converging",
    recheckAt: more ? now : nextAt,
  };
}
