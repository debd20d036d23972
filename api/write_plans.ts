/**
 * What create, update and delete mean for each kind, as store writes. Everything here is
 * decided before anything is written, so a batch either fully applies or not at all.
 */
import { withInstanceType } from "../cloud/instance_selector.ts";
import { validateLoadBalancerAnnotations } from "../cloud/lb_annotations.ts";
import type { Secret } from "../model/secret.ts";
import type { Service } from "../model/service.ts";
import type { InstanceType } from "../cloud/catalog.ts";
import type { BatchAction } from "../model/api_types.ts";
import type { Clock } from "../model/clock.ts";
import { isoTime } from "../model/clock.ts";
import type { ServerConfig } from "../model/config.ts";
import { fillDefaults } from "../model/defaults.ts";
import { BadRequestError, ValidationError } from "../model/errors.ts";
import type { FieldError } from "../model/errors.ts";
import { findKind } from "../model/kinds.ts";
import type { MilpaObject } from "../model/meta.ts";
import type { Node } from "../model/node.ts";
import type { Deployment, ReplicaSet } from "../model/deployment.ts";
import type { Pod, PodSpec } from "../model/pod.ts";
import { requestTermination, withSelectedMark } from "../model/workload.ts";
import { isTerminalPodPhase, newPodStatus } from "../model/pod.ts";
import { validateObject } from "../model/validation.ts";
import type { BatchOp, ObjectStore } from "../store/object_store.ts";

/** What planning writes needs. */
export interface PlanDeps {
  store: ObjectStore;
  clock: Clock;
  config: ServerConfig;
  catalog: InstanceType[];
}

/** One planned write and what it means for the user. */
export interface Plan {
  op?: BatchOp;
  /** Dependents released with the delete (`cascade=false`): written in the same transaction. */
  orphans?: BatchOp[];
  action: BatchAction;
  object: MilpaObject;
}

/** One write of a batch's transaction, and the item it is for. */
export interface Write {
  op: BatchOp;
  index: number;
  /** A dependent released by the item's delete, not the item itself. */
  orphan?: boolean;
}

/** Pod spec fields that cannot change once the pod exists (its node is already chosen). */
const IMMUTABLE_POD_FIELDS = [
  "instanceType",
  "resources",
  "spot",
  "placement",
  "restartPolicy",
  "volumes",
] as const;

function strip(obj: MilpaObject): MilpaObject {
  const {
    uid: _u,
    resourceVersion: _r,
    creationTimestamp: _c,
    deletionTimestamp: _d,
    generation: _g,
    ...metadata
  } = obj.metadata;
  const { status: _s, ...rest } = obj;
  return { ...rest, metadata };
}

/** Validates, defaults and completes an object as it will be created. */
export function prepareNew(
  raw: unknown,
  deps: PlanDeps,
  verb: "create" | "update" = "create",
): MilpaObject {
  // validateObject's result is a copy of the request's manifest: defaulted in place.
  const obj = strip(fillDefaults(validateObject(raw)));
  if (obj.kind === "Pod") return preparePod(obj as Pod, deps, verb);
  if (obj.kind === "ReplicaSet" || obj.kind === "Deployment") {
    checkTemplate(obj as ReplicaSet | Deployment, deps, verb);
  }
  if (obj.kind === "Service" && (obj as Service).spec.type === "LoadBalancer") {
    const fields = validateLoadBalancerAnnotations(obj.metadata.annotations);
    if (fields.length) {
      throw new ValidationError(
        `Service "${obj.metadata.name}" is invalid: ${
          fields.map((f) => `${f.field}: ${f.message}`).join("; ")
        }`,
        fields,
      );
    }
  }
  return obj;
}

function selectorOptions(deps: PlanDeps) {
  return {
    catalog: deps.catalog,
    defaultInstanceType: deps.config.nodes.defaultInstanceType,
    instanceFamilies: deps.config.nodes.instanceFamilies,
  };
}

/** Runs the instance selector; its errors name the object and the field path `prefix`. */
function chooseInstanceType(
  spec: PodSpec,
  deps: PlanDeps,
  what: string,
  prefix: string,
): PodSpec {
  try {
    return withInstanceType(spec, selectorOptions(deps));
  } catch (e) {
    if (e instanceof ValidationError) {
      throw new ValidationError(
        `${what}: ${e.message}`,
        e.fields.map((f) => ({ ...f, field: f.field.replace(/^spec\./, `${prefix}.`) })),
        { cause: e },
      );
    }
    throw e;
  }
}

function preparePod(pod: Pod, deps: PlanDeps, verb: "create" | "update"): Pod {
  if (pod.spec.phase && pod.spec.phase !== "Running") {
    throw new ValidationError(
      `Pod "${pod.metadata.name}" is invalid: spec.phase: must be Running on create`,
      [{ field: "spec.phase", message: "must be Running on create", value: pod.spec.phase }],
    );
  }
  const spec = chooseInstanceType(
    pod.spec,
    deps,
    `Cannot ${verb} pod "${pod.metadata.name}"`,
    "spec",
  );
  const selected = !pod.spec.instanceType;
  return {
    ...pod,
    metadata: selected ? withSelectedMark(pod.metadata) : pod.metadata,
    spec: { ...spec, phase: "Running" },
    status: newPodStatus(isoTime(deps.clock.now())),
  };
}

/** A workload's template must make pods that fit an instance type; checked now, not at scale-up. */
function checkTemplate(obj: ReplicaSet | Deployment, deps: PlanDeps, verb: string): void {
  chooseInstanceType(
    obj.spec.template.spec,
    deps,
    `Cannot ${verb} ${obj.kind.toLowerCase()} "${obj.metadata.name}"`,
    "spec.template.spec",
  );
}

/** Plans a create: AlreadyExists unless the existing object is a finished pod, which is replaced. */
export function planCreate(next: MilpaObject, current: MilpaObject | null): Plan {
  if (current) {
    if (current.kind === "Pod" && isTerminalPodPhase((current as Pod).status?.phase)) {
      return {
        op: { op: "replace", object: next, previous: current },
        action: "created",
        object: next,
      };
    }
    return { op: { op: "create", object: next }, action: "created", object: next }; // commit reports AlreadyExists
  }
  return { op: { op: "create", object: next }, action: "created", object: next };
}

/** Plans an update: labels, annotations and spec are replaced; status and identity are kept. */
export function planUpdate(next: MilpaObject, current: MilpaObject, rv?: string): Plan {
  if (current.kind === "Node") throw new BadRequestError("nodes cannot be updated");
  if (current.kind === "Pod") checkPodUpdate(next as Pod, current as Pod);
  const merged: MilpaObject = {
    ...current,
    metadata: {
      ...current.metadata,
      labels: next.metadata.labels ?? {},
      annotations: next.metadata.annotations,
      resourceVersion: rv ?? current.metadata.resourceVersion,
    },
    spec: next.kind === "Pod"
      ? {
        ...next.spec,
        phase: (current as Pod).spec.phase,
        instanceType: (current as Pod).spec.instanceType,
        resources: current.spec.resources,
      }
      : next.spec,
  };
  if (current.kind === "Secret") {
    // A Secret has no spec: its data and type are what an update replaces.
    delete merged.spec;
    const n = next as Secret;
    Object.assign(merged, { data: n.data ?? {}, type: n.type });
  }
  if (merged.metadata.annotations === undefined) delete merged.metadata.annotations;
  const content = (o: MilpaObject) =>
    JSON.stringify([
      o.metadata.labels,
      o.metadata.annotations,
      o.spec,
      (o as Secret).data,
      (o as Secret).type,
    ]);
  const same = content(merged) === content(current);
  if (same && !rv) return { action: "unchanged", object: current };
  return {
    op: { op: "update", object: merged },
    action: same ? "unchanged" : "updated",
    object: merged,
  };
}

function checkPodUpdate(next: Pod, current: Pod): void {
  if (isTerminalPodPhase(current.status?.phase) || current.spec.phase === "Terminated") {
    throw new ValidationError(`Pod "${current.metadata.name}" has ended and cannot be updated`, [
      { field: "spec", message: "the pod has ended" },
    ]);
  }
  const fields: FieldError[] = [];
  for (const f of IMMUTABLE_POD_FIELDS) {
    if (f === "instanceType" && next.spec.instanceType === undefined) continue;
    if (f === "resources") continue; // compared below, ignoring the selector's sustainedCPU
    const a = JSON.stringify(next.spec[f] ?? null);
    const b = JSON.stringify(current.spec[f] ?? null);
    if (a !== b) {
      fields.push({
        field: `spec.${f}`,
        message: "cannot change once the pod exists",
        value: next.spec[f],
      });
    }
  }
  const { sustainedCPU: _a, ...nr } = next.spec.resources ?? {};
  const { sustainedCPU: _b, ...cr } = current.spec.resources ?? {};
  if (JSON.stringify(nr) !== JSON.stringify(cr)) {
    fields.push({
      field: "spec.resources",
      message: "cannot change once the pod exists",
      value: next.spec.resources,
    });
  }
  if (fields.length) {
    throw new ValidationError(
      `Pod "${current.metadata.name}" is invalid: ${
        fields.map((f) => `${f.field}: ${f.message}`).join("; ")
      }`,
      fields,
    );
  }
}

/**
 * Plans a delete: live pods are asked to terminate, nodes to shut down, the rest removed,
 * with `orphans` (planOrphaning) released in the same transaction.
 */
export function planDelete(current: MilpaObject, clock: Clock, orphans: BatchOp[] = []): Plan {
  if (current.kind === "Pod") {
    const pod = current as Pod;
    if (isTerminalPodPhase(pod.status?.phase)) {
      return { op: { op: "delete", object: pod }, action: "deleted", object: pod };
    }
    if (pod.spec.phase === "Terminated") return { action: "deleted", object: pod };
    const next = requestTermination(pod, clock.now());
    return { op: { op: "update", object: next }, action: "deleted", object: next };
  }
  if (current.kind === "Node") {
    const node = current as Node;
    if (node.spec.terminate) return { action: "deleted", object: node };
    const next: Node = { ...node, spec: { ...node.spec, terminate: true } };
    return { op: { op: "update", object: next }, action: "deleted", object: next };
  }
  return {
    op: { op: "delete", object: current },
    ...(orphans.length ? { orphans } : {}),
    action: "deleted",
    object: current,
  };
}

/**
 * The writes of planned items, for one transaction: each item's own, then the dependents its
 * delete releases. A dependent the batch itself deletes is not also released (one write per
 * object, and it is going away).
 */
export function batchWrites(plans: Plan[]): Write[] {
  const key = (op: BatchOp) =>
    `${op.object.kind}/${op.object.metadata.namespace ?? ""}/${op.object.metadata.name}`;
  const own: Write[] = plans.flatMap((p, index) => p.op ? [{ op: p.op, index }] : []);
  const written = new Set(own.map((w) => key(w.op)));
  const orphans: Write[] = plans.flatMap((p, index) =>
    (p.orphans ?? []).filter((op) => !written.has(key(op))).map((op) => ({
      op,
      index,
      orphan: true,
    }))
  );
  return [...own, ...orphans];
}

/** The kind and identity a raw manifest names, for looking up the current object. */
export function identify(raw: unknown): { kind: string; namespace?: string; name: string } {
  const o = raw as MilpaObject;
  const k = findKind(String(o?.kind ?? ""));
  if (!k) throw new BadRequestError(`unknown kind "${o?.kind}"`);
  return {
    kind: k.kind,
    namespace: k.namespaced ? o.metadata?.namespace ?? "default" : undefined,
    name: String(o.metadata?.name ?? ""),
  };
}
