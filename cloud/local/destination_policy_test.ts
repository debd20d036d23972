/** DestinationPolicy: what the pull proxy may connect to, address by address. */
import assert from "node:assert/strict";
import {
  classify,
  DEFAULT_LOOPBACK_REGISTRY_PORTS,
  DestinationPolicy,
  loopbackRegistryPorts,
} from "./destination_policy.ts";

Deno.test("classify() knows loopback, link-local and metadata addresses, IPv4 inside IPv6 too", () => {
  const cases: [string, ReturnType<typeof classify>][] = [
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["0.0.0.0", "loopback"],
    ["::1", "loopback"],
    ["::", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["169.254.169.254", "link-local"],
    ["169.254.0.1", "link-local"],
    ["::ffff:169.254.169.254", "link-local"],
    ["::ffff:a9fe:a9fe", "link-local"],
    ["64:ff9b::169.254.169.254", "link-local"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["FEBF::1", "link-local"],
    ["fd00:ec2::254", "metadata"],
    ["fd00:ec2:0:0:0:0:0:254", "metadata"],
    ["fd00:ec2::253", "other"],
    ["fec0::1", "other"],
    ["169.253.255.255", "other"],
    ["169.255.0.1", "other"],
    ["128.0.0.1", "other"],
    ["10.1.2.3", "other"],
    ["2001:db8::1", "other"],
    ["not an address", "other"],
  ];
  for (const [address, kind] of cases) assert.equal(classify(address), kind, address);
});

const policy = new DestinationPolicy({
  nodeRange: "198.18.0.0/15",
  gateway: "198.18.0.1",
  reservedPorts: [54555],
  loopbackPorts: [5000],
  hostAddresses: () => ["127.0.0.1", "192.168.1.20", "198.18.0.1", "fd12::20"],
});

Deno.test("DestinationPolicy.refusal() judges this host's other addresses like its loopback, but for the gateway", () => {
  assert.equal(
    policy.refusal("192.168.1.20", 6379),
    "is this host, where nodes may reach only registry ports 5000 " +
      "(cloud.local.registryProxy.loopbackPorts)",
  );
  assert.match(policy.refusal("::ffff:192.168.1.20", 22)!, /is this host,/);
  assert.match(policy.refusal("fd12:0::20", 22)!, /is this host,/);
  assert.equal(policy.refusal("192.168.1.20", 5000), undefined, "a registry port");
  assert.equal(policy.refusal("192.168.1.21", 6379), undefined, "another machine");
  assert.equal(policy.refusal("198.18.0.1", 6379), undefined, "nodes reach the gateway directly");
});

Deno.test("DestinationPolicy.refusal() allows registries: the gateway, the internet, loopback registry ports", () => {
  for (
    const [address, port] of [
      ["198.18.0.1", 5000],
      ["::ffff:198.18.0.1", 8443],
      ["10.0.0.7", 5000],
      ["2001:db8::7", 443],
      ["127.0.0.1", 5000],
      ["::1", 5000],
    ] as const
  ) {
    assert.equal(policy.refusal(address, port), undefined, `${address}:${port}`);
  }
});

Deno.test("DestinationPolicy.refusal() says why it refuses, the controller's ports first", () => {
  assert.equal(
    policy.refusal("10.0.0.7", 54555),
    "is refused on port 54555, the controller's own (its API or this proxy)",
  );
  assert.match(policy.refusal("127.0.0.1", 54555)!, /the controller's own/);
  assert.equal(
    policy.refusal("198.18.0.9", 5000),
    "is in the node range 198.18.0.0/15; nodes reach it directly",
  );
  assert.match(policy.refusal("::ffff:198.19.255.254", 80)!, /in the node range/);
  assert.equal(
    policy.refusal("169.254.169.254", 80),
    "is link-local (where cloud metadata services answer)",
  );
  assert.equal(policy.refusal("fd00:ec2::254", 80), "is the cloud metadata service");
  assert.equal(
    policy.refusal("127.0.0.1", 6379),
    "is this host's loopback, where nodes may reach only registry ports 5000 " +
      "(cloud.local.registryProxy.loopbackPorts)",
  );
  assert.match(policy.refusal("0.0.0.0", 22)!, /this host's loopback/);
  const none = new DestinationPolicy({
    nodeRange: "198.18.0.0/15",
    gateway: "198.18.0.1",
    reservedPorts: [],
    loopbackPorts: [],
  });
  assert.match(none.refusal("::1", 5000)!, /only registry ports \(none\)/);
});

Deno.test("loopbackRegistryPorts() is 5000 by default, plus the loopback registries nodes.insecureRegistries names", () => {
  assert.deepEqual(DEFAULT_LOOPBACK_REGISTRY_PORTS, [5000]);
  assert.deepEqual(loopbackRegistryPorts(undefined, []), [5000]);
  assert.deepEqual(loopbackRegistryPorts([], []), [], "the configured list replaces the default");
  assert.deepEqual(
    loopbackRegistryPorts([5000], [
      "localhost:5001",
      "127.0.0.1:5002",
      "[::1]:5003",
      "LOCALHOST",
      "registry.lan:5004",
      "10.0.0.7:5005",
      "[fd00::1]:5006",
    ]),
    [80, 5000, 5001, 5002, 5003],
  );
});
