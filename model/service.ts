/** The Service kind: opens ports on the nodes of matching pods and registers them in DNS. */
import type { MilpaObject, ObjectMeta } from "./meta.ts";
import type { LabelSelector } from "./selector_types.ts";

/** A port a service opens. */
export interface ServicePort {
  name?: string;
  /** @default "TCP" */
  protocol?: "TCP" | "UDP" | "ICMP";
  /** The port opened (or the load balancer's listener port). */
  port: number;
  /** The port on the pod's node; @default port */
  nodePort?: number;
  /** @default 1 */
  portRangeSize?: number;
}

/** Desired state of a service. */
export interface ServiceSpec {
  /** "" registers backends in DNS and opens firewall ports; LoadBalancer also makes a load balancer. */
  type?: "" | "LoadBalancer";
  selector?: LabelSelector;
  ports: ServicePort[];
  /** CIDRs, or "VPC" for the cluster network. */
  sourceRanges?: string[];
}

/** Observed state of a service. */
export interface ServiceStatus {
  loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] };
}

/** A service. */
export interface Service extends MilpaObject {
  kind: "Service";
  metadata: ObjectMeta;
  spec: ServiceSpec;
  status?: ServiceStatus;
}
