/**
 * The controller API's wire types (docs/api.md): the bodies the API (`api/`) sends and
 * milpactl (`cli/`) reads, defined once here. Types only; no I/O.
 */
import type { FieldError } from "./errors.ts";
import type { MilpaObject } from "./meta.ts";

/**
 * A list answer, `{"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [...]}`
 * (`GET /api/v1/{plural}`); defined beside the object types.
 */
export type { ObjectList } from "./meta.ts";

/** What a Status says beyond its message. */
export interface StatusDetails {
  /** Kind of the object the error is about. */
  kind?: string;
  /** Name of the object the error is about. */
  name?: string;
  /** Position of the offending item in a batch request. */
  index?: number;
  /** With 429: seconds to wait (also the `Retry-After` header). */
  retryAfterSeconds?: number;
  /** With 422 (`Invalid`): every bad field. */
  causes?: FieldError[];
}

/**
 * A Kubernetes-style Status: the body of every error answer, with `code` the HTTP status,
 * and the data of a watch's last `ERROR` event (410 `Expired`).
 */
export interface Status {
  kind: "Status";
  /** `v1` from the controller; absent in a Status milpactl makes up for a non-Status answer. */
  apiVersion?: string;
  /** `Failure` from the controller. */
  status?: string;
  /** The HTTP status code. */
  code: number;
  /** `NotFound`, `Conflict`, `Invalid`, ... (docs/api.md "Errors"). */
  reason: string;
  message: string;
  details?: StatusDetails;
}

/** Operations of `POST /api/v1/batch`. */
export type BatchOperation = "create" | "update" | "apply" | "delete";

/** The body of `POST /api/v1/batch`: all items are written in one transaction, or none. */
export interface BatchRequest {
  operation: BatchOperation;
  items: unknown[];
  /** With delete: also delete dependents (the default), or release them. */
  cascade?: boolean;
}

/** What a batch did to one item. */
export type BatchAction = "created" | "updated" | "unchanged" | "deleted";

/** One line of a batch answer, in the order of the request's items. */
export interface BatchResultItem {
  kind: string;
  /** Absent for cluster-scoped kinds. */
  namespace?: string;
  name: string;
  action: BatchAction;
}

/** The answer to `POST /api/v1/batch`. */
export interface BatchResponse {
  items: BatchResultItem[];
}

/** What happened to an object. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

/**
 * One change of a watch (`?watch=true`). On the wire it is one Server-Sent Event: `event:` the
 * type, `data:` the object's JSON. A stream starts with one `ADDED` per existing object; its
 * last event may be `ERROR` with a Status instead (the client fell behind: list again).
 */
export interface WatchEvent<T extends MilpaObject = MilpaObject> {
  type: WatchEventType;
  object: T;
}
