/** Routes for objects: get, list, watch, create, update, delete, and all-or-nothing batches. */
import { Hono } from "hono";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { StreamSlots } from "./limits.ts";
import { concatBytes, encodeFrame, SSE_CHUNK_BYTES, SseQueue } from "./sse.ts";
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from "../model/errors.ts";
import type { KindInfo } from "../model/kinds.ts";
import { findKind, KINDS } from "../model/kinds.ts";
import { API_VERSION } from "../model/meta.ts";
import type { MilpaObject, ObjectList } from "../model/meta.ts";
import { parseSelectorString, selectorMatcher } from "../model/selector.ts";
import type { LabelSelector } from "../model/selector_types.ts";
import type { Pod } from "../model/pod.ts";
import { isTerminalPodPhase } from "../model/pod.ts";
import type { Node } from "../model/node.ts";
import type { PageOptions, WatchEvent as StoreWatchEvent } from "../store/object_store.ts";
import { hasTable, objectTable } from "./table/rows.ts";
import { permits } from "./access.ts";
import type { BatchOperation, BatchResultItem } from "../model/api_types.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { MAX_BATCH, opIndexOf, TransactionTooLargeError } from "../store/object_store.ts";
import { BatchItemError } from "./errors.ts";
import type { Plan, PlanDeps } from "./write_plans.ts";
import { orphaningTooLarge, planOrphaning } from "./workloads.ts";
import {
  batchWrites,
  identify,
  planCreate,
  planDelete,
  planUpdate,
  prepareNew,
} from "./write_plans.ts";

/** `?limit=`: a positive whole number of objects per page, or undefined for all of them. */
function limitFrom(c: Context): number | undefined {
  const raw = c.req.query("limit");
  if (raw === undefined || raw === "" || raw === "0") return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) {
    throw new ValidationError(
      `limit must be a whole number of objects, not ${JSON.stringify(raw)}`,
      [
        { field: "limit", message: "must be a whole number", value: raw },
      ],
    );
  }
  return n;
}

/** Refuses a cluster-scoped path for a namespaced kind. */
function clusterScoped(k: KindInfo): void {
  if (k.namespaced) {
    throw new NotFoundError(
      `${k.plural} are namespaced: use /api/v1/namespaces/<ns>/${k.plural}/<name>`,
    );
  }
}

function kindFrom(c: Context): KindInfo {
  const plural = c.req.param("plural") ?? "";
  const k = findKind(plural);
  if (k && !k.namespaced && c.req.param("ns") !== undefined) {
    throw new NotFoundError(`${k.plural} are not namespaced: use /api/v1/${k.plural}`);
  }
  if (!k || k.plural !== plural) {
    throw new NotFoundError(
      `the server does not know "${plural}"; known: ${KINDS.map((k) => k.plural).join(", ")}`,
    );
  }
  return k;
}

async function body(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch (e) {
    throw new BadRequestError(`request body is not valid JSON: ${(e as Error).message}`);
  }
}

function selectorFrom(c: Context): LabelSelector | undefined {
  const s = c.req.query("labelSelector");
  try {
    return s ? parseSelectorString(s) : undefined;
  } catch (e) {
    throw new BadRequestError(`bad labelSelector: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Plans and commits a batch; returns what happened to each item. Actors write statuses all
 * the time, so a commit that lost a race with one is planned again from fresh reads — unless
 * the user pinned a resourceVersion, whose conflict is theirs to see. A delete reads the
 * current object and ignores the item's resourceVersion, so it pins nothing.
 */
export async function runBatch(
  deps: PlanDeps,
  operation: BatchOperation,
  items: unknown[],
  cascade = true,
): Promise<BatchResultItem[]> {
  const pinned = operation !== "delete" &&
    items.some((i) => (i as MilpaObject)?.metadata?.resourceVersion);
  for (let attempt = 1;; attempt++) {
    try {
      return await planAndCommit(deps, operation, items, cascade);
    } catch (e) {
      const inner = e instanceof BatchItemError ? e.inner : e;
      if (!(inner instanceof ConflictError) || pinned || attempt >= 10) throw e;
    }
  }
}

async function planAndCommit(
  deps: PlanDeps,
  operation: BatchOperation,
  items: unknown[],
  cascade: boolean,
): Promise<BatchResultItem[]> {
  const plans: Plan[] = [];
  for (const [index, raw] of items.entries()) {
    let id: { kind: string; namespace?: string; name: string } | undefined;
    try {
      id = identify(raw);
      const current = id.name ? await deps.store.get(id.kind, id.namespace, id.name) : null;
      if (operation === "delete") {
        if (!current) {
          throw new NotFoundError(`${findKind(id.kind)!.plural} "${id.name}" not found`);
        }
        const orphans = cascade ? [] : await planOrphaning(deps.store, current);
        plans.push(planDelete(current, deps.clock, orphans));
        continue;
      }
      const replacesFinished = current?.kind === "Pod" &&
        isTerminalPodPhase((current as Pod).status?.phase);
      const creating = operation === "create" ||
        (operation === "apply" && (!current || replacesFinished));
      const next = prepareNew(raw, deps, creating ? "create" : "update");
      if (creating) {
        plans.push(planCreate(next, current));
      } else {
        if (!current) {
          throw new NotFoundError(`${findKind(id.kind)!.plural} "${id.name}" not found`);
        }
        const rv = (raw as MilpaObject).metadata?.resourceVersion;
        plans.push(planUpdate(next, current, rv));
      }
    } catch (e) {
      throw new BatchItemError(
        index,
        id?.kind ?? String((raw as MilpaObject)?.kind ?? ""),
        id?.name ?? "",
        e,
      );
    }
  }
  await commitPlans(deps.store, plans);
  return plans.map((p) => ({
    kind: p.object.kind,
    ...(p.object.metadata.namespace ? { namespace: p.object.metadata.namespace } : {}),
    name: p.object.metadata.name,
    action: p.action,
  }));
}

/**
 * Commits the writes of planned items in one transaction. Errors name the item they are
 * about: a `cascade=false` delete whose dependents do not fit in the transaction is refused
 * (TransactionTooLargeError), and a dependent that went away since it was listed is a
 * ConflictError, so the batch is planned again.
 */
async function commitPlans(store: ObjectStore, plans: Plan[]): Promise<void> {
  const writes = batchWrites(plans);
  if (!writes.length) return;
  const released = new Map<number, number>();
  for (const w of writes) if (w.orphan) released.set(w.index, (released.get(w.index) ?? 0) + 1);
  const [owner, count] = [...released].reduce((a, b) => b[1] > a[1] ? b : a, [-1, 0]);
  const refuse = (room?: number, cause?: unknown) => {
    const { object } = plans[owner];
    const e = orphaningTooLarge(object, count, room, cause);
    return new BatchItemError(owner, object.kind, object.metadata.name, e);
  };
  const own = writes.filter((w) => !w.orphan).length;
  if (count && own <= MAX_BATCH && writes.length > MAX_BATCH) {
    throw refuse(MAX_BATCH - (writes.length - count));
  }
  try {
    // The client waits: before the actors' background writes.
    await store.commit(writes.map((w) => w.op), { urgent: true });
  } catch (e) {
    const at = opIndexOf(e);
    const write = at === undefined ? undefined : writes[at];
    if (write) {
      const { kind, metadata } = plans[write.index].object;
      const inner = write.orphan && e instanceof NotFoundError
        ? new ConflictError(`${e.message} (it was being released); retry`, { cause: e })
        : e;
      throw new BatchItemError(write.index, kind, metadata.name, inner);
    }
    // Over KV's byte or write limits: with dependents to release, they are the likely cause.
    if (e instanceof TransactionTooLargeError && count && writes.length <= MAX_BATCH) {
      throw refuse(undefined, e);
    }
    throw e;
  }
}

/**
 * Whether a list request asks for a Table (`Accept: ...;as=Table;...`, as kubectl asks): its
 * rows are then filled in here (server-side printing), not by the client from the objects.
 */
function wantsTable(c: Context): boolean {
  return /(^|[;,\s])as=Table([;,\s]|$)/.test(c.req.header("accept") ?? "");
}

/**
 * A list's objects, decoded, and its paging: in name order, but events without a limit in time
 * order (these are decoded to be sorted).
 */
async function listObjects(
  store: ObjectStore,
  k: KindInfo,
  options: PageOptions,
): Promise<{ items: MilpaObject[]; metadata: ObjectList["metadata"] }> {
  const page = await store.listPage(k, options);
  if (k.kind === "Event" && options.limit === undefined) {
    const t = (o: MilpaObject) => o.metadata.creationTimestamp ?? "";
    // ISO times in UTC order as plain strings (localeCompare is ~10× slower).
    page.items.sort((a, b) => t(a) < t(b) ? -1 : t(a) > t(b) ? 1 : 0);
  }
  const metadata = page.continue
    ? { continue: page.continue, remainingItemCount: page.remainingItemCount }
    : {};
  return { items: page.items, metadata };
}

/** The nodes the pods are bound to, by name (for the node columns of a wide pod table). */
async function nodesOf(store: ObjectStore, pods: Pod[]): Promise<Map<string, Node>> {
  const nodes = new Map<string, Node>();
  for (const p of pods) {
    const name = p.status?.boundNodeName;
    if (!name || nodes.has(name)) continue;
    const node = await store.get<Node>("nodes", undefined, name);
    if (node) nodes.set(name, node);
  }
  return nodes;
}

/** A response of JSON already encoded (what c.json() sends, without encoding it). */
function jsonText(c: Context, json: string): Response {
  return c.body(json, 200, { "Content-Type": "application/json" });
}

/**
 * The object routes. A watch takes one of `streams` (the controller's open streams) for as
 * long as it lasts.
 */
export function resourceRoutes(deps: PlanDeps & { streams?: StreamSlots }): Hono {
  const app = new Hono();
  const streams = deps.streams ?? new StreamSlots();

  const list = async (c: Context, namespace?: string) => {
    const k = kindFrom(c);
    const selector = selectorFrom(c);
    if (c.req.query("watch") === "true" || c.req.query("watch") === "1") {
      return watch(c, k, namespace, selector);
    }
    const limit = limitFrom(c);
    const options = { namespace, selector, limit, continue: c.req.query("continue") || undefined };
    if (wantsTable(c) && hasTable(k.kind)) {
      const { items, metadata } = await listObjects(deps.store, k, options);
      const wide = c.req.query("wide") === "true";
      // A pod's node columns, for a caller that may read nodes (else they say <unknown>, as
      // milpactl's own do when the nodes are refused).
      const p = c.get("principal");
      const readsNodes = p !== undefined && permits(p, { need: "cluster", verb: "read" });
      const nodes = wide && k.kind === "Pod" && readsNodes
        ? await nodesOf(deps.store, items as Pod[])
        : undefined;
      return c.json(objectTable(k.kind, items, { wide, nodes, now: deps.clock.now() }, metadata));
    }
    if (k.kind === "Event" && limit === undefined) {
      const { items } = await listObjects(deps.store, k, options);
      return c.json(
        {
          kind: `${k.kind}List`,
          apiVersion: API_VERSION,
          metadata: {},
          items,
        } satisfies ObjectList,
      );
    }
    // The objects' JSON as the index holds it, joined: none is decoded and encoded again.
    const page = await deps.store.listPageJson(k, options);
    const metadata = page.continue
      ? { continue: page.continue, remainingItemCount: page.remainingItemCount }
      : {};
    const head = JSON.stringify({ kind: `${k.kind}List`, apiVersion: API_VERSION, metadata });
    return jsonText(c, `${head.slice(0, -1)},"items":[${page.items.join(",")}]}`);
  };

  const watch = (
    c: Context,
    k: KindInfo,
    namespace: string | undefined,
    selector?: LabelSelector,
  ) => {
    const release = streams.acquire();
    return streamSSE(c, async (stream) => {
      const queue = new SseQueue<StoreWatchEvent>((e) => watchFrame(e));
      const selects = selector ? selectorMatcher(selector) : () => true;
      const watched = (o: MilpaObject) =>
        o.kind === k.kind &&
        (namespace === undefined || (o.metadata.namespace ?? "") === namespace);
      // As Kubernetes' watches do: an object whose new labels leave the selector is DELETED for
      // this watcher, and one whose labels join it is ADDED.
      const stop = deps.store.watch((e) => {
        if (!watched(e.object)) return;
        const now = selects(e.object.metadata.labels ?? {});
        const before = e.previousLabels ? selects(e.previousLabels) : now;
        if (now) queue.push(before ? e : { ...e, type: "ADDED" });
        else if (before && e.type === "MODIFIED") queue.push({ ...e, type: "DELETED" });
      }, () => queue.end());
      queue.onEnd(stop); // a client too far behind stops costing anything at once
      stream.onAbort(() => queue.end());
      try {
        await stream.write(": watching\n\n"); // tells the client the stream is up
        const listed = new Map<string, string | undefined>();
        // The existing objects go out in writes of about SSE_CHUNK_BYTES, not one each.
        let chunk: Uint8Array[] = [];
        let size = 0;
        for (const o of await deps.store.list(k, { namespace, selector })) {
          if (!queue.open) break;
          listed.set(`${o.metadata.namespace}/${o.metadata.name}`, o.metadata.resourceVersion);
          const frame = encodeFrame({ event: "ADDED", data: JSON.stringify(o) });
          chunk.push(frame);
          size += frame.length;
          if (size >= SSE_CHUNK_BYTES) {
            await stream.write(concatBytes(chunk, size));
            chunk = [];
            size = 0;
          }
        }
        if (chunk.length && queue.open) await stream.write(concatBytes(chunk, size));
        // Changes that happened while listing and are already in the list are not repeated.
        queue.discard(({ type, object: o }) => {
          const rv = listed.get(`${o.metadata.namespace}/${o.metadata.name}`);
          return type !== "DELETED" && rv !== undefined && rv === o.metadata.resourceVersion;
        });
        await queue.pump(stream);
      } finally {
        stop();
        release();
      }
    });
  };

  const getOne = async (c: Context, namespace?: string) => {
    const k = kindFrom(c);
    return jsonText(
      c,
      await deps.store.mustGetJson(k, k.namespaced ? namespace : undefined, c.req.param("name")!),
    );
  };

  const create = async (c: Context, namespace?: string) => {
    const k = kindFrom(c);
    const raw = await body(c) as MilpaObject;
    checkTarget(k, raw, namespace);
    await runBatch(deps, "create", [raw]).catch(unwrap);
    const id = identify(raw);
    return c.json(await deps.store.mustGet(k, id.namespace, id.name), 201);
  };

  const update = async (c: Context, namespace?: string) => {
    const k = kindFrom(c);
    const raw = await body(c) as MilpaObject;
    checkTarget(k, raw, namespace, c.req.param("name"));
    await runBatch(deps, "update", [raw]).catch(unwrap);
    return c.json(
      await deps.store.mustGet(k, k.namespaced ? namespace : undefined, c.req.param("name")!),
    );
  };

  const remove = async (c: Context, namespace?: string) => {
    const k = kindFrom(c);
    if (!k.writable && k.kind !== "Node") {
      throw new BadRequestError(`${k.plural} cannot be deleted`);
    }
    const cascade = c.req.query("cascade") !== "false";
    for (let attempt = 1;; attempt++) {
      const current = await deps.store.mustGet(
        k,
        k.namespaced ? namespace : undefined,
        c.req.param("name")!,
      );
      const orphans = cascade ? [] : await planOrphaning(deps.store, current);
      const plan = planDelete(current, deps.clock, orphans);
      try {
        await commitPlans(deps.store, [plan]);
        return c.json(plan.object);
      } catch (e) {
        const inner = e instanceof BatchItemError ? e.inner : e;
        // A status write won the race: plan again from fresh reads.
        if (!(inner instanceof ConflictError) || attempt >= 10) throw inner;
      }
    }
  };

  app.get("/api/v1/namespaces/:ns/:plural", (c) => list(c, c.req.param("ns")));
  app.get("/api/v1/namespaces/:ns/:plural/:name", (c) => getOne(c, c.req.param("ns")));
  app.post("/api/v1/namespaces/:ns/:plural", (c) => create(c, c.req.param("ns")));
  app.put("/api/v1/namespaces/:ns/:plural/:name", (c) => update(c, c.req.param("ns")));
  app.delete("/api/v1/namespaces/:ns/:plural/:name", (c) => remove(c, c.req.param("ns")));
  app.post("/api/v1/batch", async (c) => {
    const b = await body(c) as { operation?: string; items?: unknown[]; cascade?: boolean };
    if (!["create", "update", "apply", "delete"].includes(b?.operation ?? "")) {
      throw new BadRequestError(
        `operation must be create, update, apply or delete, not "${b?.operation}"`,
      );
    }
    if (!Array.isArray(b.items)) throw new BadRequestError("items must be a list of objects");
    return c.json({
      items: await runBatch(deps, b.operation as BatchOperation, b.items, b.cascade !== false),
    });
  });
  app.get("/api/v1/:plural", (c) => list(c, undefined));
  app.get("/api/v1/:plural/:name", (c) => {
    clusterScoped(kindFrom(c));
    return getOne(c);
  });
  app.delete("/api/v1/:plural/:name", (c) => {
    clusterScoped(kindFrom(c));
    return remove(c);
  });
  return app;
}

function checkTarget(k: KindInfo, raw: MilpaObject, namespace?: string, name?: string): void {
  if (!raw || typeof raw !== "object") throw new BadRequestError("request body must be an object");
  if (raw.kind !== k.kind) {
    throw new BadRequestError(`body has kind "${raw.kind}", the URL says ${k.kind}`);
  }
  if (namespace && raw.metadata?.namespace && raw.metadata.namespace !== namespace) {
    throw new BadRequestError(
      `body has namespace "${raw.metadata.namespace}", the URL says "${namespace}"`,
    );
  }
  if (namespace && raw.metadata) raw.metadata.namespace = namespace;
  if (name && raw.metadata?.name !== name) {
    throw new BadRequestError(`body has name "${raw.metadata?.name}", the URL says "${name}"`);
  }
}

/** Single-object routes report errors without the batch wrapper. */
function unwrap(e: unknown): never {
  throw e instanceof BatchItemError ? e.inner : e;
}

/**
 * The bytes of one watch event, made once for every watch that sends it: the store hands
 * each watcher the same event, so N watches of a change cost one JSON text, not N. Kept by
 * the event, which nothing holds once the watches queued it (an object can live on in an
 * actor's context, and its frames with it).
 */
const watchFrames = new WeakMap<StoreWatchEvent, Uint8Array>();

function watchFrame(e: StoreWatchEvent): Uint8Array {
  let frame = watchFrames.get(e);
  if (!frame) {
    frame = encodeFrame({ event: e.type, data: e.json?.() ?? JSON.stringify(e.object) });
    watchFrames.set(e, frame);
  }
  return frame;
}
