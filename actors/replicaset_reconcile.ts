/**
 * One pass of a ReplicaSet: keep `spec.replicas` active pods from the template, replacing
 * pods that ended or were deleted, and deleting the surplus (pods without a node, not yet
 * running, not ready, newest first).
 */
import { withInstanceType } from "../cloud/instance_selector.ts";
import type { InstanceType } from "../cloud/catalog.ts";
import type { Clock } from "../model/clock.ts";
import { isoTime } from "../model/clock.ts";
import type { ServerConfig } from "../model/config.ts";
import type { ReplicaSet, ReplicaSetStatus } from "../model/deployment.ts";
import { AlreadyExistsError, NotFoundError } from "../model/errors.ts";
import { API_VERSION } from "../model/meta.ts";
import type { Pod } from "../model/pod.ts";
import {
  controllerOf,
  controllerRef,
  deletionOrder,
  isActivePod,
  isPodAvailable,
  randomSuffix,
  readySince,
  requestTermination,
  withSelectedMark,
} from "../model/workload.ts";
import type { EventInput } from "../store/events.ts";
import type { ObjectStore } from "../store/object_store.ts";
import type { PassResult, ReconcilerInput } from "./reconciler_machine.ts";

/** Most pods created or deleted in one transaction. */
const CHUNK = 50;

/** What a ReplicaSet pass needs. */
export interface ReplicaSetDeps {
  store: ObjectStore;
  clock: Clock;
  config: ServerConfig;
  catalog: InstanceType[];
  event: (e: EventInput) => void;
}

/** The active pods a ReplicaSet owns (by controller reference uid). */
export async function podsOf(store: ObjectStore, rs: ReplicaSet): Promise<Pod[]> {
  const pods = await store.list<Pod>("pods", { namespace: rs.metadata.namespace });
  return pods.filter((p) => controllerOf(p)?.uid === rs.metadata.uid);
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
    status: { phase: "Waiting", lastPhaseChange: isoTime(deps.clock.now()) },
  };
}

async function createChunks(store: ObjectStore, pods: Pod[]): Promise<void> {
  for (let i = 0; i < pods.length; i += CHUNK) {
    await store.commit(pods.slice(i, i + CHUNK).map((object) => ({ op: "create", object })));
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
  const desired = rs.spec.replicas ?? 1;
  let active = (await podsOf(deps.store, rs)).filter(isActivePod);
  const involved = {
    kind: "ReplicaSet",
    name: rs.metadata.name,
    namespace: rs.metadata.namespace,
    uid: rs.metadata.uid,
  };
  if (active.length < desired && !rs.metadata.deletionTimestamp) {
    const pods = Array.from({ length: desired - active.length }, () => newPod(rs, deps));
    try {
      await createChunks(deps.store, pods);
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
    active = [...active, ...pods];
  } else if (active.length > desired) {
    const doomed = [...active].sort(deletionOrder).slice(0, active.length - desired);
    // One read-modify-write each: pod statuses change all the time, so a batch would conflict.
    for (const p of doomed) {
      await deps.store.mutate<Pod>(
        "pods",
        p.metadata.namespace,
        p.metadata.name,
        (cur) => isActivePod(cur) ? requestTermination(cur, now) : null,
      ).catch((e) => {
        if (!(e instanceof NotFoundError)) throw e;
      });
    }
    for (const p of doomed) {
      deps.event({
        involvedObject: involved,
        status: "SuccessfulDelete",
        source: "replicaset-controller",
        message: `Deleted pod: ${p.metadata.name}`,
      });
    }
    const gone = new Set(doomed.map((p) => p.metadata.name));
    active = active.filter((p) => !gone.has(p.metadata.name));
  }
  const minReady = rs.spec.minReadySeconds ?? 0;
  const ready = active.filter((p) => readySince(p) !== undefined);
  const available = active.filter((p) => isPodAvailable(p, minReady, now));
  // A ready pod that is not available yet becomes available at readySince + minReadySeconds.
  const pending = ready.filter((p) => !isPodAvailable(p, minReady, now)).map((p) =>
    readySince(p)! + minReady * 1000
  );
  const status: ReplicaSetStatus = {
    replicas: active.length,
    readyReplicas: ready.length,
    availableReplicas: available.length,
    observedGeneration: rs.metadata.generation,
  };
  return {
    status,
    state: active.length === desired && available.length === desired ? "Settled" : "Converging",
    recheckAt: pending.length ? Math.min(...pending) : undefined,
  };
}
