/**
 * Test support: a stateful fake of `Ec2ServicesApi` that behaves like EC2 where Milpa relies on
 * it (duplicate names and rules, DependencyViolation while a group is attached, the group
 * limit, `instance.group-id` matching any group), records calls and fails on demand.
 */
import type { Ec2Instance, Ec2ServicesApi, Filter, IpPermission, SecurityGroup } from "./sdk.ts";
import { permissionKey, permissionsHeld, toIpPermissions } from "./rules.ts";

/** An error shaped like an SDK service exception with AWS error code `code`. */
export function awsError(code: string, message = code, status = 400): Error {
  return Object.assign(new Error(message), {
    name: code,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
  });
}

/** Calls recorded by a fake, and errors it will throw next. */
export class Recorder {
  /** Every call: method name and arguments. */
  readonly calls: { name: string; args: unknown[] }[] = [];
  #failures = new Map<string, Error[]>();

  /** The next `times` calls of `method` throw `error`. */
  failNext(method: string, error: Error, times = 1): void {
    const list = this.#failures.get(method) ?? [];
    for (let i = 0; i < times; i++) list.push(error);
    this.#failures.set(method, list);
  }

  /** Records a call, throwing a scripted failure if there is one. */
  record(name: string, ...args: unknown[]): void {
    this.calls.push({ name, args: structuredClone(args) });
    const err = this.#failures.get(name)?.shift();
    if (err) throw err;
  }

  /** Names of the calls that change something (not describe/list/get). */
  writes(): string[] {
    return this.calls.map((c) => c.name).filter((n) => !/^(describe|list|get)/.test(n));
  }

  /** Forgets calls and failures. */
  reset(): void {
    this.calls.length = 0;
    this.#failures.clear();
  }
}

const matches = (values: string[] | undefined, v: string | undefined) =>
  v !== undefined && (values ?? []).includes(v);

/** A fake EC2 with security groups and instances. */
export class FakeEc2 extends Recorder implements Ec2ServicesApi {
  readonly groups = new Map<string, SecurityGroup>();
  readonly instances = new Map<string, Ec2Instance>();
  /** Groups an instance may have. */
  maxGroups = 5;
  #next = 1;

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

  describeSecurityGroups(input: { Filters?: Filter[]; GroupIds?: string[] }) {
    this.record("describeSecurityGroups", input);
    return Promise.resolve(
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
    this.record("createSecurityGroup", input);
    const taken = [...this.groups.values()].some((g) =>
      g.GroupName === input.GroupName && g.VpcId === input.VpcId
    );
    if (taken) return Promise.reject(awsError("InvalidGroup.Duplicate"));
    const tags = (input.TagSpecifications?.[0]?.Tags ?? []) as { Key: string; Value: string }[];
    return Promise.resolve(this.addGroup(input.GroupName!, input.VpcId, tags));
  }

  deleteSecurityGroup(groupId: string) {
    this.record("deleteSecurityGroup", groupId);
    if (!this.groups.has(groupId)) return Promise.reject(awsError("InvalidGroup.NotFound"));
    if ([...this.instances.keys()].some((i) => this.groupsOf(i).includes(groupId))) {
      return Promise.reject(awsError("DependencyViolation", "resource has a dependent object"));
    }
    this.groups.delete(groupId);
    return Promise.resolve();
  }

  #rules(groupId: string, permissions: IpPermission[], add: boolean): Promise<void> {
    const g = this.groups.get(groupId);
    if (!g) return Promise.reject(awsError("InvalidGroup.NotFound"));
    const held = permissionsHeld(g.IpPermissions);
    const keys = new Set(held.map(permissionKey));
    const change = permissionsHeld(permissions);
    for (const p of change) {
      if (add && keys.has(permissionKey(p))) {
        return Promise.reject(awsError("InvalidPermission.Duplicate"));
      }
      if (!add && !keys.has(permissionKey(p))) {
        return Promise.reject(awsError("InvalidPermission.NotFound"));
      }
    }
    const drop = new Set(change.map(permissionKey));
    g.IpPermissions = toIpPermissions(
      add ? [...held, ...change] : held.filter((p) => !drop.has(permissionKey(p))),
    );
    return Promise.resolve();
  }

  authorizeIngress(groupId: string, permissions: IpPermission[]) {
    this.record("authorizeIngress", groupId, permissions);
    return this.#rules(groupId, permissions, true);
  }

  revokeIngress(groupId: string, permissions: IpPermission[]) {
    this.record("revokeIngress", groupId, permissions);
    return this.#rules(groupId, permissions, false);
  }

  describeInstances(filters: Filter[]) {
    this.record("describeInstances", filters);
    return Promise.resolve(
      [...this.instances.values()].filter((i) =>
        filters.every((f) =>
          f.Name === "instance-id"
            ? matches(f.Values, i.InstanceId)
            : f.Name === "instance-state-name"
            ? matches(f.Values, i.State?.Name)
            : f.Name === "instance.group-id"
            ? this.groupsOf(i.InstanceId!).some((g) => matches(f.Values, g))
            : false
        )
      ).map((i) => structuredClone(i)),
    );
  }

  setInstanceGroups(instanceId: string, groupIds: string[]) {
    this.record("setInstanceGroups", instanceId, groupIds);
    const inst = this.instances.get(instanceId);
    if (!inst) return Promise.reject(awsError("InvalidInstanceID.NotFound"));
    if (groupIds.length > this.maxGroups) {
      return Promise.reject(awsError("SecurityGroupsPerInstanceLimitExceeded"));
    }
    inst.SecurityGroups = groupIds.map((GroupId) => ({ GroupId }));
    return Promise.resolve();
  }
}
