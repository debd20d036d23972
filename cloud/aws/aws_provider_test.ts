import assert from "node:assert/strict";
import {
  CapacityError,
  MilpaError,
  UnavailableError,
  ValidationError,
} from "../../model/errors.ts";
import type { LaunchRequest } from "../provider.ts";
import { AwsProvider } from "./aws_provider.ts";
import type { Ec2Api, Ec2Instance } from "./sdk.ts";
import { awsError, Recorder } from "./services/fake_ec2.ts";
import { fakeCloud } from "./services/fake_cloud.ts";

/** A fake of the provider's EC2 calls: instances that run at once, scripted failures. */
class FakeNodesEc2 extends Recorder
  implements Pick<Ec2Api, "runInstances" | "describeInstances" | "terminateInstances"> {
  readonly instances = new Map<string, Ec2Instance>();
  /** What the next instance launched looks like once described. */
  bootAs: Partial<Ec2Instance> = {};
  #next = 1;

  runInstances(input: Parameters<Ec2Api["runInstances"]>[0]) {
    return this.#run("runInstances", [input], () => {
      const id = `i-${this.#next++}`;
      this.instances.set(id, {
        InstanceId: id,
        InstanceType: input.InstanceType,
        State: { Name: "running" },
        PrivateIpAddress: "10.0.0.1",
        Tags: input.TagSpecifications?.[0].Tags,
        ...this.bootAs,
      });
      return [{ InstanceId: id, State: { Name: "pending" } } as Ec2Instance];
    });
  }

  describeInstances(input: Parameters<Ec2Api["describeInstances"]>[0]) {
    return this.#run("describeInstances", [input], () => {
      const ids = input.InstanceIds;
      const missing = ids?.find((id) => !this.instances.has(id));
      if (missing) throw awsError("InvalidInstanceID.NotFound", `The instance ID '${missing}'`);
      return ids ? ids.map((id) => this.instances.get(id)!) : [];
    });
  }

  terminateInstances(ids: string[]) {
    return this.#run("terminateInstances", [ids], () => {
      for (const id of ids) {
        const i = this.instances.get(id);
        if (!i) throw awsError("InvalidInstanceID.NotFound", `The instance ID '${id}'`);
        i.State = { Name: "terminated" };
      }
    });
  }

  #run<T>(name: string, args: unknown[], fn: () => T): Promise<T> {
    try {
      this.record(name, ...args);
      return Promise.resolve(fn());
    } catch (e) {
      return Promise.reject(e);
    }
  }
}

function provider(ec2: FakeNodesEc2): AwsProvider {
  return new AwsProvider({
    ec2,
    services: fakeCloud().services(),
    controllerId: "ctl",
    subnetId: "subnet-1",
    clusterGroupId: "sg-1",
    imageId: "ami-1",
    pollMs: 1,
    describeWindowMs: 1,
    retry: { sleep: () => Promise.resolve() },
  });
}

const request: LaunchRequest = {
  clientToken: "n1",
  nodeName: "n1",
  instanceType: "t3.nano",
  spot: false,
  privateIPOnly: false,
  volumeSizeGiB: 8,
  agent: { controllerURL: "http://10.0.0.2:54555", nodeName: "n1", token: "t" },
};

Deno.test("AwsProvider.launch() rejects with CapacityError only when the type cannot be had", async () => {
  const ec2 = new FakeNodesEc2();
  const p = provider(ec2);
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
  const ec2 = new FakeNodesEc2();
  ec2.bootAs = {
    State: { Name: "terminated" },
    StateReason: {
      Code: "Server.InsufficientInstanceCapacity",
      Message: "Server.InsufficientInstanceCapacity: Insufficient capacity.",
    },
  };
  await assert.rejects(() => provider(ec2).launch(request), (e: Error) => {
    assert.ok(e instanceof CapacityError, `${e.name}: ${e.message}`);
    assert.equal(
      e.message,
      "Cannot launch a t3.nano instance for node n1: instance i-1 ended at boot: " +
        "Server.InsufficientInstanceCapacity: Insufficient capacity.",
    );
    return true;
  });
  ec2.bootAs = { State: { Name: "terminated" } };
  await assert.rejects(() => provider(ec2).launch(request), UnavailableError);
});

Deno.test("AwsProvider.terminate() succeeds when the instance is gone or ending, whatever EC2 answered", async () => {
  const ec2 = new FakeNodesEc2();
  const p = provider(ec2);
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
