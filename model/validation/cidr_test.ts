import assert from "node:assert/strict";
import { formatCidr, parseCidr } from "./cidr.ts";

const canonical = (s: string) => {
  const cidr = parseCidr(s);
  return cidr && formatCidr(cidr);
};

Deno.test("parseCidr() reads IPv4 CIDRs and clears host bits", () => {
  assert.equal(canonical("0.0.0.0/0"), "0.0.0.0/0");
  assert.equal(canonical("10.1.2.3/8"), "10.0.0.0/8");
  assert.equal(canonical("172.31.51.36/20"), "172.31.48.0/20");
  assert.equal(canonical("192.168.1.1/32"), "192.168.1.1/32");
  assert.deepEqual(parseCidr("10.1.2.3/8"), { family: 4, network: [10, 0, 0, 0], prefix: 8 });
});

Deno.test("parseCidr() reads IPv6 CIDRs, compressed or not", () => {
  assert.equal(canonical("2001:db8::1/32"), "2001:db8:0:0:0:0:0:0/32");
  assert.equal(canonical("2001:0DB8:0:0:0:0:0:0/32"), "2001:db8:0:0:0:0:0:0/32");
  assert.equal(canonical("::/0"), "0:0:0:0:0:0:0:0/0");
  assert.equal(canonical("fe80::1:2/127"), "fe80:0:0:0:0:0:1:2/127");
  assert.equal(canonical("::ffff:10.1.2.3/104"), "0:0:0:0:0:ffff:a00:0/104");
  assert.equal(canonical("1:2:3:4:5:6:7::/128"), "1:2:3:4:5:6:7:0/128");
});

Deno.test("parseCidr() rejects what is not a CIDR", () => {
  for (
    const s of [
      "VPC",
      "10.0.0.0",
      "10.0.0.0/33",
      "10.0.0/8",
      "256.0.0.0/8",
      "10.0.0.0/-1",
      "10.0.0.0/8/8",
      "2001:db8::/129",
      "1::2::3/64",
      "1:2:3:4:5:6:7:8:9/64",
      "1:2:3:4:5:6:7:8::/64",
      "1.2.3.4::/64",
      "g::/64",
      "",
    ]
  ) {
    assert.equal(parseCidr(s), undefined, s);
  }
});
