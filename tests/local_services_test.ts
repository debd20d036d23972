/**
 * Services on the local cloud with network namespaces (as root): DNS service discovery from
 * the host and from inside pods, and a load balancer spreading over health-checked backends.
 */
import assert from "node:assert/strict";
import type { Pod } from "../model/pod.ts";
import type { Service } from "../model/service.ts";
import { LocalCloud } from "./support/local_cloud.ts";

const root = Deno.uid() === 0;

/** A pod running a tiny web server on port 8080 that answers its own name. */
function webPod(name: string, app: string, restartPolicy = "Always") {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app } },
    spec: {
      restartPolicy,
      units: [{
        name: "web",
        command: ["deno", "eval", "--no-config"],
        args: [
          `Deno.serve({ hostname: Deno.env.get("MILPA_POD_IP"), port: 8080 }, () => new Response(Deno.env.get("MILPA_POD_NAME")));`,
        ],
        ports: [{ name: "http", containerPort: 8080 }],
        readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
      }],
    },
  };
}

async function create(cloud: LocalCloud, docs: unknown[]): Promise<void> {
  const file = `${cloud.home}/${crypto.randomUUID()}.json`;
  await Deno.writeTextFile(file, JSON.stringify({ kind: "List", apiVersion: "v1", items: docs }));
  await cloud.ok("create", "-f", file);
}

async function srvTargets(
  nameServer: { ipAddr: string; port: number },
  name: string,
): Promise<string[]> {
  try {
    const recs = await Deno.resolveDns(name, "SRV", {
      nameServer,
      signal: AbortSignal.timeout(2000),
    });
    return recs.map((r) => `${r.target.replace(/\.$/, "")}:${r.port}`).sort();
  } catch {
    return [];
  }
}

/** The gateway (bridge) address of the cloud's nodes: where the controller serves DNS. */
async function gateway(cloud: LocalCloud): Promise<string> {
  const out = await new Deno.Command("ip", {
    args: ["-j", "-4", "addr", "show", "dev", cloud.bridge!],
  }).output();
  const info = JSON.parse(new TextDecoder().decode(out.stdout))[0].addr_info as {
    local: string;
    prefixlen: number;
  }[];
  return info.find((a) => a.prefixlen !== 32)!.local;
}

Deno.test({
  name: "DNS: SRV and A records follow Running backends; pods resolve a Service by its bare name",
  ignore: !root,
  async fn() {
    const cloud = await LocalCloud.start();
    try {
      const dns = { ipAddr: await gateway(cloud), port: 53 };
      const srv = "_http._tcp.web-svc.default.e2e.local";
      await create(cloud, [
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "web-svc" },
          spec: {
            selector: { app: "web" },
            ports: [{ name: "http", port: 8080 }],
            sourceRanges: ["VPC"],
          },
        },
        webPod("web-a", "web"),
      ]);
      await cloud.eventually(
        async () => (await cloud.getJson<Pod>("pod", "web-a")).status?.phase === "Running",
        "a runs",
      );
      const ra = Date.now();
      assert.deepEqual(
        await cloud.eventually(async () => {
          const t = await srvTargets(dns, srv);
          return t.length === 1 ? t : undefined;
        }, "one SRV target"),
        ["web-a.web-svc.default.e2e.local:8080"],
      );
      console.log(`SRV listed web-a ${Date.now() - ra} ms after it was seen Running`);
      await create(cloud, [webPod("web-b", "web")]);
      await cloud.eventually(
        async () => (await cloud.getJson<Pod>("pod", "web-b")).status?.phase === "Running",
        "b runs",
      );
      const rb = Date.now();
      await cloud.eventually(
        async () => (await srvTargets(dns, srv)).length === 2,
        "two SRV targets",
      );
      assert.ok(Date.now() - rb < 2000, `b listed within 2 s of Running (${Date.now() - rb} ms)`);
      const a = await Deno.resolveDns("web-svc.default.e2e.local", "A", { nameServer: dns });
      assert.equal(a.length, 2);

      // From inside a pod: the bare name, through the node's resolv.conf.
      await create(cloud, [{
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "client" },
        spec: {
          units: [{
            name: "lookup",
            command: ["sh", "-c", "while true; do getent hosts web-svc; echo ---; sleep 1; done"],
          }],
        },
      }]);
      const logs = await cloud.eventually(async () => {
        const l = await cloud.milpactl("logs", "client");
        return l.code === 0 && /web-svc/.test(l.stdout) ? l.stdout : undefined;
      }, "client resolves web-svc");
      assert.match(logs, /^10\.251\.\d+\.\d+\s+web-svc/m);

      // A name outside the zone gets a quick, definite answer.
      const t0 = Date.now();
      await assert.rejects(Deno.resolveDns("example.com", "A", { nameServer: dns }));
      assert.ok(Date.now() - t0 < 1000, "refused at once, no hang");

      await cloud.ok("delete", "pod", "web-a");
      const da = Date.now();
      await cloud.eventually(async () => (await srvTargets(dns, srv)).length === 1, "a dropped");
      assert.ok(Date.now() - da < 2000, `a dropped within 2 s (${Date.now() - da} ms)`);
    } finally {
      await cloud.close();
    }
  },
});

/** GET / of ip:port on a new connection; the body, or undefined on failure. */
async function get(ip: string, port: number): Promise<string | undefined> {
  try {
    const r = await fetch(`http://${ip}:${port}/`, {
      signal: AbortSignal.timeout(2000),
      headers: { connection: "close" },
    });
    return r.ok ? await r.text() : undefined;
  } catch {
    return undefined;
  }
}

Deno.test({
  name: "a LoadBalancer Service spreads over 3 backends and drops a dead one",
  ignore: !root,
  async fn() {
    const cloud = await LocalCloud.start();
    try {
      const hc = "service.elotl.co/aws-load-balancer-healthcheck";
      await create(cloud, [
        {
          apiVersion: "v1",
          kind: "Service",
          metadata: {
            name: "web-lb",
            annotations: {
              [`${hc}-interval`]: "5",
              [`${hc}-timeout`]: "2",
              [`${hc}-healthy-threshold`]: "2",
              [`${hc}-unhealthy-threshold`]: "2",
            },
          },
          spec: {
            type: "LoadBalancer",
            selector: { app: "lb" },
            ports: [{ name: "http", port: 80, nodePort: 8080 }],
            sourceRanges: ["0.0.0.0/0"],
          },
        },
        webPod("lb-a", "lb", "Never"),
        webPod("lb-b", "lb", "Never"),
        webPod("lb-c", "lb", "Never"),
      ]);
      const ip = await cloud.eventually(async () => {
        const s = await cloud.getJson<Service>("svc", "web-lb");
        return s.status?.loadBalancer?.ingress?.[0]?.ip;
      }, "an ingress address");
      assert.match(
        await cloud.ok("get", "svc", "web-lb"),
        new RegExp(`web-lb\\s+80/TCP\\s+0\\.0\\.0\\.0/0\\s+${ip.replaceAll(".", "\\.")}\\s`),
      );
      const spread = await cloud.eventually(
        async () => {
          const seen = new Map<string, number>();
          for (let i = 0; i < 30; i++) {
            const body = await get(ip, 80);
            if (body) seen.set(body, (seen.get(body) ?? 0) + 1);
          }
          return seen.size === 3 ? seen : undefined;
        },
        "30 requests reach all 3 backends",
        60_000,
      );
      assert.deepEqual([...spread.keys()].sort(), ["lb-a", "lb-b", "lb-c"]);

      // Kill lb-a's unit (restartPolicy Never: it stays dead).
      const victim = await unitPid(cloud, "lb-a");
      Deno.kill(victim, "SIGKILL");
      const killed = Date.now();
      await cloud.eventually(
        async () => {
          const bodies = await Promise.all(Array.from({ length: 10 }, () => get(ip, 80)));
          return bodies.every((b) => b && b !== "lb-a");
        },
        "lb-a out of rotation",
        30_000,
      );
      const out = Date.now() - killed;
      console.log(`the dead backend left the rotation after ${out} ms`);
      assert.ok(
        out <= 5000 * 2 + 2000 + 1000,
        `within interval × unhealthy threshold (+timeout): ${out} ms`,
      );
      for (let i = 0; i < 30; i++) {
        const body = await get(ip, 80);
        assert.ok(
          body === "lb-b" || body === "lb-c",
          `request ${i} answered by a live backend, got ${body}`,
        );
      }
    } finally {
      await cloud.close();
    }
  },
});

/** The pid of the unit process of a pod (its environment names the pod). */
async function unitPid(cloud: LocalCloud, pod: string): Promise<number> {
  for (const pid of await cloud.nodeProcesses()) {
    const env = await Deno.readTextFile(`/proc/${pid}/environ`).catch(() => "");
    const cmd = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (env.split("\0").includes(`MILPA_POD_NAME=${pod}`) && cmd.includes("eval")) return pid;
  }
  throw new Error(`no unit process of ${pod}`);
}

const hasRedis = await new Deno.Command("redis-server", { args: ["--version"], stdout: "null" })
  .output().then((o) => o.success, () => false);

Deno.test({
  name:
    "the two-tier example: an app finds Redis by DNS, behind a load balancer (needs redis-server)",
  ignore: !root || !hasRedis,
  async fn() {
    const cloud = await LocalCloud.start();
    try {
      await cloud.ok(
        "create",
        "-f",
        new URL("../docs/tutorial-files/two-tier.yml", import.meta.url).pathname,
      );
      const ip = await cloud.eventually(async () => {
        const s = await cloud.getJson<Service>("svc", "counter-lb");
        return s.status?.loadBalancer?.ingress?.[0]?.ip;
      }, "an ingress address");
      const first = await cloud.eventually(
        async () => {
          const b = await get(ip, 80);
          return b?.startsWith("visit ") ? b : undefined;
        },
        "the app answers through the load balancer",
        60_000,
      );
      const n = Number(first.split(" ")[1]);
      // New backends join the balancer after two passing health checks (5 s apart).
      const servers = new Set<string>();
      let last = n;
      await cloud.eventually(
        async () => {
          const b = (await get(ip, 80))!;
          assert.match(b, /^visit \d+ served by counter-/);
          const count = Number(b.split(" ")[1]);
          assert.ok(count > last, "the count lives in Redis and goes up");
          last = count;
          servers.add(b.trim().split(" ").pop()!);
          return servers.size >= 2;
        },
        "answers from more than one replica",
        30_000,
      );
    } finally {
      await cloud.close();
    }
  },
});
