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
    name: z.string().optional(),
    namespace: z.string().optional(),
    labels: labels.optional(),
    annotations: annotations.optional(),
  }).optional(),
  spec: podSpec,
});

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

/** A replica set spec. */
export const replicaSetSpec: z.ZodType<ManifestReplicaSetSpec> = z.strictObject({
  replicas: replicas.optional(),
  selector: labelSelectorSchema.optional(),
  template: podTemplate,
  minReadySeconds: nonNegativeInt.optional(),
}).check(selectorMatchesTemplate);

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

/** A deployment spec; maxSurge/maxUnavailable may sit at the top (Milpa) or under strategy. */
export const deploymentSpec: z.ZodType<ManifestDeploymentSpec> = z.strictObject({
  replicas: replicas.optional(),
  selector: labelSelectorSchema.optional(),
  template: podTemplate,
  maxSurge: intOrPercent.optional(),
  maxUnavailable: intOrPercent.optional(),
  strategy: z.strictObject({
    type: z.enum(["RollingUpdate", "Recreate"]).optional(),
    rollingUpdate: z.strictObject({
      maxSurge: intOrPercent.optional(),
      maxUnavailable: intOrPercent.optional(),
    }).optional(),
  }).optional(),
  minReadySeconds: nonNegativeInt.optional(),
  revisionHistoryLimit: nonNegativeInt.optional(),
  progressDeadlineSeconds: nonNegativeInt.optional(),
  paused: z.boolean().optional(),
}).check(selectorMatchesTemplate, rollout);
