/**
 * Ingress rules as security group permissions, one (protocol, ports, source) at a time, so that
 * a sync can diff them: authorize what is missing, revoke what is extra, touch nothing else.
 */
import { ValidationError } from "../../../model/errors.ts";
import { formatCidr, parseCidr } from "../../../model/validation/cidr.ts";
import type { IngressRule } from "../../provider.ts";
import type { IpPermission } from "../sdk.ts";

/** One permission of a group: a port range of a protocol open to one source. */
export interface Permission {
  /** AWS's protocol name: "tcp", "udp", "icmp" (or whatever else a group holds, e.g. "-1"). */
  protocol: string;
  /** First port; for ICMP the type. -1 when the protocol has none. */
  from: number;
  /** Last port; for ICMP the code (-1 = every code). */
  to: number;
  /** An IPv4 or IPv6 CIDR, or a security group id `sg-…`. */
  source: string;
}

/** A permission's identity, for diffs. */
export function permissionKey(p: Permission): string {
  return `${p.protocol}|${p.from}|${p.to}|${p.source}`;
}

/** Sources a rule names: "VPC" is the VPC's CIDRs; `sg-…` a group; a bare address a /32. */
export function expandSource(source: string, vpcCidrs: string[]): string[] {
  if (source === "VPC") return vpcCidrs.map((c) => canonicalCidr(c));
  if (/^sg-[0-9a-f]+$/.test(source)) return [source];
  return [canonicalCidr(source)];
}

function canonicalCidr(source: string): string {
  const withPrefix = source.includes("/") ? source : `${source}/${source.includes(":") ? 128 : 32}`;
  const cidr = parseCidr(withPrefix);
  if (!cidr) {
    throw new ValidationError(
      `invalid ingress source "${source}": want a CIDR, "VPC" or a security group id`,
      [{ field: "source", message: "not a CIDR, VPC or sg-…", value: source }],
    );
  }
  // AWS shows IPv6 blocks compressed; compare what AWS returns through the same parse.
  return formatCidr(cidr);
}

/** The permissions `rules` ask for, deduplicated. */
export function permissionsOf(rules: IngressRule[], vpcCidrs: string[]): Permission[] {
  const out = new Map<string, Permission>();
  for (const r of rules) {
    const protocol = r.protocol.toLowerCase();
    const [from, to] = protocol === "icmp"
      ? [r.port, -1]
      : [r.port, r.port + Math.max(1, r.portRangeSize) - 1];
    for (const source of expandSource(r.source, vpcCidrs)) {
      const p = { protocol, from, to, source };
      out.set(permissionKey(p), p);
    }
  }
  return [...out.values()];
}

/** The permissions a group holds, one per source, as `DescribeSecurityGroups` lists them. */
export function permissionsHeld(ipPermissions: IpPermission[] | undefined): Permission[] {
  const out: Permission[] = [];
  for (const ip of ipPermissions ?? []) {
    const base = { protocol: ip.IpProtocol ?? "-1", from: ip.FromPort ?? -1, to: ip.ToPort ?? -1 };
    for (const r of ip.IpRanges ?? []) {
      if (r.CidrIp) out.push({ ...base, source: heldCidr(r.CidrIp) });
    }
    for (const r of ip.Ipv6Ranges ?? []) {
      if (r.CidrIpv6) out.push({ ...base, source: heldCidr(r.CidrIpv6) });
    }
    for (const g of ip.UserIdGroupPairs ?? []) {
      if (g.GroupId) out.push({ ...base, source: g.GroupId });
    }
  }
  return out;
}

function heldCidr(cidr: string): string {
  const parsed = parseCidr(cidr);
  return parsed ? formatCidr(parsed) : cidr;
}

/** `permissions` as IpPermissions for Authorize/RevokeSecurityGroupIngress. */
export function toIpPermissions(permissions: Permission[]): IpPermission[] {
  return permissions.map((p) => {
    const ports = p.protocol === "-1" ? {} : { FromPort: p.from, ToPort: p.to };
    const ip: IpPermission = { IpProtocol: p.protocol, ...ports };
    if (p.source.startsWith("sg-")) ip.UserIdGroupPairs = [{ GroupId: p.source }];
    else if (p.source.includes(":")) ip.Ipv6Ranges = [{ CidrIpv6: p.source }];
    else ip.IpRanges = [{ CidrIp: p.source }];
    return ip;
  });
}

/** What to authorize (wanted, not held) and revoke (held, not wanted). */
export function diffPermissions(
  wanted: Permission[],
  held: Permission[],
): { authorize: Permission[]; revoke: Permission[] } {
  const w = new Set(wanted.map(permissionKey));
  const h = new Set(held.map(permissionKey));
  return {
    authorize: wanted.filter((p) => !h.has(permissionKey(p))),
    revoke: held.filter((p) => !w.has(permissionKey(p))),
  };
}
