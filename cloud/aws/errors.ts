/**
 * AWS error codes, classified in one place into Milpa's error classes (reference §5.6):
 * capacity and limits → CapacityError (that type is unavailable for a while), throttling →
 * retried with backoff, not-found on terminate → done.
 */
import { CapacityError, UnavailableError } from "../../model/errors.ts";

/** The AWS error code of a thrown SDK error, if it has one. */
export function awsCode(e: unknown): string | undefined {
  const err = e as { name?: string; Code?: string; code?: string };
  return err?.Code ?? err?.code ?? err?.name;
}

const CAPACITY = new Set([
  "InsufficientInstanceCapacity",
  "InsufficientCapacity",
  "InsufficientFreeAddressesInSubnet",
  "InsufficientAddressCapacity",
  "InstanceLimitExceeded",
  "MaxSpotInstanceCountExceeded",
  "SpotMaxPriceTooLow",
  "Unsupported",
]);

const THROTTLING = new Set([
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "PriorRequestNotComplete",
  "TooManyRequestsException",
]);

const NOT_FOUND = new Set(["InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"]);

/** Whether AWS asked us to slow down. */
export function isThrottling(e: unknown): boolean {
  return THROTTLING.has(awsCode(e) ?? "");
}

/** Whether the instance does not exist (any more). */
export function isInstanceNotFound(e: unknown): boolean {
  return NOT_FOUND.has(awsCode(e) ?? "");
}

/** Translates an SDK error into a Milpa error class (capacity, or unavailable otherwise). */
export function translate(e: unknown, what: string): Error {
  const code = awsCode(e);
  const message = `${what}: ${code ? `${code}: ` : ""}${(e as Error)?.message ?? e}`;
  if (
    code && (CAPACITY.has(code) || /unsupported instance type/i.test(String((e as Error)?.message)))
  ) {
    return new CapacityError(message, { cause: e });
  }
  return new UnavailableError(message, { cause: e });
}

/** Runs `fn`, retrying throttled calls with exponential backoff (0.5 s doubling, 8 tries). */
export async function withRetry<T>(fn: () => Promise<T>, tries = 8): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isThrottling(e) || attempt >= tries) throw e;
      const delay = Math.min(500 * 2 ** (attempt - 1), 20_000) * (0.5 + Math.random() / 2);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
