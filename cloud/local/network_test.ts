import assert from "node:assert/strict";
import { ipToNumber } from "./addresses.ts";
import { run } from "./command.ts";
import { enterNode, vethName } from "./netns.ts";
import { createNodeNetwork, type IngressRule, type NodeNetwork } from "./network.ts";
import { parseChainListing } from "./nftables.ts";

const notRoot = Deno.uid() !== 0;

const tcp = (port: number, source: string): IngressRule => ({
  protocol: "TCP",
  port,
  portRangeSize: 1,
  source,
});

/** A TCP listener ("listen") or a connect attempt ("connect") that prints open, refused or blocked. */
const PROBE = `
const [mode, host, port, ms] = Deno.args;
if (mode === "listen") {
  const l = Deno.listen({ hostname: "0.0.0.0", port: Number(port) });
  console.log("ready");
  for await (const c of l) {
    await c.write(new TextEncoder().encode("hi\\n")).catch(() => {});
    c.close();
  }
} else {
  try {
    const c = await Deno.connect({ hostname: host, port: Number(port), signal: AbortSignal.timeout(Number(ms)) });
    const n = await c.read(new Uint8Array(3));
    console.log(n === 3 ? "open" : "closed");
  } catch (e) {
    console.log(e instanceof Deno.errors.ConnectionRefused ? "refused" : "blocked");
  }
  Deno.exit(0);
}
`;

/** One test's network: its own bridge, namespace prefix and 10.250.<n>.0/24 range. */
interface Fixture {
  net: NodeNetwork;
  bridge: string;
  /** "10.250.<n>." */
  base: string;
  ns(node: string): string;
  /** Runs argv inside `node`'s namespace, or on the host for undefined; resolves to its success. */
  ok(node: string | undefined, argv: string[]): Promise<boolean>;
  ping(from: string | undefined, to: string): Promise<boolean>;
  connect(from: string | undefined, to: string, port: number): Promise<string>;
  listen(node: string, port: number): Promise<void>;
  /** The chain's rules: comment → handle. */
  handles(node: string): Promise<Map<string, number>>;
}

/** A third octet whose 10.250.<n>.0/24 overlaps no route or address of this host. */
async function freeOctet(): Promise<number> {
  const routes = JSON.parse(await run(["ip", "-j", "-4", "route", "show", "table", "all"])) as {
    dst: string;
  }[];
  const nets = routes.map((r) => r.dst).filter((d) => /^\d/.test(d)).map((d) => {
    const [ip, bits] = d.split("/");
    return { n: ipToNumber(ip), bits: Number(bits ?? 32) };
  });
  for (;;) {
    const n = 1 + Math.floor(Math.random() * 254);
    const mine = ipToNumber(`10.250.${n}.0`);
    const clash = nets.some(({ n: other, bits }) => {
      const b = Math.min(bits, 24);
      const mask = b === 0 ? 0 : (~0 << (32 - b)) >>> 0;
      return ((mine & mask) >>> 0) === ((other & mask) >>> 0);
    });
    if (!clash) return n;
  }
}

async function withNetwork(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const id = Array.from(
    crypto.getRandomValues(new Uint8Array(2)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  const bridge = `mt${id}`;
  const prefix = `mt${id}-`;
  const octet = await freeOctet();
  const base = `10.250.${octet}.`;
  const dir = await Deno.makeTempDir({ prefix: "milpa_network_test_" });
  const probe = `${dir}/probe.ts`;
  await Deno.writeTextFile(probe, PROBE);
  const children: Deno.ChildProcess[] = [];
  const hadEtcNetns = await Deno.stat("/etc/netns").then(() => true, () => false);
  const net = await createNodeNetwork({ range: `${base}0/24`, bridge, nsPrefix: prefix });
  const ns = (node: string) => `${prefix}${node}`;
  const inside = (node: string | undefined) =>
    node === undefined ? [] : ["ip", "netns", "exec", ns(node)];
  const ok = async (node: string | undefined, argv: string[]) => {
    const all = [...inside(node), ...argv];
    const out = await new Deno.Command(all[0], {
      args: all.slice(1),
      stdout: "null",
      stderr: "null",
    })
      .output();
    return out.success;
  };
  const deno = [Deno.execPath(), "run", "-A", "--no-config", probe];
  const f: Fixture = {
    net,
    bridge,
    base,
    ns,
    ok,
    ping: (from, to) => ok(from, ["ping", "-c", "1", "-W", "1", to]),
    async connect(from, to, port) {
      return (await run([...inside(from), ...deno, "connect", to, `${port}`, "1500"])).trim();
    },
    async listen(node, port) {
      const all = [...inside(node), ...deno, "listen", "", `${port}`];
      const child = new Deno.Command(all[0], {
        args: all.slice(1),
        stdout: "piped",
        stderr: "null",
      })
        .spawn();
      children.push(child);
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const { value } = await reader.read();
      await reader.cancel();
      assert.match(value ?? "", /ready/);
    },
    async handles(node) {
      const json = await run([
        ...inside(node),
        "nft",
        "-j",
        "-a",
        "list",
        "chain",
        "inet",
        "milpa",
        "input",
      ]);
      return new Map(parseChainListing(json).map((r) => [r.comment ?? "", r.handle]));
    },
  };
  try {
    await fn(f);
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
    }
    for (const node of await net.attached().catch(() => [])) await net.detach(node).catch(() => {});
    // Independent of the code under test: whatever carries this test's names goes.
    const left = JSON.parse((await run(["ip", "-j", "netns", "list"])) || "[]") as {
      name: string;
    }[];
    for (const { name } of left.filter((n) => n.name.startsWith(prefix))) {
      const veth = await vethName(name);
      await run(["ip", "link", "del", veth]).catch(() => {});
      await run(["ip", "netns", "del", name]).catch(() => {});
    }
    for (const node of ["a", "b"]) {
      await Deno.remove(`/etc/netns/${ns(node)}`, { recursive: true }).catch(() => {});
    }
    await run(["ip", "link", "del", bridge]).catch(() => {});
    if (!hadEtcNetns) await Deno.remove("/etc/netns").catch(() => {}); // only when empty
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("createNodeNetwork() uses the host network when forced, and says why", async () => {
  const net = await createNodeNetwork({ forceHost: true });
  assert.equal(net.kind, "host");
  assert.equal(net.gateway, "127.0.0.1");
  assert.equal(net.range, "127.77.0.0/16");
  assert.match(net.reason ?? "", /forceHost/);
  assert.equal(
    (await createNodeNetwork({ forceHost: true, range: "127.5.0.0/16" })).range,
    "127.5.0.0/16",
  );
  const other = await createNodeNetwork({ forceHost: true, range: "10.0.0.0/8" });
  assert.equal(other.range, "127.77.0.0/16");
  assert.match(other.reason ?? "", /uses 127\.77\.0\.0\/16, not 10\.0\.0\.0\/8/);
});

Deno.test({
  name: "createNodeNetwork() without root picks the host network and says so (non-root only)",
  ignore: !notRoot,
  fn: async () => {
    const net = await createNodeNetwork({ range: "127.78.0.0/16" });
    assert.equal(net.kind, "host");
    assert.equal(net.range, "127.78.0.0/16");
    assert.match(net.reason ?? "", /root|Linux/);
  },
});

Deno.test("host network: attach() returns [], rules are recorded and reported but not enforced", async () => {
  const net = await createNodeNetwork({ forceHost: true });
  await net.setUp();
  assert.deepEqual(await net.attach("a", "127.77.0.2"), []);
  assert.deepEqual(await net.attach("a", "127.77.0.2"), []);
  await net.syncRules("a", "web", [tcp(80, "0.0.0.0/0"), tcp(443, "10.1.2.3/8")]);
  await net.syncRules("a", "db", [tcp(5432, "VPC")]);
  assert.deepEqual(
    await net.rules("a"),
    new Map([["web", [tcp(80, "0.0.0.0/0"), tcp(443, "10.0.0.0/8")]], ["db", [tcp(5432, "VPC")]]]),
  );
  await net.syncRules("a", "web", []);
  assert.deepEqual([...(await net.rules("a")).keys()], ["db"]);
  assert.deepEqual(await net.attached(), ["a"]);
  await assert.rejects(net.syncRules("b", "web", []), /has no network/);
  await assert.rejects(net.syncRules("a", "bad key", []), /service key/);
  await net.detach("a");
  await net.detach("a");
  assert.deepEqual(await net.attached(), []);
  assert.deepEqual(await net.rules("a"), new Map());
});

Deno.test({
  name:
    "createNodeNetwork() as root picks namespaces with the bridge address as gateway (root only)",
  ignore: notRoot,
  fn: () =>
    withNetwork(async ({ net, base, bridge }) => {
      assert.equal(net.kind, "netns");
      assert.equal(net.reason, undefined);
      assert.equal(net.range, `${base}0/24`);
      assert.equal(net.gateway, `${base}1`);
      await net.setUp();
      await net.setUp();
      const [link] = JSON.parse(await run(["ip", "-j", "-4", "addr", "show", "dev", bridge]));
      assert.deepEqual(link.addr_info.map((a: { local: string }) => a.local), [`${base}1`]);
      const nf = await Deno.readTextFile("/proc/sys/net/bridge/bridge-nf-call-iptables").catch(() =>
        "0"
      );
      assert.equal(net.warnings.length, nf.trim() === "1" ? 1 : 0);
    }),
});

Deno.test({
  name:
    "netns: nodes reach each other; the host reaches a node only where a rule opens it (root only)",
  ignore: notRoot,
  fn: () =>
    withNetwork(async (f) => {
      const { net, base } = f;
      assert.ok(await f.ok(undefined, ["ping", "-V"]), "needs ping (Debian package iputils-ping)");
      await net.setUp();
      assert.deepEqual(await net.attach("a", `${base}2`), enterNode(f.ns("a")));
      await net.attach("b", `${base}3`);
      assert.deepEqual(await net.attach("a", `${base}2`), enterNode(f.ns("a")));

      assert.ok(await f.ping("a", `${base}3`), "a pings b");
      assert.ok(await f.ping("b", `${base}2`), "b pings a");
      assert.ok(!(await f.ping(undefined, `${base}2`)), "the host cannot ping a");

      await f.listen("b", 8080);
      assert.equal(await f.connect("a", `${base}3`, 8080), "open");
      assert.equal(await f.connect(undefined, `${base}3`, 8080), "blocked");

      await net.syncRules("b", "web", [tcp(8080, "0.0.0.0/0")]);
      assert.equal(await f.connect(undefined, `${base}3`, 8080), "open");
      await net.syncRules("b", "web", []);
      assert.equal(await f.connect(undefined, `${base}3`, 8080), "blocked");

      await net.syncRules("b", "web", [tcp(8080, "VPC")]);
      assert.equal(await f.connect(undefined, `${base}3`, 8080), "blocked");
      assert.equal(await f.connect("a", `${base}3`, 8080), "open");
      assert.deepEqual(await net.rules("b"), new Map([["web", [tcp(8080, "VPC")]]]));

      const echo: IngressRule = {
        protocol: "ICMP",
        port: 8,
        portRangeSize: 1,
        source: `${base}1/32`,
      };
      await net.syncRules("a", "ping", [echo]);
      assert.ok(await f.ping(undefined, `${base}2`), "the host pings a once ICMP 8 is open to it");
      await net.syncRules("a", "ping", []);
      assert.ok(!(await f.ping(undefined, `${base}2`)), "and not after");
    }),
});

Deno.test({
  name: "netns: syncRules() adds and deletes only the rules that changed, by handle (root only)",
  ignore: notRoot,
  fn: () =>
    withNetwork(async (f) => {
      const { net, base } = f;
      await net.attach("a", `${base}2`);
      await Promise.all([
        net.syncRules("a", "web", [tcp(80, "0.0.0.0/0"), tcp(443, "0.0.0.0/0")]),
        net.syncRules("a", "db", [tcp(5432, "VPC")]),
      ]);
      const before = await f.handles("a");
      assert.equal(before.size, 6);
      await net.syncRules("a", "web", [tcp(80, "0.0.0.0/0"), tcp(8443, "0.0.0.0/0")]);
      const after = await f.handles("a");
      const added = [...after.keys()].filter((c) => !before.has(c));
      const removed = [...before.keys()].filter((c) => !after.has(c));
      assert.deepEqual(added, ["svc web tcp/8443 0.0.0.0/0"]);
      assert.deepEqual(removed, ["svc web tcp/443 0.0.0.0/0"]);
      for (const [comment, handle] of before) {
        if (after.has(comment)) assert.equal(after.get(comment), handle, comment);
      }
      const rules = await net.rules("a");
      assert.deepEqual(rules.get("web"), [tcp(80, "0.0.0.0/0"), tcp(8443, "0.0.0.0/0")]);
      assert.deepEqual(rules.get("db"), [tcp(5432, "VPC")]);
      assert.equal(rules.size, 2);
      await net.syncRules("a", "web", [tcp(8443, "0.0.0.0/0"), tcp(80, "0.0.0.0/0")]);
      assert.deepEqual(await f.handles("a"), after, "the same rules again change nothing");
      await assert.rejects(net.syncRules("zz", "web", []), /has no network/);
    }),
});

Deno.test({
  name:
    "netns: attach() writes the node's resolv.conf; detach() removes everything, repeatably (root only)",
  ignore: notRoot,
  fn: () =>
    withNetwork(async (f) => {
      const { net, base } = f;
      const dns = { nameserver: `${base}1`, search: ["default.svc.milpa", "milpa"] };
      const hostResolv = await Deno.readTextFile("/etc/resolv.conf").catch(() => "");
      const prefix = await net.attach("a", `${base}2`, dns);
      await net.attach("b", `${base}3`);
      const want = `nameserver ${base}1\nsearch default.svc.milpa milpa\n`;
      assert.equal(await Deno.readTextFile(`/etc/netns/${f.ns("a")}/resolv.conf`), want);
      assert.equal(await run([...prefix, "cat", "/etc/resolv.conf"]), want);
      assert.equal(
        await Deno.readTextFile("/etc/resolv.conf").catch(() => ""),
        hostResolv,
        "the host's resolv.conf is untouched",
      );
      assert.match(
        await run([...prefix, "ip", "-4", "-o", "addr", "show", "dev", "eth0"]),
        new RegExp(` ${base.replaceAll(".", "\\.")}2/`),
      );
      const cgroups = (text: string) =>
        text.split("\n").filter((l) => / - cgroup2? /.test(l)).map((l) => l.split(" ")[4]).sort();
      assert.deepEqual(
        cgroups(await run([...prefix, "cat", "/proc/self/mountinfo"])),
        cgroups(await Deno.readTextFile("/proc/self/mountinfo")),
        "the node sees the host's cgroup mounts (runc needs them)",
      );
      const b = await net.attach("b", `${base}3`);
      assert.equal(
        await run([...b, "cat", "/etc/resolv.conf"]),
        await Deno.readTextFile("/etc/resolv.conf"),
        "a node without DNS settings keeps the host's resolv.conf",
      );
      assert.deepEqual(await net.attached(), ["a", "b"]);

      const veth = await vethName(f.ns("a"));
      assert.ok(await f.ok(undefined, ["ip", "link", "show", "dev", veth]));
      await net.detach("a");
      await net.detach("a");
      await net.detach("never-attached");
      assert.deepEqual(await net.attached(), ["b"]);
      assert.ok(!(await f.ok(undefined, ["ip", "link", "show", "dev", veth])), "veth gone");
      assert.ok(!(await run(["ip", "netns", "list"])).includes(f.ns("a")), "namespace gone");
      await assert.rejects(Deno.stat(`/etc/netns/${f.ns("a")}`), Deno.errors.NotFound);
      assert.deepEqual(await net.rules("a"), new Map());
    }),
});

Deno.test({
  name:
    "netns: setUp() and attach() complete a half-made network and keep service rules (root only)",
  ignore: notRoot,
  fn: () =>
    withNetwork(async (f) => {
      const { net, base, bridge } = f;
      await net.attach("a", `${base}2`);
      await net.syncRules("a", "web", [tcp(8080, "0.0.0.0/0")]);
      const before = await f.handles("a");

      // A crash left things half done: no bridge address, no veth, a base rule missing.
      await run(["ip", "addr", "flush", "dev", bridge]);
      await run(["ip", "link", "del", await vethName(f.ns("a"))]);
      await run([
        "ip",
        "netns",
        "exec",
        f.ns("a"),
        "nft",
        "delete",
        "rule",
        "inet",
        "milpa",
        "input",
        "handle",
        `${before.get("milpa loopback")}`,
      ]);
      assert.ok(!(await f.ping("a", `${base}1`)));

      await net.setUp();
      await net.attach("a", `${base}2`);
      const after = await f.handles("a");
      assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
      assert.equal(
        after.get("svc web tcp/8080 0.0.0.0/0"),
        before.get("svc web tcp/8080 0.0.0.0/0"),
      );
      assert.ok(await f.ping("a", `${base}1`), "a reaches the gateway again");

      // Re-attaching with another address leaves only the new one.
      await net.attach("a", `${base}9`);
      const [link] = JSON.parse(
        await run(["ip", "-n", f.ns("a"), "-j", "-4", "addr", "show", "dev", "eth0"]),
      );
      assert.deepEqual(link.addr_info.map((a: { local: string }) => a.local), [`${base}9`]);
      await assert.rejects(net.attach("a", `${base}1`), /not a node address/);
    }),
});
