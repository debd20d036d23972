import assert from "node:assert/strict";
import { allocate, hostRange, ipToNumber, numberToIp } from "./addresses.ts";

Deno.test("ipToNumber() and numberToIp() convert both ways, up to 255.255.255.255", () => {
  assert.equal(ipToNumber("0.0.0.0"), 0);
  assert.equal(ipToNumber("127.0.0.1"), 0x7f000001);
  assert.equal(ipToNumber("255.255.255.255"), 0xffffffff);
  for (const ip of ["0.0.0.0", "10.1.2.3", "127.99.1.254", "200.0.0.1", "255.255.255.255"]) {
    assert.equal(numberToIp(ipToNumber(ip)), ip);
  }
});

Deno.test("ipToNumber() throws for addresses that are not four octets of 0-255", () => {
  for (const bad of ["", "1.2.3", "1.2.3.4.5", "1.2.3.256", "1.2.3.-1", "a.b.c.d", "1.2.3.4.5/8"]) {
    assert.throws(() => ipToNumber(bad), /invalid IPv4 address/, bad);
  }
});

Deno.test({
  name: "ipToNumber() rejects empty, hexadecimal and padded octets",
  fn: () => {
    for (const bad of ["1.2.3.", "1..3.4", "0x10.0.0.1", "1e1.0.0.1", " 1.2.3.4"]) {
      assert.throws(() => ipToNumber(bad), /invalid IPv4 address/, JSON.stringify(bad));
    }
  },
});

Deno.test("hostRange() skips the network, gateway (.1) and broadcast addresses", () => {
  const r = hostRange("127.99.1.0/24");
  assert.equal(numberToIp(r.first), "127.99.1.2");
  assert.equal(numberToIp(r.last), "127.99.1.254");
  const wide = hostRange("127.77.0.0/16");
  assert.equal(numberToIp(wide.first), "127.77.0.2");
  assert.equal(numberToIp(wide.last), "127.77.255.254");
  const top = hostRange("255.255.255.0/24");
  assert.equal(numberToIp(top.first), "255.255.255.2");
  assert.equal(numberToIp(top.last), "255.255.255.254");
});

Deno.test("hostRange() uses the network of an address inside the range", () => {
  assert.deepEqual(hostRange("10.1.2.77/24"), hostRange("10.1.2.0/24"));
  assert.deepEqual(hostRange("10.1.2.77/8"), hostRange("10.0.0.0/8"));
});

Deno.test("hostRange() accepts prefixes /8 to /30; a /30 holds one node address", () => {
  const r = hostRange("10.0.0.4/30");
  assert.equal(r.first, r.last);
  assert.equal(numberToIp(r.first), "10.0.0.6");
  assert.equal(hostRange("10.0.0.0/8").last - hostRange("10.0.0.0/8").first + 1, 2 ** 24 - 3);
  for (const bad of ["10.0.0.0/7", "10.0.0.0/31", "10.0.0.0/32", "10.0.0.0", "10.0.0.0/x"]) {
    assert.throws(() => hostRange(bad), /invalid address range .* between \/8 and \/30/, bad);
  }
  assert.throws(() => hostRange("10.0.0/24"), /invalid IPv4 address/);
});

Deno.test("allocate() returns the lowest free host address", () => {
  assert.equal(allocate("127.99.1.0/24", []), "127.99.1.2");
  assert.equal(allocate("127.99.1.0/24", ["127.99.1.2", "127.99.1.4"]), "127.99.1.3");
  assert.equal(allocate("127.99.1.0/24", ["127.99.1.2", "127.99.1.3"]), "127.99.1.4");
  // Addresses outside the range do not matter.
  assert.equal(allocate("127.99.1.0/24", ["127.99.2.2", "10.0.0.2"]), "127.99.1.2");
  // Host addresses run on across octet boundaries.
  const used = Array.from({ length: 254 }, (_, i) => `127.77.0.${i + 2}`);
  assert.equal(allocate("127.77.0.0/16", used), "127.77.1.0");
});

Deno.test("allocate() throws when every address of the range is used", () => {
  assert.throws(() => allocate("10.0.0.0/30", ["10.0.0.2"]), {
    message: "address range 10.0.0.0/30 is full",
  });
  const all = Array.from({ length: 253 }, (_, i) => `127.99.1.${i + 2}`);
  assert.throws(() => allocate("127.99.1.0/24", all), /127\.99\.1\.0\/24 is full/);
  assert.equal(allocate("127.99.1.0/24", all.slice(1)), "127.99.1.2");
});

Deno.test("allocate() throws for an invalid used address", () => {
  assert.throws(() => allocate("10.0.0.0/24", ["10.0.0"]), /invalid IPv4 address "10\.0\.0"/);
});
