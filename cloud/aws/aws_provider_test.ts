import assert from "node:assert/strict";
import {
  CapacityError,
  MilpaError,
  UnavailableError,
  ValidationError,
} from "../../model/errors.ts";
import type { LaunchRequest } from "../provider.ts";
import { awsError } from "./services/fake_recorder.ts";
import { fakeCloud } from "./services/fake_cloud.ts";

const request: LaunchRequest = {
  clientToken: "n1",
  nodeName: "n1",
  instanceType: "t3.nano",
  spot: false,
  privateIPOnly: false,
  volumeSizeGiB: 8,
  agent: { controllerURL: "http://10.0.0.2:54555", nodeName: "n1", token: "t" },
};

Deno.test("AwsProvider.launch() requires IMDSv2 tokens with a hop limit of 1", async () => {
  const { ec2, provider } = fakeCloud();
  const p = provider();
  const i = await p.launch(request);
  const [run] = ec2.calls.filter((c) => c.name === "runInstances");
  const input = run.args[0] as { MetadataOptions?: unknown; ClientToken?: string };
  assert.deepEqual(input.MetadataOptions, {
    HttpTokens: "required",
    HttpPutResponseHopLimit: 1,
    HttpEndpoint: "enabled",
  });
  assert.equal(input.ClientToken, "ctl-n1");
  assert.equal(ec2.instances.get(i.id)?.MetadataOptions?.HttpTokens, "required");
  await p.close();
});

Deno.test("AwsProvider.launch() rejects with CapacityError only when the type cannot be had", async () => {
  const { ec2, provider } = fakeCloud();
  const p = provider();
  for (const code of ["InsufficientInstanceCapacity", "InstanceLimitExceeded", "Unsupported"]) {
    ec2.failNext("runInstances", awsError(code, "no"));
    await assert.rejects(() => p.launch(request), CapacityError, code);
  }
  ec2.failNext(
    "runInstances",
    awsError("InvalidAMIID.NotFound", "The image id '[ami-1]' does not exist"),
  );
  await assert.rejects(() => p.launch(request), (e: Error) => {
    assert.ok(e instanceof ValidationError, `${e.name}: ${e.message}`);
    assert.equal(
      e.message,
      "Cannot launch a t3.nano instance for node n1: The image id '[ami-1]' does not exist " +
        "(InvalidAMIID.NotFound)",
    );
    return true;
  });
  // The message text never decides the class.
  ec2.failNext("runInstances", awsError("InvalidParameterValue", "Unsupported instance type"));
  await assert.rejects(() => p.launch(request), ValidationError);
  ec2.failNext("runInstances", awsError("UnauthorizedOperation", "You are not authorized"));
  await assert.rejects(() => p.launch(request), (e: Error) => e.constructor === MilpaError);
  await p.close();
});

Deno.test("AwsProvider.launch() makes an instance that ends at boot for want of capacity a CapacityError", async () => {
  const { ec2, provider } = fakeCloud();
  ec2.bootAs = {
    State: { Name: "terminated" },
    StateReason: {
      Code: "Server.InsufficientInstanceCapacity",
      Message: "Server.InsufficientInstanceCapacity: Insufficient capacity.",
    },
  };
  await assert.rejects(() => provider().launch(request), (e: Error) => {
    assert.ok(e instanceof CapacityError, `${e.name}: ${e.message}`);
    assert.equal(
      e.message,
      "Cannot launch a t3.nano instance for node n1: instance i-00000000000000001 ended at boot: " +
        "Server.InsufficientInstanceCapacity: Insufficient capacity.",
    );
    return true;
  });
  ec2.bootAs = { State: { Name: "terminated" } };
  await assert.rejects(
    () => provider().launch({ ...request, clientToken: "n2", nodeName: "n2" }),
    UnavailableError,
  );
});

Deno.test("AwsProvider.terminate() succeeds when the instance is gone or ending, whatever EC2 answered", async () => {
  const { ec2, provider } = fakeCloud();
  const p = provider();
  const { id } = await p.launch(request);
  // What moto answers a second TerminateInstances (its network interface is deleted already).
  const refusal = awsError("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID");
  ec2.failNext("terminateInstances", refusal);
  await assert.rejects(() => p.terminate(id), MilpaError, "still running: the refusal stands");
  await p.terminate(id);
  ec2.failNext("terminateInstances", refusal);
  await p.terminate(id);
  await p.terminate("i-unknown");
  ec2.instances.delete(id);
  ec2.failNext("terminateInstances", refusal);
  await p.terminate(id);
});

Deno.test("AwsProvider.launch() shares one RunInstances among concurrent launches of a token", async () => {
  const { ec2, provider } = fakeCloud();
  const p = provider();
  const [a, b] = await Promise.all([p.launch(request), p.launch(request)]);
  assert.equal(b.id, a.id);
  assert.equal(ec2.calls.filter((c) => c.name === "runInstances").length, 1);
  // Once done, a launch looks the node's instance up again instead of launching.
  assert.equal((await p.launch(request)).id, a.id);
  assert.equal(ec2.calls.filter((c) => c.name === "runInstances").length, 1);
  await p.close();
});

Deno.test("AwsProvider.launch() names and tags nodes with nodes.nametag, adds extraSecurityGroups and the cloud-init keys", async () => {
  const { ec2, provider, clusterGroupId } = fakeCloud();
  const plain = await provider().launch(request);
  assert.deepEqual(
    ec2.instances.get(plain.id)?.Tags?.find((t) => t.Key === "Name")?.Value,
    "Milpa Node ctl n1",
  );
  const p = provider({
    nametag: "prod",
    extraGroupIds: ["sg-0e0e0e0e"],
    userCloudConfig: { packages: ["htop"], runcmd: [["echo", "é"]] },
  });
  const i = await p.launch({ ...request, clientToken: "n2", nodeName: "n2" });
  const inst = ec2.instances.get(i.id)!;
  const tags = Object.fromEntries((inst.Tags ?? []).map((t) => [t.Key, t.Value]));
  assert.equal(tags.Name, "Milpa Node prod n2");
  assert.equal(tags.MilpaNametag, "prod");
  assert.equal(tags.MilpaControllerID, "ctl", "the controller's tag stays what finds instances");
  assert.deepEqual(ec2.groupsOf(i.id), [clusterGroupId, "sg-0e0e0e0e"]);
  const userData = new TextDecoder().decode(
    Uint8Array.from(atob(ec2.userDataOf.get(i.id)!), (c) => c.charCodeAt(0)),
  );
  assert.match(userData, /packages:\n {2}- htop/);
  assert.match(userData, /- é/, "UTF-8 survives the base64");
  await p.close();
});
