/** CIDR parsing for Service sourceRanges: IPv4 and IPv6, reduced to the network address. */

/** A parsed CIDR block. */
export interface Cidr {
  /** 4 for IPv4, 6 for IPv6. */
  family: 4 | 6;
  /** The network address: host bits cleared, one byte per element. */
  network: number[];
  prefix: number;
}

/** Parses "10.1.2.3/8" or "2001:db8::1/32"; undefined when `s` is not a CIDR. */
export function parseCidr(s: string): Cidr | undefined {
  const slash = s.indexOf("/");
  if (slash < 0 || !/^\d{1,3}$/.test(s.slice(slash + 1))) return undefined;
  const prefix = Number(s.slice(slash + 1));
  const address = s.slice(0, slash);
  const bytes = address.includes(":") ? parseIPv6(address) : parseIPv4(address);
  if (!bytes || prefix > bytes.length * 8) return undefined;
  const network = bytes.map((byte, i) => byte & maskByte(prefix - i * 8));
  return { family: bytes.length === 4 ? 4 : 6, network, prefix };
}

/** The canonical text of a CIDR's network: `10.0.0.0/8`, `2001:db8:0:0:0:0:0:0/32`. */
export function formatCidr(cidr: Cidr): string {
  if (cidr.family === 4) return `${cidr.network.join(".")}/${cidr.prefix}`;
  const groups = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((cidr.network[i] << 8) | cidr.network[i + 1]).toString(16));
  }
  return `${groups.join(":")}/${cidr.prefix}`;
}

function maskByte(bits: number): number {
  if (bits >= 8) return 0xff;
  if (bits <= 0) return 0;
  return (0xff << (8 - bits)) & 0xff;
}

function parseIPv4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) {
    return undefined;
  }
  return parts.map(Number);
}

function parseIPv6(s: string): number[] | undefined {
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const head = parseIPv6Groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? parseIPv6Groups(halves[1], true) : [];
  if (!head || !tail) return undefined;
  const missing = 16 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 2) return undefined;
  return [...head, ...new Array(missing).fill(0), ...tail];
}

/** Colon-separated hex groups; the last may be a dotted IPv4 address when it ends the address. */
function parseIPv6Groups(s: string, endsAddress: boolean): number[] | undefined {
  if (s === "") return [];
  const bytes: number[] = [];
  const groups = s.split(":");
  for (const [i, group] of groups.entries()) {
    if (endsAddress && i === groups.length - 1 && group.includes(".")) {
      const v4 = parseIPv4(group);
      if (!v4) return undefined;
      bytes.push(...v4);
    } else if (/^[0-9a-fA-F]{1,4}$/.test(group)) {
      const n = parseInt(group, 16);
      bytes.push(n >> 8, n & 0xff);
    } else {
      return undefined;
    }
  }
  return bytes;
}
