/**
 * Deployment and ReplicaSet operations beyond plain CRUD: rolling back to an earlier
 * revision, and planning the release of dependents when an owner is deleted with
 * `cascade=false` (in the same transaction as the delete: all or nothing).
 */
import { Hono } from "hono";
import { replicaSetsOf, revisionOf } from "../actors/deployment_reconcile.ts";
import type { Deployment, ReplicaSet } from "../model/deployment.ts";
import { BadRequestError, NotFoundError } from "../model/errors.ts";
import type { MilpaObject } from "../model/meta.ts";
import { controllerOf, TEMPLATE_HASH_LABEL } from "../model/workload.ts";
import type { BatchOp, ObjectStore } from "../store/object_store.ts";
import { TransactionTooLargeError } from "../store/object_store.ts";

/** The kind an owner controls: a Deployment its ReplicaSets, a ReplicaSet its pods. */
function dependentPlural(owner: MilpaObject): string | undefined {
  return owner.kind === "Deployment"
    ? "replicasets"
    : owner.kind === "ReplicaSet"
    ? "pods"
    : undefined;
}

/**
 * What deleting `owner` with `cascade=false` writes besides the delete: everything it controls,
 * without its references to `owner`. Each update carries the version listed, so the batch
 * commits only if none of them changed since (ConflictError: plan again).
 */
export async function planOrphaning(store: ObjectStore, owner: MilpaObject): Promise<BatchOp[]> {
  const plural = dependentPlural(owner);
  if (!plural) return [];
  const uid = owner.metadata.uid;
  const dependents = await store.list(plural, { namespace: owner.metadata.namespace });
  return dependents.filter((d) => controllerOf(d)?.uid === uid).map((d) => ({
    op: "update",
    object: {
      ...d,
      metadata: {
        ...d.metadata,
        ownerReferences: (d.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid),
      },
    },
  }));
}

/**
 * The refusal of a `cascade=false` delete whose `count` dependents do not fit in the
 * transaction that deletes `owner`: only `room` fit, or (no room given) they break KV's byte
 * or write limits, the store's error being the `cause`.
 */
export function orphaningTooLarge(
  owner: MilpaObject,
  count: number,
  room?: number,
  cause?: unknown,
): TransactionTooLargeError {
  const plural = dependentPlural(owner) ?? "dependents";
  const why = room === undefined
    ? "are too large to release in one transaction"
    : `do not fit in one transaction (at most ${room})`;
  const fix = owner.kind === "ReplicaSet" ? "scale it down" : "lower its revisionHistoryLimit";
  return new TransactionTooLargeError(
    `Cannot delete ${owner.kind.toLowerCase()} "${owner.metadata.name}" with cascade=false: ` +
      `its ${count} ${plural} ${why}; delete it with cascade, or ${fix} first`,
    [{ field: "cascade", message: `${count} ${plural} to release in one transaction` }],
    { cause },
  );
}

/** Sets a deployment's template back to the one of revision `to` (default: the one before the current). */
export async function rollback(
  store: ObjectStore,
  namespace: string,
  name: string,
  to?: number,
): Promise<Deployment> {
  const d = await store.mustGet<Deployment>("deployments", namespace, name);
  const sets = await replicaSetsOf(store, d);
  const revisions = [...new Set(sets.map(revisionOf))].sort((a, b) => b - a);
  const target = to ?? revisions[1];
  if (target === undefined) {
    throw new BadRequestError(`deployment "${name}" has no previous revision to roll back to`);
  }
  const rs = sets.find((s: ReplicaSet) => revisionOf(s) === target);
  if (!rs) {
    throw new NotFoundError(
      `deployment "${name}" has no revision ${target}; revisions: ${revisions.join(", ")}`,
    );
  }
  const labels = { ...(rs.spec.template.metadata?.labels ?? {}) };
  delete labels[TEMPLATE_HASH_LABEL];
  return await store.mutate<Deployment>("deployments", namespace, name, (cur) => ({
    ...cur,
    spec: {
      ...cur.spec,
      template: { ...rs.spec.template, metadata: { ...rs.spec.template.metadata, labels } },
    },
  }));
}

/** `POST /api/v1/namespaces/{ns}/deployments/{name}/rollback {"toRevision": N}`. */
export function workloadRoutes(deps: { store: ObjectStore }): Hono {
  const app = new Hono();
  app.post("/api/v1/namespaces/:ns/deployments/:name/rollback", async (c) => {
    let body: { toRevision?: unknown } = {};
    const text = await c.req.text();
    if (text.trim()) {
      try {
        body = JSON.parse(text);
      } catch {
        throw new BadRequestError("request body is not valid JSON");
      }
    }
    const to = body.toRevision;
    if (to !== undefined && to !== 0 && (!Number.isInteger(to) || (to as number) < 0)) {
      throw new BadRequestError(`toRevision must be a positive integer, not ${JSON.stringify(to)}`);
    }
    return c.json(
      await rollback(
        deps.store,
        c.req.param("ns"),
        c.req.param("name"),
        (to as number) || undefined,
      ),
    );
  });
  return app;
}
