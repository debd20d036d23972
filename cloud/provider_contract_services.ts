/**
 * The `ServiceNetworking` part of the `CloudProvider` contract (firewall rules, DNS records,
 * load balancers, listing and deleting a service's resources), registered by `providerContract`
 * for every implementation. What the cloud holds is read back through the fixture's
 * `ServiceObserver`, from the implementation's own state (nftables rules or their record, the DNS
 * zone, the fakes of EC2 and Route 53, the sim's record), not through the provider itself.
 */
import assert from "node:assert/strict";
import type {
  CloudProvider,
  IngressRule,
  LaunchRequest,
  LoadBalancerSpec,
  LoadBalancerState,
  ServiceDnsPort,
} from "./provider.ts";

/** What the cloud holds for a service, as the implementation's state shows it. */
export interface ServiceObserver {
  /** The service's rules on each instance that has any, by instance id. */
  firewall(service: string): Promise<Map<string, IngressRule[]>>;
  /** The addresses the service's own name (`<name>.<namespace>.<zone>`) resolves to. */
  dnsAddresses(service: string): Promise<string[]>;
}

/** What the service tests need of a provider fixture (`ProviderFixture` has it all). */
export interface ServiceFixture {
  provider: CloudProvider;
  /** Reads what the cloud holds for a service. */
  observe: ServiceObserver;
  /** A new provider over the same state (see `ProviderFixture.reopen`). */
  reopen?: () => Promise<CloudProvider>;
  /**
   * Why the service resources end with `close()`, when they do: a reopened provider then has
   * none to list, and the contract's clause that they outlive it is skipped.
   */
  servicesEndWithClose?: string;
}

/** How `providerContract` registers one test: a fresh fixture, closed and cleaned up after. */
export type ContractTest = (title: string, fn: (f: ServiceFixture) => Promise<void>) => void;

const SERVICE = "default/web";

/** `protocol first-last source`, the identity of a rule. */
function ruleKey(r: IngressRule): string {
  return `${r.protocol} ${r.port}-${r.port + r.portRangeSize - 1} ${r.source}`;
}

/** The observed rules as instance id → sorted rule keys. */
async function firewallOf(f: ServiceFixture, service = SERVICE): Promise<Record<string, string[]>> {
  const held = await f.observe.firewall(service);
  return Object.fromEntries(
    [...held].filter(([, rules]) => rules.length).sort(([a], [b]) => a.localeCompare(b))
      .map(([id, rules]) => [id, rules.map(ruleKey).sort()]),
  );
}

async function dnsOf(f: ServiceFixture, service = SERVICE): Promise<string[]> {
  return [...await f.observe.dnsAddresses(service)].sort();
}

const tcp = (port: number, source: string, size = 1): IngressRule => ({
  protocol: "TCP",
  port,
  portRangeSize: size,
  source,
});

const WEB_RULES = [tcp(8080, "10.1.0.0/16"), {
  ...tcp(5353, "192.0.2.0/24", 2),
  protocol: "UDP",
}] as IngressRule[];
const ADMIN_RULES = [tcp(9090, "10.2.0.0/16")];
const PORTS: ServiceDnsPort[] = [{ name: "http", protocol: "TCP", port: 8080 }];

/** A port free on every address now (the local cloud's balancers listen on it). */
function freePort(): number {
  const l = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function lbSpec(): LoadBalancerSpec {
  return {
    listeners: [{ port: freePort(), nodePort: freePort() }],
    sourceRanges: ["0.0.0.0/0"],
    annotations: {},
  };
}

function assertLbState(s: LoadBalancerState, backends: string[]): void {
  assert.ok(s.ingress.length >= 1, "the load balancer has an ingress");
  for (const i of s.ingress) assert.ok(i.ip || i.hostname, "an ingress has an ip or a hostname");
  assert.ok(s.backendSource.length > 0, "the backends' source is named");
  for (const id of s.inService) {
    assert.ok(backends.includes(id), `backend ${id} in service was one given`);
  }
}

/** The provider's services, sorted. */
async function listed(f: ServiceFixture): Promise<string[]> {
  return (await f.provider.listServices()).sort();
}

/**
 * Registers the service-networking contract tests through `test`; `launchRequest(token)` is what
 * to launch the instances they need with.
 */
export function serviceNetworkingContract(
  test: ContractTest,
  launchRequest: (token: string) => LaunchRequest,
): void {
  test("syncFirewall() puts the rules on exactly the instances given; a repeat changes nothing", async (f) => {
    const a = await f.provider.launch(launchRequest("node-a"));
    await f.provider.launch(launchRequest("node-b"));
    await f.provider.syncFirewall(SERVICE, WEB_RULES, [a.id]);
    const want = { [a.id]: WEB_RULES.map(ruleKey).sort() };
    assert.deepEqual(await firewallOf(f), want);
    await f.provider.syncFirewall(SERVICE, WEB_RULES, [a.id]);
    assert.deepEqual(await firewallOf(f), want);
    assert.ok((await listed(f)).includes(SERVICE), "the service is listed");
  });

  test("syncFirewall() moves rules between instances, changes them as a diff, and empties", async (f) => {
    const a = await f.provider.launch(launchRequest("node-a"));
    const b = await f.provider.launch(launchRequest("node-b"));
    await f.provider.syncFirewall(SERVICE, WEB_RULES, [a.id]);
    await f.provider.syncFirewall("default/admin", ADMIN_RULES, [a.id]);
    const changed = [WEB_RULES[0], tcp(8443, "10.1.0.0/16")];
    await f.provider.syncFirewall(SERVICE, changed, [b.id]);
    assert.deepEqual(await firewallOf(f), { [b.id]: changed.map(ruleKey).sort() });
    assert.deepEqual(
      await firewallOf(f, "default/admin"),
      { [a.id]: ADMIN_RULES.map(ruleKey) },
      "another service's rules are left alone",
    );
    await f.provider.syncFirewall(SERVICE, [], []);
    assert.deepEqual(await firewallOf(f), {});
  });

  test("syncDns() makes the service's name resolve to exactly its endpoints", async (f) => {
    await f.provider.syncDns(SERVICE, PORTS, [
      { pod: "web-1", address: "10.1.0.5" },
      { pod: "web-2", address: "10.1.0.6" },
    ]);
    assert.deepEqual(await dnsOf(f), ["10.1.0.5", "10.1.0.6"]);
    assert.ok((await listed(f)).includes(SERVICE), "the service is listed");
    await f.provider.syncDns(SERVICE, PORTS, [{ pod: "web-2", address: "10.1.0.6" }]);
    assert.deepEqual(await dnsOf(f), ["10.1.0.6"]);
    await f.provider.syncDns(SERVICE, PORTS, [{ pod: "web-2", address: "10.1.0.6" }]);
    assert.deepEqual(await dnsOf(f), ["10.1.0.6"], "a repeat changes nothing");
    await f.provider.syncDns(SERVICE, PORTS, []);
    assert.deepEqual(await dnsOf(f), []);
  });

  test("syncLoadBalancer() keeps one ingress across syncs; only given backends are in service", async (f) => {
    const a = await f.provider.launch(launchRequest("node-a"));
    const b = await f.provider.launch(launchRequest("node-b"));
    const backend = (i: typeof a) => ({ id: i.id, address: i.addresses[0].address });
    const spec = lbSpec();
    const first = await f.provider.syncLoadBalancer(SERVICE, spec, [backend(a)]);
    assertLbState(first, [a.id]);
    const second = await f.provider.syncLoadBalancer(SERVICE, spec, [backend(a), backend(b)]);
    assertLbState(second, [a.id, b.id]);
    assert.deepEqual(second.ingress, first.ingress, "the same ingress");
    const third = await f.provider.syncLoadBalancer(SERVICE, spec, [backend(b)]);
    assertLbState(third, [b.id]);
    assert.deepEqual(third.ingress, first.ingress, "the same ingress");
    assert.deepEqual(await listed(f), [SERVICE]);
  });

  test("removeLoadBalancer() removes it, is safe to repeat and for services without one", async (f) => {
    const a = await f.provider.launch(launchRequest("node-a"));
    const backends = [{ id: a.id, address: a.addresses[0].address }];
    const spec = lbSpec();
    await f.provider.syncLoadBalancer(SERVICE, spec, backends);
    await f.provider.removeLoadBalancer(SERVICE);
    await f.provider.removeLoadBalancer(SERVICE);
    await f.provider.removeLoadBalancer("default/none");
    assert.deepEqual(await listed(f), [], "a service that had only a balancer");
    assertLbState(await f.provider.syncLoadBalancer(SERVICE, spec, backends), [a.id]);
  });

  test("deleteService() removes rules, records and load balancer; safe to repeat", async (f) => {
    assert.deepEqual(await listed(f), []);
    const a = await f.provider.launch(launchRequest("node-a"));
    await f.provider.syncFirewall(SERVICE, WEB_RULES, [a.id]);
    await f.provider.syncDns(SERVICE, PORTS, [{ pod: "web-1", address: "10.1.0.5" }]);
    await f.provider.syncLoadBalancer(SERVICE, lbSpec(), [
      { id: a.id, address: a.addresses[0].address },
    ]);
    await f.provider.syncDns("default/other", PORTS, [{ pod: "other-1", address: "10.1.0.9" }]);
    assert.deepEqual(await listed(f), ["default/other", SERVICE]);
    await f.provider.deleteService(SERVICE);
    assert.deepEqual(await firewallOf(f), {});
    assert.deepEqual(await dnsOf(f), []);
    assert.deepEqual(await listed(f), ["default/other"]);
    assert.deepEqual(await dnsOf(f, "default/other"), ["10.1.0.9"], "others are left alone");
    await f.provider.deleteService(SERVICE);
    await f.provider.deleteService("default/unknown");
    assert.deepEqual(await listed(f), ["default/other"]);
  });

  test("service resources survive close(): a new provider over the same state lists and deletes them", async (f) => {
    if (f.servicesEndWithClose) return;
    const a = await f.provider.launch(launchRequest("node-a"));
    await f.provider.syncFirewall(SERVICE, WEB_RULES, [a.id]);
    await f.provider.syncDns("default/dns", PORTS, [{ pod: "dns-1", address: "10.1.0.5" }]);
    await f.provider.syncLoadBalancer("default/lb", lbSpec(), [
      { id: a.id, address: a.addresses[0].address },
    ]);
    await f.provider.close();
    const reopened = f.reopen ? await f.reopen() : f.provider;
    try {
      const all = ["default/dns", "default/lb", SERVICE];
      assert.deepEqual((await reopened.listServices()).sort(), all);
      for (const s of all) await reopened.deleteService(s);
      assert.deepEqual(await reopened.listServices(), []);
      assert.deepEqual(await firewallOf(f), {});
    } finally {
      if (reopened !== f.provider) await reopened.close();
    }
  });
}
