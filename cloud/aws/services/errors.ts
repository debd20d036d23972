/**
 * The AWS error codes of security groups, Route 53 and classic ELB, classified into Milpa's
 * error classes; throttling (the codes of the shared `cloud/aws/errors.ts`) is retried with
 * backoff before anything is classified. Code here tests the classes, never the codes.
 */
import {
  AlreadyExistsError,
  CapacityError,
  ConflictError,
  MilpaError,
  NotFoundError,
  UnavailableError,
  ValidationError,
} from "../../../model/errors.ts";
import { awsCode, isThrottling } from "../errors.ts";

const NOT_FOUND = new Set([
  "InvalidGroup.NotFound",
  "InvalidPermission.NotFound",
  "InvalidInstanceID.NotFound",
  "AccessPointNotFound",
  "LoadBalancerNotFound",
  "InvalidInstance",
  "NoSuchHostedZone",
  "ListenerNotFound",
]);

const ALREADY_EXISTS = new Set([
  "InvalidGroup.Duplicate",
  "InvalidPermission.Duplicate",
  "DuplicateAccessPointName",
  "DuplicateLoadBalancerName",
  "DuplicateListener",
  "DuplicateTagKeys",
  "HostedZoneAlreadyExists",
]);

const CONFLICT = new Set([
  "DependencyViolation",
  "InvalidGroup.InUse",
  "InvalidChangeBatch",
  "ConflictingDomainExists",
  "ConcurrentModification",
]);

const CAPACITY = new Set([
  "RulesPerSecurityGroupLimitExceeded",
  "SecurityGroupLimitExceeded",
  "SecurityGroupsPerInstanceLimitExceeded",
  "SecurityGroupsPerInterfaceLimitExceeded",
  "TooManyLoadBalancers",
  "TooManyAccessPoints",
  "TooManyTags",
  "TooManyHostedZones",
  "LimitExceeded",
  "ResourceLimitExceeded",
]);

const INVALID = new Set([
  "InvalidParameterValue",
  "InvalidParameter",
  "InvalidParameterCombination",
  "MissingParameter",
  "ValidationError",
  "InvalidInput",
  "InvalidConfigurationRequest",
  "InvalidSubnet",
  "InvalidSecurityGroup",
  "InvalidScheme",
  "InvalidVPCId",
  "InvalidDomainName",
  "InvalidGroupId.Malformed",
  "InvalidInstanceID.Malformed",
  "InvalidPermission.Malformed",
  "InvalidSubnetID.NotFound",
  "InvalidVpcID.NotFound",
]);

/** Transient refusals, besides every server-side (5xx) fault. */
const UNAVAILABLE = new Set([
  "IncorrectInstanceState",
  "IncorrectState",
  "ServiceUnavailable",
  "InternalError",
  "InternalFailure",
  "Unavailable",
  "PriorRequestNotComplete",
]);

/** Credentials or permissions: the controller's setup is wrong, not the request. */
const FORBIDDEN = new Set([
  "UnauthorizedOperation",
  "AuthFailure",
  "AccessDenied",
  "AccessDeniedException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
]);

/**
 * An SDK error as a Milpa error whose message says what was being done:
 * `Cannot delete security group sg-1: resource has a dependent object (DependencyViolation)`.
 * Milpa errors pass through; errors without an AWS code (network, timeouts) are unavailable.
 */
export function classify(e: unknown, what: string): Error {
  if (e instanceof MilpaError) return e;
  const code = fromAws(e) ? awsCode(e) : undefined;
  const text = String((e as Error)?.message ?? e);
  const message = `Cannot ${what}: ${text}${code && !text.includes(code) ? ` (${code})` : ""}`;
  const options = { cause: e };
  if (!code) return new UnavailableError(message, options);
  if (NOT_FOUND.has(code)) return new NotFoundError(message, options);
  if (ALREADY_EXISTS.has(code)) return new AlreadyExistsError(message, options);
  if (CONFLICT.has(code)) return new ConflictError(message, options);
  if (CAPACITY.has(code)) return new CapacityError(message, options);
  if (INVALID.has(code)) return new ValidationError(message, [], options);
  if (FORBIDDEN.has(code)) return new MilpaError(message, options);
  if (UNAVAILABLE.has(code) || isThrottling(e) || serverFault(e)) {
    return new UnavailableError(message, options);
  }
  return new MilpaError(message, options);
}

/** Whether `e` is an answer from AWS (an SDK service exception), not a network failure. */
function fromAws(e: unknown): boolean {
  const err = e as { $fault?: string; $metadata?: unknown; Code?: string };
  return err?.$fault !== undefined || err?.$metadata !== undefined || err?.Code !== undefined;
}

function serverFault(e: unknown): boolean {
  const err = e as { $fault?: string; $metadata?: { httpStatusCode?: number } };
  return err?.$fault === "server" || (err?.$metadata?.httpStatusCode ?? 0) >= 500;
}

/** How calls are retried. */
export interface RetryOptions {
  /** Waits; injected so tests need not. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /** Tries in all before a throttled call fails. @default 6 */
  attempts?: number;
  /** First backoff, doubled per try up to 10 s, with jitter. @default 250 */
  baseMs?: number;
}

/**
 * Runs one AWS call: retried with backoff while AWS throttles it (or while `retryIf` holds for
 * the classified error, e.g. a group not visible yet), then classified on failure.
 */
export type Caller = <T>(
  what: string,
  fn: () => Promise<T>,
  retryIf?: (e: Error) => boolean,
) => Promise<T>;

/** The real sleep. */
export const realSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A {@linkcode Caller} with these retry options. */
export function caller(options: RetryOptions = {}): Caller {
  const sleep = options.sleep ?? realSleep;
  const attempts = options.attempts ?? 6;
  const base = options.baseMs ?? 250;
  return async (what, fn, retryIf) => {
    for (let attempt = 1;; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const err = classify(e, what);
        const again = isThrottling(e) || (retryIf?.(err) ?? false);
        if (!again || attempt >= attempts) throw err;
        await sleep(Math.min(base * 2 ** (attempt - 1), 10_000) * (0.5 + Math.random() / 2));
      }
    }
  };
}
