/**
 * Deployment and ReplicaSet operations beyond plain CRUD: rolling back to an earlier
 * revision, and orphaning dependents when an owner is deleted with `cascade=false`.
 */
import { Hono } from "hono";
import { replicaSetsOf, revisionOf } from "../actors/deployment_reconcile.ts";
import type { Deployment, ReplicaSet } from "../model/deployment.ts";
import { BadRequestError, NotFoundError } from "../model/errors.ts";
import type { MilpaObject } from "../model/meta.ts";
import { controllerOf, TEMPLATE_HASH_LABEL } from "../model/workload.ts";
import type { ObjectStore } from "../store/object_store.ts";

/** Removes the controller reference to `owner` from everything it controls, so deleting it keeps them. */
export async function orphanDependents(store: ObjectStore, owner: MilpaObject): Promise<void> {
  const plural = owner.kind === "Deployment"
    ? "replicasets"
    : owner.kind === "ReplicaSet"
    ? "pods"
    : undefined;
  if (!plural) return;
  const dependents = await store.list(plural, { namespace: owner.metadata.namespace });
  for (const d of dependents) {
    if (controllerOf(d)?.uid !== owner.metadata.uid) continue;
    await store.mutate(plural, d.metadata.namespace, d.metadata.name, (cur) => ({
      ...cur,
      metadata: {
        ...cur.metadata,
        ownerReferences: (cur.metadata.ownerReferences ?? []).filter((r) =>
          r.uid !== owner.metadata.uid
        ),
      },
    })).catch((e) => {
      if (!(e instanceof NotFoundError)) throw e;
    });
  }
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
