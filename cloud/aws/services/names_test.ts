import assert from "node:assert/strict";
import { base32, groupName, loadBalancerName, splitService, tagValue } from "./names.ts";

Deno.test("base32() follows RFC 4648 (lowercase, unpadded)", () => {
  const enc = (s: string) => base32(new TextEncoder().encode(s));
  assert.deepStrictEqual(
    ["", "f", "fo", "foo", "foob", "fooba", "foobar"].map(enc),
    ["", "my", "mzxq", "mzxw6", "mzxw6yq", "mzxw6ytb", "mzxw6ytboi"],
  );
});

Deno.test("loadBalancerName() is 32 stable characters per controller and service", async () => {
  const a = await loadBalancerName("ctl", "default/web");
  assert.match(a, /^milpa-[a-z2-7]{26}$/);
  assert.equal(a, await loadBalancerName("ctl", "default/web"));
  assert.notEqual(a, await loadBalancerName("ctl", "default/api"));
  assert.notEqual(a, await loadBalancerName("other", "default/web"));
});

Deno.test("groupName() is milpa-<controller>-<namespace>-<service>, lowercase", () => {
  assert.equal(groupName("CTL", "Default/Web", "service"), "milpa-ctl-default-web");
  assert.equal(groupName("ctl", "default/web", "load-balancer"), "milpa-ctl-default-web-lb");
});

Deno.test("splitService() accepts only <namespace>/<name>", () => {
  assert.deepStrictEqual(splitService("ns/web"), { namespace: "ns", name: "web" });
  for (const bad of ["web", "/web", "ns/", "a/b/c"]) assert.throws(() => splitService(bad));
});

Deno.test("tagValue() reads a tag list", () => {
  assert.equal(tagValue([{ Key: "a", Value: "1" }], "a"), "1");
  assert.equal(tagValue(undefined, "a"), undefined);
});
