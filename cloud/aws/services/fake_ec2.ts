/**
 * Test support: a stateful fake of `Ec2Api` that behaves like EC2 where Milpa relies on it:
 * launches idempotent by ClientToken, instances that boot on their first describe and keep their
 * tags, groups and metadata options, an unknown instance id failing a describe or terminate;
 * duplicate group names and rules, DependencyViolation while a live instance has a group, the
 * group limit, `instance.group-id` matching any group. It records calls and fails on demand.
 */
import type {
  Ec2Api,
  Ec2Instance,
  Filter,
  IpPermission,
  RunInstancesCommandInput,
  SecurityGroup,
} from "../sdk.ts";
import { awsError, Recorder } from "./fake_recorder.ts";
import { permissionKey, permissionsHeld, toIpPermissions } from "./rules.ts";

const matches = (values: string[] | undefined, v: string | undefined) =>
  v !== undefined && (values ?? []).includes(v);

/** Instance states in which an instance holds its network interface (and so its groups). */
const ALIVE = new Set(["pending", "running", "stopping", "stopped"]);

/** A fake EC2 with security groups and instances, in VPC `vpc-1` (172.31.0.0/16). */
export class FakeEc2 extends Recorder implements Ec2Api {
  readonly groups = new Map<string, SecurityGroup>();
  readonly instances = new Map<string, Ec2Instance>();
  /** User-data of launched instances, base64, by id. */
  readonly userDataOf = new Map<string, string>();
  /** Groups an instance may have. */
  maxGroups = 5;
  /** What an instance launched next looks like once it booted (its first describe). */
  bootAs: Partial<Ec2Instance> = {};
  #next = 1;
  #nextInstance = 1;
  /** ClientToken → the instance RunInstances made with it. */
  #tokens = new Map<string, string>();
  /** Launched instances that have not been described yet (still "pending"). */
  #booting = new Map<string, Partial<Ec2Instance>>();

  /** Adds a group directly (a cluster or foreign group). */
  addGroup(name: string, vpcId = "vpc-1", tags: { Key: string; Value: string }[] = []): string {
    const id = `sg-${(this.#next++).toString(16).padStart(8, "0")}`;
    this.groups.set(id, {
      GroupId: id,
      GroupName: name,
      VpcId: vpcId,
      Tags: tags,
      IpPermissions: [],
    });
    return id;
  }

  /** Adds a running instance with these groups. */
  addInstance(id: string, groups: string[]): void {
    this.instances.set(id, {
      InstanceId: id,
      State: { Name: "running" },
      SecurityGroups: groups.map((GroupId) => ({ GroupId })),
    });
  }

  /** The group ids of an instance, in order. */
  groupsOf(id: string): string[] {
    return (this.instances.get(id)?.SecurityGroups ?? []).map((g) => g.GroupId!);
  }

  /** Whether the instance exists and is not terminated (or on its way there). */
  isAlive(id: string): boolean {
    return ALIVE.has(this.instances.get(id)?.State?.Name ?? "");
  }

  #instance(id: string): Ec2Instance {
    const i = this.instances.get(id);
    if (!i) throw awsError("InvalidInstanceID.NotFound", `The instance ID '${id}' does not exist`);
    return i;
  }

  /** Launches one instance, pending until described; a ClientToken used returns the first one. */
  runInstances(input: RunInstancesCommandInput) {
    return this.run("runInstances", [input], () => {
      const known = input.ClientToken && this.#tokens.get(input.ClientToken);
      if (known) return [structuredClone(this.instances.get(known)!)];
      const n = this.#nextInstance++;
      const id = `i-${n.toString(16).padStart(17, "0")}`;
      const nic = input.NetworkInterfaces?.[0];
      const groups = nic?.Groups ?? input.SecurityGroupIds ?? [];
      const ip = `172.31.${Math.floor(n / 250)}.${(n % 250) + 4}`;
      const publicIp = nic?.AssociatePublicIpAddress ? { PublicIpAddress: `198.51.100.${n}` } : {};
      this.instances.set(id, {
        InstanceId: id,
        ImageId: input.ImageId,
        InstanceType: input.InstanceType,
        State: { Name: "pending" },
        LaunchTime: new Date(),
        SubnetId: nic?.SubnetId ?? input.SubnetId,
        VpcId: "vpc-1",
        PrivateIpAddress: ip,
        PrivateDnsName: `ip-${ip.replaceAll(".", "-")}.ec2.internal`,
        ...publicIp,
        SecurityGroups: groups.map((GroupId) => ({ GroupId })),
        Tags: input.TagSpecifications?.find((t) => t.ResourceType === "instance")?.Tags ?? [],
        ...(input.InstanceMarketOptions?.MarketType === "spot"
          ? { InstanceLifecycle: "spot" as const }
          : {}),
        ...(input.MetadataOptions
          ? { MetadataOptions: { ...input.MetadataOptions, State: "applied" as const } }
          : {}),
      });
      if (input.UserData) this.userDataOf.set(id, input.UserData);
      if (input.ClientToken) this.#tokens.set(input.ClientToken, id);
      this.#booting.set(id, { State: { Name: "running" }, ...this.bootAs });
      return [structuredClone(this.instances.get(id)!)];
    });
  }

  /** Instances by ids and filters; an unknown id fails the call, as EC2 does. */
  describeInstances(input: { Filters?: Filter[]; InstanceIds?: string[] }) {
    return this.run("describeInstances", [input], () => {
      for (const id of input.InstanceIds ?? []) this.#instance(id);
      const chosen = input.InstanceIds
        ? input.InstanceIds.map((id) => this.instances.get(id)!)
        : [...this.instances.values()];
      for (const i of chosen) {
        const boot = this.#booting.get(i.InstanceId!);
        if (boot) Object.assign(i, boot), this.#booting.delete(i.InstanceId!);
      }
      return chosen.filter((i) =>
        (input.Filters ?? []).every((f) =>
          f.Name === "instance-id"
            ? matches(f.Values, i.InstanceId)
            : f.Name === "instance-state-name"
            ? matches(f.Values, i.State?.Name)
            : f.Name === "instance.group-id"
            ? this.groupsOf(i.InstanceId!).some((g) => matches(f.Values, g))
            : f.Name!.startsWith("tag:")
            ? matches(f.Values, i.Tags?.find((t) => t.Key === f.Name!.slice(4))?.Value)
            : false
        )
      ).map((i) => structuredClone(i));
    });
  }

  /** Terminates at once; an unknown id fails the call, a terminated one stays terminated. */
  terminateInstances(ids: string[]) {
    return this.run("terminateInstances", [ids], () => {
      for (const id of ids) this.#instance(id);
      for (const id of ids) {
        this.#booting.delete(id);
        this.instances.get(id)!.State = { Name: "terminated" };
      }
    });
  }

  userData(instanceId: string) {
    return this.run("userData", [instanceId], () => {
      this.#instance(instanceId);
      return this.userDataOf.get(instanceId);
    });
  }

  setInstanceGroups(instanceId: string, groupIds: string[]) {
    return this.run("setInstanceGroups", [instanceId, groupIds], () => {
      const inst = this.#instance(instanceId);
      if (groupIds.length > this.maxGroups) {
        throw awsError("SecurityGroupsPerInstanceLimitExceeded");
      }
      inst.SecurityGroups = groupIds.map((GroupId) => ({ GroupId }));
    });
  }

  /** One image, `ami-1`, whatever is asked (the input is recorded). */
  describeImages(input?: Parameters<Ec2Api["describeImages"]>[0]) {
    return this.run("describeImages", [input], () => [{ ImageId: "ami-1", Name: "milpa-node" }]);
  }

  /** One default VPC, `vpc-1`. */
  describeVpcs() {
    return this.run("describeVpcs", [], () => [
      { VpcId: "vpc-1", CidrBlock: "172.31.0.0/16", IsDefault: true },
    ]);
  }

  /** Two subnets of `vpc-1`. */
  describeSubnets() {
    return this.run(
      "describeSubnets",
      [],
      () => ["subnet-1", "subnet-2"].map((SubnetId) => ({ SubnetId, VpcId: "vpc-1" })),
    );
  }

  describeSecurityGroups(input: { Filters?: Filter[]; GroupIds?: string[] }) {
    return this.run(
      "describeSecurityGroups",
      [input],
      () =>
        [...this.groups.values()].filter((g) =>
          (!input.GroupIds || input.GroupIds.includes(g.GroupId!)) &&
          (input.Filters ?? []).every((f) =>
            f.Name === "vpc-id"
              ? matches(f.Values, g.VpcId)
              : f.Name === "group-name"
              ? matches(f.Values, g.GroupName)
              : f.Name!.startsWith("tag:")
              ? matches(f.Values, g.Tags?.find((t) => t.Key === f.Name!.slice(4))?.Value)
              : false
          )
        ).map((g) => structuredClone(g)),
    );
  }

  createSecurityGroup(input: {
    GroupName?: string;
    VpcId?: string;
    TagSpecifications?: { Tags?: { Key?: string; Value?: string }[] }[];
  }) {
    return this.run("createSecurityGroup", [input], () => {
      const taken = [...this.groups.values()].some((g) =>
        g.GroupName === input.GroupName && g.VpcId === input.VpcId
      );
      if (taken) throw awsError("InvalidGroup.Duplicate");
      const tags = (input.TagSpecifications?.[0]?.Tags ?? []) as { Key: string; Value: string }[];
      return this.addGroup(input.GroupName!, input.VpcId, tags);
    });
  }

  /** Refused while a live instance has the group (a terminated one lost its interface). */
  deleteSecurityGroup(groupId: string) {
    return this.run("deleteSecurityGroup", [groupId], () => {
      if (!this.groups.has(groupId)) throw awsError("InvalidGroup.NotFound");
      const users = [...this.instances.keys()].filter((i) =>
        this.isAlive(i) && this.groupsOf(i).includes(groupId)
      );
      if (users.length) throw awsError("DependencyViolation", "resource has a dependent object");
      this.groups.delete(groupId);
    });
  }

  #rules(groupId: string, permissions: IpPermission[], add: boolean): void {
    const g = this.groups.get(groupId);
    if (!g) throw awsError("InvalidGroup.NotFound");
    const held = permissionsHeld(g.IpPermissions);
    const keys = new Set(held.map(permissionKey));
    const change = permissionsHeld(permissions);
    for (const p of change) {
      if (add && keys.has(permissionKey(p))) throw awsError("InvalidPermission.Duplicate");
      if (!add && !keys.has(permissionKey(p))) throw awsError("InvalidPermission.NotFound");
    }
    const drop = new Set(change.map(permissionKey));
    g.IpPermissions = toIpPermissions(
      add ? [...held, ...change] : held.filter((p) => !drop.has(permissionKey(p))),
    );
  }

  authorizeIngress(groupId: string, permissions: IpPermission[]) {
    return this.run(
      "authorizeIngress",
      [groupId, permissions],
      () => this.#rules(groupId, permissions, true),
    );
  }

  revokeIngress(groupId: string, permissions: IpPermission[]) {
    return this.run(
      "revokeIngress",
      [groupId, permissions],
      () => this.#rules(groupId, permissions, false),
    );
  }
}
