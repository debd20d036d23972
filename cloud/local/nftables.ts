/**
 * The node firewall as nftables text: rule comments that encode what a rule is for, the
 * statements that implement it, and the diff between the rules a chain has and the rules it
 * should have. Pure: no commands are run here.
 *
 * Every rule lives in one chain, `inet milpa input` (policy drop), and every rule accepts,
 * so rule order never matters and a rule can be added or deleted alone.
 */
import { formatCidr, parseCidr } from "../../model/validation/cidr.ts";
import { hostRange, ipToNumber, numberToIp } from "./addresses.ts";
import type { IngressRule } from "./network.ts";

/** The nftables table (family inet) holding a node's firewall. */
export const TABLE = "milpa";
/** The input chain of {@link TABLE}. */
export const CHAIN = "input";
/** nftables refuses comments longer than this. */
export const MAX_COMMENT = 128;

/** A node's address range: the network in canonical form and the gateway (the host). */
export interface RangeInfo {
  /** "198.18.0.0/15" */
  cidr: string;
  prefix: number;
  /** The first host address, given to the bridge: "198.18.0.1". */
  gateway: string;
}

/** Parses an IPv4 range such as "198.18.0.0/15"; the gateway is its first host address. */
export function rangeInfo(range: string): RangeInfo {
  const { first } = hostRange(range);
  const prefix = Number(range.split("/")[1]);
  const network = numberToIp(first - 2);
  return { cidr: `${network}/${prefix}`, prefix, gateway: numberToIp(first - 1) };
}

/** Whether `address` is a node address of `range`: inside it, not network, gateway or broadcast. */
export function isNodeAddress(range: string, address: string): boolean {
  const { first, last } = hostRange(range);
  let n: number;
  try {
    n = ipToNumber(address);
  } catch {
    return false;
  }
  return n >= first && n <= last;
}

/** A rule as it is listed, with the handle nftables gave it. */
export interface ListedRule {
  handle: number;
  comment?: string;
}

/** Reads the rules out of `nft -j -a list chain inet milpa input`. */
export function parseChainListing(json: string): ListedRule[] {
  const doc = JSON.parse(json) as { nftables?: { rule?: { handle: number; comment?: string } }[] };
  return (doc.nftables ?? []).flatMap((item) =>
    item.rule ? [{ handle: item.rule.handle, comment: item.rule.comment }] : []
  );
}

/** The base rules every node has, statement by comment: established traffic, loopback, the cluster rule. */
export function baseRules(range: RangeInfo): Map<string, string> {
  const rules: [string, string][] = [
    ["milpa established", "ct state established,related accept"],
    ["milpa loopback", 'iif "lo" accept'],
    [
      `milpa cluster ${range.cidr} except ${range.gateway}`,
      `ip saddr ${range.cidr} ip saddr != ${range.gateway} accept`,
    ],
  ];
  return new Map(rules.map(([comment, st]) => [comment, `${st} comment "${comment}"`]));
}

/** A rule with its source in canonical form and its comment. */
export interface EncodedRule {
  rule: IngressRule;
  comment: string;
}

/** The canonical form of a source: "VPC", or a CIDR's network ("10.0.0.0/8"); a bare address is /32 or /128. */
export function canonicalSource(source: string): string {
  if (source === "VPC") return source;
  const cidr = parseCidr(
    source.includes("/") ? source : `${source}/${source.includes(":") ? 128 : 32}`,
  );
  if (!cidr) throw new Error(`invalid source "${source}": must be a CIDR or "VPC"`);
  return formatCidr(cidr);
}

/** Throws unless `service` is a usable service key: letters, digits and `._/:@=+-`. */
export function checkServiceKey(service: string): void {
  if (!/^[A-Za-z0-9._/:@=+-]+$/.test(service)) {
    throw new Error(
      `Cannot open ports for service "${service}": a service key is letters, digits and ._/:@=+-`,
    );
  }
}

/**
 * The comment that identifies one rule of a service: `svc <service> <tcp|udp|icmp>/<first>[-<last>] <source>`.
 * Throws when the rule is invalid or the comment would not fit nftables' 128 characters.
 */
export function encodeRule(service: string, rule: IngressRule): EncodedRule {
  checkServiceKey(service);
  const max = rule.protocol === "ICMP" ? 255 : 65535;
  const min = rule.protocol === "ICMP" ? 0 : 1;
  const size = rule.portRangeSize;
  const last = rule.port + size - 1;
  if (
    !["TCP", "UDP", "ICMP"].includes(rule.protocol) || !Number.isInteger(rule.port) ||
    !Number.isInteger(size) || size < 1 || rule.port < min || last > max
  ) {
    throw new Error(
      `Cannot open ports for service "${service}": ${rule.protocol} ${rule.port}+${size} is out of range`,
    );
  }
  const source = canonicalSource(rule.source);
  const ports = size === 1 ? `${rule.port}` : `${rule.port}-${last}`;
  const comment = `svc ${service} ${rule.protocol.toLowerCase()}/${ports} ${source}`;
  if (comment.length > MAX_COMMENT) {
    throw new Error(
      `Cannot open ports for service "${service}": the rule comment "${comment}" is longer than nftables' ${MAX_COMMENT} characters; use a shorter service key`,
    );
  }
  return { rule: { ...rule, source }, comment };
}

/** The service and rule a comment encodes; undefined for comments that are not service rules. */
export function decodeRule(comment: string): { service: string; rule: IngressRule } | undefined {
  const m = /^svc (\S+) (tcp|udp|icmp)\/(\d+)(?:-(\d+))? (\S+)$/.exec(comment);
  if (!m) return undefined;
  const port = Number(m[3]);
  const last = m[4] === undefined ? port : Number(m[4]);
  return {
    service: m[1],
    rule: {
      protocol: m[2].toUpperCase() as IngressRule["protocol"],
      port,
      portRangeSize: last - port + 1,
      source: m[5],
    },
  };
}

/**
 * The nft statement of an encoded rule. "VPC" is the range minus the gateway. ICMP from an
 * IPv6 source opens ICMPv6 of that type, since ICMP never arrives over IPv6.
 */
export function ruleStatement(encoded: EncodedRule, range: RangeInfo): string {
  const { protocol, port, portRangeSize, source } = encoded.rule;
  const ports = portRangeSize === 1 ? `${port}` : `${port}-${port + portRangeSize - 1}`;
  const v6 = source.includes(":");
  const from = source === "VPC"
    ? `ip saddr ${range.cidr} ip saddr != ${range.gateway}`
    : `${v6 ? "ip6" : "ip"} saddr ${source}`;
  const match = protocol === "ICMP"
    ? `${v6 ? "icmpv6" : "icmp"} type ${ports}`
    : `${protocol.toLowerCase()} dport ${ports}`;
  return `${match} ${from} accept comment "${encoded.comment}"`;
}

/** What to change in a chain: rules to add, handles to delete. */
export interface RuleDiff<T> {
  add: T[];
  remove: number[];
}

/**
 * Diffs listed rules against the wanted ones, both keyed by comment: adds the missing, deletes
 * the extra and duplicates among `mine` (the listed rules this diff owns), keeps the rest.
 */
export function diffByComment<T>(
  listed: ListedRule[],
  mine: (comment: string) => boolean,
  wanted: Map<string, T>,
): RuleDiff<T> {
  const seen = new Set<string>();
  const remove: number[] = [];
  for (const r of listed) {
    if (r.comment === undefined || !mine(r.comment)) continue;
    if (wanted.has(r.comment) && !seen.has(r.comment)) seen.add(r.comment);
    else remove.push(r.handle);
  }
  const add = [...wanted].filter(([comment]) => !seen.has(comment)).map(([, v]) => v);
  return { add, remove };
}

/** The diff that makes one service's rules exactly `rules`. */
export function diffServiceRules(
  listed: ListedRule[],
  service: string,
  rules: IngressRule[],
): RuleDiff<EncodedRule> {
  checkServiceKey(service);
  const wanted = new Map(rules.map((r) => encodeRule(service, r)).map((e) => [e.comment, e]));
  return diffByComment(listed, (c) => decodeRule(c)?.service === service, wanted);
}

/** The rules of every service in a listing, by service. */
export function serviceRules(listed: ListedRule[]): Map<string, IngressRule[]> {
  const out = new Map<string, IngressRule[]>();
  for (const r of listed) {
    const d = r.comment === undefined ? undefined : decodeRule(r.comment);
    if (!d) continue;
    out.set(d.service, [...(out.get(d.service) ?? []), d.rule]);
  }
  return out;
}

/** An nft script that applies a diff to the chain in one transaction. */
export function diffScript(add: string[], remove: number[]): string {
  const at = `inet ${TABLE} ${CHAIN}`;
  return [
    ...remove.map((h) => `delete rule ${at} handle ${h}`),
    ...add.map((s) => `add rule ${at} ${s}`),
  ].join("\n") + "\n";
}

/** An nft script creating the table and chain (policy drop) unless they exist; re-asserts the policy. */
export function chainScript(): string {
  return `add table inet ${TABLE}\n` +
    `add chain inet ${TABLE} ${CHAIN} { type filter hook input priority filter; policy drop; }\n`;
}
