/** The ReplicaSet and Deployment kinds: keep N copies of a pod template, roll out changes. */
import type { MilpaObject, ObjectMeta } from "./meta.ts";
import type { PodSpec } from "./pod.ts";
import type { LabelSelector } from "./selector_types.ts";

/**
 * Most replicas a ReplicaSet or Deployment may ask for; more is refused (422). An object stored
 * with more (before this limit) is run as if it asked for this many.
 */
export const MAX_REPLICAS = 10_000;

/** The pod a ReplicaSet or Deployment stamps out. */
export interface PodTemplate {
  metadata?: Partial<ObjectMeta>;
  spec: PodSpec;
}

/** Desired state of a ReplicaSet. */
export interface ReplicaSetSpec {
  /** @default 1 */
  replicas?: number;
  selector?: LabelSelector;
  template: PodTemplate;
  /** @default 0 */
  minReadySeconds?: number;
}

/** Observed state of a ReplicaSet. */
export interface ReplicaSetStatus {
  replicas: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
}

/** A ReplicaSet. */
export interface ReplicaSet extends MilpaObject {
  kind: "ReplicaSet";
  metadata: ObjectMeta;
  spec: ReplicaSetSpec;
  status?: ReplicaSetStatus;
}

/** An integer or a percentage such as "25%". */
export type IntOrPercent = number | string;

/** Desired state of a Deployment. Milpa manifests put maxSurge/maxUnavailable at the top of spec. */
export interface DeploymentSpec {
  /** @default 1 */
  replicas?: number;
  selector?: LabelSelector;
  template: PodTemplate;
  /** @default "25%" */
  maxSurge?: IntOrPercent;
  /** @default "25%" */
  maxUnavailable?: IntOrPercent;
  strategy?: {
    type?: "RollingUpdate" | "Recreate";
    rollingUpdate?: { maxSurge?: IntOrPercent; maxUnavailable?: IntOrPercent };
  };
  /** @default 0 */
  minReadySeconds?: number;
  /** @default 10 */
  revisionHistoryLimit?: number;
  /** @default 600 */
  progressDeadlineSeconds?: number;
  paused?: boolean;
}

/** A condition of a Deployment (Available, Progressing). */
export interface DeploymentCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason?: string;
  message?: string;
  lastUpdateTime?: string;
  lastTransitionTime?: string;
}

/** Observed state of a Deployment. */
export interface DeploymentStatus {
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  observedGeneration?: number;
  conditions?: DeploymentCondition[];
}

/** A Deployment. */
export interface Deployment extends MilpaObject {
  kind: "Deployment";
  metadata: ObjectMeta;
  spec: DeploymentSpec;
  status?: DeploymentStatus;
}
