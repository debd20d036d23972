import assert from "node:assert/strict";
import {
  AlreadyExistsError,
  CapacityError,
  ConflictError,
  MilpaError,
  NotFoundError,
  UnavailableError,
  ValidationError,
} from "../../model/errors.ts";
import { EC2Client } from "@aws-sdk/client-ec2";
import { caller, classify, isRetryable, stateReasonError } from "./errors.ts";
import { ec2Api } from "./sdk.ts";
import { awsError } from "./services/fake_recorder.ts";

Deno.test("classify() maps AWS error codes to Milpa's classes", () => {
  const table: [string, new (...a: never[]) => Error][] = [
    ["InvalidGroup.NotFound", NotFoundError],
    ["AccessPointNotFound", NotFoundError],
    ["InvalidInstance", NotFoundError],
    ["NoSuchHostedZone", NotFoundError],
    ["InvalidPermission.Duplicate", AlreadyExistsError],
    ["InvalidGroup.Duplicate", AlreadyExistsError],
    ["DuplicateAccessPointName", AlreadyExistsError],
    ["DependencyViolation", ConflictError],
    ["InvalidChangeBatch", ConflictError],
    ["RulesPerSecurityGroupLimitExceeded", CapacityError],
    ["TooManyLoadBalancers", CapacityError],
    ["InvalidParameterValue", ValidationError],
    ["InvalidConfigurationRequest", ValidationError],
    ["RequestLimitExceeded", UnavailableError],
    ["Throttling", UnavailableError],
    ["PriorRequestNotComplete", UnavailableError],
    ["IncorrectInstanceState", UnavailableError],
    // Launches: capacity is "this type (or spot market) cannot be had now".
    ["InsufficientInstanceCapacity", CapacityError],
    ["InstanceLimitExceeded", CapacityError],
    ["VcpuLimitExceeded", CapacityError],
    ["MaxSpotInstanceCountExceeded", CapacityError],
    ["Unsupported", CapacityError],
    ["InsufficientFreeAddressesInSubnet", UnavailableError],
    ["InvalidAMIID.NotFound", ValidationError],
    ["InvalidInstanceType", ValidationError],
    ["InvalidBlockDeviceMapping", ValidationError],
    ["InvalidInstanceID.NotFound", NotFoundError],
    ["InvalidInstanceID.Malformed", NotFoundError],
  ];
  for (const [code, cls] of table) {
    const e = classify(awsError(code, "it failed"), "do it");
    assert.ok(e instanceof cls, `${code} → ${e.name}, want ${cls.name}`);
    assert.equal(e.message, `Cannot do it: it failed (${code})`);
    assert.equal((e.cause as Error).name, code);
  }
});

Deno.test("classify() makes network failures and server faults unavailable, the rest plain", () => {
  assert.ok(classify(new TypeError("fetch failed"), "x") instanceof UnavailableError);
  assert.ok(classify(awsError("Weird", "boom", 503), "x") instanceof UnavailableError);
  const unknown = classify(awsError("SomethingNew"), "x");
  assert.equal(unknown.constructor, MilpaError);
  const denied = classify(awsError("UnauthorizedOperation", "You are not authorized"), "x");
  assert.equal(denied.constructor, MilpaError);
  const eni = classify(awsError("InvalidNetworkInterfaceID.NotFound"), "x");
  assert.equal(eni.constructor, MilpaError, "not the instance's own NotFound");
  const ours = new NotFoundError("ours");
  assert.equal(classify(ours, "x"), ours);
});

Deno.test("classify() never reads the message: the code alone decides", () => {
  const e = classify(awsError("InvalidParameterValue", "Unsupported instance type t9.huge"), "x");
  assert.ok(e instanceof ValidationError, e.name);
  assert.ok(classify(new Error("InsufficientInstanceCapacity"), "x") instanceof UnavailableError);
});

Deno.test("stateReasonError() makes an instance that ended for want of capacity a CapacityError", () => {
  const full = stateReasonError(
    {
      Code: "Server.InsufficientInstanceCapacity",
      Message: "Server.InsufficientInstanceCapacity: Insufficient capacity.",
    },
    "launch node n1",
  );
  assert.ok(full instanceof CapacityError, full.name);
  assert.equal(
    full.message,
    "Cannot launch node n1: Server.InsufficientInstanceCapacity: Insufficient capacity.",
  );
  const other = stateReasonError(undefined, "launch node n1");
  assert.ok(other instanceof UnavailableError, other.name);
  assert.equal(other.message, "Cannot launch node n1: the instance ended");
});

Deno.test("caller() retries throttled calls with growing waits, then gives up", async () => {
  const sleeps: number[] = [];
  const call = caller({ sleep: (ms) => (sleeps.push(ms), Promise.resolve()), attempts: 4 });
  let tries = 0;
  const result = await call("work", () => {
    tries++;
    return tries < 3 ? Promise.reject(awsError("RequestLimitExceeded")) : Promise.resolve("done");
  });
  assert.equal(result, "done");
  assert.equal(sleeps.length, 2);
  assert.ok(sleeps[0] >= 125 && sleeps[0] <= 250, `first wait ${sleeps[0]}`);
  assert.ok(sleeps[1] >= 250 && sleeps[1] <= 500, `second wait ${sleeps[1]}`);
  tries = 0;
  await assert.rejects(
    () => call("work", () => (tries++, Promise.reject(awsError("Throttling")))),
    UnavailableError,
  );
  assert.equal(tries, 4);
});

Deno.test("caller() does not retry other errors unless asked", async () => {
  const call = caller({ sleep: () => Promise.resolve() });
  let tries = 0;
  const fail = () => (tries++, Promise.reject(awsError("InvalidGroup.NotFound")));
  await assert.rejects(() => call("find", fail), NotFoundError);
  assert.equal(tries, 1);
  tries = 0;
  await assert.rejects(() => call("find", fail, (e) => e instanceof NotFoundError), NotFoundError);
  assert.equal(tries, 6);
});

Deno.test("isRetryable() holds for throttling, server faults and transport failures only", () => {
  for (
    const e of [awsError("RequestLimitExceeded"), awsError("Throttling"), awsError("X", "", 429)]
  ) {
    assert.ok(isRetryable(e), (e as Error).name);
  }
  assert.ok(isRetryable(awsError("InternalError", "boom", 500)));
  const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  assert.ok(isRetryable(refused));
  // The SDK adds $metadata (attempts) to a transport failure too: still not an answer from AWS.
  const counted = Object.assign(new Error("socket hang up"), {
    code: "ECONNRESET",
    $metadata: { attempts: 1, totalRetryDelay: 0 },
  });
  assert.ok(isRetryable(counted));
  assert.ok(classify(counted, "x") instanceof UnavailableError);
  for (
    const e of [
      awsError("InvalidGroup.NotFound"),
      awsError("DependencyViolation"),
      awsError("UnauthorizedOperation"),
      awsError("IncorrectInstanceState"),
      new TypeError("x is undefined"),
      new UnavailableError("ours"),
    ]
  ) {
    assert.ok(!isRetryable(e), `${(e as Error).name} is not retried`);
  }
});

Deno.test("caller() is the one place a real client's calls are retried", async () => {
  // A loopback port nothing listens on: every try is refused.
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const client = new EC2Client({
    region: "us-east-1",
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
  let sent = 0;
  const ec2 = ec2Api(client, () => sent++);
  const sleeps: number[] = [];
  const call = caller({ sleep: (ms) => (sleeps.push(ms), Promise.resolve()), attempts: 3 });
  try {
    await assert.rejects(
      () => call("describe the VPCs", () => ec2.describeVpcs({})),
      (e: Error) => {
        assert.ok(e instanceof UnavailableError, `${e.name}: ${e.message}`);
        assert.match(e.message, /^Cannot describe the VPCs: /);
        return true;
      },
    );
    assert.equal(sent, 3, "three tries, each a single request");
    assert.equal(sleeps.length, 2);
  } finally {
    client.destroy();
  }
});
