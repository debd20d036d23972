/**
 * The EC2 calls the AWS provider makes for nodes, as one narrow interface, so that tests can
 * replace it and no SDK type leaves cloud/aws/. `ec2Api()` adapts the real SDK client.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  type AuthorizeSecurityGroupIngressCommandInput,
  CreateSecurityGroupCommand,
  type CreateSecurityGroupCommandInput,
  DescribeImagesCommand,
  type DescribeImagesCommandInput,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  type DescribeInstancesCommandInput,
  DescribeSecurityGroupsCommand,
  type DescribeSecurityGroupsCommandInput,
  DescribeSubnetsCommand,
  type DescribeSubnetsCommandInput,
  DescribeVpcsCommand,
  type DescribeVpcsCommandInput,
  type EC2Client,
  type Image,
  type Instance as Ec2Instance,
  RunInstancesCommand,
  type RunInstancesCommandInput,
  type SecurityGroup,
  type Subnet,
  TerminateInstancesCommand,
  type Vpc,
} from "@aws-sdk/client-ec2";

/** The EC2 calls made for nodes. */
export interface Ec2Api {
  runInstances(input: RunInstancesCommandInput): Promise<Ec2Instance[]>;
  describeInstances(input: DescribeInstancesCommandInput): Promise<Ec2Instance[]>;
  terminateInstances(ids: string[]): Promise<void>;
  userData(instanceId: string): Promise<string | undefined>;
  describeImages(input: DescribeImagesCommandInput): Promise<Image[]>;
  describeVpcs(input: DescribeVpcsCommandInput): Promise<Vpc[]>;
  describeSubnets(input: DescribeSubnetsCommandInput): Promise<Subnet[]>;
  describeSecurityGroups(input: DescribeSecurityGroupsCommandInput): Promise<SecurityGroup[]>;
  createSecurityGroup(input: CreateSecurityGroupCommandInput): Promise<string>;
  authorizeIngress(input: AuthorizeSecurityGroupIngressCommandInput): Promise<void>;
}

/** The provider's EC2 calls over a real SDK client; `onCall` counts them. */
export function ec2Api(client: EC2Client, onCall: (name: string) => void = () => {}): Ec2Api {
  const call = <T>(name: string, p: Promise<T>) => {
    onCall(name);
    return p;
  };
  return {
    runInstances: async (input) =>
      (await call("RunInstances", client.send(new RunInstancesCommand(input)))).Instances ?? [],
    describeInstances: async (input) => {
      const out: Ec2Instance[] = [];
      let NextToken: string | undefined;
      do {
        const r = await call(
          "DescribeInstances",
          client.send(new DescribeInstancesCommand({ ...input, NextToken })),
        );
        for (const res of r.Reservations ?? []) out.push(...(res.Instances ?? []));
        NextToken = r.NextToken;
      } while (NextToken);
      return out;
    },
    terminateInstances: async (ids) => {
      await call(
        "TerminateInstances",
        client.send(new TerminateInstancesCommand({ InstanceIds: ids })),
      );
    },
    userData: async (id) => {
      const r = await call(
        "DescribeInstanceAttribute",
        client.send(
          new DescribeInstanceAttributeCommand({ InstanceId: id, Attribute: "userData" }),
        ),
      );
      return r.UserData?.Value;
    },
    describeImages: async (input) =>
      (await call("DescribeImages", client.send(new DescribeImagesCommand(input)))).Images ?? [],
    describeVpcs: async (input) =>
      (await call("DescribeVpcs", client.send(new DescribeVpcsCommand(input)))).Vpcs ?? [],
    describeSubnets: async (input) =>
      (await call("DescribeSubnets", client.send(new DescribeSubnetsCommand(input)))).Subnets ?? [],
    describeSecurityGroups: async (input) =>
      (await call("DescribeSecurityGroups", client.send(new DescribeSecurityGroupsCommand(input))))
        .SecurityGroups ?? [],
    createSecurityGroup: async (input) =>
      (await call("CreateSecurityGroup", client.send(new CreateSecurityGroupCommand(input))))
        .GroupId!,
    authorizeIngress: async (input) => {
      await call(
        "AuthorizeSecurityGroupIngress",
        client.send(new AuthorizeSecurityGroupIngressCommand(input)),
      );
    },
  };
}

/** An EC2 instance as the SDK describes it (kept inside cloud/aws/). */
export type { Ec2Instance };
