import assert from "node:assert/strict";
import { ValidationError } from "../../../model/errors.ts";
import {
  diffPermissions,
  expandSource,
  permissionKey,
  permissionsHeld,
  permissionsOf,
  toIpPermissions,
} from "./rules.ts";

const VPC = ["172.31.0.0/16", "10.5.0.0/16"];

Deno.test("permissionsOf() expands VPC, ranges and ICMP types, without duplicates", () => {
  const keys = permissionsOf([
    { protocol: "TCP", port: 8080, portRangeSize: 1, source: "VPC" },
    { protocol: "TCP", port: 8080, portRangeSize: 1, source: "172.31.0.0/16" },
    { protocol: "UDP", port: 9000, portRangeSize: 10, source: "0.0.0.0/0" },
    { protocol: "ICMP", port: 8, portRangeSize: 1, source: "1.2.3.4" },
    { protocol: "TCP", port: 30080, portRangeSize: 1, source: "sg-0abc" },
  ], VPC).map(permissionKey);
  assert.deepStrictEqual(keys, [
    "tcp|8080|8080|172.31.0.0/16",
    "tcp|8080|8080|10.5.0.0/16",
    "udp|9000|9009|0.0.0.0/0",
    "icmp|8|-1|1.2.3.4/32",
    "tcp|30080|30080|sg-0abc",
  ]);
});

Deno.test("expandSource() canonicalizes CIDRs and rejects anything else", () => {
  assert.deepStrictEqual(expandSource("10.1.2.3/8", VPC), ["10.0.0.0/8"]);
  assert.deepStrictEqual(expandSource("2001:db8::/32", VPC), ["2001:db8:0:0:0:0:0:0/32"]);
  assert.throws(() => expandSource("nowhere", VPC), ValidationError);
  assert.throws(() => expandSource("10.0.0.0/33", VPC), ValidationError);
});

Deno.test("permissionsHeld() flattens CIDRs, IPv6 ranges and groups, one per source", () => {
  const held = permissionsHeld([
    {
      IpProtocol: "tcp",
      FromPort: 80,
      ToPort: 81,
      IpRanges: [{ CidrIp: "10.0.0.0/8" }, { CidrIp: "0.0.0.0/0" }],
      Ipv6Ranges: [{ CidrIpv6: "2001:db8::/32" }],
      UserIdGroupPairs: [{ GroupId: "sg-1", UserId: "123" }],
    },
    { IpProtocol: "-1", IpRanges: [{ CidrIp: "172.31.0.0/16" }] },
  ]).map(permissionKey);
  assert.deepStrictEqual(held, [
    "tcp|80|81|10.0.0.0/8",
    "tcp|80|81|0.0.0.0/0",
    "tcp|80|81|2001:db8:0:0:0:0:0:0/32",
    "tcp|80|81|sg-1",
    "-1|-1|-1|172.31.0.0/16",
  ]);
});

Deno.test("toIpPermissions() and permissionsHeld() round-trip", () => {
  const ps = permissionsOf([
    { protocol: "TCP", port: 80, portRangeSize: 1, source: "VPC" },
    { protocol: "ICMP", port: 0, portRangeSize: 1, source: "sg-9" },
    { protocol: "UDP", port: 53, portRangeSize: 1, source: "2001:db8::/32" },
  ], VPC);
  assert.deepStrictEqual(permissionsHeld(toIpPermissions(ps)), ps);
  assert.deepStrictEqual(toIpPermissions([ps[0]]), [
    { IpProtocol: "tcp", FromPort: 80, ToPort: 80, IpRanges: [{ CidrIp: "172.31.0.0/16" }] },
  ]);
});

Deno.test("diffPermissions() authorizes the missing and revokes the extra only", () => {
  const p = (port: number, source = "10.0.0.0/8") => ({
    protocol: "tcp",
    from: port,
    to: port,
    source,
  });
  const { authorize, revoke } = diffPermissions([p(80), p(81), p(82)], [p(80), p(82), p(83)]);
  assert.deepStrictEqual(authorize, [p(81)]);
  assert.deepStrictEqual(revoke, [p(83)]);
  assert.deepStrictEqual(diffPermissions([p(80)], [p(80)]), { authorize: [], revoke: [] });
});
