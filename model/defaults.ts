/**
 * Defaults the server fills in on create and update, after validation (reference §2.2 NewPod).
 *
 * Deployments: Milpa manifests put maxSurge/maxUnavailable at the top of spec, Kubernetes ones
 * under strategy.rollingUpdate. Defaulting resolves both into one value per field, written to
 * both places (under strategy only for RollingUpdate), so either can be read. When both places
 * are given, the top-level field wins. Values keep the user's spelling (1 stays 1, "25%" stays "25%").
 */
import type { DeploymentSpec, IntOrPercent, PodTemplate, ReplicaSetSpec } from "./deployment.ts";
import { ValidationError } from "./errors.ts";
import { findKind } from "./kinds.ts";
import { DEFAULT_NAMESPACE, type MilpaObject } from "./meta.ts";
import { encodeSecretValue, type Secret } from "./secret.ts";
import type { PodSpec } from "./pod.ts";
import type { ServiceSpec } from "./service.ts";

/** maxSurge of a rolling update when neither place sets it. */
export const DEFAULT_MAX_SURGE: IntOrPercent = "25%";

/** maxUnavailable of a rolling update when neither place sets it. */
export const DEFAULT_MAX_UNAVAILABLE: IntOrPercent = "25%";

/**
 * A copy of `obj` with every default filled in; `obj` itself is not changed. Idempotent.
 * Expects an object that passed validateObject (a spec, and a template for workloads).
 */
export function applyDefaults<T extends MilpaObject>(obj: T): T {
  return fillDefaults(structuredClone(obj));
}

/**
 * Fills every default into `out` itself and returns it: for a caller that owns the object (the
 * copy validateObject made of a request's manifest), without applyDefaults' copy (~1 % of the
 * main thread in a burst of creates).
 */
export function fillDefaults<T extends MilpaObject>(out: T): T {
  if (findKind(out.kind)?.namespaced) out.metadata.namespace ??= DEFAULT_NAMESPACE;
  out.metadata.labels ??= {};
  switch (out.kind) {
    case "Pod":
      out.spec.phase ??= "Running";
      defaultPodSpec(out.spec);
      break;
    case "Service":
      defaultServiceSpec(out.spec);
      break;
    case "ReplicaSet":
      defaultReplicaSetSpec(out.spec);
      break;
    case "Deployment":
      defaultDeploymentSpec(out.spec);
      break;
    case "Secret": {
      // stringData is written into data (base64), as Kubernetes does; it is never stored.
      const secret = out as unknown as Secret;
      secret.type ??= "Opaque";
      secret.data = { ...secret.data };
      for (const [k, v] of Object.entries(secret.stringData ?? {})) {
        secret.data[k] = encodeSecretValue(v);
      }
      delete secret.stringData;
      break;
    }
  }
  return out;
}

/** Pod spec defaults, shared by pods and templates (templates get no phase). */
function defaultPodSpec(spec: Partial<PodSpec>): void {
  spec.restartPolicy ??= "Always";
  spec.spot ??= { policy: "Never" };
  spec.units ??= [];
}

function defaultServiceSpec(spec: Partial<ServiceSpec>): void {
  spec.type ??= "";
  for (const port of spec.ports ?? []) {
    port.protocol ??= "TCP";
    port.nodePort ??= port.port;
    port.portRangeSize ??= 1;
  }
}

function defaultTemplate(template: PodTemplate): void {
  template.metadata ??= {};
  template.metadata.labels ??= {};
  defaultPodSpec(template.spec);
}

function defaultReplicaSetSpec(spec: ReplicaSetSpec | DeploymentSpec): void {
  spec.replicas ??= 1;
  spec.minReadySeconds ??= 0;
  defaultTemplate(spec.template);
  spec.selector ??= { matchLabels: { ...spec.template.metadata?.labels } };
}

function defaultDeploymentSpec(spec: DeploymentSpec): void {
  defaultReplicaSetSpec(spec);
  spec.revisionHistoryLimit ??= 10;
  spec.progressDeadlineSeconds ??= 600;
  const strategy = spec.strategy ??= {};
  strategy.type ??= "RollingUpdate";
  spec.maxSurge ??= strategy.rollingUpdate?.maxSurge ?? DEFAULT_MAX_SURGE;
  spec.maxUnavailable ??= strategy.rollingUpdate?.maxUnavailable ?? DEFAULT_MAX_UNAVAILABLE;
  if (strategy.type === "RollingUpdate") {
    strategy.rollingUpdate = { maxSurge: spec.maxSurge, maxUnavailable: spec.maxUnavailable };
  }
}

/**
 * An int-or-percent as a count out of `total`, rounding percentages as Kubernetes does:
 * up for maxSurge (`roundUp` true), down for maxUnavailable. 25% of 10 is 3 up, 2 down.
 * @throws {ValidationError} when `v` is neither an integer nor an integer percentage.
 */
export function resolveIntOrPercent(v: IntOrPercent, total: number, roundUp: boolean): number {
  if (typeof v === "number") return v;
  const match = /^(\d+)%$/.exec(v);
  if (!match) throw new ValidationError(`invalid integer or percentage ${JSON.stringify(v)}`);
  const share = (Number(match[1]) * total) / 100;
  return roundUp ? Math.ceil(share) : Math.floor(share);
}
