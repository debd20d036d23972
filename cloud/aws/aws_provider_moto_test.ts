import assert from "node:assert/strict";
import { DescribeInstancesCommand } from "@aws-sdk/client-ec2";
import { CapacityError, ValidationError } from "../../model/errors.ts";
import type { LaunchRequest } from "../provider.ts";
import { AwsProvider } from "./aws_provider.ts";
import { ec2Api } from "./sdk.ts";
import { type MotoCloud, withMoto } from "./services/moto_harness.ts";

function provider(m: MotoCloud): AwsProvider {
  return new AwsProvider({
    ec2: ec2Api(m.ec2),
    services: m.services(),
    controllerId: "ctl",
    subnetId: m.subnetIds[0],
    clusterGroupId: m.clusterGroupId,
    imageId: m.imageId,
    pollMs: 20,
  });
}

const request = (over: Partial<LaunchRequest> = {}): LaunchRequest => ({
  clientToken: "n1",
  nodeName: "n1",
  instanceType: "t3.nano",
  spot: false,
  privateIPOnly: false,
  volumeSizeGiB: 8,
  agent: { controllerURL: "http://10.0.0.2:54555", nodeName: "n1", token: "t" },
  ...over,
});

async function describe(m: MotoCloud, id: string) {
  const r = await m.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return r.Reservations?.[0]?.Instances?.[0];
}

async function stateOf(m: MotoCloud, id: string): Promise<string | undefined> {
  return (await describe(m, id))?.State?.Name;
}

withMoto("AwsProvider.launch() makes instances that require IMDSv2 (moto's record)", async (m) => {
  const p = provider(m);
  const inst = await p.launch(request());
  const { HttpTokens, HttpPutResponseHopLimit, HttpEndpoint } =
    (await describe(m, inst.id))?.MetadataOptions ?? {};
  assert.deepEqual(
    { HttpTokens, HttpPutResponseHopLimit, HttpEndpoint },
    { HttpTokens: "required", HttpPutResponseHopLimit: 1, HttpEndpoint: "enabled" },
  );
  // moto records what RunInstances asked: an instance launched without options allows IMDSv1.
  assert.equal((await describe(m, m.instances[0]))?.MetadataOptions?.HttpTokens, "optional");
  await p.terminate(inst.id);
  await p.close();
});

withMoto(
  "AwsProvider.terminate() is safe to repeat (moto refuses a second TerminateInstances)",
  async (m) => {
    const p = provider(m);
    const inst = await p.launch(request());
    assert.equal(inst.state, "running");
    assert.equal((await p.launch(request())).id, inst.id, "a second launch finds the first");
    await p.terminate(inst.id);
    assert.equal(await stateOf(m, inst.id), "terminated");
    // moto deleted the instance's network interface (DeleteOnTermination) and now answers every
    // TerminateInstances of it with InvalidNetworkInterfaceID.NotFound; AWS answers "terminated".
    await p.terminate(inst.id);
    await p.terminate(inst.id);
    await p.terminate("i-0123456789abcdef0");
    assert.deepEqual(await p.listInstances(), []);
    await p.close();
  },
);

withMoto(
  "AwsProvider.launch() rejects a refused RunInstances with AWS's code and text, not as capacity",
  async (m) => {
    const p = provider(m);
    const refusals: [Partial<LaunchRequest>, string][] = [
      [
        { bootImage: "ami-0000000000000dead" },
        "The image id '[ami-0000000000000dead]' does not exist (InvalidAMIID.NotFound)",
      ],
      [
        { instanceType: "t9.huge" },
        "The instance type 't9.huge' does not exist (InvalidInstanceType.NotFound)",
      ],
      [
        { availabilityZone: "eu-west-1a" },
        "Invalid Availability Zone (eu-west-1a) (InvalidParameterValue)",
      ],
    ];
    for (const [over, text] of refusals) {
      const req = request(over);
      await assert.rejects(() => p.launch(req), (e: Error) => {
        assert.ok(!(e instanceof CapacityError), `${e.name}: ${e.message}`);
        assert.ok(e instanceof ValidationError, `${e.name}: ${e.message}`);
        assert.equal(
          e.message,
          `Cannot launch a ${req.instanceType} instance for node n1: ${text}`,
        );
        return true;
      });
    }
    assert.deepEqual(await p.listInstances(), [], "nothing was launched");
    await p.close();
  },
  // moto launches any AMI and instance type unless told to check them.
  { MOTO_ENABLE_AMI_VALIDATION: "true", MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION: "true" },
);
