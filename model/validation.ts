/**
 * The single entry point for manifest validation: a parsed YAML/JSON document in, a typed
 * Milpa object out, or an error listing every bad field at once.
 *
 * Server-owned fields are accepted so that `milpactl get -o yaml` output can be applied again,
 * and then dropped: `status`, `metadata.uid`, `creationTimestamp`, `deletionTimestamp` and
 * `generation`. `metadata.resourceVersion` (optimistic concurrency on update) and
 * `ownerReferences` are kept. `apiVersion` "apps/v1" is accepted for workloads and stored as "v1".
 */
import { z } from "zod";
import { BadRequestError, type FieldError, ValidationError } from "./errors.ts";
import { findKind, KINDS } from "./kinds.ts";
import { API_VERSION, type MilpaObject, type ObjectMeta } from "./meta.ts";
import { objectMeta, SERVER_OWNED_METADATA } from "./validation/common.ts";
import { dns1123SubdomainProblem } from "./validation/formats.ts";
import { issuesToFieldErrors } from "./validation/issues.ts";
import { podSpec } from "./validation/pod.ts";
import type { PodSpec } from "./pod.ts";
import { MILPACTL_VOLUME_ANNOTATION, milpactlVolumeProblem } from "./pod_milpactl.ts";
import { serviceNameProblem, serviceSpec } from "./validation/service.ts";
import { secretManifest } from "./validation/secret.ts";
import { deploymentSpec, replicaSetSpec } from "./validation/workloads.ts";

function manifest(
  kind: string,
  apiVersions: [string, ...string[]],
  nameProblem: (name: string) => string | undefined,
  spec: z.ZodType,
) {
  return z.strictObject({
    apiVersion: z.enum(apiVersions).describe(
      `The version of the object's schema: ${apiVersions.map((v) => `"${v}"`).join(" or ")}; ` +
        `stored as "${API_VERSION}".`,
    ),
    kind: z.literal(kind).describe(`The kind of object: "${kind}".`),
    metadata: objectMeta(nameProblem).describe(
      "The object's name, namespace, labels and annotations; the server adds uid, " +
        "creationTimestamp, generation and resourceVersion.",
    ),
    spec,
    status: z.unknown().optional().describe(
      "What Milpa observes, written by Milpa only. Accepted in a manifest (so `milpactl get " +
        "-o yaml` output applies again) and ignored.",
    ),
  });
}

/** One schema per kind users may write; each describes itself and its fields (`explain`). */
const SCHEMAS: Record<string, z.ZodType> = {
  Pod: manifest("Pod", ["v1"], dns1123SubdomainProblem, podSpec).superRefine((pod, ctx) => {
    const { metadata, spec } = pod as { metadata: ObjectMeta; spec: PodSpec };
    const problem = milpactlVolumeProblem(metadata, spec);
    if (problem) {
      ctx.addIssue({
        code: "custom",
        path: ["metadata", "annotations", MILPACTL_VOLUME_ANNOTATION],
        message: problem,
        input: metadata.annotations?.[MILPACTL_VOLUME_ANNOTATION],
      });
    }
  }).describe(
    "A pod: units (containers) that run together on one node of their own, which Milpa " +
      "boots for the pod with the cheapest instance type that fits its resources, and " +
      "terminates when the pod ends.",
  ),
  Service: manifest("Service", ["v1"], serviceNameProblem, serviceSpec).describe(
    "A service: opens ports on the nodes of the running pods its selector matches, registers " +
      "them in DNS (<name>.<namespace>.<cluster>.local, and SRV records per port) and, with " +
      "type LoadBalancer, puts a load balancer in front of them.",
  ),
  ReplicaSet: manifest("ReplicaSet", ["v1", "apps/v1"], dns1123SubdomainProblem, replicaSetSpec)
    .describe(
      "A replica set: keeps spec.replicas pods made from its pod template running. " +
        "Deployments make and scale them; write a Deployment instead unless you roll out by hand.",
    ),
  Deployment: manifest("Deployment", ["v1", "apps/v1"], dns1123SubdomainProblem, deploymentSpec)
    .describe(
      "A deployment: keeps spec.replicas pods of its pod template running through replica " +
        "sets, and rolls a changed template out within maxSurge and maxUnavailable, keeping " +
        "old revisions to roll back to (milpactl rollout).",
    ),
  Secret: secretManifest,
};

/**
 * The schema of a kind users may write (Pod, Service, ReplicaSet, Deployment, Secret), for
 * `milpactl explain`; undefined for the others.
 */
export function manifestSchema(kind: string): z.ZodType | undefined {
  return SCHEMAS[kind];
}

/**
 * Validates one manifest document and returns it as a typed object (no defaults applied).
 * @throws {BadRequestError} when it is not a map, has no kind, or a kind users cannot write.
 * @throws {ValidationError} listing every bad field, e.g.
 *   `Pod "web" is invalid: spec.resources.memory: invalid quantity "lots"; spec.units[1]: ...`.
 */
export function validateObject(raw: unknown): MilpaObject {
  const kind = writableKind(raw);
  const result = SCHEMAS[kind].safeParse(raw, { reportInput: true });
  if (!result.success) {
    const fields = issuesToFieldErrors(result.error.issues);
    throw new ValidationError(`${describe(kind, raw)} is invalid: ${joinFields(fields)}`, fields);
  }
  return withoutServerFields(result.data as MilpaObject);
}

/** The document's kind, if users may write it. */
function writableKind(raw: unknown): string {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    const got = raw === null ? "null" : Array.isArray(raw) ? "a list" : typeof raw;
    throw new BadRequestError(
      `a manifest must be a map with kind, apiVersion, metadata and spec; got ${got}`,
    );
  }
  const known = KINDS.map((k) => k.kind).join(", ");
  const kind = (raw as Record<string, unknown>).kind;
  if (typeof kind !== "string" || kind === "") {
    throw new BadRequestError(`the manifest has no "kind"; known kinds: ${known}`);
  }
  const info = KINDS.find((k) => k.kind === kind);
  if (!info) {
    const near = findKind(kind);
    const hint = near ? `did you mean "${near.kind}"? ` : "";
    throw new BadRequestError(`unknown kind "${kind}"; ${hint}known kinds: ${known}`);
  }
  if (!info.writable || !(kind in SCHEMAS)) {
    throw new BadRequestError(
      `${kind} objects are managed by Milpa and cannot be created or changed`,
    );
  }
  return kind;
}

function describe(kind: string, raw: unknown): string {
  const name = (raw as { metadata?: { name?: unknown } }).metadata?.name;
  return typeof name === "string" && name !== "" ? `${kind} "${name}"` : kind;
}

function joinFields(fields: FieldError[]): string {
  return fields.map((f) => `${f.field}: ${f.message}`).join("; ");
}

function withoutServerFields(obj: MilpaObject): MilpaObject {
  const { status: _status, ...rest } = obj;
  const metadata: ObjectMeta = { ...rest.metadata };
  for (const field of SERVER_OWNED_METADATA) delete metadata[field];
  return { ...rest, apiVersion: API_VERSION, metadata };
}
