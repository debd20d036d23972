/** `fromClients`: the narrow Services APIs of `sdk.ts` over the real SDK v3 clients. */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  DescribeInstancesCommand,
  DescribeSecurityGroupsCommand,
  type EC2Client,
  type Instance as Ec2Instance,
  ModifyInstanceAttributeCommand,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroup,
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
import type { ServicesApis } from "./sdk.ts";

/** Route 53 answers "/hostedzone/Z123"; the other calls take "Z123". */
const zoneIdOf = (id: string) => id.replace(/^\/hostedzone\//, "");

/** The Services' calls over real SDK clients; `onCall` is told each call's name (to count them). */
export function fromClients(
  ec2Client: EC2Client,
  route53Client: Route53Client,
  elbClient: ElasticLoadBalancingClient,
  onCall: (name: string) => void = () => {},
): ServicesApis {
  const call = <T>(name: string, p: () => Promise<T>): Promise<T> => {
    onCall(name);
    return p();
  };
  return {
    ec2: {
      describeSecurityGroups: async (input) => {
        const out: SecurityGroup[] = [];
        let NextToken: string | undefined;
        do {
          const r = await call(
            "DescribeSecurityGroups",
            () => ec2Client.send(new DescribeSecurityGroupsCommand({ ...input, NextToken })),
          );
          out.push(...r.SecurityGroups ?? []);
          NextToken = r.NextToken;
        } while (NextToken);
        return out;
      },
      createSecurityGroup: async (input) =>
        (await call(
          "CreateSecurityGroup",
          () => ec2Client.send(new CreateSecurityGroupCommand(input)),
        )).GroupId!,
      deleteSecurityGroup: async (GroupId) => {
        await call(
          "DeleteSecurityGroup",
          () => ec2Client.send(new DeleteSecurityGroupCommand({ GroupId })),
        );
      },
      authorizeIngress: async (GroupId, IpPermissions) => {
        await call(
          "AuthorizeSecurityGroupIngress",
          () =>
            ec2Client.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions })),
        );
      },
      revokeIngress: async (GroupId, IpPermissions) => {
        await call(
          "RevokeSecurityGroupIngress",
          () => ec2Client.send(new RevokeSecurityGroupIngressCommand({ GroupId, IpPermissions })),
        );
      },
      describeInstances: async (Filters) => {
        const out: Ec2Instance[] = [];
        let NextToken: string | undefined;
        do {
          const r = await call(
            "DescribeInstances",
            () => ec2Client.send(new DescribeInstancesCommand({ Filters, NextToken })),
          );
          for (const res of r.Reservations ?? []) out.push(...res.Instances ?? []);
          NextToken = r.NextToken;
        } while (NextToken);
        return out;
      },
      setInstanceGroups: async (InstanceId, Groups) => {
        await call(
          "ModifyInstanceAttribute",
          () => ec2Client.send(new ModifyInstanceAttributeCommand({ InstanceId, Groups })),
        );
      },
    },
    route53: {
      listHostedZonesByName: async (dnsName) => {
        const want = dnsName.replace(/\.?$/, ".").toLowerCase();
        const out: HostedZone[] = [];
        let start: { DNSName?: string; HostedZoneId?: string } = { DNSName: dnsName };
        for (;;) {
          const r = await call(
            "ListHostedZonesByName",
            () => route53Client.send(new ListHostedZonesByNameCommand(start)),
          );
          out.push(...(r.HostedZones ?? []).filter((z) => z.Name?.toLowerCase() === want));
          if (!r.IsTruncated || r.NextDNSName?.toLowerCase() !== want) break;
          start = { DNSName: r.NextDNSName, HostedZoneId: r.NextHostedZoneId };
        }
        return out.map((z) => ({ ...z, Id: zoneIdOf(z.Id!) }));
      },
      getHostedZoneVpcs: async (Id) =>
        (await call("GetHostedZone", () => route53Client.send(new GetHostedZoneCommand({ Id }))))
          .VPCs ?? [],
      createHostedZone: async (input) => {
        const r = await call(
          "CreateHostedZone",
          () => route53Client.send(new CreateHostedZoneCommand(input)),
        );
        return { ...r.HostedZone!, Id: zoneIdOf(r.HostedZone!.Id!) };
      },
      tagHostedZone: async (ResourceId, AddTags) => {
        await call("ChangeTagsForResource", () =>
          route53Client.send(
            new ChangeTagsForResourceCommand({ ResourceType: "hostedzone", ResourceId, AddTags }),
          ));
      },
      listResourceRecordSets: async (HostedZoneId, start) => {
        const r = await call("ListResourceRecordSets", () =>
          route53Client.send(
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
          route53Client.send(
            new ChangeResourceRecordSetsCommand({ HostedZoneId, ChangeBatch: { Changes } }),
          ));
      },
    },
    elb: {
      describeLoadBalancers: async (LoadBalancerNames) => {
        const out: LoadBalancerDescription[] = [];
        let Marker: string | undefined;
        do {
          const r = await call(
            "DescribeLoadBalancers",
            () => elbClient.send(new DescribeLoadBalancersCommand({ LoadBalancerNames, Marker })),
          );
          out.push(...r.LoadBalancerDescriptions ?? []);
          Marker = r.NextMarker;
        } while (Marker);
        return out;
      },
      createLoadBalancer: async (input) =>
        (await call(
          "CreateLoadBalancer",
          () => elbClient.send(new CreateLoadBalancerCommand(input)),
        )).DNSName ?? "",
      deleteLoadBalancer: async (LoadBalancerName) => {
        await call(
          "DeleteLoadBalancer",
          () => elbClient.send(new DeleteLoadBalancerCommand({ LoadBalancerName })),
        );
      },
      createListeners: async (LoadBalancerName, Listeners) => {
        await call(
          "CreateLoadBalancerListeners",
          () =>
            elbClient.send(new CreateLoadBalancerListenersCommand({ LoadBalancerName, Listeners })),
        );
      },
      deleteListeners: async (LoadBalancerName, LoadBalancerPorts) => {
        await call("DeleteLoadBalancerListeners", () =>
          elbClient.send(
            new DeleteLoadBalancerListenersCommand({ LoadBalancerName, LoadBalancerPorts }),
          ));
      },
      applySecurityGroups: async (LoadBalancerName, SecurityGroups) => {
        await call("ApplySecurityGroupsToLoadBalancer", () =>
          elbClient.send(
            new ApplySecurityGroupsToLoadBalancerCommand({ LoadBalancerName, SecurityGroups }),
          ));
      },
      configureHealthCheck: async (LoadBalancerName, HealthCheck) => {
        await call(
          "ConfigureHealthCheck",
          () => elbClient.send(new ConfigureHealthCheckCommand({ LoadBalancerName, HealthCheck })),
        );
      },
      describeAttributes: async (LoadBalancerName) =>
        (await call(
          "DescribeLoadBalancerAttributes",
          () => elbClient.send(new DescribeLoadBalancerAttributesCommand({ LoadBalancerName })),
        ))
          .LoadBalancerAttributes ?? {},
      modifyAttributes: async (LoadBalancerName, LoadBalancerAttributes) => {
        await call("ModifyLoadBalancerAttributes", () =>
          elbClient.send(
            new ModifyLoadBalancerAttributesCommand({ LoadBalancerName, LoadBalancerAttributes }),
          ));
      },
      registerInstances: async (LoadBalancerName, ids) => {
        await call("RegisterInstancesWithLoadBalancer", () =>
          elbClient.send(
            new RegisterInstancesWithLoadBalancerCommand({
              LoadBalancerName,
              Instances: ids.map((InstanceId) => ({ InstanceId })),
            }),
          ));
      },
      deregisterInstances: async (LoadBalancerName, ids) => {
        await call("DeregisterInstancesFromLoadBalancer", () =>
          elbClient.send(
            new DeregisterInstancesFromLoadBalancerCommand({
              LoadBalancerName,
              Instances: ids.map((InstanceId) => ({ InstanceId })),
            }),
          ));
      },
      describeInServiceInstances: async (LoadBalancerName) =>
        ((await call(
          "DescribeInstanceHealth",
          () => elbClient.send(new DescribeInstanceHealthCommand({ LoadBalancerName })),
        )).InstanceStates ?? []).filter((s) => s.State === "InService").map((s) => s.InstanceId!),
      describeTags: async (LoadBalancerNames) =>
        (await call(
          "DescribeTags",
          () => elbClient.send(new DescribeTagsCommand({ LoadBalancerNames })),
        )).TagDescriptions ?? [],
    },
  };
}
