/**
 * The security groups of Services (reference §5.5): one per service (and one per load
 * balancer), found by tags, whose ingress is kept equal to the service's rules as a diff, and
 * attached to exactly the instances of its pods. An instance's other groups (the cluster
 * group, other services', foreign ones) are never removed.
 */
import {
  AlreadyExistsError,
  CapacityError,
  ConflictError,
  NotFoundError,
} from "../../../model/errors.ts";
import type { Caller } from "../errors.ts";
import {
  CONTROLLER_TAG,
  groupName,
  type GroupRole,
  hashName,
  ROLE_TAG,
  SERVICE_TAG,
  tagValue,
} from "./names.ts";
import { diffPermissions, type Permission, permissionsHeld, toIpPermissions } from "./rules.ts";
import type { Ec2Api, Ec2Instance, SecurityGroup } from "../sdk.ts";

/** What the groups are managed with. */
export interface SecurityGroupsOptions {
  ec2: Ec2Api;
  call: Caller;
  controllerId: string;
  vpcId: string;
  /** The cluster group every node has; an instance is never left without a group. */
  clusterGroupId: string;
  /** Groups an instance may have. @default 5 */
  maxGroupsPerInstance?: number;
  /** Tries of DeleteSecurityGroup while AWS says a dependency remains. @default 5 */
  deleteAttempts?: number;
  sleep: (ms: number) => Promise<void>;
  log: (message: string) => void;
}

const LIVE = ["pending", "running", "stopping", "stopped"];

/** The security groups of a controller's Services in one VPC. */
export class SecurityGroups {
  /** Instance group changes are read-modify-write: one at a time in this process. */
  #attaching: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: SecurityGroupsOptions) {}

  #filters(extra: { Name: string; Values: string[] }[] = []) {
    return [
      { Name: "vpc-id", Values: [this.o.vpcId] },
      { Name: `tag:${CONTROLLER_TAG}`, Values: [this.o.controllerId] },
      ...extra,
    ];
  }

  /** The service's group of `role`, if it exists. */
  async find(service: string, role: GroupRole): Promise<SecurityGroup | undefined> {
    const found = await this.o.call(
      `describe the security groups of service "${service}"`,
      () =>
        this.o.ec2.describeSecurityGroups({
          Filters: this.#filters([
            { Name: `tag:${SERVICE_TAG}`, Values: [service] },
            { Name: `tag:${ROLE_TAG}`, Values: [role] },
          ]),
        }),
    );
    return found.sort((a, b) => a.GroupId!.localeCompare(b.GroupId!))[0];
  }

  /** The service's group of `role`, created (tagged, without rules) when missing. */
  async ensure(service: string, role: GroupRole): Promise<SecurityGroup> {
    const found = await this.find(service, role);
    if (found) return found;
    const preferred = groupName(this.o.controllerId, service, role);
    for (const name of [preferred, `${preferred}-${await hashName(`${service} ${role}`, 8)}`]) {
      const group = await this.#create(service, role, name);
      if (group) return group;
    }
    throw new ConflictError(
      `Cannot create the security group of service "${service}": groups named ${preferred} ` +
        `and its hashed variant exist and belong to something else`,
    );
  }

  /** Creates the group; ours when a lost call made it; undefined when something else has the name. */
  async #create(
    service: string,
    role: GroupRole,
    name: string,
  ): Promise<SecurityGroup | undefined> {
    try {
      const id = await this.o.call(
        `create security group ${name}`,
        () =>
          this.o.ec2.createSecurityGroup({
            GroupName: name,
            Description: `MilpaSG ${this.o.controllerId} ${name}`,
            VpcId: this.o.vpcId,
            TagSpecifications: [{
              ResourceType: "security-group",
              Tags: [
                { Key: "Name", Value: name },
                { Key: CONTROLLER_TAG, Value: this.o.controllerId },
                { Key: SERVICE_TAG, Value: service },
                { Key: ROLE_TAG, Value: role },
              ],
            }],
          }),
      );
      this.o.log(`created security group ${id} (${name}) for service ${service}`);
      return { GroupId: id, GroupName: name, IpPermissions: [] };
    } catch (e) {
      if (!(e instanceof AlreadyExistsError)) throw e;
      const [same] = await this.o.call(
        `describe security group ${name}`,
        () =>
          this.o.ec2.describeSecurityGroups({
            Filters: [{ Name: "vpc-id", Values: [this.o.vpcId] }, {
              Name: "group-name",
              Values: [name],
            }],
          }),
      );
      const ours = same && tagValue(same.Tags, CONTROLLER_TAG) === this.o.controllerId &&
        tagValue(same.Tags, SERVICE_TAG) === service && tagValue(same.Tags, ROLE_TAG) === role;
      return ours ? same : undefined;
    }
  }

  /** Makes the group's ingress exactly `wanted`, authorizing and revoking single permissions. */
  async syncRules(group: SecurityGroup, wanted: Permission[]): Promise<void> {
    const id = group.GroupId!;
    const { authorize, revoke } = diffPermissions(wanted, permissionsHeld(group.IpPermissions));
    if (revoke.length) {
      await this.#each(revoke, (ps) =>
        this.o.call(
          `revoke ingress from security group ${id}`,
          () => this.o.ec2.revokeIngress(id, toIpPermissions(ps)),
        ), NotFoundError);
    }
    if (authorize.length) {
      await this.#each(authorize, (ps) =>
        this.o.call(
          `authorize ingress on security group ${id}`,
          () => this.o.ec2.authorizeIngress(id, toIpPermissions(ps)),
          // A group just made may not be visible yet.
          (e) => e instanceof NotFoundError,
        ), AlreadyExistsError);
    }
  }

  /**
   * Runs `op` on all permissions at once; when that fails with `benign` (a rule someone else
   * already added or removed), runs it on each, ignoring that error.
   */
  async #each(
    ps: Permission[],
    op: (ps: Permission[]) => Promise<void>,
    benign: new (...a: never[]) => Error,
  ): Promise<void> {
    const isBenign = (e: unknown) => e instanceof benign;
    try {
      await op(ps);
    } catch (e) {
      if (!isBenign(e)) throw e;
      if (ps.length === 1) return;
      for (const p of ps) {
        await op([p]).catch((e2) => {
          if (!isBenign(e2)) throw e2;
        });
      }
    }
  }

  /**
   * Attaches group `groupId` of `service` to exactly `instances` (those that exist): each
   * listed instance gets it added to its groups, every other instance that has it loses it.
   * Instances that would exceed the group limit are skipped and reported together at the end.
   * @throws {CapacityError} when an instance would have more groups than AWS allows.
   */
  attach(service: string, groupId: string, instances: string[]): Promise<void> {
    const run = this.#attaching.then(() => this.#attach(service, groupId, instances));
    this.#attaching = run.catch(() => {});
    return run;
  }

  async #attach(service: string, groupId: string, instances: string[]): Promise<void> {
    const wanted = new Set(instances);
    const state = { Name: "instance-state-name", Values: LIVE };
    const found = new Map<string, Ec2Instance>();
    for (let i = 0; i < instances.length; i += 195) {
      const ids = instances.slice(i, i + 195);
      const listed = await this.o.call(
        `describe instances ${ids.join(", ")}`,
        () =>
          this.o.ec2.describeInstances({ Filters: [{ Name: "instance-id", Values: ids }, state] }),
      );
      for (const inst of listed) found.set(inst.InstanceId!, inst);
    }
    const carrying = await this.o.call(
      `describe the instances of security group ${groupId}`,
      () =>
        this.o.ec2.describeInstances({
          Filters: [{ Name: "instance.group-id", Values: [groupId] }, state],
        }),
    );
    for (const inst of carrying) found.set(inst.InstanceId!, inst);
    const errors: string[] = [];
    for (const inst of found.values()) {
      const id = inst.InstanceId!;
      const current = (inst.SecurityGroups ?? []).map((g) => g.GroupId!);
      const others = current.filter((g) => g !== groupId);
      // Ours goes first: moto's `instance.group-id` filter matches the first group only.
      const next = wanted.has(id) ? [groupId, ...others] : others;
      if (next.length === current.length && next.every((g) => current.includes(g))) continue;
      if (next.length === 0) next.push(this.o.clusterGroupId);
      const max = this.o.maxGroupsPerInstance ?? 5;
      if (next.length > max) {
        errors.push(await this.#limitMessage(id, next, max));
        continue;
      }
      await this.o.call(
        `set the security groups of instance ${id}`,
        () => this.o.ec2.setInstanceGroups(id, next),
      );
    }
    for (const id of wanted) {
      if (!found.has(id)) this.o.log(`service ${service}: instance ${id} not found (yet)`);
    }
    if (errors.length) {
      throw new CapacityError(
        `Cannot attach the security group of service "${service}": ${errors.join("; ")}`,
      );
    }
  }

  /** Why an instance cannot have `groups`, naming the services that select its pod. */
  async #limitMessage(instanceId: string, groups: string[], max: number): Promise<string> {
    const described = await this.o.call(
      `describe security groups ${groups.join(", ")}`,
      () => this.o.ec2.describeSecurityGroups({ GroupIds: groups }),
    );
    const services: string[] = [];
    const others: string[] = [];
    for (const id of groups) {
      const g = described.find((d) => d.GroupId === id);
      const svc = tagValue(g?.Tags, CONTROLLER_TAG) === this.o.controllerId
        ? tagValue(g?.Tags, SERVICE_TAG)
        : undefined;
      if (svc) services.push(svc);
      else others.push(id === this.o.clusterGroupId ? `${id} (cluster)` : id);
    }
    const besides = others.length ? `, besides groups ${others.join(", ")}` : "";
    return `instance ${instanceId} would have ${groups.length} security groups (AWS allows ${max}): ` +
      `services ${[...new Set(services)].sort().join(", ")} select its pod${besides}`;
  }

  /** Detaches the service's group of `role` from every instance and deletes it. */
  async remove(service: string, role: GroupRole): Promise<void> {
    const group = await this.find(service, role);
    if (!group) return;
    const id = group.GroupId!;
    await this.attach(service, id, []);
    const attempts = this.o.deleteAttempts ?? 5;
    for (let attempt = 1;; attempt++) {
      try {
        await this.o.call(
          `delete security group ${id} of service "${service}"`,
          () => this.o.ec2.deleteSecurityGroup(id),
        );
        this.o.log(`deleted security group ${id} of service ${service}`);
        return;
      } catch (e) {
        if (e instanceof NotFoundError) return;
        // DependencyViolation: a load balancer's interfaces linger a while after it goes.
        if (!(e instanceof ConflictError) || attempt >= attempts) throw e;
        await this.o.sleep(1000 * 2 ** (attempt - 1));
      }
    }
  }

  /** Services that have a group of ours in this VPC. */
  async services(): Promise<string[]> {
    const groups = await this.o.call(
      "describe the security groups of services",
      () =>
        this.o.ec2.describeSecurityGroups({
          Filters: this.#filters(),
        }),
    );
    return groups.map((g) => tagValue(g.Tags, SERVICE_TAG)).filter((s): s is string => !!s);
  }
}
