/**
 * Error classes shared by every layer. One table (api/errors.ts) maps them to HTTP
 * status codes and one (cli/errors.ts) to exit codes; guards test classes, never messages.
 */

/** One invalid field: its path (`spec.units[0].command`), the bad value and why. */
export interface FieldError {
  field: string;
  message: string;
  value?: unknown;
}

/** Base class of Milpa's errors. */
export class MilpaError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A manifest or request that fails validation; lists every bad field. */
export class ValidationError extends MilpaError {
  constructor(message: string, readonly fields: FieldError[] = [], options?: ErrorOptions) {
    super(message, options);
  }
}

/** A request the server cannot understand (malformed JSON or YAML, unknown kind). */
export class BadRequestError extends MilpaError {}

/** The named object does not exist. */
export class NotFoundError extends MilpaError {}

/** An object of that kind and name already exists. */
export class AlreadyExistsError extends MilpaError {}

/** A write based on a stale resourceVersion, or a state that forbids the change. */
export class ConflictError extends MilpaError {}

/** A request without a valid token. */
export class UnauthorizedError extends MilpaError {}

/** A valid token that lacks the permission a request needs (a namespace, or writing). */
export class ForbiddenError extends MilpaError {}

/** A request body over the size the route accepts. */
export class PayloadTooLargeError extends MilpaError {}

/** Too many requests of one kind (failed logins, open watches); `retryAfterSeconds` says when to retry. */
export class TooManyRequestsError extends MilpaError {
  constructor(message: string, readonly retryAfterSeconds?: number, options?: ErrorOptions) {
    super(message, options);
  }
}

/** A cloud capacity or quota problem: the instance type cannot be had right now. */
export class CapacityError extends MilpaError {}

/** The cloud (or a node) did not answer in time, or refused for a transient reason. */
export class UnavailableError extends MilpaError {}
