/**
 * Builds the AWS provider from `cloud.aws` and `nodes`: SDK clients (pointed at `endpointURL`
 * when set), the VPC (`vpcID: default` = the default VPC), its CIDRs and a subnet, the boot
 * image (an AMI id, or the newest image matching `bootImageTags`), and the cluster security
 * group every node gets (all traffic from inside the VPC), created if missing.
 */
import { EC2Client, type Filter } from "@aws-sdk/client-ec2";
import { ElasticLoadBalancingClient } from "@aws-sdk/client-elastic-load-balancing";
import { Route53Client } from "@aws-sdk/client-route-53";
import type { AwsCloudConfig, NodesConfig } from "../../model/config.ts";
import { ValidationError } from "../../model/errors.ts";
import { AwsProvider, CONTROLLER_TAG } from "./aws_provider.ts";
import { type Caller, caller, classify } from "./errors.ts";
import { awsApis, type Ec2Api } from "./sdk.ts";
import { AwsServices } from "./services/aws_services.ts";

/** What the AWS provider is set up from. */
export interface AwsSetup {
  aws: AwsCloudConfig;
  nodes: Pick<NodesConfig, "bootImage" | "bootImageTags">;
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

async function findImage(ec2: Ec2Api, call: Caller, nodes: AwsSetup["nodes"]): Promise<string> {
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
  const images = await call(`find the boot image "${tags.name}"`, () =>
    ec2.describeImages({
      Owners: tags.owners?.length ? tags.owners : ["self"],
      Filters: [{ Name: "name", Values: [tags.name!] }, { Name: "state", Values: ["available"] }],
    }));
  const newest =
    images.sort((a, b) => (b.CreationDate ?? "").localeCompare(a.CreationDate ?? ""))[0];
  if (!newest?.ImageId) {
    throw new ValidationError(
      `nodes.bootImageTags: no image named "${tags.name}" owned by ${tags.owners ?? ["self"]}`,
      [
        { field: "nodes.bootImageTags.name", message: "matches no image", value: tags.name },
      ],
    );
  }
  return newest.ImageId;
}

/** The cluster group: all traffic between nodes (from the VPC). Created when missing. */
async function clusterGroup(
  ec2: Ec2Api,
  call: Caller,
  controllerId: string,
  vpc: { id: string; cidrs: string[] },
): Promise<string> {
  const name = `milpa-${controllerId}-default-nodesecuritygroup`;
  const found = await call(`find security group ${name}`, () =>
    ec2.describeSecurityGroups({
      Filters: [{ Name: "group-name", Values: [name] }, { Name: "vpc-id", Values: [vpc.id] }],
    }));
  if (found[0]?.GroupId) return found[0].GroupId;
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
  await call(`open security group ${name} to the VPC`, () =>
    ec2.authorizeIngress(id, [
      { IpProtocol: "-1", IpRanges: vpc.cidrs.map((c) => ({ CidrIp: c })) },
    ]));
  return id;
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
    const vpc = await findVpc(ec2, call, setup.aws.vpcID ?? "default");
    const subnets = await findSubnets(ec2, call, vpc.id, setup.aws.subnetID);
    const imageId = await findImage(ec2, call, setup.nodes);
    const clusterGroupId = await clusterGroup(ec2, call, setup.controllerId, vpc);
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
      close: destroy,
    });
    return { provider, calls };
  } catch (e) {
    destroy();
    throw classify(e, "set up the AWS cloud");
  }
}
