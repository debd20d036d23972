/** IPv4 address arithmetic for the local cloud's address range. */

/** An IPv4 address as a 32-bit number. */
export function ipToNumber(ip: string): number {
  const raw = ip.split(".");
  const parts = raw.map(Number);
  if (raw.length !== 4 || raw.some((p) => !/^\d{1,3}$/.test(p)) || parts.some((p) => p > 255)) {
    throw new Error(`invalid IPv4 address "${ip}"`);
  }
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

/** A 32-bit number as a dotted IPv4 address. */
export function numberToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** The usable host addresses of a CIDR: first and last number, skipping network, gateway (.1) and broadcast. */
export function hostRange(cidr: string): { first: number; last: number } {
  const [ip, bits] = cidr.split("/");
  const prefix = Number(bits);
  if (!Number.isInteger(prefix) || prefix < 8 || prefix > 30) {
    throw new Error(`invalid address range "${cidr}": prefix must be between /8 and /30`);
  }
  const size = 2 ** (32 - prefix);
  const network = Math.floor(ipToNumber(ip) / size) * size;
  return { first: network + 2, last: network + size - 2 };
}

/** The lowest address of the range not in `used`; throws when the range is full. */
export function allocate(cidr: string, used: Iterable<string>): string {
  const taken = new Set([...used].map(ipToNumber));
  const { first, last } = hostRange(cidr);
  for (let n = first; n <= last; n++) if (!taken.has(n)) return numberToIp(n);
  throw new Error(`address range ${cidr} is full`);
}

/** The highest address of the range not in `used` (load balancers take addresses from the top). */
export function allocateFromTop(cidr: string, used: Iterable<string>): string {
  const taken = new Set([...used].map(ipToNumber));
  const { first, last } = hostRange(cidr);
  for (let n = last; n >= first; n--) if (!taken.has(n)) return numberToIp(n);
  throw new Error(`address range ${cidr} is full`);
}
