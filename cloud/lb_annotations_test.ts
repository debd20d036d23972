import assert from "node:assert/strict";
import { ValidationError } from "../model/errors.ts";
import {
  annotationField,
  DEFAULT_HEALTH_CHECK,
  LB_ANNOTATIONS,
  parseHealthCheck,
  validateLoadBalancerAnnotations,
} from "./lb_annotations.ts";

const K = LB_ANNOTATIONS;

function fieldErrors(annotations: Record<string, string>): [string, string][] {
  return validateLoadBalancerAnnotations(annotations).map((e) => [e.field, e.message]);
}

Deno.test("parseHealthCheck() gives the defaults without annotations", () => {
  const expected = {
    intervalMs: 10_000,
    timeoutMs: 5_000,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
  };
  assert.deepEqual(parseHealthCheck(undefined), expected);
  assert.deepEqual(parseHealthCheck({}), expected);
  assert.deepEqual(parseHealthCheck({ "app.example.com/owner": "me" }), DEFAULT_HEALTH_CHECK);
});

Deno.test("parseHealthCheck() reads all four health check annotations", () => {
  const hc = parseHealthCheck({
    [K.healthcheckInterval]: "30",
    [K.healthcheckTimeout]: "3",
    [K.healthcheckHealthyThreshold]: "10",
    [K.healthcheckUnhealthyThreshold]: "4",
  });
  assert.deepEqual(hc, {
    intervalMs: 30_000,
    timeoutMs: 3_000,
    healthyThreshold: 10,
    unhealthyThreshold: 4,
  });
});

Deno.test("parseHealthCheck() accepts the ends of every range", () => {
  for (const [interval, timeout] of [["5", "2"], ["300", "60"]]) {
    const hc = parseHealthCheck({
      [K.healthcheckInterval]: interval,
      [K.healthcheckTimeout]: timeout,
      [K.healthcheckHealthyThreshold]: timeout === "2" ? "2" : "10",
      [K.healthcheckUnhealthyThreshold]: timeout === "2" ? "2" : "10",
    });
    assert.equal(hc.intervalMs, Number(interval) * 1000);
    assert.equal(hc.timeoutMs, Number(timeout) * 1000);
  }
});

Deno.test("parseHealthCheck() keeps a default timeout below a short interval, and the reverse", () => {
  assert.deepEqual(parseHealthCheck({ [K.healthcheckInterval]: "5" }), {
    ...DEFAULT_HEALTH_CHECK,
    intervalMs: 5_000,
    timeoutMs: 4_000,
  });
  assert.deepEqual(parseHealthCheck({ [K.healthcheckTimeout]: "30" }), {
    ...DEFAULT_HEALTH_CHECK,
    intervalMs: 31_000,
    timeoutMs: 30_000,
  });
  assert.equal(parseHealthCheck({ [K.healthcheckInterval]: "60" }).timeoutMs, 5_000);
});

Deno.test("parseHealthCheck() reports each value out of its range", () => {
  const cases: [string, string, string][] = [
    [K.healthcheckInterval, "4", "[5, 300]"],
    [K.healthcheckInterval, "301", "[5, 300]"],
    [K.healthcheckTimeout, "1", "[2, 60]"],
    [K.healthcheckTimeout, "61", "[2, 60]"],
    [K.healthcheckHealthyThreshold, "1", "[2, 10]"],
    [K.healthcheckHealthyThreshold, "11", "[2, 10]"],
    [K.healthcheckUnhealthyThreshold, "0", "[2, 10]"],
    [K.healthcheckUnhealthyThreshold, "11", "[2, 10]"],
  ];
  for (const [key, value, range] of cases) {
    const error = captureValidation(() => parseHealthCheck({ [key]: value }));
    const message = `${key} must be in the range ${range}`;
    assert.deepEqual(error.fields, [{ field: annotationField(key), message, value }], key);
    assert.equal(
      error.message,
      `load balancer annotations are invalid: metadata.annotations[${key}]: ${message}`,
    );
  }
});

Deno.test("parseHealthCheck() refuses values that are not whole numbers", () => {
  for (const value of ["", "ten", "5.5", "-5", "+5", " 5", "1e1", "0x10"]) {
    assert.deepEqual(fieldErrors({ [K.healthcheckInterval]: value }), [[
      `metadata.annotations[${K.healthcheckInterval}]`,
      `${K.healthcheckInterval} must be an integer in the range [5, 300]`,
    ]], JSON.stringify(value));
    assert.throws(() => parseHealthCheck({ [K.healthcheckInterval]: value }), ValidationError);
  }
});

Deno.test("parseHealthCheck() refuses a timeout that is not shorter than the interval", () => {
  const error = captureValidation(() =>
    parseHealthCheck({ [K.healthcheckInterval]: "10", [K.healthcheckTimeout]: "10" })
  );
  assert.deepEqual(error.fields, [{
    field: annotationField(K.healthcheckTimeout),
    message: `${K.healthcheckTimeout} must be less than the interval (10 s)`,
    value: "10",
  }]);
  assert.doesNotThrow(() =>
    parseHealthCheck({ [K.healthcheckInterval]: "10", [K.healthcheckTimeout]: "9" })
  );
});

Deno.test("parseHealthCheck() lists every bad annotation at once", () => {
  const error = captureValidation(() =>
    parseHealthCheck({
      [K.healthcheckInterval]: "1",
      [K.healthcheckTimeout]: "soon",
      [K.healthcheckHealthyThreshold]: "100",
      [K.healthcheckUnhealthyThreshold]: "2",
      [K.crossZoneLoadBalancingEnabled]: "yes",
    })
  );
  assert.deepEqual(error.fields.map((f) => f.field), [
    annotationField(K.healthcheckInterval),
    annotationField(K.healthcheckTimeout),
    annotationField(K.healthcheckHealthyThreshold),
    annotationField(K.crossZoneLoadBalancingEnabled),
  ]);
  assert.match(error.message, /^load balancer annotations are invalid: .+; .+; .+; .+$/);
});

Deno.test("validateLoadBalancerAnnotations() checks booleans and the other timeouts", () => {
  assert.deepEqual(
    fieldErrors({
      [K.crossZoneLoadBalancingEnabled]: "true",
      [K.connectionDrainingEnabled]: "false",
      [K.accessLogEnabled]: "true",
      [K.connectionIdleTimeout]: "60",
      [K.connectionDrainingTimeout]: "300",
    }),
    [],
  );
  assert.deepEqual(
    fieldErrors({
      [K.crossZoneLoadBalancingEnabled]: "True",
      [K.connectionDrainingEnabled]: "1",
      [K.accessLogEnabled]: "",
      [K.connectionIdleTimeout]: "1",
      [K.connectionDrainingTimeout]: "0",
    }),
    [
      [
        annotationField(K.connectionIdleTimeout),
        `${K.connectionIdleTimeout} must be greater than 1`,
      ],
      [
        annotationField(K.connectionDrainingTimeout),
        `${K.connectionDrainingTimeout} must be greater than 0`,
      ],
      [annotationField(K.accessLogEnabled), `${K.accessLogEnabled} must be "true" or "false"`],
      [
        annotationField(K.connectionDrainingEnabled),
        `${K.connectionDrainingEnabled} must be "true" or "false"`,
      ],
      [
        annotationField(K.crossZoneLoadBalancingEnabled),
        `${K.crossZoneLoadBalancingEnabled} must be "true" or "false"`,
      ],
    ],
  );
  assert.deepEqual(fieldErrors({ [K.connectionIdleTimeout]: "1m" }), [[
    annotationField(K.connectionIdleTimeout),
    `${K.connectionIdleTimeout} must be an integer greater than 1`,
  ]]);
});

Deno.test("validateLoadBalancerAnnotations() ignores other annotations", () => {
  assert.deepEqual(
    fieldErrors({
      "service.elotl.co/aws-load-balancer-ssl-cert": "arn:aws:acm:us-east-1:1:certificate/x",
      "service.elotl.co/aws-load-balancer-backend-protocol": "tcp",
      "app.example.com/note": "anything",
    }),
    [],
  );
});

function captureValidation(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error;
    throw error;
  }
  assert.fail("expected a ValidationError");
}
