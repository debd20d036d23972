import assert from "node:assert/strict";
import { LocalProvider } from "./local_provider.ts";
import { overlapping, overlaps, ownNetworkFix } from "./own_network.ts";

Deno.test("overlaps() tells CIDRs that share an address", () => {
  assert.equal(overlaps("198.18.0.0/15", "198.19.4.0/24"), true);
  assert.equal(overlaps("10.78.0.0/16", "10.78.255.255/32"), true);
  assert.equal(overlaps("10.78.0.0/16", "10.79.0.0/16"), false);
  assert.equal(overlaps("198.18.0.1/15", "198.18.0.0/15"), true, "a host address in it");
});

Deno.test("overlapping() lists other interfaces' IPv4 networks in the range, not the bridge's own", () => {
  const ip = JSON.stringify([
    { ifname: "lo", addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8 }] },
    { ifname: "milpa0", addr_info: [{ family: "inet", local: "198.18.0.1", prefixlen: 15 }] },
    {
      ifname: "milpa1",
      addr_info: [
        { family: "inet", local: "198.18.0.1", prefixlen: 15 },
        { family: "inet6", local: "fe80::1", prefixlen: 64 },
      ],
    },
    { ifname: "eth0", addr_info: [{ family: "inet", local: "192.0.2.2", prefixlen: 24 }] },
  ]);
  assert.deepEqual(overlapping(ip, "milpa1", "198.18.0.0/15"), [
    { ifname: "milpa0", cidr: "198.18.0.1/15" },
  ]);
  assert.deepEqual(overlapping(ip, "milpa2", "10.78.0.0/16"), []);
});

Deno.test("ownNetworkFix() names both settings with values that differ from the taken ones", () => {
  const fix = ownNetworkFix("milpa0", "198.18.0.0/15");
  assert.match(fix, /cloud\.local\.bridge \(e\.g\. milpa1\)/);
  assert.match(fix, /cloud\.local\.addressRange \(e\.g\. 10\.78\.0\.0\/16\)/);
  assert.match(fix, /MILPA_HOME and MILPA_LISTEN/);
  assert.match(ownNetworkFix("lab", "10.78.0.0/16"), /e\.g\. lab1\).*e\.g\. 10\.79\.0\.0\/16/);
});

const isRoot = Deno.uid() === 0;

async function quiet(args: string[]): Promise<boolean> {
  const out = await new Deno.Command(args[0], {
    args: args.slice(1),
    stdout: "null",
    stderr: "null",
  })
    .output().catch(() => ({ success: false }));
  return out.success;
}

Deno.test({
  name:
    `a second local cloud on the same bridge names the DNS address it finds taken, and the settings to change${
      isRoot ? "" : " [ignored: needs root for a bridge]"
    }`,
  ignore: !isRoot,
  async fn() {
    // A bridge and range of this test's own, never one it did not create.
    const tag = crypto.randomUUID().slice(0, 6);
    const bridge = `mo${tag}`;
    const other = `mp${tag}`;
    const n = (Deno.pid % 200) + 20;
    const range = `10.252.${n}.0/24`;
    const gateway = `10.252.${n}.1`;
    const homes = [
      await Deno.makeTempDir({ prefix: "milpa-own-net-" }),
      await Deno.makeTempDir({ prefix: "milpa-own-net-" }),
    ];
    const setup = (home: string, b: string) => ({
      home,
      controllerId: "c",
      clusterName: "own",
      ttl: 30,
      network: "netns" as const,
      addressRange: range,
      bridge: b,
    });
    let first: LocalProvider | undefined;
    try {
      first = await LocalProvider.create(setup(homes[0], bridge));
      assert.deepEqual(first.dnsAddress, { hostname: gateway, port: 53 });
      await assert.rejects(() => LocalProvider.create(setup(homes[1], bridge)), (e: Error) => {
        assert.equal(e.name, "ListenError");
        assert.match(
          e.message,
          new RegExp(
            `^Cannot listen on ${
              gateway.replaceAll(".", "\\.")
            }:53 for the local cloud's DNS server \\(nodes' resolver, on bridge ${bridge}'s ` +
              "address\\): the address is in use, by another Milpa controller or another " +
              "program .* set cloud\\.local\\.bridge \\(e\\.g\\. \\S+\\) and " +
              "cloud\\.local\\.addressRange \\(e\\.g\\. 10\\.78\\.0\\.0/16\\)",
          ),
        );
        return true;
      });
      // Another bridge on the same range is refused before anything is made.
      await assert.rejects(
        () => LocalProvider.create(setup(homes[1], other)),
        new RegExp(
          `^MilpaError: Cannot set up the local cloud on bridge ${other}: its address range ` +
            `10\\.252\\.${n}\\.0/24 overlaps 10\\.252\\.${n}\\.1/24 on ${bridge}`,
        ),
      );
      assert.equal(await quiet(["ip", "link", "show", "dev", other]), false, "no bridge made");
    } finally {
      await first?.close();
      await quiet(["ip", "link", "del", bridge]);
      await quiet(["ip", "link", "del", other]);
      for (const h of homes) await Deno.remove(h, { recursive: true });
    }
  },
});
