/**
 * The `service.elotl.co/aws-load-balancer-*` annotations of a LoadBalancer Service (reference
 * §5.5): keys, validation that reports every bad one at once, and the health check they set.
 * Keys are kept verbatim from Milpa, `aws-` included, so manifests move between clouds unchanged.
 */
import { type FieldError, ValidationError } from "../model/errors.ts";

const PREFIX = "service.elotl.co/aws-load-balancer-";

/** How backends are checked. `parseHealthCheck` builds one from a Service's annotations. */
export interface HealthCheckConfig {
  /** Time between the starts of two checks of one backend. */
  intervalMs: number;
  /** A check that has not passed by then fails. */
  timeoutMs: number;
  /** Consecutive passing checks that bring a backend into rotation. */
  healthyThreshold: number;
  /** Consecutive failed checks (or connections) that take a backend out of rotation. */
  unhealthyThreshold: number;
}

/** Annotation keys the local cloud reads or checks. */
export const LB_ANNOTATIONS = {
  healthcheckInterval: `${PREFIX}healthcheck-interval`,
  healthcheckTimeout: `${PREFIX}healthcheck-timeout`,
  healthcheckHealthyThreshold: `${PREFIX}healthcheck-healthy-threshold`,
  healthcheckUnhealthyThreshold: `${PREFIX}healthcheck-unhealthy-threshold`,
  accessLogEnabled: `${PREFIX}access-log-enabled`,
  connectionDrainingEnabled: `${PREFIX}connection-draining-enabled`,
  connectionDrainingTimeout: `${PREFIX}connection-draining-timeout`,
  connectionIdleTimeout: `${PREFIX}connection-idle-timeout`,
  crossZoneLoadBalancingEnabled: `${PREFIX}cross-zone-load-balancing-enabled`,
} as const;

/**
 * The health check when no annotation says otherwise: every 10 s, 5 s timeout, 2 checks either
 * way. Shorter than ELB's 30 s / 5 s / 10 healthy / 2 unhealthy, which keeps a new backend out for
 * 5 minutes: here a new backend joins about 10 s after it appears (at once when nothing else is
 * healthy) and a dead one leaves within 20 s (25 s if its checks hang rather than fail).
 */
export const DEFAULT_HEALTH_CHECK: Readonly<HealthCheckConfig> = Object.freeze({
  intervalMs: 10_000,
  timeoutMs: 5_000,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
});

/** Integer annotations and their inclusive ranges. */
const RANGES: { key: string; min: number; max: number }[] = [
  { key: LB_ANNOTATIONS.healthcheckInterval, min: 5, max: 300 },
  { key: LB_ANNOTATIONS.healthcheckTimeout, min: 2, max: 60 },
  { key: LB_ANNOTATIONS.healthcheckHealthyThreshold, min: 2, max: 10 },
  { key: LB_ANNOTATIONS.healthcheckUnhealthyThreshold, min: 2, max: 10 },
  // The reference gives only a floor for these two ("must be > 1"; timeouts are whole seconds).
  { key: LB_ANNOTATIONS.connectionIdleTimeout, min: 2, max: Infinity },
  { key: LB_ANNOTATIONS.connectionDrainingTimeout, min: 1, max: Infinity },
];

const BOOLEANS = [
  LB_ANNOTATIONS.accessLogEnabled,
  LB_ANNOTATIONS.connectionDrainingEnabled,
  LB_ANNOTATIONS.crossZoneLoadBalancingEnabled,
];

/** The field path of an annotation, as validation errors name it. */
export function annotationField(key: string): string {
  return `metadata.annotations[${key}]`;
}

function rangeText(min: number, max: number): string {
  return max === Infinity ? `greater than ${min - 1}` : `in the range [${min}, ${max}]`;
}

/**
 * Checks every load balancer annotation with a known format: the integer ones against their
 * ranges, the booleans against `"true"`/`"false"`, and that a health check timeout is shorter
 * than the interval when both are given (as ELB requires; see {@linkcode parseHealthCheck} for
 * when only one is).
 * Unknown `service.elotl.co/*` keys are not reported, like any other annotation.
 * @returns one FieldError per bad annotation; empty when all are fine.
 */
export function validateLoadBalancerAnnotations(
  annotations: Record<string, string> | undefined,
): FieldError[] {
  const a = annotations ?? {};
  const errors: FieldError[] = [];
  const bad = (key: string, message: string) =>
    errors.push({ field: annotationField(key), message, value: a[key] });
  for (const { key, min, max } of RANGES) {
    const raw = a[key];
    if (raw === undefined) continue;
    if (!/^\d+$/.test(raw)) bad(key, `${key} must be an integer ${rangeText(min, max)}`);
    else if (Number(raw) < min || Number(raw) > max) {
      bad(key, `${key} must be ${rangeText(min, max)}`);
    }
  }
  for (const key of BOOLEANS) {
    if (a[key] !== undefined && a[key] !== "true" && a[key] !== "false") {
      bad(key, `${key} must be "true" or "false"`);
    }
  }
  const timeoutKey = LB_ANNOTATIONS.healthcheckTimeout;
  const [interval, timeout] = [a[LB_ANNOTATIONS.healthcheckInterval], a[timeoutKey]];
  const valid = (key: string) => !errors.some((e) => e.field === annotationField(key));
  if (
    interval !== undefined && timeout !== undefined && valid(timeoutKey) &&
    valid(LB_ANNOTATIONS.healthcheckInterval) && Number(timeout) >= Number(interval)
  ) {
    bad(timeoutKey, `${timeoutKey} must be less than the interval (${Number(interval)} s)`);
  }
  return errors;
}

/**
 * The health check a Service's annotations ask for, over {@linkcode DEFAULT_HEALTH_CHECK}.
 * A default never conflicts with a value given: with only an interval, the timeout is 5 s or
 * 1 s less than the interval; with only a timeout, the interval is 10 s or 1 s more than it.
 * @throws {ValidationError} listing every bad load balancer annotation (see
 *   {@linkcode validateLoadBalancerAnnotations}), e.g.
 *   `load balancer annotations are invalid: metadata.annotations[service.elotl.co/aws-load-balancer-healthcheck-interval]: service.elotl.co/aws-load-balancer-healthcheck-interval must be in the range [5, 300]`.
 */
export function parseHealthCheck(
  annotations: Record<string, string> | undefined,
): HealthCheckConfig {
  const errors = validateLoadBalancerAnnotations(annotations);
  if (errors.length > 0) {
    const list = errors.map((e) => `${e.field}: ${e.message}`).join("; ");
    throw new ValidationError(`load balancer annotations are invalid: ${list}`, errors);
  }
  const a = annotations ?? {};
  const int = (key: string) => a[key] === undefined ? undefined : Number(a[key]);
  const d = DEFAULT_HEALTH_CHECK;
  const interval = int(LB_ANNOTATIONS.healthcheckInterval);
  const timeout = int(LB_ANNOTATIONS.healthcheckTimeout);
  return {
    intervalMs: interval !== undefined
      ? interval * 1000
      : Math.max(d.intervalMs, (timeout ?? 0) * 1000 + 1000),
    timeoutMs: timeout !== undefined
      ? timeout * 1000
      : Math.min(d.timeoutMs, (interval ?? Infinity) * 1000 - 1000),
    healthyThreshold: int(LB_ANNOTATIONS.healthcheckHealthyThreshold) ?? d.healthyThreshold,
    unhealthyThreshold: int(LB_ANNOTATIONS.healthcheckUnhealthyThreshold) ?? d.unhealthyThreshold,
  };
}
