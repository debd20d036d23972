/**
 * One machine, several controllers: each local cloud with namespaces needs a bridge and an
 * address range of its own. Two on one bridge clash on the gateway's DNS port; one whose range
 * overlaps another bridge's would route the other's nodes to itself. These checks and messages
 * say so at start, before anything is changed, and name the settings that fix it.
 */
import { MilpaError } from "../../model/errors.ts";
import { ipToNumber } from "./addresses.ts";
import { run } from "./command.ts";

/** What to set so that a second controller on this machine gets a network of its own. */
export function ownNetworkFix(bridge: string, range: string): string {
  const nextBridge = /\d$/.test(bridge)
    ? bridge.replace(/\d+$/, (n) => String(Number(n) + 1))
    : `${bridge.slice(0, 14)}1`;
  const otherRange = range.startsWith("10.78.") ? "10.79.0.0/16" : "10.78.0.0/16";
  return "A second controller on this machine needs a bridge and an address range of its own: " +
    `set cloud.local.bridge (e.g. ${nextBridge}) and cloud.local.addressRange (e.g. ` +
    `${otherRange}) in its server.yml, besides its own MILPA_HOME and MILPA_LISTEN port.`;
}

function bounds(cidr: string): [number, number] {
  const [ip, bits] = cidr.split("/");
  const size = 2 ** (32 - Number(bits));
  const start = Math.floor(ipToNumber(ip) / size) * size;
  return [start, start + size - 1];
}

/** Whether two IPv4 CIDRs share an address. */
export function overlaps(a: string, b: string): boolean {
  const [a0, a1] = bounds(a);
  const [b0, b1] = bounds(b);
  return a0 <= b1 && b0 <= a1;
}

interface IpAddr {
  ifname?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

/**
 * The IPv4 networks of interfaces other than `bridge` that overlap `range`, from the output of
 * `ip -j addr show` (host addresses, /32, count only when inside the range).
 */
export function overlapping(
  ipAddrJson: string,
  bridge: string,
  range: string,
): { ifname: string; cidr: string }[] {
  const out: { ifname: string; cidr: string }[] = [];
  for (const link of JSON.parse(ipAddrJson) as IpAddr[]) {
    if (!link.ifname || link.ifname === bridge || link.ifname === "lo") continue;
    for (const a of link.addr_info ?? []) {
      if (a.family !== "inet") continue;
      const cidr = `${a.local}/${a.prefixlen}`;
      if (overlaps(cidr, range)) out.push({ ifname: link.ifname, cidr });
    }
  }
  return out;
}

/**
 * Throws when an interface other than `bridge` has an address in `range` (another controller's
 * bridge, a VPN, a docker network): the nodes' range must be this bridge's alone.
 */
export async function checkRangeFree(bridge: string, range: string): Promise<void> {
  const clash = overlapping(await run(["ip", "-j", "addr", "show"]), bridge, range);
  if (clash.length === 0) return;
  const list = clash.map((c) => `${c.cidr} on ${c.ifname}`).join(", ");
  throw new MilpaError(
    `Cannot set up the local cloud on bridge ${bridge}: its address range ${range} overlaps ` +
      `${list} (another Milpa controller's bridge, or another network). ` +
      ownNetworkFix(bridge, range),
  );
}
