/**
 * What AWS does for Services (reference §5.5): a security group per service attached to its
 * pods' instances, records in a private Route 53 zone, and a classic ELB per LoadBalancer
 * Service. Everything is found by tags or derived names, so every method is level-based and
 * safe to repeat after a crash; throttled calls are retried, errors are Milpa's classes.
 */
import type {
  IngressRule,
  LoadBalancerSpec,
  LoadBalancerState,
  ServiceDnsPort,
  ServiceNetworking,
} from "../../provider.ts";
import { caller, realSleep } from "../errors.ts";
import { LoadBalancers } from "./elb.ts";
import { splitService } from "./names.ts";
import { ServiceRecords } from "./route53.ts";
import { permissionsOf } from "./rules.ts";
import type { AwsApis } from "../sdk.ts";
import { SecurityGroups } from "./security_groups.ts";

/** What `AwsServices` is built from: the narrow APIs and where the cluster lives. */
export interface AwsServicesOptions extends AwsApis {
  controllerId: string;
  /** The zone is `<clusterName>.local`. */
  clusterName: string;
  /** TTL of DNS records, in seconds. */
  ttl: number;
  vpcId: string;
  /** The VPC's CIDRs: what an ingress source "VPC" means, and what makes an ELB internal. */
  vpcCidrs: string[];
  /** Subnets of the load balancers. */
  subnetIds: string[];
  region: string;
  /** The cluster security group every node has (made by the provider). */
  clusterGroupId: string;
  log?: (message: string) => void;
  /** Security groups AWS allows per instance (a quota that can be raised). @default 5 */
  maxGroupsPerInstance?: number;
  /** Waits between retries; tests pass a fast one. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

/** `ServiceNetworking` on AWS: security groups, Route 53 and classic ELBs. */
export class AwsServices implements ServiceNetworking {
  readonly #groups: SecurityGroups;
  readonly #records: ServiceRecords;
  readonly #lbs: LoadBalancers;
  readonly #vpcCidrs: string[];

  constructor(o: AwsServicesOptions) {
    const sleep = o.sleep ?? realSleep;
    const call = caller({ sleep });
    const log = o.log ?? (() => {});
    this.#vpcCidrs = o.vpcCidrs;
    this.#groups = new SecurityGroups({
      ec2: o.ec2,
      call,
      controllerId: o.controllerId,
      vpcId: o.vpcId,
      clusterGroupId: o.clusterGroupId,
      maxGroupsPerInstance: o.maxGroupsPerInstance,
      sleep,
      log,
    });
    this.#records = new ServiceRecords({ ...o, route53: o.route53, call, log });
    this.#lbs = new LoadBalancers({
      elb: o.elb,
      call,
      groups: this.#groups,
      controllerId: o.controllerId,
      vpcCidrs: o.vpcCidrs,
      subnetIds: o.subnetIds,
      log,
    });
  }

  /**
   * Makes `rules` the ingress of the service's group (authorizing and revoking single
   * permissions) and attaches the group to exactly `instances`. A source is a CIDR, "VPC" or a
   * security group id (`sg-…`, e.g. a load balancer's). No group is made for no instances.
   * @throws {CapacityError} when an instance would get more security groups than AWS allows
   *   (the others are still attached).
   */
  async syncFirewall(service: string, rules: IngressRule[], instances: string[]): Promise<void> {
    splitService(service);
    const wanted = permissionsOf(rules, this.#vpcCidrs);
    let group = await this.#groups.find(service, "service");
    if (!group && instances.length === 0) return;
    group ??= await this.#groups.ensure(service, "service");
    await this.#groups.syncRules(group, wanted);
    await this.#groups.attach(service, group.GroupId!, instances);
  }

  /** Makes the service's records in `<cluster>.local` those of `ports` over `endpoints`. */
  syncDns(
    service: string,
    ports: ServiceDnsPort[],
    endpoints: { pod: string; address: string }[],
  ): Promise<void> {
    return this.#records.sync(service, ports, endpoints);
  }

  /**
   * Creates or updates the service's classic ELB over `backends`, whose ids are instance ids.
   * `backendSource` is the ELB's security group, for the nodes' rules.
   * @throws {ValidationError} for bad load balancer annotations (nothing is made then).
   */
  syncLoadBalancer(
    service: string,
    spec: LoadBalancerSpec,
    backends: { id: string; address: string }[],
  ): Promise<LoadBalancerState> {
    return this.#lbs.sync(service, spec, backends);
  }

  /**
   * Deletes the ELB, then its security group (retried while the ELB's interfaces linger; a
   * `ConflictError` after that, to be retried by a later pass). The service's rules
   * must no longer name that group (sync the firewall first).
   */
  async removeLoadBalancer(service: string): Promise<void> {
    await this.#lbs.remove(service);
    await this.#groups.remove(service, "load-balancer");
  }

  /**
   * Deletes the ELB, then the service's group (it may name the ELB's group), then the ELB's
   * group (retried while its interfaces linger), then the records. Safe to repeat.
   */
  async deleteService(service: string): Promise<void> {
    await this.#lbs.remove(service);
    await this.#groups.remove(service, "service");
    await this.#groups.remove(service, "load-balancer");
    await this.#records.remove(service);
  }

  /** Services with a security group, a record or an ELB of this controller. */
  async listServices(): Promise<string[]> {
    const [groups, records, lbs] = await Promise.all([
      this.#groups.services(),
      this.#records.services(),
      this.#lbs.services(),
    ]);
    return [...new Set([...groups, ...records, ...lbs])].sort();
  }
}
