/** Object metadata shared by every Milpa kind, in the shape Kubernetes users know. */

/** API version of every object Milpa serves. */
export const API_VERSION = "v1";

/** The namespace objects land in when a manifest names none. */
export const DEFAULT_NAMESPACE = "default";

/** A reference from an owned object (a Pod) to its owner (a ReplicaSet). */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Standard object metadata. Server-owned fields are filled on create. */
export interface ObjectMeta {
  name: string;
  /** Absent for cluster-scoped kinds (Node). @default "default" */
  namespace?: string;
  /** Set by the server on create; never changes. */
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** RFC 3339 time the object was created, set by the server. */
  creationTimestamp?: string;
  /** Set when the object is being or has been deleted. */
  deletionTimestamp?: string;
  /** Opaque version for optimistic concurrency; a stale value makes an update fail with 409. */
  resourceVersion?: string;
  ownerReferences?: OwnerReference[];
  /** Increments whenever spec changes (Deployment, ReplicaSet). */
  generation?: number;
}

/** Fields every object carries. */
export interface TypeMeta {
  kind: string;
  apiVersion: string;
}

/** Any stored object: type, metadata, and kind-specific spec/status. */
export interface MilpaObject extends TypeMeta {
  metadata: ObjectMeta;
  // deno-lint-ignore no-explicit-any
  spec?: any;
  // deno-lint-ignore no-explicit-any
  status?: any;
}

/** A list of objects of one kind, as `get` without a name returns it. */
export interface ObjectList<T extends MilpaObject = MilpaObject> extends TypeMeta {
  metadata: {
    resourceVersion?: string;
    /** With `?limit=`: pass as `?continue=` for the next page; absent on the last page. */
    continue?: string;
    /** With `?limit=`: how many objects come after this page. */
    remainingItemCount?: number;
  };
  items: T[];
}

/** `namespace/name`, or just `name` for cluster-scoped objects: the key actors and logs use. */
export function objectKey(meta: Pick<ObjectMeta, "name" | "namespace">): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

/** Splits an `objectKey` back into namespace and name. */
export function parseObjectKey(key: string): { namespace?: string; name: string } {
  const i = key.indexOf("/");
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
