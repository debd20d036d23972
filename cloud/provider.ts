/**
 * The one interface between the controller and a cloud. Every implementation
 * (local, sim, aws) passes the shared contract suite in `cloud/provider_contract.ts`.
 *
 * Contract, for every method:
 * - Calls may be repeated after a crash; they must then do nothing new.
 * - Errors are Milpa error classes (`CapacityError`, `UnavailableError`, ...),
 *   never SDK types.
 * - Every resource a provider creates carries the controller id so that
 *   `listInstances` finds orphans.
 */
import type { AgentConfig } from "../model/agent_protocol.ts";
import type { NetworkAddress } from "../model/pod.ts";

/** What to boot. */
export interface LaunchRequest {
  /**
   * Idempotency key (the node name). A second launch with the same token returns the
   * instance the first one made, whether or not the first call returned.
   */
  clientToken: string;
  nodeName: string;
  instanceType: string;
  spot: boolean;
  privateIPOnly: boolean;
  /** Root volume size in GiB. */
  volumeSizeGiB: number;
  bootImage?: string;
  /** What the node's agent needs to dial the controller. */
  agent: Omit<AgentConfig, "dataDir" | "imageDir" | "podIP" | "logFile">;
  /** Availability zone constraint, if the pod has one. */
  availabilityZone?: string;
}

/** Lifecycle of a cloud instance as the provider sees it. */
export type InstanceState = "pending" | "running" | "terminated";

/** A cloud instance. */
export interface Instance {
  id: string;
  nodeName: string;
  instanceType: string;
  state: InstanceState;
  addresses: NetworkAddress[];
  spot: boolean;
  /** Epoch milliseconds. */
  launchedAt: number;
}

/** An instance that stopped on its own. */
export interface InstanceExit {
  instanceId: string;
  nodeName: string;
  /** What happened, for the node's events: "agent process exited with code 1". */
  reason: string;
}

/** One ingress rule: open `port..port+portRangeSize-1` of `protocol` to `source`. */
export interface IngressRule {
  protocol: "TCP" | "UDP" | "ICMP";
  /** The first port; for ICMP the ICMP type. */
  port: number;
  portRangeSize: number;
  /** A CIDR, "VPC" = the cluster's nodes, or on AWS a security group id `sg-…` (an ELB's). */
  source: string;
}

/** A port a service names in DNS (SRV `_<name>._<protocol>`); `port` is the port on the node. */
export interface ServiceDnsPort {
  name?: string;
  protocol: "TCP" | "UDP" | "ICMP";
  port: number;
}

/** What a service's load balancer does. */
export interface LoadBalancerSpec {
  /** Listener `port` → backends' `nodePort` (TCP). */
  listeners: { port: number; nodePort: number }[];
  /** Who may connect to the listeners: CIDRs or "VPC". */
  sourceRanges: string[];
  /** The Service's annotations (health check, ...), already validated. */
  annotations: Record<string, string>;
}

/** Where a load balancer can be reached, as `status.loadBalancer.ingress` says it. */
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
}

/** A load balancer as it is now. */
export interface LoadBalancerState {
  ingress: LoadBalancerIngress[];
  /** Where its connections to backends come from, to open the nodes' firewalls to it. */
  backendSource: string;
  /**
   * Ids of the backends it sends new connections to now: those its own health checks admitted
   * (a subset of the backends it was given). A pod counts as available to a rollout only once
   * every load balancer in front of it lists it here.
   */
  inService: string[];
}

/**
 * What the cloud does for Services. `service` is the key `<namespace>/<name>`. Every method
 * makes the cloud match what it is given (level-based, safe to repeat); `deleteService`
 * removes all of it.
 */
export interface ServiceNetworking {
  /**
   * Makes `rules` the service's ingress rules on exactly `instances` (firewall or security
   * group), adding and removing single rules as a diff; instances not listed lose them.
   */
  syncFirewall(service: string, rules: IngressRule[], instances: string[]): Promise<void>;
  /** Makes the service's DNS records those of `ports` over `endpoints` (its ready pods). */
  syncDns(
    service: string,
    ports: ServiceDnsPort[],
    endpoints: { pod: string; address: string }[],
  ): Promise<void>;
  /** Creates or updates the service's load balancer over `backends` (it health-checks them). */
  syncLoadBalancer(
    service: string,
    spec: LoadBalancerSpec,
    backends: { id: string; address: string }[],
  ): Promise<LoadBalancerState>;
  /**
   * Removes the service's load balancer (and what exists only for it), for a Service that is no
   * longer of type LoadBalancer. Safe to repeat, and for services without one.
   */
  removeLoadBalancer(service: string): Promise<void>;
  /** Removes the service's rules, records and load balancer. Safe to repeat. */
  deleteService(service: string): Promise<void>;
  /** Services that have cloud resources now, so that those of deleted services can be removed. */
  listServices(): Promise<string[]>;
}

/** A cloud that runs nodes. */
export interface CloudProvider extends ServiceNetworking {
  /** Short provider name: "local", "sim", "aws". */
  readonly name: string;

  /**
   * Boots an instance and resolves once it exists and its addresses are known
   * (it may still be booting). Idempotent by `clientToken`.
   * Throws `CapacityError` when the type (or spot capacity) cannot be had now.
   */
  launch(req: LaunchRequest): Promise<Instance>;

  /** Terminates an instance. Safe to repeat; an unknown id is not an error. */
  terminate(instanceId: string): Promise<void>;

  /**
   * Every live (not terminated) instance this controller made, including ones the
   * controller has forgotten: the garbage collector terminates those.
   */
  listInstances(): Promise<Instance[]>;

  /** Releases provider resources (timers, sockets). Instances keep running. */
  close(): Promise<void>;

  /**
   * Calls `listener` when an instance this controller launched stops on its own (its agent
   * process exited, the cloud terminated it), as soon as the provider can tell, so that a node
   * that dies at boot is a failed launch at once rather than after the boot timeout. Not called
   * for instances `terminate()` ended. A hint: the controller also finds dead nodes by their
   * heartbeats. Returns the function that stops the calls. Optional.
   */
  onInstanceExit?(listener: (e: InstanceExit) => void): () => void;

  /**
   * The address nodes reach the controller at, when it is not the API's own address (the
   * local cloud's bridge address); the controller then also listens there.
   */
  readonly agentAddress?: string;

  /**
   * Whether nodes fetch the agent program from the controller (`GET /agent/v1/agent.js`) at
   * boot: their agent config then carries its sha256 (`agentSha256`), which they check.
   */
  readonly fetchesAgent?: boolean;
}
