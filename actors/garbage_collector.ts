/**
 * Cascading deletion, as Kubernetes' background garbage collector does it: a ReplicaSet
 * whose controlling Deployment is gone is deleted, and a pod whose controlling ReplicaSet
 * is gone is asked to terminate. Level-based, so a crash half-way is finished by the next
 * pass. Objects orphaned on purpose (`--cascade=false`) have no owner reference left.
 *
 * The listings are not one snapshot: a Deployment created after the deployments were listed
 * can have its new ReplicaSet in the next listing. So the listings only pick suspects, and
 * each suspect's owner is read again by name before anything is collected.
 */
import type { ServiceNetworking } from "../cloud/provider.ts";
import type { Clock } from "../model/clock.ts";
import type { Deployment, ReplicaSet } from "../model/deployment.ts";
import { ConflictError, NotFoundError } from "../model/errors.ts";
import type { OwnerReference } from "../model/meta.ts";
import type { Pod } from "../model/pod.ts";
import { settleAll } from "../model/settle.ts";
import { controllerOf, isActivePod, requestTermination } from "../model/workload.ts";
import type { ObjectStore } from "../store/object_store.ts";

/** Orphaned pods asked to terminate at once (each its own read-modify-write). */
const TERMINATE_AT_ONCE = 500;

/** What a pass looks at. */
export interface CollectOptions {
  /**
   * Whether to read every pod for those whose ReplicaSet is gone (default true). Cheap passes
   * skip it: a deleted ReplicaSet starts a full pass at once, so these are the rare orphans
   * (a crash between the two, a pod created with a dangling owner) a full pass finds later.
   */
  pods?: boolean;
}

/** Deletes what lost its owner; returns how many objects it deleted or terminated. */
export async function collectGarbage(
  store: ObjectStore,
  clock: Clock,
  services?: ServiceNetworking,
  options: CollectOptions = {},
): Promise<number> {
  let n = 0;
  const uids = (objs: { metadata: { uid?: string } }[]) => new Set(objs.map((o) => o.metadata.uid));
  // Gone or changed since listed: the next pass looks again.
  const ignoreChanged = (e: unknown) => {
    if (!(e instanceof NotFoundError) && !(e instanceof ConflictError)) throw e;
    return false;
  };
  const deployments = uids(await store.list<Deployment>("deployments"));
  const replicaSets = await store.list<ReplicaSet>("replicasets");
  for (const rs of replicaSets) {
    const owner = controllerOf(rs);
    if (
      owner?.kind === "Deployment" && !deployments.has(owner.uid) &&
      await ownerGone(store, owner, rs.metadata.namespace)
    ) {
      // The listed version only: an owner deleted with cascade=false released it meanwhile.
      const deleted = await store.delete(
        "replicasets",
        rs.metadata.namespace,
        rs.metadata.name,
        rs.metadata.resourceVersion,
      ).then(() => true, ignoreChanged);
      if (deleted) n++;
    }
  }
  const liveSets = uids(await store.list<ReplicaSet>("replicasets"));
  const pods = options.pods === false ? [] : await store.list<Pod>("pods");
  // Each orphan's owner is read again by name: once per owner, not once per pod.
  const gone = new Map<string, boolean>();
  const orphans: { pod: Pod; owner: OwnerReference }[] = [];
  for (const pod of pods) {
    const owner = controllerOf(pod);
    if (owner?.kind !== "ReplicaSet" || liveSets.has(owner.uid) || !isActivePod(pod)) continue;
    let ownerIsGone = gone.get(owner.uid);
    if (ownerIsGone === undefined) {
      gone.set(owner.uid, ownerIsGone = await ownerGone(store, owner, pod.metadata.namespace));
    }
    if (ownerIsGone) orphans.push({ pod, owner });
  }
  // Asked to terminate TERMINATE_AT_ONCE at a time, each its own read-modify-write, together
  // in the group committer's transactions: one after another, the 10,000 pods of a deleted
  // Deployment took half a minute.
  for (let i = 0; i < orphans.length; i += TERMINATE_AT_ONCE) {
    const terminated = await settleAll(
      orphans.slice(i, i + TERMINATE_AT_ONCE).map(({ pod, owner }) => {
        // Only while it still has that owner: a cascade=false delete may have released it.
        let asked = false;
        return store.mutate<Pod>(
          "pods",
          pod.metadata.namespace,
          pod.metadata.name,
          (cur) => {
            asked = isActivePod(cur) && controllerOf(cur)?.uid === owner.uid;
            return asked ? requestTermination(cur, clock.now()) : null;
          },
        ).then(() => asked, ignoreChanged);
      }),
    );
    n += terminated.filter(Boolean).length;
  }
  if (services) n += await collectServices(store, services);
  return n;
}

/** Whether the owner `ref` names is gone now: no such object, or a namesake with another uid. */
async function ownerGone(
  store: ObjectStore,
  ref: OwnerReference,
  namespace: string | undefined,
): Promise<boolean> {
  const owner = await store.get(ref.kind, namespace, ref.name);
  return owner?.metadata.uid !== ref.uid;
}

/** Removes the cloud resources of Services that no longer exist (their actor did not finish). */
async function collectServices(store: ObjectStore, services: ServiceNetworking): Promise<number> {
  const live = new Set(
    (await store.list("services")).map((s) => `${s.metadata.namespace}/${s.metadata.name}`),
  );
  let n = 0;
  for (const key of await services.listServices()) {
    if (!live.has(key)) {
      await services.deleteService(key);
      n++;
    }
  }
  return n;
}
