/** The bridge keeps one MAC address, whatever nodes come and go. */
import assert from "node:assert/strict";
import { bridgeMac } from "./netns.ts";
import { createNodeNetwork } from "./network.ts";

Deno.test("bridgeMac() is a stable, locally administered unicast address", () => {
  const mac = bridgeMac("milpa0");
  assert.equal(mac, bridgeMac("milpa0"));
  assert.notEqual(mac, bridgeMac("milpa1"));
  assert.match(mac, /^02:6d(:[0-9a-f]{2}){4}$/);
});

Deno.test({
  name: "NetnsNetwork keeps the bridge's MAC when a node leaves (as root)",
  ignore: Deno.uid() !== 0,
  async fn() {
    const bridge = `mt${crypto.randomUUID().slice(0, 4)}`;
    const prefix = `${bridge}-`;
    const net = await createNodeNetwork({ range: "10.250.201.0/24", bridge, nsPrefix: prefix });
    const mac = async () => {
      const out = await new Deno.Command("ip", { args: ["-j", "link", "show", "dev", bridge] })
        .output();
      return JSON.parse(new TextDecoder().decode(out.stdout))[0].address as string;
    };
    try {
      await net.setUp();
      await net.attach("a", "10.250.201.2");
      await net.attach("b", "10.250.201.3");
      assert.equal(await mac(), bridgeMac(bridge));
      await net.detach("a");
      assert.equal(await mac(), bridgeMac(bridge), "removing a port leaves the address alone");
    } finally {
      await net.detach("a");
      await net.detach("b");
      await new Deno.Command("ip", { args: ["link", "del", bridge], stderr: "null" }).output();
    }
  },
});
