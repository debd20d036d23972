/**
 * What a Service's classic ELB should be, from its spec: scheme, health check, attributes and
 * listeners, as pure functions of the spec so they can be tested alone.
 */
import { parseCidr } from "../../../model/validation/cidr.ts";
import { LB_ANNOTATIONS, parseHealthCheck } from "../../lb_annotations.ts";
import type { LoadBalancerSpec } from "../../provider.ts";
import type { HealthCheck, Listener, LoadBalancerAttributes } from "../sdk.ts";

/** Whether every range is "VPC" or inside one of the VPC's CIDRs (IPv4). */
export function isInternal(sourceRanges: string[], vpcCidrs: string[]): boolean {
  const vpcs = vpcCidrs.map(parseCidr).filter((c) => c?.family === 4);
  const toNumber = (bytes: number[]) => bytes.reduce((n, b) => n * 256 + b, 0);
  return sourceRanges.length > 0 && sourceRanges.every((r) => {
    if (r === "VPC") return true;
    const c = parseCidr(r.includes("/") ? r : `${r}/32`);
    if (c?.family !== 4) return false;
    return vpcs.some((v) =>
      v!.prefix <= c.prefix &&
      Math.floor(toNumber(c.network) / 2 ** (32 - v!.prefix)) ===
        Math.floor(toNumber(v!.network) / 2 ** (32 - v!.prefix))
    );
  });
}

/** The health check the annotations ask for, on the first node port (seconds, as ELB wants). */
export function healthCheckOf(spec: LoadBalancerSpec): HealthCheck {
  const hc = parseHealthCheck(spec.annotations);
  return {
    Target: `TCP:${spec.listeners[0].nodePort}`,
    Interval: Math.round(hc.intervalMs / 1000),
    Timeout: Math.round(hc.timeoutMs / 1000),
    HealthyThreshold: hc.healthyThreshold,
    UnhealthyThreshold: hc.unhealthyThreshold,
  };
}

/**
 * The attributes the annotations ask for; an annotation absent means ELB's default for a new
 * load balancer (no cross-zone, no draining, 60 s idle timeout), so removing one reverts it.
 */
export function attributesOf(annotations: Record<string, string>): LoadBalancerAttributes {
  const draining = annotations[LB_ANNOTATIONS.connectionDrainingEnabled] === "true";
  const drainingTimeout = annotations[LB_ANNOTATIONS.connectionDrainingTimeout];
  return {
    CrossZoneLoadBalancing: {
      Enabled: annotations[LB_ANNOTATIONS.crossZoneLoadBalancingEnabled] === "true",
    },
    ConnectionDraining: draining
      ? { Enabled: true, Timeout: Number(drainingTimeout ?? 300) }
      : { Enabled: false },
    ConnectionSettings: {
      IdleTimeout: Number(annotations[LB_ANNOTATIONS.connectionIdleTimeout] ?? 60),
    },
  };
}

/** Whether the attributes held differ from those wanted (only the fields Milpa sets). */
export function attributesDiffer(
  want: LoadBalancerAttributes,
  have: LoadBalancerAttributes,
): boolean {
  const w = want.ConnectionDraining!;
  const h = have.ConnectionDraining ?? { Enabled: false };
  return want.CrossZoneLoadBalancing!.Enabled !== (have.CrossZoneLoadBalancing?.Enabled ?? false) ||
    w.Enabled !== (h.Enabled ?? false) || (w.Enabled && w.Timeout !== h.Timeout) ||
    want.ConnectionSettings!.IdleTimeout !== (have.ConnectionSettings?.IdleTimeout ?? 60);
}

/** A listener's identity, for diffs. */
export const listenerKey = (l: Listener): string =>
  `${l.LoadBalancerPort}|${l.InstancePort}|${l.Protocol?.toUpperCase()}|${l.InstanceProtocol?.toUpperCase()}`;
