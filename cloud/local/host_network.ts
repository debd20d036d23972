/**
 * The local cloud without root: every node shares the host network. Nothing is isolated
 * and no firewall exists; ingress rules are only remembered, in memory, so `rules()` can
 * report them.
 */
import type { IngressRule, NodeNetwork } from "./network.ts";
import { checkServiceKey, encodeRule } from "./nftables.ts";

/**
 * Nodes on the host network. NOT ENFORCED here: every port of every node is open to
 * everyone who can reach this machine, nodes are not kept apart, and ingress rules and DNS
 * settings are recorded but have no effect. State lives in this object only and is gone
 * after a restart.
 */
export class HostNetwork implements NodeNetwork {
  readonly kind = "host";
  readonly gateway = "127.0.0.1";
  readonly warnings: string[] = [];
  readonly #nodes = new Map<string, Map<string, IngressRule[]>>();

  constructor(readonly range: string, readonly reason: string) {}

  /** Nothing to set up. */
  setUp(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to do: every 127.x address is the host's already. */
  syncHostAddresses(_addresses: string[]): Promise<void> {
    return Promise.resolve();
  }

  /** Records the node; its programs run as they are, so the prefix is `[]`. */
  attach(node: string): Promise<string[]> {
    if (!this.#nodes.has(node)) this.#nodes.set(node, new Map());
    return Promise.resolve([]);
  }

  /** Forgets the node and its rules. */
  detach(node: string): Promise<void> {
    this.#nodes.delete(node);
    return Promise.resolve();
  }

  /** Records the rules (validated and canonical as on netns); enforces nothing. */
  syncRules(node: string, service: string, rules: IngressRule[]): Promise<void> {
    try {
      checkServiceKey(service);
      const byComment = new Map(
        rules.map((r) => encodeRule(service, r)).map((e) => [e.comment, e.rule]),
      );
      const services = this.#nodes.get(node);
      if (!services) throw new Error(`Cannot open ports on node "${node}": it has no network`);
      if (byComment.size) services.set(service, [...byComment.values()]);
      else services.delete(service);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The recorded rules, by service. */
  rules(node: string): Promise<Map<string, IngressRule[]>> {
    const services = this.#nodes.get(node) ?? new Map();
    return Promise.resolve(new Map([...services].map(([s, r]) => [s, [...r]])));
  }

  /** Nodes attached through this object. */
  attached(): Promise<string[]> {
    return Promise.resolve([...this.#nodes.keys()].sort());
  }
}
