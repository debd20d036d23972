/**
 * Builds the AWS provider from `cloud.aws` and `nodes`: SDK clients (pointed at `endpointURL`
 * when set), the VPC (`vpcID: default` = the default VPC), its CIDRs and a subnet, the boot
 * image (an AMI id, or the newest image matching `bootImageTags`, owned by `imageOwnerID` unless
 * the tags name owners), the cluster security group every node gets (all traffic from inside
 * the VPC and `nodes.extraCIDRs`), created if missing, and what else nodes get from Milpa's
 * fields: `extraSecurityGroups`, `nametag`, `cloudInitFile`.
 */
import { EC2Client, type Filter } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { Route53Client } from "@aws-sdk/client-route-53";
import type { AwsCloudConfig, NodesConfig } from "../../model/config.ts";
import { NotFoundError, ValidationError } from "../../model/errors.ts";
import { AwsProvider, CONTROLLER_TAG } from "./aws_provider.ts";
import { type Caller, caller, classify } from "./errors.ts";
import { awsApis, type Ec2Api } from "./sdk.ts";
import { AwsServices } from "./services/aws_services.ts";
import { readCloudInitFile } from "./user_data.ts";

/** What the AWS provider is set up from. */
export interface AwsSetup {
  aws: AwsCloudConfig;
  nodes: Pick<
    NodesConfig,
    | "bootImage"
    | "bootImageTags"
    | "nametag"
    | "extraCIDRs"
    | "extraSecurityGroups"
    | "cloudInitFile"
  >;
  controllerId: string;
  clusterName: string;
  ttl: number;
  log?: (message: string) => void;
}

/** The AWS provider, with a count of the API calls it made by name. */
export interface AwsCloud {
  provider: AwsProvider;
  calls: Map<string, number>;
}

/** The region: config, else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1. */
export function regionOf(aws: AwsCloudConfig): string {
  return aws.region ?? Deno.env.get("AWS_REGION") ?? Deno.env.get("AWS_DEFAULT_REGION") ??
    "us-east-1";
}

async function findVpc(
  ec2: Ec2Api,
  call: Caller,
  vpcID: string,
): Promise<{ id: string; cidrs: string[] }> {
  const filters: Filter[] = vpcID === "default" ? [{ Name: "is-default", Values: ["true"] }] : [];
  const vpcs = await call(
    `find VPC ${vpcID}`,
    () => ec2.describeVpcs(vpcID === "default" ? { Filters: filters } : { VpcIds: [vpcID] }),
  );
  const vpc = vpcs[0];
  if (!vpc?.VpcId) {
    throw new ValidationError(
      vpcID === "default"
        ? "cloud.aws.vpcID: this account has no default VPC; name one"
        : `cloud.aws.vpcID: VPC ${vpcID} not found`,
      [{ field: "cloud.aws.vpcID", message: "not found", value: vpcID }],
    );
  }
  const cidrs = (vpc.CidrBlockAssociationSet ?? []).map((a) => a.CidrBlock!).filter(Boolean);
  return { id: vpc.VpcId, cidrs: cidrs.length ? cidrs : [vpc.CidrBlock!] };
}

async function findSubnets(
  ec2: Ec2Api,
  call: Caller,
  vpcId: string,
  subnetID?: string,
): Promise<string[]> {
  const subnets = await call(
    `find the subnets of VPC ${vpcId}`,
    () =>
      ec2.describeSubnets(
        subnetID ? { SubnetIds: [subnetID] } : { Filters: [{ Name: "vpc-id", Values: [vpcId] }] },
      ),
  );
  if (!subnets.length) {
    throw new ValidationError(`cloud.aws.subnetID: no subnet ${subnetID ?? `in VPC ${vpcId}`}`, [
      { field: "cloud.aws.subnetID", message: "not found", value: subnetID },
    ]);
  }
  return subnets.map((s) => s.SubnetId!).sort();
}

/** The boot image: `nodes.bootImage`, else the newest image matching `nodes.bootImageTags`. */
export async function findImage(
  ec2: Ec2Api,
  call: Caller,
  nodes: AwsSetup["nodes"],
  imageOwnerID?: string,
): Promise<string> {
  if (nodes.bootImage) return nodes.bootImage;
  const tags = nodes.bootImageTags;
  if (!tags?.name) {
    throw new ValidationError(
      "nodes.bootImage: set an AMI id, or nodes.bootImageTags.name (and owners)",
      [
        { field: "nodes.bootImage", message: "required on AWS" },
      ],
    );
  }
  const owners = tags.owners?.length ? tags.owners : [imageOwnerID ?? "self"];
  const images = await call(`find the boot image "${tags.name}"`, () =>
    ec2.describeImages({
      Owners: owners,
      Filters: [{ Name: "name", Values: [tags.name!] }, { Name: "state", Values: ["available"] }],
    }));
  const newest =
    images.sort((a, b) => (b.CreationDate ?? "").localeCompare(a.CreationDate ?? ""))[0];
  if (!newest?.ImageId) {
    throw new ValidationError(
      `nodes.bootImageTags: no image named "${tags.name}" owned by ${owners}`,
      [
        { field: "nodes.bootImageTags.name", message: "matches no image", value: tags.name },
      ],
    );
  }
  return newest.ImageId;
}

/**
 * The cluster group: all traffic between nodes (from the VPC) and from `extraCIDRs`. Created
 * when missing; an existing one gets the extra CIDRs it lacks (none is ever taken away).
 */
export async function clusterGroup(
  ec2: Ec2Api,
  call: Caller,
  controllerId: string,
  vpc: { id: string; cidrs: string[] },
  extraCIDRs: string[] = [],
): Promise<string> {
  const name = `milpa-${controllerId}-default-nodesecuritygroup`;
  const found = await call(`find security group ${name}`, () =>
    ec2.describeSecurityGroups({
      Filters: [{ Name: "group-name", Values: [name] }, { Name: "vpc-id", Values: [vpc.id] }],
    }));
  const existing = found[0];
  if (existing?.GroupId) {
    const held = new Set(
      (existing.IpPermissions ?? []).filter((p) => p.IpProtocol === "-1")
        .flatMap((p) => (p.IpRanges ?? []).map((r) => r.CidrIp)),
    );
    const missing = [...new Set(extraCIDRs)].filter((c) => !held.has(c));
    if (missing.length) {
      await call(
        `open security group ${name} to nodes.extraCIDRs`,
        () =>
          ec2.authorizeIngress(existing.GroupId!, [
            { IpProtocol: "-1", IpRanges: missing.map((c) => ({ CidrIp: c })) },
          ]),
      );
    }
    return existing.GroupId;
  }
  const id = await call(`create security group ${name}`, () =>
    ec2.createSecurityGroup({
      GroupName: name,
      Description: `MilpaSG ${controllerId} cluster`,
      VpcId: vpc.id,
      TagSpecifications: [{
        ResourceType: "security-group",
        Tags: [{ Key: CONTROLLER_TAG, Value: controllerId }, { Key: "Name", Value: name }],
      }],
    }));
  const sources = [...new Set([...vpc.cidrs, ...extraCIDRs])];
  await call(`open security group ${name} to the VPC`, () =>
    ec2.authorizeIngress(id, [
      { IpProtocol: "-1", IpRanges: sources.map((c) => ({ CidrIp: c })) },
    ]));
  return id;
}

/** Throws a ValidationError naming `nodes.extraSecurityGroups` when one of them is not in `vpcId`. */
export async function checkExtraGroups(
  ec2: Ec2Api,
  call: Caller,
  vpcId: string,
  groupIds: string[] = [],
): Promise<void> {
  if (!groupIds.length) return;
  const found = await call(
    "find nodes.extraSecurityGroups",
    () => ec2.describeSecurityGroups({ GroupIds: groupIds }),
  ).catch((e) => {
    if (e instanceof NotFoundError) return [];
    throw e;
  });
  const inVpc = new Set(found.filter((g) => g.VpcId === vpcId).map((g) => g.GroupId));
  const missing = groupIds.filter((g) => !inVpc.has(g));
  if (missing.length) {
    throw new ValidationError(
      `nodes.extraSecurityGroups: ${missing.join(", ")} not found in VPC ${vpcId}`,
      missing.map((g) => ({
        field: `nodes.extraSecurityGroups[${groupIds.indexOf(g)}]`,
        message: `not found in VPC ${vpcId}`,
        value: g,
      })),
    );
  }
}

/** Sets the AWS provider up; errors name the config field at fault. */
export async function createAwsCloud(setup: AwsSetup): Promise<AwsCloud> {
  const calls = new Map<string, number>();
  const count = (name: string) => calls.set(name, (calls.get(name) ?? 0) + 1);
  const region = regionOf(setup.aws);
  const common = {
    region,
    // Retries happen in one place, the `Caller` of errors.ts: the SDK's own (3 tries by
    // default) would multiply them.
    maxAttempts: 1,
    ...(setup.aws.endpointURL ? { endpoint: setup.aws.endpointURL } : {}),
    ...(setup.aws.accessKeyID && setup.aws.secretAccessKey
      ? {
        credentials: {
          accessKeyId: setup.aws.accessKeyID,
          secretAccessKey: setup.aws.secretAccessKey,
        },
      }
      : {}),
  };
  const clients = {
    ec2: new EC2Client(common),
    route53: new Route53Client(common),
    elb: new ElasticLoadBalancingClient(common),
  };
  const destroy = () => {
    clients.ec2.destroy();
    clients.route53.destroy();
    clients.elb.destroy();
  };
  const apis = awsApis(clients, count);
  const ec2 = apis.ec2;
  const call = caller();
  try {
    const userCloudConfig = setup.nodes.cloudInitFile
      ? await readCloudInitFile(setup.nodes.cloudInitFile)
      : undefined;
    const vpc = await findVpc(ec2, call, setup.aws.vpcID ?? "default");
    const subnets = await findSubnets(ec2, call, vpc.id, setup.aws.subnetID);
    await checkExtraGroups(ec2, call, vpc.id, setup.nodes.extraSecurityGroups);
    const imageId = await findImage(ec2, call, setup.nodes, setup.aws.imageOwnerID);
    const clusterGroupId = await clusterGroup(
      ec2,
      call,
      setup.controllerId,
      vpc,
      setup.nodes.extraCIDRs,
    );
    const services = new AwsServices({
      ...apis,
      controllerId: setup.controllerId,
      clusterName: setup.clusterName,
      ttl: setup.ttl,
      vpcId: vpc.id,
      vpcCidrs: vpc.cidrs,
      subnetIds: setup.aws.subnetID ? [setup.aws.subnetID] : subnets,
      region,
      clusterGroupId,
      log: setup.log,
    });
    const provider = new AwsProvider({
      ec2,
      services,
      controllerId: setup.controllerId,
      subnetId: subnets[0],
      clusterGroupId,
      imageId,
      extraGroupIds: setup.nodes.extraSecurityGroups,
      nametag: setup.nodes.nametag,
      userCloudConfig,
      close: destroy,
    });
    return { provider, calls };
  } catch (e) {
    destroy();
    throw classify(e, "set up the AWS cloud");
  }
}
