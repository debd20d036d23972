/** The ReplicaSet and Deployment spec schemas: a pod template, a selector, rollout settings. */
import { z } from "zod";
import {
  type DeploymentSpec,
  type IntOrPercent,
  MAX_REPLICAS,
  type PodTemplate,
  type ReplicaSetSpec,
} from "../deployment.ts";
import { isEmptySelector, labelSelectorSchema, matchesSelector } from "../selector.ts";
import type { LabelSelector } from "../selector_types.ts";
import { annotations, intOrPercent, labels, nonNegativeInt } from "./common.ts";
import { type PathSegment, rule } from "./issues.ts";
import { type ManifestPodSpec, podSpec } from "./pod.ts";

/** A pod template as a manifest writes it: its spec may leave out `units`. */
export type ManifestPodTemplate = Omit<PodTemplate, "spec"> & { spec: ManifestPodSpec };

/** A ReplicaSetSpec as a manifest writes it. */
export type ManifestReplicaSetSpec = Omit<ReplicaSetSpec, "template"> & {
  template: ManifestPodTemplate;
};

/** A DeploymentSpec as a manifest writes it. */
export type ManifestDeploymentSpec = Omit<DeploymentSpec, "template"> & {
  template: ManifestPodTemplate;
};

const podTemplate: z.ZodType<ManifestPodTemplate> = z.strictObject({
  metadata: z.strictObject({
    name: z.string().optional().describe("Ignored: pods are named <replica set>-<suffix>."),
    namespace: z.string().optional().describe("Ignored: pods live in the owner's namespace."),
    labels: labels.optional().describe(
      "The pods' labels; the selector must match them (and defaults to them).",
    ),
    annotations: annotations.optional().describe("The pods' annotations."),
  }).optional().describe("Labels and annotations every pod gets."),
  spec: podSpec,
}).describe(
  "The pod every replica is made from. A changed template is a new revision, rolled out " +
    "by a Deployment.",
);

interface SelectsTemplate {
  selector?: LabelSelector;
  template: { metadata?: { labels?: Record<string, string> } };
}

/** A given selector must be non-empty and match the template; an absent one needs labels. */
const selectorMatchesTemplate = rule<SelectsTemplate>(
  ["selector", "template.metadata.labels"],
  (spec, report) => {
    const templateLabels = spec.template.metadata?.labels ?? {};
    const labelsPath = ["template", "metadata", "labels"];
    if (spec.selector === undefined) {
      if (Object.keys(templateLabels).length === 0) {
        report(labelsPath, "required when spec.selector is absent: the selector defaults to them");
      }
    } else if (isEmptySelector(spec.selector)) {
      report(["selector"], "must not be empty");
    } else if (!matchesSelector(spec.selector, templateLabels)) {
      report(labelsPath, "do not match spec.selector", templateLabels);
    }
  },
);

/** `replicas` of a ReplicaSet or Deployment, at most MAX_REPLICAS. */
const replicas = nonNegativeInt.max(MAX_REPLICAS, `must be at most ${MAX_REPLICAS}`);

// Descriptions shared by ReplicaSet and Deployment fields (`milpactl explain`).
const REPLICAS = `How many pods to keep running, 0-${MAX_REPLICAS}; 1 when left out.`;
const SELECTOR = "The pods that count as replicas: a map of labels, or matchLabels and " +
  "matchExpressions. It must match template.metadata.labels; left out, it is those labels.";
const MIN_READY = "Seconds a pod must be ready before it counts as available; 0 when left out.";

/** A replica set spec. */
export const replicaSetSpec: z.ZodType<ManifestReplicaSetSpec> = z.strictObject({
  replicas: replicas.optional().describe(REPLICAS),
  selector: labelSelectorSchema.optional().describe(SELECTOR).meta({ type: "object" }),
  template: podTemplate,
  minReadySeconds: nonNegativeInt.optional().describe(MIN_READY),
}).check(selectorMatchesTemplate).describe(
  "The replica set's desired state: how many pods of which template.",
);

/** An int-or-percent as a number of units or percent; NaN when malformed (reported elsewhere). */
function amount(v: IntOrPercent): { n: number; percent: boolean } {
  if (typeof v === "number") return { n: v, percent: false };
  return { n: /^\d+%$/.test(v) ? parseInt(v, 10) : NaN, percent: true };
}

/** Where a rollout bound is set: the Milpa top-level field wins over strategy.rollingUpdate. */
function rolloutBound(
  spec: Pick<DeploymentSpec, "maxSurge" | "maxUnavailable" | "strategy">,
  field: "maxSurge" | "maxUnavailable",
): { value: IntOrPercent; path: PathSegment[] } | undefined {
  if (spec[field] !== undefined) return { value: spec[field], path: [field] };
  const nested = spec.strategy?.rollingUpdate?.[field];
  return nested === undefined
    ? undefined
    : { value: nested, path: ["strategy", "rollingUpdate", field] };
}

const rollout = rule<ManifestDeploymentSpec>(
  ["maxSurge", "maxUnavailable", "strategy"],
  (spec, report) => {
    if (spec.strategy?.type === "Recreate" && spec.strategy.rollingUpdate) {
      report(["strategy", "rollingUpdate"], 'not allowed when strategy.type is "Recreate"');
    }
    const surge = rolloutBound(spec, "maxSurge");
    const unavailable = rolloutBound(spec, "maxUnavailable");
    if (!unavailable) return;
    const u = amount(unavailable.value);
    if (u.percent && u.n > 100) {
      report(unavailable.path, "must not be more than 100%", unavailable.value);
    } else if (surge && amount(surge.value).n === 0 && u.n === 0) {
      report(unavailable.path, "must not be 0 when maxSurge is 0", unavailable.value);
    }
  },
);

const MAX_SURGE = "During a rollout, how many pods (or what percentage of replicas, rounded " +
  'up) may run above replicas; "25%" when left out.';
const MAX_UNAVAILABLE = "During a rollout, how many pods (or what percentage of replicas, " +
  'rounded down) may be unavailable; "25%" when left out. Not 0 when maxSurge is 0.';

/** A deployment spec; maxSurge/maxUnavailable may sit at the top (Milpa) or under strategy. */
export const deploymentSpec: z.ZodType<ManifestDeploymentSpec> = z.strictObject({
  replicas: replicas.optional().describe(REPLICAS),
  selector: labelSelectorSchema.optional().describe(SELECTOR).meta({ type: "object" }),
  template: podTemplate,
  maxSurge: intOrPercent.optional().describe(
    `${MAX_SURGE} Milpa's place for it; wins over strategy.rollingUpdate.maxSurge.`,
  ),
  maxUnavailable: intOrPercent.optional().describe(
    `${MAX_UNAVAILABLE} Milpa's place for it; wins over strategy.rollingUpdate.maxUnavailable.`,
  ),
  strategy: z.strictObject({
    type: z.enum(["RollingUpdate", "Recreate"]).optional().describe(
      '"RollingUpdate" (the default): replace pods a few at a time; "Recreate": stop every ' +
        "old pod before starting new ones.",
    ),
    rollingUpdate: z.strictObject({
      maxSurge: intOrPercent.optional().describe(MAX_SURGE),
      maxUnavailable: intOrPercent.optional().describe(MAX_UNAVAILABLE),
    }).optional().describe("Kubernetes' place for the rollout bounds (not with Recreate)."),
  }).optional().describe("How a new template replaces the old pods."),
  minReadySeconds: nonNegativeInt.optional().describe(MIN_READY),
  revisionHistoryLimit: nonNegativeInt.optional().describe(
    "How many old replica sets to keep to roll back to; 10 when left out.",
  ),
  progressDeadlineSeconds: nonNegativeInt.optional().describe(
    "Seconds a rollout may go without progress before it is reported failed (milpactl " +
      "rollout status exits 1); 600 when left out.",
  ),
  paused: z.boolean().optional().describe(
    "While true, template changes are not rolled out (milpactl rollout pause / resume).",
  ),
}).check(selectorMatchesTemplate, rollout).describe(
  "The deployment's desired state: how many pods of which template, and how a new " +
    "template is rolled out.",
);
