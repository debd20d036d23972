/**
 * The one classifier of AWS errors (EC2, Route 53, classic ELB) into Milpa's error classes, and
 * the one way an AWS call is made (`caller`): retried with backoff while the failure is
 * retryable, then classified. This is the only place AWS calls are retried: the SDK clients are
 * built with `maxAttempts: 1` (`setup.ts`), so retries do not multiply. Code elsewhere tests the
 * classes, never AWS codes or message text.
 *
 * Retryable (`isRetryable`): throttling (`RequestLimitExceeded`, `Throttling`, HTTP 429...),
 * server faults (5xx), and failures that never reached AWS (refused or reset connections,
 * timeouts), as the SDK's own standard strategy would retry them.
 *
 * - `CapacityError`: this instance type (or spot market) cannot be had now, or a quota is used
 *   up. A launch that fails so marks the type unavailable for a while.
 * - `ValidationError`: the request is wrong (a bad AMI, instance type, parameter): retrying the
 *   same request fails the same way until the config changes.
 * - `NotFoundError`, `AlreadyExistsError`, `ConflictError`: what a level-based caller expects
 *   (gone, made by an earlier try, in use).
 * - `UnavailableError`: throttling, server faults, network failures, transient refusals.
 * - `MilpaError`: the rest, and refused permissions or credentials (the controller's AWS set-up
 *   is wrong: not an `UnauthorizedError`, which says the API's caller is not allowed).
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

/** How an SDK error looks: a service exception (an answer from AWS) or a transport failure. */
interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  $fault?: string;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/**
 * The AWS error code of `e`, when it is an answer from AWS. A transport failure is not one,
 * although the SDK adds `$metadata` (attempts) to it too: only answers have a fault or a status.
 */
function awsCode(e: unknown): string | undefined {
  const err = e as SdkError | undefined;
  const answered = err?.$fault !== undefined || err?.$metadata?.httpStatusCode !== undefined ||
    err?.Code !== undefined;
  return answered ? err!.Code ?? err!.name : undefined;
}

function isServerFault(e: unknown): boolean {
  const err = e as SdkError | undefined;
  return err?.$fault === "server" || (err?.$metadata?.httpStatusCode ?? 0) >= 500;
}

/** Failures on the way to AWS that a new try may not meet (Node's and the SDK's names). */
const TRANSPORT = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);

/**
 * Whether a failed AWS call is worth repeating as it is: throttled, a server fault, or a
 * transport failure (never for Milpa's own errors or an SDK-less bug such as a TypeError).
 */
export function isRetryable(e: unknown): boolean {
  if (e instanceof MilpaError) return false;
  const err = e as SdkError | undefined;
  const code = awsCode(e);
  if (code !== undefined) {
    return THROTTLING.has(code) || err?.$metadata?.httpStatusCode === 429 || isServerFault(e);
  }
  return err?.$retryable !== undefined || TRANSPORT.has(err?.code ?? "") ||
    TRANSPORT.has(err?.name ?? "");
}

/**
 * The Milpa error for AWS error `code` (none: a transport failure); `transient`: a throttled or
 * 5xx answer, unavailable whatever its code.
 */
function ofCode(
  code: string | undefined,
  what: string,
  text: string,
  options: ErrorOptions,
  transient = false,
): Error {
  const message = `Cannot ${what}: ${text}${code && !text.includes(code) ? ` (${code})` : ""}`;
  if (!code) return new UnavailableError(message, options);
  if (NOT_FOUND.has(code)) return new NotFoundError(message, options);
  if (ALREADY_EXISTS.has(code)) return new AlreadyExistsError(message, options);
  if (CONFLICT.has(code)) return new ConflictError(message, options);
  if (CAPACITY.has(code)) return new CapacityError(message, options);
  if (INVALID.has(code)) return new ValidationError(message, [], options);
  if (FORBIDDEN.has(code)) return new MilpaError(message, options);
  if (THROTTLING.has(code) || UNAVAILABLE.has(code) || transient) {
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
  return ofCode(awsCode(e), what, text, { cause: e }, isRetryable(e));
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
  /** Tries in all before a retryable failure is thrown. @default 6 */
  attempts?: number;
  /** First backoff, doubled per try up to 10 s, with jitter. @default 250 */
  baseMs?: number;
}

/**
 * Runs one AWS call: retried with backoff while it fails retryably (`isRetryable`, or
 * `retryIf` holds for the classified error, e.g. a group not visible yet), then classified.
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
        const again = isRetryable(e) || (retryIf?.(err) ?? false);
        if (!again || attempt >= attempts) throw err;
        await sleep(Math.min(base * 2 ** (attempt - 1), 10_000) * (0.5 + Math.random() / 2));
      }
    }
  };
}
