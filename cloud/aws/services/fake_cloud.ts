/**
 * Test support: `AwsServices` and `AwsProvider` over the fakes, in VPC `vpc-1` (172.31.0.0/16)
 * with a cluster group and two instances, recording log lines and waits instead of sleeping.
 */
import { AwsProvider, type AwsProviderOptions } from "../aws_provider.ts";
import { AwsServices, type AwsServicesOptions } from "./aws_services.ts";
import { FakeEc2 } from "./fake_ec2.ts";
import { FakeElb } from "./fake_elb.ts";
import { FakeRoute53 } from "./fake_route53.ts";

/** The fakes and what was built over them. */
export interface FakeCloud {
  ec2: FakeEc2;
  route53: FakeRoute53;
  elb: FakeElb;
  clusterGroupId: string;
  logs: string[];
  sleeps: number[];
  /** A new `AwsServices` over the same fakes (a second one is a restarted controller). */
  services(overrides?: Partial<AwsServicesOptions>): AwsServices;
  /**
   * A new `AwsProvider` over the same fakes, with its own `services()`, polling and batching
   * at once (a second one is a restarted controller).
   */
  provider(overrides?: Partial<AwsProviderOptions>): AwsProvider;
}

/** Fakes with a cluster group and instances i-1, i-2 that have it. */
export function fakeCloud(): FakeCloud {
  const ec2 = new FakeEc2();
  const route53 = new FakeRoute53();
  const elb = new FakeElb(ec2);
  const clusterGroupId = ec2.addGroup("milpa-ctl-default-nodesecuritygroup");
  for (const id of ["i-1", "i-2"]) ec2.addInstance(id, [clusterGroupId]);
  const logs: string[] = [];
  const sleeps: number[] = [];
  const sleep = (ms: number) => {
    sleeps.push(ms);
    return Promise.resolve();
  };
  const services = (overrides: Partial<AwsServicesOptions> = {}) =>
    new AwsServices({
      ec2,
      route53,
      elb,
      controllerId: "ctl",
      clusterName: "test",
      ttl: 30,
      vpcId: "vpc-1",
      vpcCidrs: ["172.31.0.0/16"],
      subnetIds: ["subnet-1", "subnet-2"],
      region: "us-east-1",
      clusterGroupId,
      log: (m) => logs.push(m),
      sleep,
      ...overrides,
    });
  return {
    ec2,
    route53,
    elb,
    clusterGroupId,
    logs,
    sleeps,
    services,
    provider: (overrides = {}) =>
      new AwsProvider({
        ec2,
        services: services(),
        controllerId: "ctl",
        subnetId: "subnet-1",
        clusterGroupId,
        imageId: "ami-1",
        pollMs: 1,
        describeWindowMs: 1,
        retry: { sleep },
        ...overrides,
      }),
  };
}
