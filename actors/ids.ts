/** System ids of actors: stable names the supervisor routes events by. */

/** The node pool's system id. */
export const POOL_ID = "nodepool";

/** System id of a pod actor. */
export function podId(namespace: string, name: string): string {
  return `pod/${namespace}/${name}`;
}

/** System id of a node actor. */
export function nodeId(name: string): string {
  return `node/${name}`;
}

/** System id of a ReplicaSet actor. */
export function replicaSetId(namespace: string, name: string): string {
  return `replicaset/${namespace}/${name}`;
}

/** System id of a Deployment actor. */
export function deploymentId(namespace: string, name: string): string {
  return `deployment/${namespace}/${name}`;
}

/** System id of a Service actor. */
export function serviceId(namespace: string, name: string): string {
  return `service/${namespace}/${name}`;
}
