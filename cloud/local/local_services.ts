/**
 * What the local cloud does for Services: firewall rules in the nodes' namespaces (a diff per
 * service), records in the controller's DNS zone, and a TCP load balancer in the controller
 * for each LoadBalancer Service, on an address of its own taken from the top of the range.
 */
import type {
  IngressRule,
  LoadBalancerSpec,
  LoadBalancerState,
  ServiceDnsPort,
} from "../provider.ts";
import { allocateFromTop } from "./addresses.ts";
import { serviceRecords } from "../service_records.ts";
import type { DnsZone } from "./dns_records.ts";
import { parseHealthCheck } from "../lb_annotations.ts";
import { TcpLoadBalancer } from "./load_balancer.ts";
import type { NodeNetwork } from "./network.ts";
import { parseCidr } from "../../model/validation/cidr.ts";
import { ipToNumber } from "./addresses.ts";

interface RunningLb {
  lb: TcpLoadBalancer;
  address: string;
  /** Listeners and health check it was started with; a change restarts it. */
  shape: string;
}

/** Whether `ip` is in one of `ranges` (CIDRs; "VPC" = the node range). */
export function inRanges(ip: string, ranges: string[], nodeRange: string): boolean {
  const n = ipToNumber(ip);
  return ranges.some((r) => {
    const c = parseCidr(r === "VPC" ? nodeRange : r);
    if (!c || c.family !== 4) return false;
    const base = ipToNumber(c.network.join("."));
    return n >= base && n < base + 2 ** (32 - c.prefix);
  });
}

/** Firewall, DNS and load balancers of the local cloud's Services. */
export class LocalServices {
  readonly #lbs = new Map<string, RunningLb>();
  /** service → instances that carry its rules; filled from nftables on first use. */
  #applied?: Map<string, Set<string>>;

  constructor(
    private readonly network: NodeNetwork,
    private readonly zone: DnsZone,
    private readonly log: (message: string) => void = () => {},
  ) {}

  /** Addresses the load balancers hold (nodes must not get them). */
  lbAddresses(): string[] {
    return [...this.#lbs.values()].map((l) => l.address);
  }

  async #appliedMap(): Promise<Map<string, Set<string>>> {
    if (this.#applied) return this.#applied;
    const applied = new Map<string, Set<string>>();
    for (const node of await this.network.attached()) {
      for (const service of (await this.network.rules(node)).keys()) {
        if (!applied.has(service)) applied.set(service, new Set());
        applied.get(service)!.add(node);
      }
    }
    return this.#applied = applied;
  }

  /** Makes `rules` the service's rules on exactly `instances`. */
  async syncFirewall(service: string, rules: IngressRule[], instances: string[]): Promise<void> {
    const applied = await this.#appliedMap();
    const had = applied.get(service) ?? new Set<string>();
    const now = new Set<string>();
    const attached = new Set(await this.network.attached());
    for (const id of instances) {
      if (!attached.has(id)) continue; // its node is gone or not up yet: the next pass sees it
      await this.network.syncRules(id, service, rules);
      now.add(id);
    }
    for (const id of had) {
      if (!now.has(id) && attached.has(id)) await this.network.syncRules(id, service, []);
    }
    if (now.size) applied.set(service, now);
    else applied.delete(service);
  }

  /** Makes the service's records those of `ports` over `endpoints`. */
  syncDns(
    service: string,
    ports: ServiceDnsPort[],
    endpoints: { pod: string; address: string }[],
  ): Promise<void> {
    const [namespace, name] = service.split("/");
    this.zone.setService(
      service,
      serviceRecords({ service: name, namespace, zone: this.zone.name, ports, endpoints }),
    );
    return Promise.resolve();
  }

  /** Starts (or reshapes) the service's load balancer and gives it `backends`. */
  async syncLoadBalancer(
    service: string,
    spec: LoadBalancerSpec,
    backends: { id: string; address: string }[],
  ): Promise<LoadBalancerState> {
    const healthCheck = parseHealthCheck(spec.annotations);
    const listeners = spec.listeners.map((l) => ({ port: l.port, targetPort: l.nodePort }));
    const shape = JSON.stringify([listeners, healthCheck, spec.sourceRanges]);
    let running = this.#lbs.get(service);
    if (running && running.shape !== shape) {
      await running.lb.close();
      this.#lbs.delete(service);
      running = { ...running, shape };
    }
    if (!this.#lbs.has(service)) {
      const address = running?.address ?? allocateFromTop(this.network.range, this.lbAddresses());
      await this.network.syncHostAddresses([...this.lbAddresses(), address]);
      const range = this.network.range;
      const lb = await TcpLoadBalancer.start({
        hostname: address,
        listeners,
        healthCheck,
        backends,
        allow: (remote) => inRanges(remote, spec.sourceRanges, range),
        log: (m) => this.log(`load balancer ${service}: ${m}`),
      });
      this.#lbs.set(service, { lb, address, shape });
    }
    const lb = this.#lbs.get(service)!;
    lb.lb.setBackends(backends);
    return {
      ingress: [{ ip: lb.address }],
      backendSource: this.network.kind === "netns" ? `${this.network.gateway}/32` : "127.0.0.0/8",
      inService: lb.lb.inService(),
    };
  }

  /** Stops the service's load balancer and gives its address back. */
  async removeLoadBalancer(service: string): Promise<void> {
    const running = this.#lbs.get(service);
    if (!running) return;
    await running.lb.close();
    this.#lbs.delete(service);
    await this.network.syncHostAddresses(this.lbAddresses());
  }

  /** Removes the service's rules, records and load balancer. */
  async deleteService(service: string): Promise<void> {
    await this.syncFirewall(service, [], []);
    this.zone.removeService(service);
    await this.removeLoadBalancer(service);
  }

  /** Services with rules, records or a load balancer. */
  async listServices(): Promise<string[]> {
    const applied = await this.#appliedMap();
    return [...new Set([...applied.keys(), ...this.zone.services(), ...this.#lbs.keys()])];
  }

  /** Stops every load balancer (their addresses go with the controller). */
  async close(): Promise<void> {
    for (const l of this.#lbs.values()) await l.lb.close();
    this.#lbs.clear();
  }
}
