/** The one table from error classes to HTTP status, and the Status body every error becomes. */
import {
  AlreadyExistsError,
  BadRequestError,
  CapacityError,
  ConflictError,
  ForbiddenError,
  MilpaError,
  NotFoundError,
  PayloadTooLargeError,
  TooManyRequestsError,
  UnauthorizedError,
  UnavailableError,
  ValidationError,
} from "../model/errors.ts";
import type { Status } from "../model/api_types.ts";
import { API_VERSION } from "../model/meta.ts";
import { isTeardown, log } from "../model/log.ts";

/**
 * A watch the client fell too far behind in: the server ended it, and the client must list
 * again and watch from there. Sent as the stream's last event, never as an answer.
 */
export class WatchExpiredError extends MilpaError {}

const TABLE: [new (...a: never[]) => Error, number, string][] = [
  [ValidationError, 422, "Invalid"],
  [BadRequestError, 400, "BadRequest"],
  [UnauthorizedError, 401, "Unauthorized"],
  [ForbiddenError, 403, "Forbidden"],
  [PayloadTooLargeError, 413, "RequestEntityTooLarge"],
  [TooManyRequestsError, 429, "TooManyRequests"],
  [NotFoundError, 404, "NotFound"],
  [AlreadyExistsError, 409, "AlreadyExists"],
  [ConflictError, 409, "Conflict"],
  [CapacityError, 503, "ServiceUnavailable"],
  [UnavailableError, 503, "ServiceUnavailable"],
  [WatchExpiredError, 410, "Expired"],
];

/** An error raised while handling item `index` of a batch. */
export class BatchItemError extends Error {
  constructor(
    readonly index: number,
    readonly kind: string,
    readonly objName: string,
    readonly inner: unknown,
  ) {
    super((inner as Error)?.message ?? String(inner));
    this.name = "BatchItemError";
  }
}

/** The HTTP status and Status body for any thrown value. */
export function toStatus(err: unknown): Status {
  let details: Status["details"] | undefined;
  if (err instanceof BatchItemError) {
    details = { index: err.index, kind: err.kind, name: err.objName };
    err = err.inner;
  }
  const row = TABLE.find(([cls]) => err instanceof cls);
  const [code, reason] = row ? [row[1], row[2]] : [500, "InternalError"];
  if (!row) log.at(isTeardown(err) ? "debug" : "error", "internal error", { error: err });
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ValidationError && err.fields.length > 0) {
    details = { ...details, causes: err.fields };
  }
  if (err instanceof TooManyRequestsError && err.retryAfterSeconds !== undefined) {
    details = { ...details, retryAfterSeconds: err.retryAfterSeconds };
  }
  return {
    kind: "Status",
    apiVersion: API_VERSION,
    status: "Failure",
    code,
    reason,
    message,
    ...(details ? { details } : {}),
  };
}
