/**
 * Where the pull proxy may connect: registries, not the host's own services. It judges every
 * address a destination resolved to (a name that resolves to a forbidden address is refused
 * like the address) and refuses:
 * - the node range but for the gateway (nodes reach each other directly);
 * - the controller's own ports (its API, the proxy) on any address;
 * - link-local addresses (169.254.0.0/16, fe80::/10: cloud metadata services, among others)
 *   and the EC2 metadata service's IPv6 address fd00:ec2::254;
 * - this host's loopback (127.0.0.0/8, ::1, and 0.0.0.0 and ::, which reach it too) and its
 *   other addresses (its interfaces': a service bound to 0.0.0.0 answers there too; but for the
 *   gateway, which nodes reach directly anyway) on any port but those of the registries the configuration names (`loopbackPorts`).
 * IPv4 addresses embedded in IPv6 (::ffff:a.b.c.d, ::a.b.c.d, 64:ff9b::a.b.c.d) count as
 * their IPv4 address.
 */
import { isIP } from "node:net";
import { ipToNumber } from "./addresses.ts";

/** The loopback port registries usually listen on (`docker run -p 5000:5000 registry:2`). */
export const DEFAULT_LOOPBACK_REGISTRY_PORTS: readonly number[] = [5000];

/** What the pull proxy refuses and allows. */
export interface DestinationPolicyOptions {
  /** The node address range (IPv4 CIDR). */
  nodeRange: string;
  /** The gateway: in the node range, but not a node. */
  gateway: string;
  /** Ports refused on every address: the controller's own. */
  reservedPorts: readonly number[];
  /** Loopback ports registries listen on; other loopback ports are refused. */
  loopbackPorts: readonly number[];
  /**
   * This host's own addresses, judged like loopback. @default the addresses of
   * `Deno.networkInterfaces()`, read at each decision (interfaces come and go)
   */
  hostAddresses?: () => readonly string[];
}

function interfaceAddresses(): string[] {
  return Deno.networkInterfaces().map((i) => i.address);
}

/** Decides which destination addresses the pull proxy may connect to. */
export class DestinationPolicy {
  readonly #o: DestinationPolicyOptions;
  readonly #range: { network: number; size: number };

  constructor(options: DestinationPolicyOptions) {
    this.#o = options;
    this.#range = parseRange(options.nodeRange);
  }

  /**
   * Why `port` of `address` is refused, as a predicate ("is in the node range ..."), or
   * undefined when the proxy may connect to it.
   */
  refusal(address: string, port: number): string | undefined {
    if (this.#o.reservedPorts.includes(port)) {
      return `is refused on port ${port}, the controller's own (its API or this proxy)`;
    }
    const v4 = ipv4Of(address);
    // The gateway is this host too, but nodes reach it directly: the proxy adds nothing there.
    const own = !sameAddress(address, this.#o.gateway) &&
      (this.#o.hostAddresses ?? interfaceAddresses)().some((a) => sameAddress(a, address));
    if (v4 !== undefined && v4 !== gatewayNumber(this.#o) && !own) {
      const offset = v4 - this.#range.network;
      if (offset >= 0 && offset < this.#range.size) {
        return `is in the node range ${this.#o.nodeRange}; nodes reach it directly`;
      }
    }
    const kind = classify(address);
    if (kind === "link-local") return "is link-local (where cloud metadata services answer)";
    if (kind === "metadata") return "is the cloud metadata service";
    if ((kind === "loopback" || own) && !this.#o.loopbackPorts.includes(port)) {
      const allowed = this.#o.loopbackPorts.join(", ") || "(none)";
      return `is this host${kind === "loopback" ? "'s loopback" : ""}, where nodes may reach ` +
        `only registry ports ${allowed} (cloud.local.registryProxy.loopbackPorts)`;
    }
    return undefined;
  }
}

/**
 * The loopback ports nodes may pull from: `configured` (default 5000) and those of the loopback
 * registries in `insecureRegistries` ("localhost:5001", "127.0.0.1:5002", "[::1]:5003"; a host
 * without a port means port 80).
 */
export function loopbackRegistryPorts(
  configured: readonly number[] | undefined,
  insecureRegistries: readonly string[],
): number[] {
  const ports = new Set(configured ?? DEFAULT_LOOPBACK_REGISTRY_PORTS);
  for (const entry of insecureRegistries) {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(entry);
    const host = m?.[1] ?? m?.[2];
    if (!host) continue;
    if (host.toLowerCase() === "localhost" || (isIP(host) && classify(host) === "loopback")) {
      ports.add(Number(m![3] ?? 80));
    }
  }
  return [...ports].sort((a, b) => a - b);
}

type AddressKind = "loopback" | "link-local" | "metadata" | "other";

/** What kind of address `address` is (an IPv4 or IPv6 literal). */
export function classify(address: string): AddressKind {
  const v4 = ipv4Of(address);
  if (v4 !== undefined) {
    const first = v4 >>> 24;
    if (first === 127 || first === 0) return "loopback";
    if (v4 >>> 16 === (169 << 8 | 254)) return "link-local";
    return "other";
  }
  const groups = ipv6Groups(address);
  if (!groups) return "other";
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7] <= 1) return "loopback"; // :: and ::1
  if ((groups[0] & 0xffc0) === 0xfe80) return "link-local";
  if (groups.join(":") === [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254].join(":")) return "metadata";
  return "other";
}

/** Whether two address literals name the same address (IPv4 also when embedded in IPv6). */
function sameAddress(a: string, b: string): boolean {
  const [a4, b4] = [ipv4Of(a), ipv4Of(b)];
  if (a4 !== undefined || b4 !== undefined) return a4 === b4;
  const [ga, gb] = [ipv6Groups(a), ipv6Groups(b)];
  return ga !== undefined && gb !== undefined && ga.join(":") === gb.join(":");
}

/** The IPv4 address as a number, also when embedded in IPv6; undefined for other addresses. */
function ipv4Of(address: string): number | undefined {
  if (isIP(address) === 4) return ipToNumber(address);
  const g = ipv6Groups(address);
  if (!g) return undefined;
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  const mapped = zeros(5) && g[5] === 0xffff;
  const compatible = zeros(6) && (g[6] !== 0 || g[7] > 1);
  const nat64 = g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0);
  return mapped || compatible || nat64 ? (g[6] * 0x10000 + g[7]) : undefined;
}

/** The eight 16-bit groups of an IPv6 address (zone dropped), or undefined when it is none. */
function ipv6Groups(address: string): number[] | undefined {
  const text = address.replace(/%.*$/, "");
  if (isIP(text) !== 6) return undefined;
  // A dotted IPv4 tail is two groups.
  const hexOnly = text.replace(/(\d+\.\d+\.\d+\.\d+)$/, (v4) => {
    const n = ipToNumber(v4);
    return `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  });
  const parse = (s: string) => s ? s.split(":").map((h) => parseInt(h, 16)) : [];
  const [head, rest] = hexOnly.split("::");
  const left = parse(head);
  if (rest === undefined) return left.length === 8 ? left : undefined;
  const right = parse(rest);
  return [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
}

function gatewayNumber(o: DestinationPolicyOptions): number | undefined {
  return isIP(o.gateway) === 4 ? ipToNumber(o.gateway) : undefined;
}

/** Network number and size of an IPv4 CIDR. */
function parseRange(cidr: string): { network: number; size: number } {
  const [ip, bits] = cidr.split("/");
  const prefix = Number(bits);
  if (!/^\d+$/.test(bits ?? "") || prefix > 32) {
    throw new Error(`invalid node range "${cidr}": must be an IPv4 CIDR`);
  }
  const size = 2 ** (32 - prefix);
  return { network: Math.floor(ipToNumber(ip) / size) * size, size };
}
