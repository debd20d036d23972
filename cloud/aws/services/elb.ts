/**
 * A classic ELB per LoadBalancer Service (reference §5.5): named from a hash of the controller
 * id and service key, TCP listeners `port → nodePort`, internal when every source range is
 * inside the VPC, its own security group open to the source ranges, a TCP health check on the
 * first node port and attributes from the annotations; instances registered as a diff.
 */
import { AlreadyExistsError, NotFoundError, ValidationError } from "../../../model/errors.ts";
import type { LoadBalancerSpec, LoadBalancerState } from "../../provider.ts";
import type { Caller } from "../errors.ts";
import {
  attributesDiffer,
  attributesOf,
  healthCheckOf,
  isInternal,
  listenerKey,
} from "./elb_config.ts";
import { CONTROLLER_TAG, loadBalancerName, SERVICE_TAG, tagValue } from "./names.ts";
import { permissionsOf } from "./rules.ts";
import type { ElbApi, Listener, LoadBalancerDescription, TagDescription } from "../sdk.ts";
import type { SecurityGroups } from "./security_groups.ts";

/** What the load balancers are managed with. */
export interface LoadBalancersOptions {
  elb: ElbApi;
  call: Caller;
  groups: SecurityGroups;
  controllerId: string;
  vpcCidrs: string[];
  subnetIds: string[];
  log: (message: string) => void;
}

/** The classic ELBs of a controller's Services. */
export class LoadBalancers {
  constructor(private readonly o: LoadBalancersOptions) {}

  async #describe(name: string): Promise<LoadBalancerDescription | undefined> {
    try {
      const [d] = await this.o.call(
        `describe load balancer ${name}`,
        () => this.o.elb.describeLoadBalancers([name]),
      );
      return d;
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
  }

  /** Creates or updates the service's load balancer over instances `backends`. */
  async sync(
    service: string,
    spec: LoadBalancerSpec,
    backends: { id: string }[],
  ): Promise<LoadBalancerState> {
    if (!spec.listeners.length) {
      throw new ValidationError(
        `Cannot create the load balancer of service "${service}": no ports`,
      );
    }
    const healthCheck = healthCheckOf(spec); // validates the annotations before anything is made
    const group = await this.o.groups.ensure(service, "load-balancer");
    const groupId = group.GroupId!;
    const rules = spec.sourceRanges.flatMap((source) =>
      spec.listeners.map((l) => ({
        protocol: "TCP" as const,
        port: l.port,
        portRangeSize: 1,
        source,
      }))
    );
    await this.o.groups.syncRules(group, permissionsOf(rules, this.o.vpcCidrs));
    const name = await loadBalancerName(this.o.controllerId, service);
    const scheme = isInternal(spec.sourceRanges, this.o.vpcCidrs) ? "internal" : "internet-facing";
    const listeners: Listener[] = spec.listeners.map((l) => ({
      Protocol: "TCP",
      LoadBalancerPort: l.port,
      InstanceProtocol: "TCP",
      InstancePort: l.nodePort,
    }));
    let lb = await this.#describe(name);
    if (lb && lb.Scheme !== scheme) {
      this.o.log(
        `load balancer ${name} of ${service}: scheme ${lb.Scheme} → ${scheme}, recreating`,
      );
      await this.o.call(`delete load balancer ${name}`, () => this.o.elb.deleteLoadBalancer(name));
      lb = undefined;
    }
    lb ??= await this.#create(service, name, scheme, listeners, groupId);
    await this.#syncListeners(name, lb, listeners);
    if ((lb.SecurityGroups ?? []).join() !== groupId) {
      await this.o.call(
        `apply security group ${groupId} to load balancer ${name}`,
        () => this.o.elb.applySecurityGroups(name, [groupId]),
      );
    }
    const h = lb.HealthCheck;
    if (
      !h || h.Target !== healthCheck.Target || h.Interval !== healthCheck.Interval ||
      h.Timeout !== healthCheck.Timeout || h.HealthyThreshold !== healthCheck.HealthyThreshold ||
      h.UnhealthyThreshold !== healthCheck.UnhealthyThreshold
    ) {
      await this.o.call(
        `configure the health check of load balancer ${name}`,
        () => this.o.elb.configureHealthCheck(name, healthCheck),
      );
    }
    const attributes = attributesOf(spec.annotations);
    const held = await this.o.call(
      `describe the attributes of load balancer ${name}`,
      () => this.o.elb.describeAttributes(name),
    );
    if (attributesDiffer(attributes, held)) {
      await this.o.call(
        `modify the attributes of load balancer ${name}`,
        () => this.o.elb.modifyAttributes(name, attributes),
      );
    }
    const want = [...new Set(backends.map((b) => b.id))];
    await this.#syncInstances(name, lb, want);
    const healthy = new Set(
      want.length
        ? await this.o.call(
          `describe the instance health of load balancer ${name}`,
          () => this.o.elb.describeInServiceInstances(name),
        )
        : [],
    );
    return {
      ingress: [{ hostname: lb.DNSName }],
      backendSource: groupId,
      inService: want.filter((id) => healthy.has(id)),
    };
  }

  async #create(
    service: string,
    name: string,
    scheme: string,
    listeners: Listener[],
    groupId: string,
  ): Promise<LoadBalancerDescription> {
    try {
      const dns = await this.o.call(
        `create load balancer ${name} for service "${service}"`,
        () =>
          this.o.elb.createLoadBalancer({
            LoadBalancerName: name,
            Listeners: listeners,
            Subnets: this.o.subnetIds,
            SecurityGroups: [groupId],
            Scheme: scheme,
            Tags: [
              { Key: CONTROLLER_TAG, Value: this.o.controllerId },
              { Key: SERVICE_TAG, Value: service },
            ],
          }),
      );
      this.o.log(`created load balancer ${name} (${scheme}) for service ${service}: ${dns}`);
      // What a new load balancer is: no need to ask (it may not be listed yet).
      return {
        LoadBalancerName: name,
        DNSName: dns,
        Scheme: scheme,
        ListenerDescriptions: listeners.map((Listener) => ({ Listener })),
        SecurityGroups: [groupId],
        Instances: [],
      };
    } catch (e) {
      // Made by a call that did not return; the next pass reconciles its shape.
      const lb = e instanceof AlreadyExistsError ? await this.#describe(name) : undefined;
      if (!lb) throw e;
      return lb;
    }
  }

  async #syncListeners(name: string, lb: LoadBalancerDescription, want: Listener[]) {
    const have = (lb.ListenerDescriptions ?? []).map((d) => d.Listener!).filter(Boolean);
    const wantKeys = new Set(want.map(listenerKey));
    const haveKeys = new Set(have.map(listenerKey));
    const stale = have.filter((l) => !wantKeys.has(listenerKey(l))).map((l) => l.LoadBalancerPort!);
    const missing = want.filter((l) => !haveKeys.has(listenerKey(l)));
    if (stale.length) {
      await this.o.call(
        `delete listeners ${stale.join(", ")} of load balancer ${name}`,
        () => this.o.elb.deleteListeners(name, stale),
      );
    }
    if (missing.length) {
      await this.o.call(
        `create listeners on load balancer ${name}`,
        () => this.o.elb.createListeners(name, missing),
      );
    }
  }

  async #syncInstances(name: string, lb: LoadBalancerDescription, want: string[]) {
    const have = new Set((lb.Instances ?? []).map((i) => i.InstanceId!));
    const add = want.filter((id) => !have.has(id));
    const drop = [...have].filter((id) => !want.includes(id));
    if (drop.length) {
      await this.o.call(
        `deregister ${drop.join(", ")} from load balancer ${name}`,
        () => this.o.elb.deregisterInstances(name, drop),
      );
    }
    if (!add.length) return;
    const register = (ids: string[]) =>
      this.o.call(
        `register ${ids.join(", ")} with load balancer ${name}`,
        () => this.o.elb.registerInstances(name, ids),
      );
    try {
      return await register(add);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
      this.o.log(e.message);
    }
    // One instance gone (or not running yet) fails the whole call: register the others.
    for (const id of add.length > 1 ? add : []) {
      await register([id]).catch((e) => {
        if (!(e instanceof NotFoundError)) throw e;
      });
    }
  }

  /** Deletes the service's load balancer (not its group: see `AwsServices.deleteService`). */
  async remove(service: string): Promise<void> {
    const name = await loadBalancerName(this.o.controllerId, service);
    if (!(await this.#describe(name))) return;
    await this.o.call(`delete load balancer ${name}`, () => this.o.elb.deleteLoadBalancer(name));
    this.o.log(`deleted load balancer ${name} of service ${service}`);
  }

  /** Services that have a load balancer of ours (`milpa-*` tagged with our controller id). */
  async services(): Promise<string[]> {
    const all = await this.o.call(
      "describe load balancers",
      () => this.o.elb.describeLoadBalancers(),
    );
    const names = all.map((d) => d.LoadBalancerName!).filter((n) => n?.startsWith("milpa-"));
    const out: string[] = [];
    for (let i = 0; i < names.length; i += 20) {
      for (const t of await this.#tagsOf(names.slice(i, i + 20))) {
        const service = tagValue(t.Tags, SERVICE_TAG);
        if (tagValue(t.Tags, CONTROLLER_TAG) === this.o.controllerId && service) out.push(service);
      }
    }
    return out;
  }

  /**
   * The tags of these load balancers. One deleted since it was listed fails the whole call,
   * so then each is asked alone and the gone ones are left out.
   */
  async #tagsOf(names: string[]): Promise<TagDescription[]> {
    const describe = (chunk: string[]) =>
      this.o.call(
        `describe the tags of load balancers ${chunk.join(", ")}`,
        () => this.o.elb.describeTags(chunk),
      );
    try {
      return await describe(names);
    } catch (e) {
      if (!(e instanceof NotFoundError)) throw e;
    }
    const out: TagDescription[] = [];
    for (const name of names) {
      try {
        out.push(...await describe([name]));
      } catch (e) {
        if (!(e instanceof NotFoundError)) throw e;
      }
    }
    return out;
  }
}
