/** The Node kind: one cloud instance, booted for one pod (or kept on standby). */
import type { MilpaObject, ObjectMeta } from "./meta.ts";
import type { NetworkAddress, ResourceSpec } from "./pod.ts";

/** Node phases; nodes are single-use and only standby nodes wait in Available. */
export type NodePhase =
  | "Creating"
  | "Created"
  | "Available"
  | "Claimed"
  | "Cleaning"
  | "Terminating"
  | "Terminated";

/** Desired state of a node. */
export interface NodeSpec {
  instanceType: string;
  bootImage?: string;
  /** Set when termination was asked for. */
  terminate?: boolean;
  spot?: boolean;
  resources?: ResourceSpec;
  placement?: { availabilityZone?: string };
}

/** Observed state of a node, written only by its actor. */
export interface NodeStatus {
  phase: NodePhase;
  instanceID?: string;
  addresses?: NetworkAddress[];
  /** The pod (`namespace/name`) this node was booted for or runs. */
  boundPodName?: string;
  /** Why the node is terminating, when it was not a normal release. */
  message?: string;
  lastPhaseChange?: string;
}

/** A compute node. Cluster-scoped: metadata.namespace is absent. */
export interface Node extends MilpaObject {
  kind: "Node";
  metadata: ObjectMeta;
  spec: NodeSpec;
  status?: NodeStatus;
}

/**
 * The status of a node the pool just created, exactly as its actor publishes it on starting
 * (`nodeStatusOf`, member order included): the actor's first write then leaves the object as it
 * is, instead of rewriting it with a later `lastPhaseChange`.
 */
export function newNodeStatus(lastPhaseChange: string, boundPod?: string): NodeStatus {
  return {
    phase: "Creating",
    addresses: [],
    ...(boundPod ? { boundPodName: boundPod } : {}),
    lastPhaseChange,
  };
}
