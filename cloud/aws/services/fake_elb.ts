/**
 * Test support: a stateful fake of `ElbApi`: load balancers with listeners, health check,
 * attributes, instances (those a `FakeEc2` has) and tags; unknown names and instances fail as
 * ELB fails them.
 */
import { awsError, Recorder } from "./fake_recorder.ts";
import type {
  CreateLoadBalancerCommandInput,
  ElbApi,
  HealthCheck,
  Listener,
  LoadBalancerAttributes,
  LoadBalancerDescription,
  TagDescription,
} from "../sdk.ts";

interface Lb {
  d: LoadBalancerDescription;
  attributes: LoadBalancerAttributes;
  tags: NonNullable<TagDescription["Tags"]>;
}

/** A fake classic ELB. */
export class FakeElb extends Recorder implements ElbApi {
  readonly lbs = new Map<string, Lb>();
  /** Registered instances that fail the health check (OutOfService); all others are InService. */
  readonly outOfService = new Set<string>();

  #get(name: string): Lb {
    const lb = this.lbs.get(name);
    if (!lb) {
      throw awsError("AccessPointNotFound", `There is no ACTIVE Load Balancer named '${name}'`);
    }
    return lb;
  }

  /** `ec2` tells which instances exist: registering any other fails with InvalidInstance. */
  constructor(private readonly ec2: { isAlive(id: string): boolean }) {
    super();
  }

  describeLoadBalancers(names?: string[]) {
    return this.run(
      "describeLoadBalancers",
      [names],
      () =>
        names
          ? names.map((n) => structuredClone(this.#get(n).d))
          : [...this.lbs.values()].map((l) => structuredClone(l.d)),
    );
  }

  createLoadBalancer(input: CreateLoadBalancerCommandInput) {
    return this.run("createLoadBalancer", [input], () => {
      const name = input.LoadBalancerName!;
      if (this.lbs.has(name)) throw awsError("DuplicateAccessPointName");
      const dns = `${input.Scheme === "internal" ? "internal-" : ""}${name}.elb.example`;
      this.lbs.set(name, {
        d: {
          LoadBalancerName: name,
          DNSName: dns,
          Scheme: input.Scheme,
          Subnets: input.Subnets,
          SecurityGroups: input.SecurityGroups,
          ListenerDescriptions: (input.Listeners ?? []).map((Listener) => ({ Listener })),
          Instances: [],
          HealthCheck: {
            Target: "TCP:80",
            Interval: 30,
            Timeout: 5,
            HealthyThreshold: 10,
            UnhealthyThreshold: 2,
          },
        },
        attributes: {
          CrossZoneLoadBalancing: { Enabled: false },
          ConnectionDraining: { Enabled: false, Timeout: 300 },
          ConnectionSettings: { IdleTimeout: 60 },
        },
        tags: (input.Tags ?? []) as Lb["tags"],
      });
      return dns;
    });
  }

  deleteLoadBalancer(name: string) {
    return this.run("deleteLoadBalancer", [name], () => void this.lbs.delete(name));
  }

  createListeners(name: string, listeners: Listener[]) {
    return this.run("createListeners", [name, listeners], () => {
      const d = this.#get(name).d;
      for (const l of listeners) {
        if (
          d.ListenerDescriptions!.some((h) => h.Listener!.LoadBalancerPort === l.LoadBalancerPort)
        ) {
          throw awsError("DuplicateListener");
        }
        d.ListenerDescriptions!.push({ Listener: l });
      }
    });
  }

  deleteListeners(name: string, ports: number[]) {
    return this.run("deleteListeners", [name, ports], () => {
      const d = this.#get(name).d;
      d.ListenerDescriptions = d.ListenerDescriptions!.filter((h) =>
        !ports.includes(h.Listener!.LoadBalancerPort!)
      );
    });
  }

  applySecurityGroups(name: string, groupIds: string[]) {
    return this.run("applySecurityGroups", [name, groupIds], () => {
      this.#get(name).d.SecurityGroups = groupIds;
    });
  }

  configureHealthCheck(name: string, healthCheck: HealthCheck) {
    return this.run("configureHealthCheck", [name, healthCheck], () => {
      this.#get(name).d.HealthCheck = healthCheck;
    });
  }

  describeAttributes(name: string) {
    return this.run(
      "describeAttributes",
      [name],
      () => structuredClone(this.#get(name).attributes),
    );
  }

  modifyAttributes(name: string, attributes: LoadBalancerAttributes) {
    return this.run("modifyAttributes", [name, attributes], () => {
      const lb = this.#get(name);
      lb.attributes = { ...lb.attributes, ...structuredClone(attributes) };
    });
  }

  registerInstances(name: string, ids: string[]) {
    return this.run("registerInstances", [name, ids], () => {
      const d = this.#get(name).d;
      const bad = ids.find((id) => !this.ec2.isAlive(id));
      if (bad) throw awsError("InvalidInstance", `The requested instance ${bad} is not valid`);
      for (const id of ids) {
        if (!d.Instances!.some((i) => i.InstanceId === id)) d.Instances!.push({ InstanceId: id });
      }
    });
  }

  deregisterInstances(name: string, ids: string[]) {
    return this.run("deregisterInstances", [name, ids], () => {
      const d = this.#get(name).d;
      d.Instances = d.Instances!.filter((i) => !ids.includes(i.InstanceId!));
    });
  }

  describeInServiceInstances(name: string) {
    return this.run(
      "describeInServiceInstances",
      [name],
      () =>
        this.#get(name).d.Instances!.map((i) => i.InstanceId!).filter((id) =>
          !this.outOfService.has(id)
        ),
    );
  }

  describeTags(names: string[]) {
    return this.run(
      "describeTags",
      [names],
      () => names.map((n) => ({ LoadBalancerName: n, Tags: structuredClone(this.#get(n).tags) })),
    );
  }
}
