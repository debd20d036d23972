/**
 * Cascading deletion, as Kubernetes' background garbage collector does it: a ReplicaSet
 * whose controlling Deployment is gone is deleted, and a pod whose controlling ReplicaSet
 * is gone is asked to terminate. Level-based, so a crash half-way is finished by the next
 * pass. Objects orphaned on purpose (`--cascade=false`) have no owner reference left.
 */
import type { ServiceNetworking } from "../cloud/provider.ts";
import type { Clock } from "../model/clock.ts";
import type { Deployment, ReplicaSet } from "../model/deployment.ts";
import { NotFoundError } from "../model/errors.ts";
import type { Pod } from "../model/pod.ts";
import { controllerOf, isActivePod, requestTermination } from "../model/workload.ts";
import type { ObjectStore } from "../store/object_store.ts";

/** Deletes what lost its owner; returns how many objects it deleted or terminated. */
export async function collectGarbage(
  store: ObjectStore,
  clock: Clock,
  services?: ServiceNetworking,
): Promise<number> {
  let n = 0;
  const uids = (objs: { metadata: { uid?: string } }[]) => new Set(objs.map((o) => o.metadata.uid));
  const ignoreGone = (e: unknown) => {
    if (!(e instanceof NotFoundError)) throw e;
  };
  const deployments = uids(await store.list<Deployment>("deployments"));
  const replicaSets = await store.list<ReplicaSet>("replicasets");
  for (const rs of replicaSets) {
    const owner = controllerOf(rs);
    if (owner?.kind === "Deployment" && !deployments.has(owner.uid)) {
      await store.delete("replicasets", rs.metadata.namespace, rs.metadata.name).catch(ignoreGone);
      n++;
    }
  }
  const liveSets = uids(await store.list<ReplicaSet>("replicasets"));
  for (const pod of await store.list<Pod>("pods")) {
    const owner = controllerOf(pod);
    if (owner?.kind === "ReplicaSet" && !liveSets.has(owner.uid) && isActivePod(pod)) {
      await store.mutate<Pod>(
        "pods",
        pod.metadata.namespace,
        pod.metadata.name,
        (cur) => isActivePod(cur) ? requestTermination(cur, clock.now()) : null,
      ).catch(ignoreGone);
      n++;
    }
  }
  if (services) n += await collectServices(store, services);
  return n;
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
