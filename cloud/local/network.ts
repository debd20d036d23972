/**
 * How nodes of the local cloud are networked. As root on Linux each node gets its own
 * network namespace on a bridge, firewalled by nftables (`netns.ts`, rules in
 * `nftables.ts`); otherwise every node shares the host network and nothing is enforced
 * (`host_network.ts`).
 */
import { HostNetwork } from "./host_network.ts";
import { NetnsNetwork } from "./netns.ts";
import { rangeInfo } from "./nftables.ts";

import type { IngressRule } from "../provider.ts";

/** An ingress rule; "VPC" means the other nodes (the range minus the gateway). */
export type { IngressRule };

/** How nodes of the local cloud are networked. */
export interface NodeNetwork {
  readonly kind: "netns" | "host";
  /** Address range nodes get addresses from, in canonical form. */
  readonly range: string;
  /**
   * The host's address as the nodes see it (the bridge address; 127.0.0.1 on the host
   * network): where the controller, its DNS server and its load balancers listen for nodes.
   */
  readonly gateway: string;
  /** Why this is the host network; undefined for netns. */
  readonly reason?: string;
  /** Problems `setUp()` found on this machine that may cut nodes off (host netfilter). */
  readonly warnings: readonly string[];
  /** Creates the host side (bridge with the gateway address). Idempotent; safe with nodes still up. */
  setUp(): Promise<void>;
  /**
   * Gives a node its network (namespace, veth, address, default route via the gateway, a
   * closed firewall with the cluster rule, `/etc/netns/<ns>/resolv.conf` from `dns`) and
   * returns the argv prefix that runs a program inside it, e.g.
   * `enterNode("milpa-i-0123")` (like `ip netns exec`). Idempotent; keeps the service rules it finds.
   * With a `hostname`, the program also gets a UTS namespace with that name where the network
   * has namespaces; the host network ignores it (programs see the host's name).
   */
  attach(
    node: string,
    address: string,
    dns?: { nameserver: string; search: string[] },
    hostname?: string,
  ): Promise<string[]>;
  /** Removes a node's network. Safe to repeat and for unknown nodes. */
  detach(node: string): Promise<void>;
  /**
   * Makes the node's ingress rules for one service exactly `rules`: adds the missing ones,
   * deletes the extra ones (by rule handle), leaves the others alone. Throws when the node
   * has no network, or a rule is invalid or cannot be encoded (see `nftables.ts`).
   */
  syncRules(node: string, service: string, rules: IngressRule[]): Promise<void>;
  /** The rules a node has now, by service (read back from nftables). */
  rules(node: string): Promise<Map<string, IngressRule[]>>;
  /** Nodes that have a network now (namespaces named by this network's prefix). */
  attached(): Promise<string[]>;
  /**
   * Makes `addresses` (load balancers') the host's extra addresses on the node network, so
   * the host and the nodes reach them; no-op on the host network, where loopback needs none.
   */
  syncHostAddresses(addresses: string[]): Promise<void>;
}

/** Options of {@link createNodeNetwork}. */
export interface NodeNetworkOptions {
  /**
   * Address range for nodes. The host network needs a loopback range and uses its default
   * when given another (and says so in `reason`).
   * @default "198.18.0.0/15" (netns), "127.77.0.0/16" (host)
   */
  range?: string;
  /** @default "milpa0" */
  bridge?: string;
  /** @default "milpa-" */
  nsPrefix?: string;
  /** Use the host network even when namespaces are possible. */
  forceHost?: boolean;
}

/** The default range of namespaced nodes (RFC 2544 benchmarking space, never routed). */
export const DEFAULT_NETNS_RANGE = "198.18.0.0/15";
/** The default range of nodes on the host network. */
export const DEFAULT_HOST_RANGE = "127.77.0.0/16";

async function works(cmd: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

/** Why namespaces cannot be used here, or undefined when they can. */
async function whyHost(forceHost?: boolean): Promise<string | undefined> {
  if (forceHost) return "the host network was asked for (forceHost)";
  if (Deno.build.os !== "linux") return `network namespaces need Linux, this is ${Deno.build.os}`;
  if (Deno.uid() !== 0) return "network namespaces need root";
  if (!(await works("ip", ["-V"]))) return "`ip` (iproute2) is missing";
  if (!(await works("nft", ["--version"]))) return "`nft` (nftables) is missing";
  return undefined;
}

/**
 * Picks namespaces when running as root on Linux with `ip` and `nft`, else the host network
 * (`reason` says why), where nodes are not isolated and ingress rules are NOT enforced.
 */
export async function createNodeNetwork(opts: NodeNetworkOptions = {}): Promise<NodeNetwork> {
  const reason = await whyHost(opts.forceHost);
  if (reason === undefined) {
    return new NetnsNetwork({
      range: opts.range ?? DEFAULT_NETNS_RANGE,
      bridge: opts.bridge ?? "milpa0",
      nsPrefix: opts.nsPrefix ?? "milpa-",
    });
  }
  const given = opts.range;
  if (given === undefined || given.startsWith("127.")) {
    return new HostNetwork(rangeInfo(given ?? DEFAULT_HOST_RANGE).cidr, reason);
  }
  return new HostNetwork(
    DEFAULT_HOST_RANGE,
    `${reason}; the host network uses ${DEFAULT_HOST_RANGE}, not ${given}`,
  );
}
