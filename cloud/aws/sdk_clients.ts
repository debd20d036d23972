/**
 * The one adapter of the narrow APIs in `sdk.ts` over the real SDK v3 clients: one command per
 * method, every page of a listing, nothing more (retries and error classes are the `Caller`'s).
 * `onCall` is told each call's AWS name, to count them.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeImagesCommand,
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  DescribeSubnetsCommand,
  DescribeVpcsCommand,
  type EC2Client,
  type Instance as Ec2Instance,
  ModifyInstanceAttributeCommand,
  RevokeSecurityGroupIngressCommand,
  RunInstancesCommand,
  type SecurityGroup,
  TerminateInstancesCommand,
} from "@aws-sdk/client-ec2";
import {
  ChangeResourceRecordSetsCommand,
  ChangeTagsForResourceCommand,
  CreateHostedZoneCommand,
  GetHostedZoneCommand,
  type HostedZone,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  type Route53Client,
  type RRType,
} from "@aws-sdk/client-route-53";
import {
  ApplySecurityGroupsToLoadBalancerCommand,
  ConfigureHealthCheckCommand,
  CreateLoadBalancerCommand,
  CreateLoadBalancerListenersCommand,
  DeleteLoadBalancerCommand,
  DeleteLoadBalancerListenersCommand,
  DeregisterInstancesFromLoadBalancerCommand,
  DescribeInstanceHealthCommand,
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
  type ElasticLoadBalancingClient,
  type LoadBalancerDescription,
  ModifyLoadBalancerAttributesCommand,
  RegisterInstancesWithLoadBalancerCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import type { AwsApis, Ec2Api, ElbApi, Route53Api } from "./sdk.ts";

/** The SDK clients the adapter sends through (built, and destroyed, by `setup.ts`). */
export interface SdkClients {
  ec2: EC2Client;
  route53: Route53Client;
  elb: ElasticLoadBalancingClient;
}

type OnCall = (name: string) => void;

/** Runs `send` after telling `onCall` its name. */
const counted = (onCall: OnCall) => <T>(name: string, send: () => Promise<T>): Promise<T> => {
  onCall(name);
  return send();
};

/** Every item of a paged listing: `page(token)` gives one page's items and the next token. */
async function allPages<T>(
  page: (token?: string) => Promise<{ items?: T[]; next?: string }>,
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const r = await page(token);
    out.push(...r.items ?? []);
    token = r.next;
  } while (token);
  return out;
}

/** Route 53 answers "/hostedzone/Z123"; the other calls take "Z123". */
const zoneIdOf = (id: string) => id.replace(/^\/hostedzone\//, "");

/** The EC2 calls over a real client. */
export function ec2Api(client: EC2Client, onCall: OnCall = () => {}): Ec2Api {
  const call = counted(onCall);
  return {
    runInstances: async (input) =>
      (await call("RunInstances", () => client.send(new RunInstancesCommand(input))))
        .Instances ?? [],
    describeInstances: (input) =>
      allPages<Ec2Instance>(async (NextToken) => {
        const r = await call(
          "DescribeInstances",
          () => client.send(new DescribeInstancesCommand({ ...input, NextToken })),
        );
        return {
          items: (r.Reservations ?? []).flatMap((res) => res.Instances ?? []),
          next: r.NextToken,
        };
      }),
    terminateInstances: async (InstanceIds) => {
      await call(
        "TerminateInstances",
        () => client.send(new TerminateInstancesCommand({ InstanceIds })),
      );
    },
    userData: async (InstanceId) =>
      (await call("DescribeInstanceAttribute", () =>
        client.send(
          new DescribeInstanceAttributeCommand({ InstanceId, Attribute: "userData" }),
        ))).UserData?.Value,
    setInstanceGroups: async (InstanceId, Groups) => {
      await call(
        "ModifyInstanceAttribute",
        () => client.send(new ModifyInstanceAttributeCommand({ InstanceId, Groups })),
      );
    },
    describeImages: async (input) =>
      (await call("DescribeImages", () => client.send(new DescribeImagesCommand(input)))).Images ??
        [],
    describeVpcs: async (input) =>
      (await call("DescribeVpcs", () => client.send(new DescribeVpcsCommand(input)))).Vpcs ?? [],
    describeSubnets: async (input) =>
      (await call("DescribeSubnets", () => client.send(new DescribeSubnetsCommand(input))))
        .Subnets ?? [],
    describeSecurityGroups: (input) =>
      allPages<SecurityGroup>(async (NextToken) => {
        const r = await call(
          "DescribeSecurityGroups",
          () => client.send(new DescribeSecurityGroupsCommand({ ...input, NextToken })),
        );
        return { items: r.SecurityGroups, next: r.NextToken };
      }),
    createSecurityGroup: async (input) =>
      (await call("CreateSecurityGroup", () => client.send(new CreateSecurityGroupCommand(input))))
        .GroupId!,
    deleteSecurityGroup: async (GroupId) => {
      await call(
        "DeleteSecurityGroup",
        () => client.send(new DeleteSecurityGroupCommand({ GroupId })),
      );
    },
    authorizeIngress: async (GroupId, IpPermissions) => {
      await call(
        "AuthorizeSecurityGroupIngress",
        () => client.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions })),
      );
    },
    revokeIngress: async (GroupId, IpPermissions) => {
      await call(
        "RevokeSecurityGroupIngress",
        () => client.send(new RevokeSecurityGroupIngressCommand({ GroupId, IpPermissions })),
      );
    },
  };
}

/** The Route 53 calls over a real client. */
export function route53Api(client: Route53Client, onCall: OnCall = () => {}): Route53Api {
  const call = counted(onCall);
  return {
    listHostedZonesByName: async (dnsName) => {
      const want = dnsName.replace(/\.?$/, ".").toLowerCase();
      const out: HostedZone[] = [];
      let start: { DNSName?: string; HostedZoneId?: string } = { DNSName: dnsName };
      for (;;) {
        const r = await call(
          "ListHostedZonesByName",
          () => client.send(new ListHostedZonesByNameCommand(start)),
        );
        out.push(...(r.HostedZones ?? []).filter((z) => z.Name?.toLowerCase() === want));
        if (!r.IsTruncated || r.NextDNSName?.toLowerCase() !== want) break;
        start = { DNSName: r.NextDNSName, HostedZoneId: r.NextHostedZoneId };
      }
      return out.map((z) => ({ ...z, Id: zoneIdOf(z.Id!) }));
    },
    getHostedZoneVpcs: async (Id) =>
      (await call("GetHostedZone", () => client.send(new GetHostedZoneCommand({ Id })))).VPCs ??
        [],
    createHostedZone: async (input) => {
      const r = await call(
        "CreateHostedZone",
        () => client.send(new CreateHostedZoneCommand(input)),
      );
      return { ...r.HostedZone!, Id: zoneIdOf(r.HostedZone!.Id!) };
    },
    tagHostedZone: async (ResourceId, AddTags) => {
      await call("ChangeTagsForResource", () =>
        client.send(
          new ChangeTagsForResourceCommand({ ResourceType: "hostedzone", ResourceId, AddTags }),
        ));
    },
    listResourceRecordSets: async (HostedZoneId, start) => {
      const r = await call("ListResourceRecordSets", () =>
        client.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId,
            StartRecordName: start?.name,
            StartRecordType: start?.type as RRType | undefined,
          }),
        ));
      return {
        records: r.ResourceRecordSets ?? [],
        next: r.IsTruncated && r.NextRecordName
          ? { name: r.NextRecordName, type: r.NextRecordType! }
          : undefined,
      };
    },
    changeResourceRecordSets: async (HostedZoneId, Changes) => {
      await call("ChangeResourceRecordSets", () =>
        client.send(
          new ChangeResourceRecordSetsCommand({ HostedZoneId, ChangeBatch: { Changes } }),
        ));
    },
  };
}

/** The classic ELB calls over a real client. */
export function elbApi(client: ElasticLoadBalancingClient, onCall: OnCall = () => {}): ElbApi {
  const call = counted(onCall);
  const instances = (ids: string[]) => ids.map((InstanceId) => ({ InstanceId }));
  return {
    describeLoadBalancers: (LoadBalancerNames) =>
      allPages<LoadBalancerDescription>(async (Marker) => {
        const r = await call(
          "DescribeLoadBalancers",
          () => client.send(new DescribeLoadBalancersCommand({ LoadBalancerNames, Marker })),
        );
        return { items: r.LoadBalancerDescriptions, next: r.NextMarker };
      }),
    createLoadBalancer: async (input) =>
      (await call("CreateLoadBalancer", () => client.send(new CreateLoadBalancerCommand(input))))
        .DNSName ?? "",
    deleteLoadBalancer: async (LoadBalancerName) => {
      await call(
        "DeleteLoadBalancer",
        () => client.send(new DeleteLoadBalancerCommand({ LoadBalancerName })),
      );
    },
    createListeners: async (LoadBalancerName, Listeners) => {
      await call(
        "CreateLoadBalancerListeners",
        () => client.send(new CreateLoadBalancerListenersCommand({ LoadBalancerName, Listeners })),
      );
    },
    deleteListeners: async (LoadBalancerName, LoadBalancerPorts) => {
      await call("DeleteLoadBalancerListeners", () =>
        client.send(
          new DeleteLoadBalancerListenersCommand({ LoadBalancerName, LoadBalancerPorts }),
        ));
    },
    applySecurityGroups: async (LoadBalancerName, SecurityGroups) => {
      await call("ApplySecurityGroupsToLoadBalancer", () =>
        client.send(
          new ApplySecurityGroupsToLoadBalancerCommand({ LoadBalancerName, SecurityGroups }),
        ));
    },
    configureHealthCheck: async (LoadBalancerName, HealthCheck) => {
      await call(
        "ConfigureHealthCheck",
        () => client.send(new ConfigureHealthCheckCommand({ LoadBalancerName, HealthCheck })),
      );
    },
    describeAttributes: async (LoadBalancerName) =>
      (await call(
        "DescribeLoadBalancerAttributes",
        () => client.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerName })),
      ))
        .LoadBalancerAttributes ?? {},
    modifyAttributes: async (LoadBalancerName, LoadBalancerAttributes) => {
      await call("ModifyLoadBalancerAttributes", () =>
        client.send(
          new ModifyLoadBalancerAttributesCommand({ LoadBalancerName, LoadBalancerAttributes }),
        ));
    },
    registerInstances: async (LoadBalancerName, ids) => {
      await call("RegisterInstancesWithLoadBalancer", () =>
        client.send(
          new RegisterInstancesWithLoadBalancerCommand({
            LoadBalancerName,
            Instances: instances(ids),
          }),
        ));
    },
    deregisterInstances: async (LoadBalancerName, ids) => {
      await call("DeregisterInstancesFromLoadBalancer", () =>
        client.send(
          new DeregisterInstancesFromLoadBalancerCommand({
            LoadBalancerName,
            Instances: instances(ids),
          }),
        ));
    },
    describeInServiceInstances: async (LoadBalancerName) =>
      ((await call(
        "DescribeInstanceHealth",
        () => client.send(new DescribeInstanceHealthCommand({ LoadBalancerName })),
      )).InstanceStates ??
        [])
        .filter((s) => s.State === "InService").map((s) => s.InstanceId!),
    describeTags: async (LoadBalancerNames) =>
      (await call(
        "DescribeTags",
        () => client.send(new DescribeTagsCommand({ LoadBalancerNames })),
      )).TagDescriptions ?? [],
  };
}

/** All three APIs over real clients; `onCall` counts the calls of every one. */
export function awsApis(clients: SdkClients, onCall: OnCall = () => {}): AwsApis {
  return {
    ec2: ec2Api(clients.ec2, onCall),
    route53: route53Api(clients.route53, onCall),
    elb: elbApi(clients.elb, onCall),
  };
}
