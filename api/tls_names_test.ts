import assert from "node:assert/strict";
import { canonicalName, isIpAddress, isLoopbackHost, isSpecificHost } from "./tls_names.ts";

Deno.test("canonicalName() compares names as certificates do: IPv6 compressed, DNS lowercased", () => {
  assert.equal(canonicalName("[0:0:0:0:0:0:0:1]"), "::1");
  assert.equal(canonicalName("FD00:0::5"), "fd00::5");
  assert.equal(canonicalName("Milpa.Example.COM."), "milpa.example.com");
  assert.equal(canonicalName("10.0.0.5"), "10.0.0.5");
  assert.ok(isIpAddress("fd00::5") && isIpAddress("10.0.0.5") && !isIpAddress("milpa.local"));
});

Deno.test("isSpecificHost() leaves out wildcard listen addresses; isLoopbackHost() knows loopback", () => {
  assert.deepEqual(["0.0.0.0", "::", "[::]", "", "10.0.0.5"].map(isSpecificHost), [
    false,
    false,
    false,
    false,
    true,
  ]);
  assert.deepEqual(
    ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "0.0.0.0", "10.0.0.5"].map(
      isLoopbackHost,
    ),
    [true, true, true, true, true, false, false],
  );
});
