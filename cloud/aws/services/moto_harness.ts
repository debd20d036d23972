/**
 * Test support: a moto server (Python's AWS emulator) on 127.0.0.1 with a default-VPC setup
 * like the provider's (a cluster group, two instances launched directly), the real SDK clients
 * pointed at it, and `AwsServices` over them. Only tests import this file.
 */
import {
  CreateSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  EC2Client,
  RunInstancesCommand,
} from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { Route53Client } from "@aws-sdk/client-route-53";
import assert from "node:assert/strict";
import type { IngressRule } from "../../provider.ts";
import { AwsServices, type AwsServicesOptions } from "./aws_services.ts";
import { type AwsApis, awsApis } from "../sdk.ts";
import { hasMoto as motoInstalled, startMotoServer } from "../../../tests/support/moto.ts";

/** Whether `python3 -c "import moto"` works here; tests are ignored (loudly named) otherwise. */
export function hasMoto(): boolean {
  return motoInstalled;
}

/** A moto server with a VPC setup and the clients to inspect it. */
export interface MotoCloud {
  ec2: EC2Client;
  route53: Route53Client;
  elb: ElasticLoadBalancingClient;
  vpcId: string;
  vpcCidrs: string[];
  subnetIds: string[];
  clusterGroupId: string;
  /** An AMI moto knows. */
  imageId: string;
  /** Two running instances with the cluster group. */
  instances: string[];
  /** A new `AwsServices` over these clients (a restart is a second one). */
  services(overrides?: Partial<AwsServicesOptions>): AwsServices;
  /** Closes the clients and kills the server (by pid). */
  close(): Promise<void>;
}

/** Starts moto on a free port (`env`: see `startMotoServer`), waits, and sets up the VPC. */
export async function startMotoCloud(env: Record<string, string> = {}): Promise<MotoCloud> {
  const server = await startMotoServer(env);
  const endpoint = server.url;
  const config = {
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  };
  const ec2 = new EC2Client(config);
  const route53 = new Route53Client(config);
  const elb = new ElasticLoadBalancingClient(config);
  const close = async () => {
    ec2.destroy();
    route53.destroy();
    elb.destroy();
    await server.close();
  };
  try {
    const vpc = (await ec2.send(
      new DescribeVpcsCommand({ Filters: [{ Name: "is-default", Values: ["true"] }] }),
    )).Vpcs![0];
    const subnetIds = (await ec2.send(
      new DescribeSubnetsCommand({ Filters: [{ Name: "vpc-id", Values: [vpc.VpcId!] }] }),
    )).Subnets!.map((s) => s.SubnetId!).sort().slice(0, 2);
    const clusterGroupId = (await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: "milpa-ctl-default-nodesecuritygroup",
        Description: "cluster",
        VpcId: vpc.VpcId,
      }),
    )).GroupId!;
    const image = (await ec2.send(new DescribeImagesCommand({}))).Images![0].ImageId!;
    const run = await ec2.send(
      new RunInstancesCommand({
        ImageId: image,
        MinCount: 2,
        MaxCount: 2,
        InstanceType: "t3.micro",
        SubnetId: subnetIds[0],
        SecurityGroupIds: [clusterGroupId],
      }),
    );
    const cloud: Omit<MotoCloud, "services"> = {
      ec2,
      route53,
      elb,
      vpcId: vpc.VpcId!,
      vpcCidrs: [vpc.CidrBlock!],
      subnetIds,
      clusterGroupId,
      imageId: image,
      instances: run.Instances!.map((i) => i.InstanceId!),
      close,
    };
    return {
      ...cloud,
      services: (overrides = {}) =>
        new AwsServices({
          ...awsApis({ ec2, route53, elb }),
          controllerId: "ctl",
          clusterName: "test",
          ttl: 30,
          vpcId: cloud.vpcId,
          vpcCidrs: cloud.vpcCidrs,
          subnetIds,
          region: "us-east-1",
          clusterGroupId,
          sleep: () => Promise.resolve(),
          ...overrides,
        }),
    };
  } catch (e) {
    await close();
    throw e;
  }
}

/** The error `fn` rejects with, checked to be a `cls`. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls?: new (...a: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    if (cls) assert.ok(e instanceof cls, `expected ${cls.name}, got ${e}`);
    return e as E;
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}

const NEEDS = " (needs python3 moto)";

/**
 * A test against a fresh moto cloud (started with `env` added to its environment); ignored, with
 * a loud name, without moto.
 */
export function withMoto(
  name: string,
  fn: (m: MotoCloud) => Promise<void>,
  env: Record<string, string> = {},
): void {
  Deno.test({
    name: name + NEEDS,
    ignore: !hasMoto(),
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const m = await startMotoCloud(env);
      try {
        await fn(m);
      } finally {
        await m.close();
      }
    },
  });
}

/** The real APIs, recording every call by method name. */
export function spied(
  m: MotoCloud,
): { apis: AwsApis; calls: { name: string; args: unknown[] }[] } {
  const calls: { name: string; args: unknown[] }[] = [];
  const real = awsApis(m);
  const wrap = <T extends object>(api: T): T =>
    new Proxy(api, {
      get: (target, key) => (...args: unknown[]) => {
        calls.push({ name: String(key), args });
        return (target[key as keyof T] as (...a: unknown[]) => unknown)(...args);
      },
    });
  return { apis: { ec2: wrap(real.ec2), route53: wrap(real.route53), elb: wrap(real.elb) }, calls };
}

/** The security group of that name, as EC2 describes it. */
export async function groupNamed(m: MotoCloud, name: string) {
  const r = await m.ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: "group-name", Values: [name] }] }),
  );
  return r.SecurityGroups?.[0];
}

/** The sorted group ids of an instance. */
export async function groupsOf(m: MotoCloud, instanceId: string): Promise<string[]> {
  const r = await m.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }));
  return r.Reservations![0].Instances![0].SecurityGroups!.map((g) => g.GroupId!).sort();
}

/** A one-port ingress rule. */
export const rule = (
  port: number,
  source: string,
  protocol: IngressRule["protocol"] = "TCP",
): IngressRule => ({
  protocol,
  port,
  portRangeSize: 1,
  source,
});
