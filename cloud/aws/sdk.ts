/**
 * The AWS calls Milpa makes (EC2, Route 53, classic ELB) as three narrow interfaces listing only
 * the calls used, shared by the provider, its setup and the Services code; `awsApis` (in
 * `sdk_clients.ts`) is the one adapter over the real SDK v3 clients, and the fakes in
 * `services/fake_*.ts` implement the same interfaces for tests.
 *
 * The adapter only translates: it neither retries nor classifies. Every call goes through a
 * `Caller` (`errors.ts`), the one place that retries and turns SDK errors into Milpa's classes.
 * SDK types appear in these signatures and must not leave cloud/aws/.
 */
import type {
  CreateSecurityGroupCommandInput,
  DescribeImagesCommandInput,
  DescribeSubnetsCommandInput,
  DescribeVpcsCommandInput,
  Filter,
  Image,
  Instance as Ec2Instance,
  IpPermission,
  RunInstancesCommandInput,
  SecurityGroup,
  Subnet,
  Vpc,
} from "@aws-sdk/client-ec2";
import type {
  Change,
  CreateHostedZoneCommandInput,
  HostedZone,
  ResourceRecordSet,
  Tag as Route53Tag,
  VPC,
  VPCRegion,
} from "@aws-sdk/client-route-53";
import type {
  CreateLoadBalancerCommandInput,
  HealthCheck,
  Listener,
  LoadBalancerAttributes,
  LoadBalancerDescription,
  TagDescription,
} from "@aws-sdk/client-elastic-load-balancing";

export { awsApis, ec2Api, type SdkClients } from "./sdk_clients.ts";

export type {
  Change,
  CreateHostedZoneCommandInput,
  CreateLoadBalancerCommandInput,
  CreateSecurityGroupCommandInput,
  Ec2Instance,
  Filter,
  HealthCheck,
  HostedZone,
  IpPermission,
  Listener,
  LoadBalancerAttributes,
  LoadBalancerDescription,
  ResourceRecordSet,
  RunInstancesCommandInput,
  SecurityGroup,
  TagDescription,
  VPC,
  VPCRegion,
};

/** The EC2 calls: instances (nodes), and the VPC, images and security groups around them. */
export interface Ec2Api {
  /** RunInstances; resolves to the instances made (or, for a ClientToken used, found). */
  runInstances(input: RunInstancesCommandInput): Promise<Ec2Instance[]>;
  /** DescribeInstances by ids and/or filters, every page. An unknown id throws. */
  describeInstances(input: { Filters?: Filter[]; InstanceIds?: string[] }): Promise<Ec2Instance[]>;
  /** TerminateInstances. */
  terminateInstances(ids: string[]): Promise<void>;
  /** DescribeInstanceAttribute `userData`: the instance's user-data, base64. */
  userData(instanceId: string): Promise<string | undefined>;
  /** ModifyInstanceAttribute `Groups`: the instance's groups become exactly `groupIds`. */
  setInstanceGroups(instanceId: string, groupIds: string[]): Promise<void>;
  /** DescribeImages. */
  describeImages(input: DescribeImagesCommandInput): Promise<Image[]>;
  /** DescribeVpcs. */
  describeVpcs(input: DescribeVpcsCommandInput): Promise<Vpc[]>;
  /** DescribeSubnets. */
  describeSubnets(input: DescribeSubnetsCommandInput): Promise<Subnet[]>;
  /** DescribeSecurityGroups by ids and/or filters, every page. */
  describeSecurityGroups(
    input: { Filters?: Filter[]; GroupIds?: string[] },
  ): Promise<SecurityGroup[]>;
  /** CreateSecurityGroup; resolves to the new group's id. */
  createSecurityGroup(input: CreateSecurityGroupCommandInput): Promise<string>;
  /** DeleteSecurityGroup by id. */
  deleteSecurityGroup(groupId: string): Promise<void>;
  /** AuthorizeSecurityGroupIngress. */
  authorizeIngress(groupId: string, permissions: IpPermission[]): Promise<void>;
  /** RevokeSecurityGroupIngress. */
  revokeIngress(groupId: string, permissions: IpPermission[]): Promise<void>;
}

/** One page of ListResourceRecordSets. */
export interface RecordSetPage {
  records: ResourceRecordSet[];
  /** Where the next page starts, when there is one. */
  next?: { name: string; type: string };
}

/** The Route 53 calls: one private zone and its records. Zone ids come without "/hostedzone/". */
export interface Route53Api {
  /** ListHostedZonesByName from `dnsName`, the zones of exactly that name (every page). */
  listHostedZonesByName(dnsName: string): Promise<HostedZone[]>;
  /** GetHostedZone: the VPCs a (private) zone is associated with. */
  getHostedZoneVpcs(zoneId: string): Promise<VPC[]>;
  /** CreateHostedZone; resolves to the new zone. */
  createHostedZone(input: CreateHostedZoneCommandInput): Promise<HostedZone>;
  /** ChangeTagsForResource on a hosted zone. */
  tagHostedZone(zoneId: string, tags: Route53Tag[]): Promise<void>;
  /** One page of ListResourceRecordSets, from `start` (name and optionally type). */
  listResourceRecordSets(
    zoneId: string,
    start?: { name: string; type?: string },
  ): Promise<RecordSetPage>;
  /** ChangeResourceRecordSets: one atomic batch. */
  changeResourceRecordSets(zoneId: string, changes: Change[]): Promise<void>;
}

/** The classic ELB calls. */
export interface ElbApi {
  /** DescribeLoadBalancers, of `names` or (every page) of all; a missing name throws. */
  describeLoadBalancers(names?: string[]): Promise<LoadBalancerDescription[]>;
  /** CreateLoadBalancer; resolves to its DNS name. */
  createLoadBalancer(input: CreateLoadBalancerCommandInput): Promise<string>;
  /** DeleteLoadBalancer (AWS makes it a no-op for an unknown name). */
  deleteLoadBalancer(name: string): Promise<void>;
  /** CreateLoadBalancerListeners. */
  createListeners(name: string, listeners: Listener[]): Promise<void>;
  /** DeleteLoadBalancerListeners by load balancer port. */
  deleteListeners(name: string, ports: number[]): Promise<void>;
  /** ApplySecurityGroupsToLoadBalancer. */
  applySecurityGroups(name: string, groupIds: string[]): Promise<void>;
  /** ConfigureHealthCheck. */
  configureHealthCheck(name: string, healthCheck: HealthCheck): Promise<void>;
  /** DescribeLoadBalancerAttributes. */
  describeAttributes(name: string): Promise<LoadBalancerAttributes>;
  /** ModifyLoadBalancerAttributes. */
  modifyAttributes(name: string, attributes: LoadBalancerAttributes): Promise<void>;
  /** RegisterInstancesWithLoadBalancer. */
  registerInstances(name: string, instanceIds: string[]): Promise<void>;
  /** DeregisterInstancesFromLoadBalancer. */
  deregisterInstances(name: string, instanceIds: string[]): Promise<void>;
  /** DescribeInstanceHealth: the ids of the registered instances whose state is InService. */
  describeInServiceInstances(name: string): Promise<string[]>;
  /** DescribeTags of up to 20 load balancers. */
  describeTags(names: string[]): Promise<TagDescription[]>;
}

/** The three APIs, as the provider's setup and `AwsServices` take them. */
export interface AwsApis {
  ec2: Ec2Api;
  route53: Route53Api;
  elb: ElbApi;
}
