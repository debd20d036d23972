import assert from "node:assert/strict";
import type { IngressRule } from "./network.ts";
import {
  baseRules,
  canonicalSource,
  decodeRule,
  diffByComment,
  diffScript,
  diffServiceRules,
  encodeRule,
  isNodeAddress,
  parseChainListing,
  rangeInfo,
  ruleStatement,
  serviceRules,
} from "./nftables.ts";

const tcp = (port: number, source = "0.0.0.0/0", portRangeSize = 1): IngressRule => ({
  protocol: "TCP",
  port,
  portRangeSize,
  source,
});

Deno.test("rangeInfo() canonicalizes the range and takes its first host address as gateway", () => {
  assert.deepEqual(rangeInfo("198.18.0.0/15"), {
    cidr: "198.18.0.0/15",
    prefix: 15,
    gateway: "198.18.0.1",
  });
  assert.deepEqual(rangeInfo("10.250.3.77/24"), {
    cidr: "10.250.3.0/24",
    prefix: 24,
    gateway: "10.250.3.1",
  });
});

Deno.test("isNodeAddress() excludes network, gateway, broadcast and outside addresses", () => {
  const r = "10.250.3.0/24";
  assert.ok(isNodeAddress(r, "10.250.3.2"));
  assert.ok(isNodeAddress(r, "10.250.3.254"));
  for (const a of ["10.250.3.0", "10.250.3.1", "10.250.3.255", "10.250.4.2", "nope"]) {
    assert.ok(!isNodeAddress(r, a), a);
  }
});

Deno.test("encodeRule() and decodeRule() round-trip every protocol, range and source", () => {
  const rules: IngressRule[] = [
    tcp(80),
    tcp(8000, "10.0.0.0/8", 10),
    { protocol: "UDP", port: 53, portRangeSize: 1, source: "VPC" },
    { protocol: "ICMP", port: 8, portRangeSize: 1, source: "192.168.1.0/24" },
    { protocol: "ICMP", port: 0, portRangeSize: 3, source: "2001:db8:0:0:0:0:0:0/32" },
  ];
  for (const rule of rules) {
    const e = encodeRule("default/web", rule);
    assert.deepEqual(e.rule, rule);
    assert.deepEqual(decodeRule(e.comment), { service: "default/web", rule });
  }
  assert.equal(
    encodeRule("default/web", tcp(8000, "10.0.0.0/8", 10)).comment,
    "svc default/web tcp/8000-8009 10.0.0.0/8",
  );
});

Deno.test("encodeRule() canonicalizes sources so equal rules get equal comments", () => {
  assert.equal(canonicalSource("10.1.2.3/8"), "10.0.0.0/8");
  assert.equal(canonicalSource("10.1.2.3"), "10.1.2.3/32");
  assert.equal(canonicalSource("2001:db8::/32"), "2001:db8:0:0:0:0:0:0/32");
  assert.equal(
    encodeRule("s", tcp(1, "10.9.9.9/8")).comment,
    encodeRule("s", tcp(1, "10.0.0.0/8")).comment,
  );
});

Deno.test("encodeRule() throws for bad keys, ports, sources and comments over 128 characters", () => {
  assert.throws(() => encodeRule("a b", tcp(80)), /service key/);
  assert.throws(() => diffServiceRules([], "", []), /service key/);
  assert.throws(() => encodeRule('a"b', tcp(80)), /service key/);
  assert.throws(() => encodeRule("s", tcp(0)), /out of range/);
  assert.throws(() => encodeRule("s", tcp(65535, "0.0.0.0/0", 2)), /out of range/);
  assert.throws(
    () => encodeRule("s", { protocol: "ICMP", port: 256, portRangeSize: 1, source: "VPC" }),
    /out of range/,
  );
  assert.throws(() => encodeRule("s", tcp(80, "10.0.0.0/33")), /invalid source/);
  // The longest valid service key, namespace (63) "/" name (24), fits with any IPv4 rule.
  const longest = `${"n".repeat(63)}/${"s".repeat(24)}`;
  assert.ok(encodeRule(longest, tcp(65000, "255.255.255.255/32", 535)).comment.length <= 128);
  assert.throws(() => encodeRule("x".repeat(120), tcp(80)), /longer than nftables' 128 characters/);
});

Deno.test("decodeRule() ignores comments that are not service rules", () => {
  for (const c of ["milpa established", "svc", "svc a sctp/1 VPC", "hello svc a tcp/1 VPC"]) {
    assert.equal(decodeRule(c), undefined, c);
  }
});

Deno.test("ruleStatement() matches protocol, ports and source; VPC is the range minus the gateway", () => {
  const range = rangeInfo("10.250.3.0/24");
  const st = (service: string, rule: IngressRule) =>
    ruleStatement(encodeRule(service, rule), range);
  assert.equal(
    st("s", tcp(80, "0.0.0.0/0", 2)),
    'tcp dport 80-81 ip saddr 0.0.0.0/0 accept comment "svc s tcp/80-81 0.0.0.0/0"',
  );
  assert.equal(
    st("s", { protocol: "UDP", port: 53, portRangeSize: 1, source: "VPC" }),
    'udp dport 53 ip saddr 10.250.3.0/24 ip saddr != 10.250.3.1 accept comment "svc s udp/53 VPC"',
  );
  assert.equal(
    st("s", { protocol: "ICMP", port: 8, portRangeSize: 1, source: "1.2.3.4/32" }),
    'icmp type 8 ip saddr 1.2.3.4/32 accept comment "svc s icmp/8 1.2.3.4/32"',
  );
  assert.match(
    st("s", { protocol: "ICMP", port: 128, portRangeSize: 1, source: "2001:db8::/32" }),
    /^icmpv6 type 128 ip6 saddr 2001:db8:0:0:0:0:0:0\/32 accept /,
  );
  assert.match(st("s", tcp(22, "2001:db8::/32")), /^tcp dport 22 ip6 saddr /);
});

Deno.test("baseRules() accepts established, loopback and the range except the gateway", () => {
  assert.deepEqual([...baseRules(rangeInfo("10.250.3.0/24"))], [
    ["milpa established", 'ct state established,related accept comment "milpa established"'],
    ["milpa loopback", 'iif "lo" accept comment "milpa loopback"'],
    [
      "milpa cluster 10.250.3.0/24 except 10.250.3.1",
      'ip saddr 10.250.3.0/24 ip saddr != 10.250.3.1 accept comment "milpa cluster 10.250.3.0/24 except 10.250.3.1"',
    ],
  ]);
});

Deno.test("parseChainListing() reads handles and comments out of nft -j -a output", () => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: "1.0.6" } },
      { chain: { family: "inet", table: "milpa", name: "input", handle: 1 } },
      { rule: { handle: 2, comment: "milpa established", expr: [] } },
      { rule: { handle: 7, expr: [] } },
    ],
  });
  assert.deepEqual(parseChainListing(json), [
    { handle: 2, comment: "milpa established" },
    { handle: 7, comment: undefined },
  ]);
});

Deno.test("diffServiceRules() adds the missing, deletes the extra and duplicates, keeps the rest", () => {
  const c = (service: string, rule: IngressRule) => encodeRule(service, rule).comment;
  const listed = [
    { handle: 2, comment: "milpa established" },
    { handle: 5, comment: c("web", tcp(80)) },
    { handle: 6, comment: c("web", tcp(443)) },
    { handle: 7, comment: c("web", tcp(80)) },
    { handle: 8, comment: c("db", tcp(5432, "VPC")) },
    { handle: 9 },
  ];
  const diff = diffServiceRules(listed, "web", [tcp(80), tcp(8080), tcp(80)]);
  assert.deepEqual(diff.remove, [6, 7]);
  assert.deepEqual(diff.add.map((e) => e.comment), [c("web", tcp(8080))]);
  assert.deepEqual(diffServiceRules(listed, "db", [tcp(5432, "VPC")]), { add: [], remove: [] });
  assert.deepEqual(diffServiceRules(listed, "db", []).remove, [8]);
});

Deno.test("diffByComment() touches only the rules it owns", () => {
  const diff = diffByComment(
    [{ handle: 1, comment: "milpa cluster old" }, { handle: 2, comment: "svc a tcp/1 VPC" }],
    (c) => c.startsWith("milpa "),
    new Map([["milpa cluster new", "X"]]),
  );
  assert.deepEqual(diff, { add: ["X"], remove: [1] });
});

Deno.test("serviceRules() groups the decoded rules by service", () => {
  const c = (service: string, rule: IngressRule) => encodeRule(service, rule).comment;
  const rules = serviceRules([
    { handle: 1, comment: "milpa loopback" },
    { handle: 2, comment: c("web", tcp(80)) },
    { handle: 3, comment: c("db", tcp(5432, "VPC")) },
    { handle: 4, comment: c("web", tcp(443)) },
  ]);
  assert.deepEqual(rules, new Map([["web", [tcp(80), tcp(443)]], ["db", [tcp(5432, "VPC")]]]));
});

Deno.test("diffScript() deletes by handle and adds in one script", () => {
  assert.equal(
    diffScript(["tcp dport 1 accept"], [4, 5]),
    "delete rule inet milpa input handle 4\ndelete rule inet milpa input handle 5\n" +
      "add rule inet milpa input tcp dport 1 accept\n",
  );
});
