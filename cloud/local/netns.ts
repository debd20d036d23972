/**
 * Nodes in network namespaces on a bridge, firewalled by nftables inside each namespace.
 * Needs root, iproute2 and nftables. Every step looks at what exists first, so a repeat
 * after a crash completes the work instead of failing on it.
 */
import { NetworkCommandError, run } from "./command.ts";
import type { IngressRule, NodeNetwork } from "./network.ts";
import {
  baseRules,
  CHAIN,
  chainScript,
  diffByComment,
  diffScript,
  diffServiceRules,
  isNodeAddress,
  type ListedRule,
  parseChainListing,
  type RangeInfo,
  rangeInfo,
  ruleStatement,
  serviceRules,
  TABLE,
} from "./nftables.ts";

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * What `ip netns exec <ns>` does for a program, less its fresh /sys: a private mount namespace
 * where `/etc/netns/<ns>/resolv.conf` (when there is one) covers /etc/resolv.conf, then the
 * node's network namespace. The host's /sys stays, with its cgroup mounts, which runc needs to
 * run a node's containers (`ip netns exec` mounts a new sysfs over them).
 */
const ENTER_NODE = "conf=$1; net=$2; shift 2; " +
  'if [ -e "$conf" ]; then mount --bind "$conf" /etc/resolv.conf || exit 1; fi; ' +
  'exec nsenter --net="$net" -- "$@"';

/**
 * {@linkcode ENTER_NODE} in a UTS namespace of its own named `$1` (as `hostname` and
 * `uname -n` report it), with `HOSTNAME` exported to match.
 */
const NAME_NODE = 'printf %s "$1" > /proc/sys/kernel/hostname || exit 1; ' +
  'export HOSTNAME="$1"; shift; ' + ENTER_NODE;

/**
 * The argv prefix that runs a program on node namespace `ns` (see {@linkcode ENTER_NODE}),
 * and with a `hostname`, in a UTS namespace of its own with that name: the program and
 * everything it starts see it; the host's name is left alone.
 */
export function enterNode(ns: string, hostname?: string): string[] {
  const named = hostname !== undefined;
  return [
    "unshare",
    "--mount",
    ...(named ? ["--uts"] : []),
    "--propagation",
    "slave",
    "sh",
    "-c",
    named ? NAME_NODE : ENTER_NODE,
    "milpa-node",
    ...(named ? [hostname] : []),
    `/etc/netns/${ns}/resolv.conf`,
    `/run/netns/${ns}`,
  ];
}

/** The host end of a node's veth: `mv` and 8 hex digits of the namespace name's SHA-256 (≤ 15 chars). */
export async function vethName(ns: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(ns));
  return `mv${
    Array.from(new Uint8Array(d).slice(0, 4), (b) => b.toString(16).padStart(2, "0")).join("")
  }`;
}

/** `nft` inside a namespace. */
function nft(ns: string): string[] {
  return ["ip", "netns", "exec", ns, "nft"];
}

interface IpAddr {
  ifname?: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
  linkinfo?: { info_kind?: string };
}

/** The network of the local cloud when running as root: one namespace per node. */
export class NetnsNetwork implements NodeNetwork {
  readonly kind = "netns";
  readonly range: string;
  readonly gateway: string;
  readonly warnings: string[] = [];
  readonly #info: RangeInfo;
  readonly #bridge: string;
  readonly #prefix: string;
  readonly #locks = new Map<string, Promise<unknown>>();
  #ready?: Promise<void>;

  constructor(opts: { range: string; bridge: string; nsPrefix: string }) {
    this.#info = rangeInfo(opts.range);
    this.range = this.#info.cidr;
    this.gateway = this.#info.gateway;
    this.#bridge = opts.bridge;
    this.#prefix = opts.nsPrefix;
    if (opts.bridge.length > 15 || !/^[A-Za-z0-9_.-]+$/.test(opts.bridge)) {
      throw new Error(`invalid bridge name "${opts.bridge}": at most 15 letters, digits, _ . -`);
    }
    if (!/^[A-Za-z0-9_.-]*$/.test(opts.nsPrefix)) {
      throw new Error(`invalid namespace prefix "${opts.nsPrefix}": letters, digits, _ . -`);
    }
  }

  /** The namespace name of a node. */
  namespace(node: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(node)) throw new Error(`invalid node name "${node}"`);
    return `${this.#prefix}${node}`;
  }

  /**
   * Creates the bridge with the gateway address and brings it up; leaves `ip_forward` alone
   * (nodes and host talk on the bridge, nothing is routed). Fills `warnings` when the host
   * filters bridged traffic (br_netfilter with `net.bridge.bridge-nf-call-iptables=1`).
   */
  setUp(): Promise<void> {
    const p = this.#setUp();
    this.#ready = p;
    p.catch(() => {
      if (this.#ready === p) this.#ready = undefined;
    });
    return p;
  }

  async #setUp(): Promise<void> {
    const b = this.#bridge;
    const link = await this.#link(["ip", "-j", "-d", "link", "show", "dev", b]);
    if (!link) await run(["ip", "link", "add", b, "type", "bridge"]);
    else if (link.linkinfo?.info_kind !== "bridge") {
      throw new Error(`Cannot set up the node network: "${b}" exists and is not a bridge`);
    }
    // A bridge takes the lowest MAC of its ports unless it has its own: removing a node's veth
    // could then change the gateway's MAC under the other nodes' ARP caches, cutting them off
    // from the controller for tens of seconds. A fixed address keeps it stable.
    await run(["ip", "link", "set", b, "address", bridgeMac(b)]);
    const want = `${this.gateway}/${this.#info.prefix}`;
    // The /32s are load balancer addresses (syncHostAddresses): they stay.
    await this.#replaceAddress([], b, want, (a) => a.prefixlen === 32);
    await run(["ip", "link", "set", b, "up"]);
    this.warnings.length = 0;
    const nf = await Deno.readTextFile("/proc/sys/net/bridge/bridge-nf-call-iptables")
      .catch(() => "0");
    if (nf.trim() === "1") {
      this.warnings.push(
        "br_netfilter is active (net.bridge.bridge-nf-call-iptables=1): packets between nodes " +
          "pass the host's forward hook, so a host firewall that drops forwarded packets " +
          "(Docker sets the iptables FORWARD policy to DROP) cuts nodes off from each other",
      );
    }
  }

  /**
   * Gives a node its namespace, firewall (before any link is up), veth (host end `mv<hash>`
   * on the bridge, `eth0` inside), address, default route and resolv.conf. Service rules
   * already there stay. The prefix returned gives the program `hostname`, when there is one.
   */
  attach(
    node: string,
    address: string,
    dns?: { nameserver: string; search: string[] },
    hostname?: string,
  ): Promise<string[]> {
    return this.#locked(node, async () => {
      await this.#attach(node, address, dns);
      return enterNode(this.namespace(node), hostname);
    });
  }

  async #attach(
    node: string,
    address: string,
    dns?: { nameserver: string; search: string[] },
  ): Promise<void> {
    const ns = this.namespace(node);
    if (!isNodeAddress(this.range, address)) {
      throw new Error(
        `Cannot attach node "${node}": ${address} is not a node address of ${this.range}`,
      );
    }
    await (this.#ready ?? this.setUp());
    if (!(await exists(`/run/netns/${ns}`))) await run(["ip", "netns", "add", ns]);
    await this.#ensureBase(ns);
    const veth = await vethName(ns);
    const host = await this.#link(["ip", "-j", "link", "show", "dev", veth]);
    const inner = await this.#link(["ip", "-n", ns, "-j", "link", "show", "dev", "eth0"]);
    if (host && !inner) await run(["ip", "link", "del", veth]);
    if (!host || !inner) {
      await run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    }
    await run(["ip", "link", "set", veth, "master", this.#bridge, "up"]);
    await run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    await this.#replaceAddress(["-n", ns], "eth0", `${address}/${this.#info.prefix}`);
    await run(["ip", "-n", ns, "link", "set", "eth0", "up"]);
    await run(["ip", "-n", ns, "route", "replace", "default", "via", this.gateway, "dev", "eth0"]);
    await this.#writeResolvConf(ns, dns);
  }

  /** Deletes the veth, the namespace (with its firewall) and `/etc/netns/<ns>`. */
  detach(node: string): Promise<void> {
    return this.#locked(node, async () => {
      const ns = this.namespace(node);
      const veth = await vethName(ns);
      if (await this.#link(["ip", "-j", "link", "show", "dev", veth])) {
        await run(["ip", "link", "del", veth]);
      }
      if (await exists(`/run/netns/${ns}`)) await run(["ip", "netns", "del", ns]);
      await Deno.remove(`/etc/netns/${ns}`, { recursive: true }).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
    });
  }

  /** Adds the missing rules and deletes the extra ones by handle, in one nft transaction. */
  syncRules(node: string, service: string, rules: IngressRule[]): Promise<void> {
    return this.#locked(node, async () => {
      const ns = this.namespace(node);
      const listed = await this.#list(ns);
      if (!listed) throw new Error(`Cannot open ports on node "${node}": it has no network`);
      const diff = diffServiceRules(listed, service, rules);
      if (diff.add.length === 0 && diff.remove.length === 0) return;
      const add = diff.add.map((e) => ruleStatement(e, this.#info));
      await run([...nft(ns), "-f", "-"], diffScript(add, diff.remove));
    });
  }

  /** The service rules read back from the node's chain; empty when the node has no network. */
  async rules(node: string): Promise<Map<string, IngressRule[]>> {
    return serviceRules((await this.#list(this.namespace(node))) ?? []);
  }

  /** Nodes whose namespace (named by this network's prefix) exists. */
  async attached(): Promise<string[]> {
    const out = await run(["ip", "-j", "netns", "list"]);
    const names = (out.trim() ? JSON.parse(out) as { name: string }[] : []).map((n) => n.name);
    const p = this.#prefix;
    return names.filter((n) => n.startsWith(p) && n.length > p.length).map((n) => n.slice(p.length))
      .sort();
  }

  /** The chain's rules, or undefined when the namespace or the table does not exist. */
  async #list(ns: string): Promise<ListedRule[] | undefined> {
    if (!(await exists(`/run/netns/${ns}`))) return undefined;
    try {
      return parseChainListing(
        await run([...nft(ns), "-j", "-a", "list", "chain", "inet", TABLE, CHAIN]),
      );
    } catch (e) {
      if (e instanceof NetworkCommandError && /No such file or directory/.test(e.stderr)) {
        return undefined;
      }
      throw e;
    }
  }

  /** Creates table and chain if missing and makes the base rules exactly the wanted ones. */
  async #ensureBase(ns: string): Promise<void> {
    const listed = (await this.#list(ns)) ?? [];
    const diff = diffByComment(listed, (c) => c.startsWith("milpa "), baseRules(this.#info));
    const script = chainScript() + diffScript(diff.add, diff.remove);
    await run([...nft(ns), "-f", "-"], script);
  }

  async #writeResolvConf(ns: string, dns?: { nameserver: string; search: string[] }) {
    const dir = `/etc/netns/${ns}`;
    if (!dns) {
      await Deno.remove(`${dir}/resolv.conf`).catch(() => {});
      return;
    }
    const text = `nameserver ${dns.nameserver}\n` +
      (dns.search.length ? `search ${dns.search.join(" ")}\n` : "");
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(`${dir}/resolv.conf.tmp`, text);
    await Deno.rename(`${dir}/resolv.conf.tmp`, `${dir}/resolv.conf`);
  }

  /** Makes `want` the only IPv4 address of `dev`, but for those `keep` says to keep. */
  async #replaceAddress(
    nsArgs: string[],
    dev: string,
    want: string,
    keep: (a: { local: string; prefixlen: number }) => boolean = () => false,
  ): Promise<void> {
    const [link] = JSON.parse(
      await run(["ip", ...nsArgs, "-j", "-4", "addr", "show", "dev", dev]),
    ) as IpAddr[];
    for (const a of link?.addr_info ?? []) {
      const have = `${a.local}/${a.prefixlen}`;
      if (a.family === "inet" && have !== want && !keep(a)) {
        await run(["ip", ...nsArgs, "addr", "del", have, "dev", dev]);
      }
    }
    await run(["ip", ...nsArgs, "addr", "replace", want, "dev", dev]);
  }

  /** Adds and removes /32 addresses on the bridge until they are exactly `addresses`. */
  async syncHostAddresses(addresses: string[]): Promise<void> {
    await (this.#ready ?? this.setUp());
    const b = this.#bridge;
    const [link] = JSON.parse(await run(["ip", "-j", "-4", "addr", "show", "dev", b])) as IpAddr[];
    const have = new Set(
      (link?.addr_info ?? []).filter((a) => a.family === "inet" && a.prefixlen === 32).map((a) =>
        a.local
      ),
    );
    for (const a of addresses) {
      if (!have.has(a)) await run(["ip", "addr", "add", `${a}/32`, "dev", b]);
    }
    for (const a of have) {
      if (!addresses.includes(a)) await run(["ip", "addr", "del", `${a}/32`, "dev", b]);
    }
  }

  /** The link `argv` shows, or undefined when it does not exist. */
  async #link(argv: string[]): Promise<IpAddr | undefined> {
    try {
      return (JSON.parse(await run(argv)) as IpAddr[])[0];
    } catch (e) {
      if (e instanceof NetworkCommandError && /does not exist|Cannot find device/.test(e.stderr)) {
        return undefined;
      }
      throw e;
    }
  }

  #locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const p = (this.#locks.get(key) ?? Promise.resolve()).then(fn);
    const tail = p.catch(() => {});
    this.#locks.set(key, tail);
    tail.then(() => {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    });
    return p;
  }
}

/** A stable, locally administered unicast MAC address for a bridge, derived from its name. */
export function bridgeMac(bridge: string): string {
  let h = 0x811c9dc5;
  for (const c of bridge) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  const bytes = [0x02, 0x6d, (h >>> 24) & 255, (h >>> 16) & 255, (h >>> 8) & 255, h & 255];
  return bytes.map((b) => b.toString(16).padStart(2, "0")).join(":");
}
