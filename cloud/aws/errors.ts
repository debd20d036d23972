/**
 * The one classifier of AWS errors (EC2, Route 53, classic ELB) into Milpa's error classes, and
 * the one way an AWS call is made: retried with backoff while AWS throttles it, then classified.
 * Code elsewhere tests the classes, never AWS codes or message text.
 *
 * - `CapacityError`: this instance type (or spot market) cannot be had now, or a quota is used
 *   up. A launch that fails so marks the type unavailable for a while.
 * - `ValidationError`: the request is wrong (a bad AMI, instance type, parameter): retrying the
 *   same request fails the same way until the config changes.
 * - `NotFoundError`, `AlreadyExistsError`, `ConflictError`: what a level-based caller expects
 *   (gone, made by an earlier try, in use).
 * - `UnavailableError`: throttling, server faults, network failures, transient refusals.
 * - `MilpaError`: the rest, and refused permissions or credentials.
 */
import {
  AlreadyExistsError,
  CapacityError,
  ConflictError,
  MilpaError,
  NotFoundError,
  UnavailableError,
  ValidationError,
} from "../../model/errors.ts";

const NOT_FOUND = new Set([
  "InvalidInstanceID.NotFound",
  // An id that cannot name an instance names none.
  "InvalidInstanceID.Malformed",
  "InvalidGroup.NotFound",
  "InvalidPermission.NotFound",
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
  "IdempotentParameterMismatch",
]);

const CAPACITY = new Set([
  // Instances: this type, in this zone or market, cannot be had now.
  "InsufficientInstanceCapacity",
  "Server.InsufficientInstanceCapacity",
  "InsufficientCapacity",
  "InsufficientHostCapacity",
  "InstanceLimitExceeded",
  "VcpuLimitExceeded",
  "MaxSpotInstanceCountExceeded",
  "SpotMaxPriceTooLow",
  "Unsupported",
  // Quotas of security groups, load balancers and zones.
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
  "InvalidAMIID.NotFound",
  "InvalidAMIID.Malformed",
  "InvalidAMIID.Unavailable",
  "InvalidInstanceType",
  "InvalidInstanceType.NotFound",
  "InvalidBlockDeviceMapping",
  "InvalidUserData.Malformed",
  "InvalidSubnet",
  "InvalidSecurityGroup",
  "InvalidScheme",
  "InvalidVPCId",
  "InvalidDomainName",
  "InvalidGroupId.Malformed",
  "InvalidPermission.Malformed",
  "InvalidSubnetID.NotFound",
  "InvalidVpcID.NotFound",
]);

const THROTTLING = new Set([
  "RequestLimitExceeded",
  "Throttling",
  "ThrottlingException",
  "PriorRequestNotComplete",
  "TooManyRequestsException",
]);

/** Transient refusals, besides throttling and every server-side (5xx) fault. */
const UNAVAILABLE = new Set([
  "IncorrectInstanceState",
  "IncorrectState",
  "ServiceUnavailable",
  "InternalError",
  "InternalFailure",
  "Unavailable",
  // Addresses run out for every instance type alike: not a reason to pick another type.
  "InsufficientFreeAddressesInSubnet",
  "InsufficientAddressCapacity",
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
  "OptInRequired",
]);

/** The AWS error code of `e`, when it is an answer from AWS (an SDK service exception). */
function awsCode(e: unknown): string | undefined {
  const err = e as { name?: string; Code?: string; $fault?: string; $metadata?: unknown };
  const fromAws = err?.$fault !== undefined || err?.$metadata !== undefined ||
    err?.Code !== undefined;
  return fromAws ? err.Code ?? err.name : undefined;
}

function isThrottling(e: unknown): boolean {
  return THROTTLING.has(awsCode(e) ?? "");
}

function isServerFault(e: unknown): boolean {
  const err = e as { $fault?: string; $metadata?: { httpStatusCode?: number } };
  return err?.$fault === "server" || (err?.$metadata?.httpStatusCode ?? 0) >= 500;
}

/** The Milpa error for AWS error `code` (none: a network failure); `fault`: a 5xx answer. */
function ofCode(
  code: string | undefined,
  what: string,
  text: string,
  options: ErrorOptions,
  fault = false,
): Error {
  const message = `Cannot ${what}: ${text}${code && !text.includes(code) ? ` (${code})` : ""}`;
  if (!code) return new UnavailableError(message, options);
  if (NOT_FOUND.has(code)) return new NotFoundError(message, options);
  if (ALREADY_EXISTS.has(code)) return new AlreadyExistsError(message, options);
  if (CONFLICT.has(code)) return new ConflictError(message, options);
  if (CAPACITY.has(code)) return new CapacityError(message, options);
  if (INVALID.has(code)) return new ValidationError(message, [], options);
  if (FORBIDDEN.has(code)) return new MilpaError(message, options);
  if (THROTTLING.has(code) || UNAVAILABLE.has(code) || fault) {
    return new UnavailableError(message, options);
  }
  return new MilpaError(message, options);
}

/**
 * An SDK error as a Milpa error whose message says what was being done and what AWS said, code
 * included: `Cannot delete security group sg-1: resource has a dependent object
 * (DependencyViolation)`. Milpa errors pass through; errors without an AWS code (network,
 * timeouts) are unavailable.
 */
export function classify(e: unknown, what: string): Error {
  if (e instanceof MilpaError) return e;
  const text = String((e as Error)?.message ?? e);
  return ofCode(awsCode(e), what, text, { cause: e }, isServerFault(e));
}

/**
 * Why an instance ended on its own, from its EC2 state reason, as a Milpa error: a reason of
 * `Server.InsufficientInstanceCapacity` (the type could not be had after all) is capacity.
 */
export function stateReasonError(
  reason: { Code?: string; Message?: string } | undefined,
  what: string,
): Error {
  return ofCode(reason?.Code, what, reason?.Message ?? "the instance ended", {});
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
