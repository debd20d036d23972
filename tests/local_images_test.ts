/**
 * Pods from container images on the embedded local cloud, driven with milpactl as a user would
 * (as root, where nodes have their own network namespaces): images built offline from
 * busybox-static are pushed to two registries on the nodes' gateway address (one anonymous,
 * one behind basic auth; listed in nodes.insecureRegistries) and one on the host's loopback,
 * which nodes reach only through the controller's registry proxy (allowed there because
 * nodes.insecureRegistries names it), and the controller runs pods from them on real agents.
 * The proxy refuses everything else on the host, and a node's token once the node is gone.
 */
import assert from "node:assert/strict";
import { haveStaticBusybox, webImage } from "../agent/oci/testing.ts";
import type { AgentConfig } from "../model/agent_protocol.ts";
import type { Event } from "../model/event.ts";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import { LocalCloud } from "./support/local_cloud.ts";
import { startRegistry, type TestRegistry } from "./support/oci_registry.ts";

const CAN_RUN = Deno.uid() === 0 && haveStaticBusybox();
const CREDS = { username: "puller", password: "pull-secret" };

/** A Service that opens port 80 of the pods labelled `app` to everyone (the test reaches them). */
function service(app: string): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${app}
spec:
  selector:
    app: ${app}
  ports:
    - port: 80
  sourceRanges: ["0.0.0.0/0"]
`;
}

async function create(cloud: LocalCloud, yaml: string): Promise<string> {
  const file = `${cloud.home}/${crypto.randomUUID()}.yml`;
  await Deno.writeTextFile(file, yaml);
  return await cloud.ok("create", "-f", file);
}

async function get(ip: string, path = "/"): Promise<string | undefined> {
  try {
    const r = await fetch(`http://${ip}${path}`, {
      signal: AbortSignal.timeout(2000),
      headers: { connection: "close" },
    });
    const body = await r.text();
    return r.ok ? body : undefined;
  } catch {
    return undefined;
  }
}

/** The pod once it is Running with an address. */
async function runningPod(cloud: LocalCloud, name: string): Promise<{ pod: Pod; ip: string }> {
  return await cloud.eventually(
    async () => {
      const pod = await cloud.api<Pod>(`/api/v1/namespaces/default/pods/${name}`);
      const ip = pod.status?.addresses?.find((a) => a.type === "PrivateIP")?.address;
      return pod.status?.phase === "Running" && ip ? { pod, ip } : undefined;
    },
    `pod ${name} Running`,
    60_000,
  );
}

/** The agent config of the pod's node. */
async function agentConfig(cloud: LocalCloud, pod: Pod): Promise<AgentConfig> {
  const id = pod.status!.boundInstanceID!;
  return JSON.parse(await Deno.readTextFile(`${cloud.home}/local/instances/${id}/agent.json`));
}

/**
 * The "… blobs (… bytes) fetched" lines of the agent of the pod's node, once there is one (a
 * pod is Running once its node took it, which may be before the image is ready).
 */
async function pullLog(cloud: LocalCloud, pod: Pod): Promise<string[]> {
  const id = pod.status!.boundInstanceID!;
  return await cloud.eventually(async () => {
    const log = await Deno.readTextFile(`${cloud.home}/local/instances/${id}/agent.log`);
    const lines = log.split("\n").filter((l) => / fetched$/.test(l));
    return lines.length ? lines : undefined;
  }, `the pull log of pod ${pod.metadata.name}`);
}

/** The first Warning event of a pod whose message includes `text`. */
async function warning(cloud: LocalCloud, pod: string, text: string): Promise<Event> {
  return await cloud.eventually(
    async () => {
      const events = await cloud.api<{ items: Event[] }>("/api/v1/namespaces/default/events");
      return events.items.find((e) =>
        e.involvedObject.name === pod && e.type === "Warning" && e.message.includes(text)
      );
    },
    `a warning about ${pod} saying ${text}`,
    60_000,
  );
}

Deno.test({
  name: "pods run from images on the local cloud: PID 1, hostname, init unit and emptyDir, " +
    "a unit that exits 0, a private image with and without its imagePullSecret, cached layers",
  ignore: !CAN_RUN,
  async fn(t) {
    const registries: TestRegistry[] = [];
    // On a random loopback port: the proxy serves it because the configuration names it.
    const loopback = await startRegistry();
    registries.push(loopback);
    const cloud = await LocalCloud.start({
      extraYml: ({ gateway }) =>
        gateway
          ? `nodes:\n  insecureRegistries: ["${gateway}", "${loopback.host}"]\n  runtime: oci\n`
          : "",
    }).catch(async (e) => {
      await loopback.close();
      throw e;
    });
    try {
      assert.ok(cloud.gateway, "nodes have namespaces as root");
      const open = await startRegistry(undefined, cloud.gateway);
      registries.push(open);
      const locked = await startRegistry(CREDS, cloud.gateway);
      registries.push(locked);
      const web = `${open.host}/milpa/web:1`;
      await open.push("milpa/web", "1", await webImage("hello from the image\n", "80"));
      const secret = `${locked.host}/milpa/private:1`;
      await locked.push("milpa/private", "1", await webImage("private hello\n", "80"));

      let firstPod: Pod | undefined;
      await t.step("an image-only unit runs as PID 1 with the pod's name as hostname", async () => {
        await create(
          cloud,
          `${service("web")}---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  units:
    - name: web
      image: ${web}
`,
        );
        const { pod, ip } = await runningPod(cloud, "web");
        firstPod = pod;
        const index = await cloud.eventually(() => get(ip), "the page");
        assert.equal(index, "hello from the image\n");
        const info = await cloud.eventually(() => get(ip, "/cgi-bin/info"), "the CGI");
        assert.equal(info, "pid1=/bin/httpd -f -v -p 80 -h /www \nhostname=web\n");
        assert.match(await cloud.ok("get", "pods", "web"), /web\s+1\s+1\s+Running\s+0\s/);
      });

      await t.step("init unit, emptyDir, and a unit that exits 0 under OnFailure", async () => {
        await create(
          cloud,
          `${service("tiers")}---
apiVersion: v1
kind: Pod
metadata:
  name: tiers
  labels:
    app: tiers
spec:
  restartPolicy: OnFailure
  volumes:
    - name: shared
      emptyDir: {}
  initUnits:
    - name: write-page
      image: ${web}
      command: [sh, -c, "echo written by init > /data/index.html"]
      volumeMounts:
        - name: shared
          mountPath: /data
  units:
    - name: serve
      image: ${web}
      args: ["-p", "80", "-h", "/data"]
      volumeMounts:
        - name: shared
          mountPath: /data
    - name: init-once
      image: ${web}
      command: [sh, -c, "echo initialised"]
`,
        );
        const { ip } = await runningPod(cloud, "tiers");
        assert.equal(await cloud.eventually(() => get(ip), "the page"), "written by init\n");
        const table = await cloud.eventually(async () => {
          const out = await cloud.ok("get", "pods", "tiers", "-o", "wide");
          return out.includes("Unit Terminated") ? out : undefined;
        }, "init-once terminated");
        assert.match(table, /tiers\s+2\s+1\s+Pod Running - Unit Terminated: ExitCode:0\s+0/);
        // Give the agent time to (wrongly) restart it, then check it did not.
        await new Promise((r) => setTimeout(r, 2000));
        const pod = await cloud.api<Pod>("/api/v1/namespaces/default/pods/tiers");
        const once = pod.status!.unitStatuses!.find((u) => u.name === "init-once")!;
        assert.equal(once.state.terminated?.exitCode, 0);
        assert.equal(once.restartCount, 0);
        assert.equal(pod.status!.phase, "Running");
      });

      await t.step("a private image fails with a clear reason without its secret", async () => {
        await create(
          cloud,
          `apiVersion: v1
kind: Pod
metadata:
  name: locked
spec:
  restartPolicy: Never
  units:
    - name: web
      image: ${secret}
`,
        );
        const reason =
          `Cannot pull image "${secret}": registry "${locked.host}" requires authentication ` +
          "and the pod has no credentials for it (imagePullSecrets)";
        const event = await cloud.eventually(
          async () => {
            const events = await cloud.api<{ items: Event[] }>(
              "/api/v1/namespaces/default/events",
            );
            return events.items.find((e) =>
              e.involvedObject.name === "locked" && e.message.includes(reason)
            );
          },
          "an event with the reason",
          60_000,
        );
        assert.equal(event.type, "Warning");
        await cloud.ok("delete", "pod", "locked");
      });

      await t.step("the private image runs with its imagePullSecret", async () => {
        await create(
          cloud,
          `${service("private")}---
apiVersion: v1
kind: Secret
metadata:
  name: regcred
stringData:
  server: ${locked.host}
  username: ${CREDS.username}
  password: ${CREDS.password}
---
apiVersion: v1
kind: Pod
metadata:
  name: private
  labels:
    app: private
spec:
  imagePullSecrets:
    - name: regcred
  units:
    - name: web
      image: ${secret}
`,
        );
        const { ip } = await runningPod(cloud, "private");
        assert.equal(await cloud.eventually(() => get(ip), "the page"), "private hello\n");
      });

      await t.step("a second pod of the same image fetches no layer again", async () => {
        const first = await pullLog(cloud, firstPod!);
        assert.equal(first.length, 1, first.join("\n"));
        const bytes = Number(/\((\d+) bytes\) fetched$/.exec(first[0])![1]);
        assert.ok(bytes > 500_000, `the first pod fetched busybox: ${first[0]}`);
        await create(
          cloud,
          `apiVersion: v1
kind: Pod
metadata:
  name: web-again
spec:
  units:
    - name: web
      image: ${web}
`,
        );
        const { pod } = await runningPod(cloud, "web-again");
        const second = await pullLog(cloud, pod);
        assert.equal(second.length, 1, second.join("\n"));
        assert.match(second[0], /; 0 blobs \(0 bytes\) fetched$/);
        console.log(`first pod: ${first[0].replace(/^.*ready/, "ready")}`);
        console.log(`second pod: ${second[0].replace(/^.*ready/, "ready")}`);
      });

      await t.step(
        "an image on the host's loopback is pulled through the registry proxy",
        async () => {
          assert.match(loopback.host, /^127\.0\.0\.1:\d+$/);
          const image = `${loopback.host}/milpa/loopback:1`;
          await loopback.push(
            "milpa/loopback",
            "1",
            await webImage("from the host's loopback\n", "80"),
          );
          await create(
            cloud,
            `${service("loopback")}---
apiVersion: v1
kind: Pod
metadata:
  name: loopback
  labels:
    app: loopback
spec:
  terminationGracePeriodSeconds: 1
  units:
    - name: web
      image: ${image}
`,
          );
          const { pod, ip } = await runningPod(cloud, "loopback");
          assert.equal(
            await cloud.eventually(() => get(ip), "the page"),
            "from the host's loopback\n",
          );
          const proxy = (await agentConfig(cloud, pod)).registryProxy;
          assert.match(
            proxy ?? "",
            new RegExp(`^http://${cloud.gateway!.replaceAll(".", "\\.")}:\\d+$`),
          );
          assert.doesNotMatch(await cloud.controllerLog(), /registry proxy: refused/);
        },
      );

      await t.step(
        "the registry proxy refuses registries in the node range, and logs it",
        async () => {
          const inside = `${cloud.gateway!.replace(/\.1$/, ".250")}:5000`;
          const image = `${inside}/milpa/web:1`;
          await create(
            cloud,
            `apiVersion: v1
kind: Pod
metadata:
  name: inside
spec:
  restartPolicy: Never
  units:
    - name: web
      image: ${image}
`,
          );
          const event = await warning(cloud, "inside", `Cannot pull image "${image}"`);
          assert.match(event.message, /cannot reach registry .*: fetch failed: .*tunnel/);
          const log = await cloud.controllerLog();
          assert.match(
            log,
            new RegExp(
              `registry proxy: refused CONNECT ${
                inside.replaceAll(".", "\\.")
              } from node "[^"]+" ` +
                `\\([\\d.]+\\): [\\d.]+ is in the node range [\\d./]+; nodes reach it directly`,
            ),
          );
          await cloud.ok("delete", "pod", "inside");
        },
      );

      await t.step("the registry proxy keeps its port across a controller restart", async () => {
        const pod = await cloud.api<Pod>("/api/v1/namespaces/default/pods/loopback");
        const node = await agentConfig(cloud, pod);
        await cloud.killController();
        await cloud.startController();
        // The node's agent.json is all it has: its proxy URL and token still work.
        const client = Deno.createHttpClient({
          proxy: {
            url: node.registryProxy!,
            basicAuth: { username: node.nodeName, password: node.token },
          },
        });
        try {
          const res = await fetch(`http://${loopback.host}/v2/`, { client });
          await res.body?.cancel();
          assert.equal(res.status, 200);
        } finally {
          client.close();
        }
      });

      await t.step(
        "the registry proxy refuses the controller's API and other loopback ports",
        async () => {
          const pod = await cloud.api<Pod>("/api/v1/namespaces/default/pods/loopback");
          const node = await agentConfig(cloud, pod);
          const other = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          const accepted: Deno.Conn[] = [];
          const accepting = (async () => {
            for await (const c of other) accepted.push(c);
          })().catch(() => {});
          const client = Deno.createHttpClient({
            proxy: {
              url: node.registryProxy!,
              basicAuth: { username: node.nodeName, password: node.token },
            },
          });
          try {
            for (
              const url of [
                `http://127.0.0.1:${cloud.port}/api/v1/namespaces/default/secrets`,
                `http://localhost:${other.addr.port}/`,
              ]
            ) {
              const res = await fetch(url, { client });
              await res.body?.cancel();
              assert.equal(res.status, 403, url);
              assert.match(res.headers.get("proxy-status") ?? "", /destination_ip_prohibited/);
            }
            assert.equal(accepted.length, 0, "nothing was connected to");
          } finally {
            client.close();
            other.close();
            await accepting;
            for (const c of accepted) c.close();
          }
          const log = await cloud.controllerLog();
          const from = `from node "${node.nodeName}" \\([\\d.]+\\)`;
          for (
            const line of [
              `refused GET http://127\\.0\\.0\\.1:${cloud.port}/api/v1/namespaces/default/secrets ` +
              `${from}: 127\\.0\\.0\\.1 is refused on port ${cloud.port}, the controller's own`,
              `refused GET http://localhost:${other.addr.port}/ ${from}: localhost \\(\\S+\\) is ` +
              "this host's loopback",
            ]
          ) assert.match(log, new RegExp(`registry proxy: ${line}`));
        },
      );

      await t.step(
        "once its node is gone, a node's token opens neither the registry proxy nor the agent routes",
        async () => {
          const pod = await cloud.api<Pod>("/api/v1/namespaces/default/pods/loopback");
          const node = await agentConfig(cloud, pod);
          await cloud.ok("delete", "pod", "loopback");
          await cloud.eventually(
            async () => {
              const nodes = await cloud.api<{ items: Node[] }>("/api/v1/nodes");
              const n = nodes.items.find((x) => x.metadata.name === node.nodeName);
              return !n || n.status?.phase === "Terminated";
            },
            `node ${node.nodeName} to be gone`,
            60_000,
          );
          const proxied = Deno.createHttpClient({
            proxy: {
              url: node.registryProxy!,
              basicAuth: { username: node.nodeName, password: node.token },
            },
          });
          const direct = Deno.createHttpClient({
            caCerts: node.caCertificate ? [node.caCertificate] : undefined,
          });
          try {
            const res = await fetch(`http://${loopback.host}/v2/`, { client: proxied });
            await res.body?.cancel();
            assert.equal(res.status, 407);
            for (const path of ["/agent/v1/connect", "/agent/v1/agent.js"]) {
              const r = await fetch(`${node.controllerURL}${path}`, {
                client: direct,
                headers: { Authorization: `Bearer ${node.token}`, "X-Milpa-Node": node.nodeName },
              });
              await r.body?.cancel();
              assert.equal(r.status, 401, path);
            }
          } finally {
            proxied.close();
            direct.close();
          }
        },
      );
    } finally {
      await cloud.close();
      for (const r of registries) await r.close();
    }
  },
});
