/**
 * The controller API's wire types (docs/api.md): the bodies the API (`api/`) sends and
 * milpactl (`cli/`) reads, defined once here. Types only; no I/O.
 */
import type { FieldError } from "./errors.ts";
import type { MilpaObject, ObjectList } from "./meta.ts";

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

/**
 * What a list request sends as `Accept` to get a {@linkcode Table} instead of the objects, as
 * kubectl does (server-side printing). A controller that does not know it answers the list.
 */
export const TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json";

/** One column of a {@linkcode Table}. */
export interface TableColumnDefinition {
  /** The header, e.g. `NAME`, `PRICE/HR`. */
  name: string;
  /** Every cell is text, formatted as milpactl prints it. */
  type: "string";
  format: string;
  description: string;
  /** 0: in the default table; 1: only in the wide one (`-o wide`). */
  priority: number;
}

/**
 * The rows' conditions: `DeletionFinished` marks a pod whose deletion finished (stopped, its node
 * given back), which milpactl leaves out unless `-a`, as it does with the objects.
 */
export interface TableRowCondition {
  type: "DeletionFinished";
  status: "True";
}

/** An object's metadata alone (a Table row's `object`). */
export interface PartialObjectMetadata {
  kind: "PartialObjectMetadata";
  apiVersion: "meta.k8s.io/v1";
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string;
    deletionTimestamp?: string;
    labels?: Record<string, string>;
  };
}

/** One object's row. */
export interface TableRow {
  /** One per column, in columnDefinitions' order. */
  cells: string[];
  conditions?: TableRowCondition[];
  object: PartialObjectMetadata;
}

/**
 * A list as a table (`Accept: TABLE_ACCEPT`): kubectl's `meta.k8s.io/v1` Table, its cells filled
 * in as milpactl's `get` prints them (AGE at the controller's clock). `?wide=true` asks for
 * `-o wide`'s table: the columns of priority 1 too, and Milpa's whole text in the others (a
 * pod's STATUS and NODE). Paged as lists are (`limit`, `continue`).
 */
export interface Table {
  kind: "Table";
  apiVersion: "meta.k8s.io/v1";
  metadata: ObjectListMeta;
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

/** A list's metadata (paging). */
export type ObjectListMeta = ObjectList["metadata"];
