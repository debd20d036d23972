/**
 * Pods from images, end to end on one node: images built offline from busybox-static, pushed
 * to registries on 127.0.0.1 (Debian's docker-registry when installed, one anonymous and one
 * behind basic auth), pulled and run by the agent's PodRunner with the real container runtime
 * (runc and unshare, each when present). Units share the host's network, so they serve on
 * 127.0.0.1 only. Needs root.
 */
import assert from "node:assert/strict";
import { detectContainerSupport, findTool } from "../agent/container_support.ts";
import { ContainerRuntime } from "../agent/container_runtime.ts";
import { HostRuntime } from "../agent/host_runtime.ts";
import { ImagePuller } from "../agent/oci/image_puller.ts";
import { LayerStore } from "../agent/oci/layer_store.ts";
import { RegistryClient } from "../agent/oci/registry_client.ts";
import { haveStaticBusybox, webImage } from "../agent/oci/testing.ts";
import { PodRunner, type PodRunnerStatus } from "../agent/pod_runner.ts";
import { SelectingRuntime } from "../agent/runtime_select.ts";
import type { DesiredPod } from "../model/agent_protocol.ts";
import type { PodSpec } from "../model/pod.ts";
import { startStubController } from "./support/oci_controller.ts";
import { startRegistry, type TestRegistry } from "./support/oci_registry.ts";
import type { HelloMessage } from "../model/agent_protocol.ts";

const CAN_RUN = Deno.uid() === 0 && haveStaticBusybox();
const CREDS = { username: "puller", password: "pull-secret" };

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** GET http://127.0.0.1:port/path until it answers 200 (10 s at most); the body. */
async function get(port: number, path = "/"): Promise<string> {
  const deadline = Date.now() + 10_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        headers: { connection: "close" },
        signal: AbortSignal.timeout(2_000),
      });
      const body = await res.text();
      if (res.ok) return body;
      last = `${res.status} ${body}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`GET 127.0.0.1:${port}${path}: ${last}`);
}

function pod(name: string, spec: PodSpec, credentials?: DesiredPod["credentials"]): DesiredPod {
  const p: DesiredPod = { namespace: "default", name, uid: `uid-${name}`, spec, env: {} };
  if (credentials) p.credentials = credentials;
  return p;
}

for (const kind of ["runc", "unshare"] as const) {
  Deno.test({
    name: `image pods run end to end with ${kind} (root, busybox-static, registries on 127.0.0.1)`,
    ignore: !CAN_RUN || (kind === "runc" && !findTool("runc")),
    async fn(t) {
      const dataDir = await Deno.makeTempDir({ prefix: "milpa-oci-" });
      const registries: TestRegistry[] = [];
      const waiters = new Set<() => void>();
      const support = await detectContainerSupport({ dataDir, prefer: kind });
      assert.equal(support.launcher?.kind, kind, support.reason ?? "no launcher");
      const store = new LayerStore(`${dataDir}/images`);
      const container = new ContainerRuntime({
        puller: new ImagePuller({ store, client: new RegistryClient() }),
        launcher: support.launcher!,
      });
      const runner = new PodRunner({
        dataDir,
        runtime: new SelectingRuntime({ mode: "auto", host: new HostRuntime(), container }),
        stopGraceMs: 500,
        onChange: () => waiters.forEach((w) => w()),
      });
      const until = (what: string, pred: (s: PodRunnerStatus) => boolean) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            waiters.delete(check);
            reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(runner.status())}`));
          }, 20_000);
          const check = () => {
            if (!pred(runner.status())) return;
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          };
          waiters.add(check);
          check();
        });
      const running = (s: PodRunnerStatus) => s.unitStatuses.every((u) => u.state.running);
      try {
        const open = await startRegistry();
        registries.push(open);
        const locked = await startRegistry(CREDS);
        registries.push(locked);
        const webPort = freePort();
        const web = `${open.host}/milpa/web:1`;
        await open.push(
          "milpa/web",
          "1",
          await webImage("hello from the image\n", `127.0.0.1:${webPort}`),
        );
        const privatePort = freePort();
        const secret = `${locked.host}/milpa/private:1`;
        await locked.push(
          "milpa/private",
          "1",
          await webImage("private hello\n", `127.0.0.1:${privatePort}`),
        );
        console.log(`registries: ${open.kind} at ${open.host}, ${locked.kind} at ${locked.host}`);

        let firstPull = 0;
        await t.step("an image-only unit runs as PID 1 under the pod's hostname", async () => {
          await runner.apply(pod("web-1", { units: [{ name: "web", image: web }] }));
          await until("web-1 running", running);
          assert.equal(await get(webPort), "hello from the image\n");
          const info = await get(webPort, "/cgi-bin/info");
          assert.match(
            info,
            new RegExp(`^pid1=/bin/httpd -f -v -p 127.0.0.1:${webPort} -h /www *$`, "m"),
          );
          assert.match(info, /^hostname=web-1$/m);
          firstPull = store.pullStats().bytesFetched;
          assert.ok(firstPull > 500_000, `busybox was fetched (${firstPull} bytes)`);
        });

        await t.step("a second pod of the same image pulls no layer again", async () => {
          const before = store.pullStats();
          await runner.apply(pod("web-2", { units: [{ name: "web", image: web }] }));
          await until("web-2 running", (s) => s.podUid === "uid-web-2" && running(s));
          assert.match(await get(webPort, "/cgi-bin/info"), /^hostname=web-2$/m);
          const after = store.pullStats();
          console.log(
            `${kind}: first pod fetched ${firstPull} bytes (${before.blobsFetched} blobs); ` +
              `second pod fetched ${after.bytesFetched - before.bytesFetched} bytes ` +
              `(${after.blobsFetched - before.blobsFetched} blobs, ${
                after.blobsReused - before.blobsReused
              } reused)`,
          );
          assert.equal(after.bytesFetched, before.bytesFetched);
          assert.equal(after.blobsFetched, before.blobsFetched);
        });

        await t.step("an init unit fills an emptyDir that the main unit serves", async () => {
          const port = freePort();
          const volumeMounts = [{ name: "content", mountPath: "/content" }];
          await runner.apply(pod("web-3", {
            volumes: [{ name: "content", emptyDir: {} }],
            initUnits: [{
              name: "init",
              image: web,
              command: ["/bin/sh", "-c", "echo written by init > /content/index.html"],
              volumeMounts,
            }],
            units: [{
              name: "web",
              image: web,
              args: ["-p", `127.0.0.1:${port}`, "-h", "/content"],
              volumeMounts,
            }],
          }));
          await until("web-3 running", (s) => s.podUid === "uid-web-3" && running(s));
          assert.equal(runner.status().initUnitStatuses[0].state.terminated?.exitCode, 0);
          assert.equal(await get(port), "written by init\n");
        });

        await t.step("a private image fails clearly without credentials", async () => {
          await runner.apply(pod("private-1", { units: [{ name: "web", image: secret }] }));
          await until(
            "a start failure",
            (s) =>
              s.podUid === "uid-private-1" &&
              s.unitStatuses[0].state.waiting?.startFailure === true,
          );
          const reason = runner.status().unitStatuses[0].state.waiting?.reason;
          assert.equal(
            reason,
            `Cannot pull image "${secret}": registry "${locked.host}" requires authentication ` +
              "and the pod has no credentials for it (imagePullSecrets)",
          );
        });

        await t.step("the private image runs with the pod's credentials", async () => {
          await runner.apply(
            pod("private-2", { units: [{ name: "web", image: secret }] }, { [locked.host]: CREDS }),
          );
          await until("private-2 running", (s) => s.podUid === "uid-private-2" && running(s));
          assert.equal(await get(privatePort), "private hello\n");
        });

        await runner.stop();
        await assert.rejects(
          Deno.stat(`${dataDir}/pods`).then(async () => {
            for await (const e of Deno.readDir(`${dataDir}/pods`)) {
              throw new Error(`left: ${e.name}`);
            }
            throw new Deno.errors.NotFound();
          }),
          Deno.errors.NotFound,
        );
      } finally {
        await runner.stop(0);
        for (const r of registries) await r.close();
        await Deno.remove(dataDir, { recursive: true });
      }
    },
  });
}

Deno.test({
  name: "the agent program runs an image-only pod with runtime oci (root, busybox-static)",
  ignore: !CAN_RUN,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "milpa-oci-agent-" });
    const controller = startStubController();
    const registry = await startRegistry();
    let agent: Deno.ChildProcess | undefined;
    try {
      const port = freePort();
      const image = `${registry.host}/milpa/web:1`;
      await registry.push(
        "milpa/web",
        "1",
        await webImage("served by the agent\n", `127.0.0.1:${port}`),
      );
      await Deno.writeTextFile(
        `${dir}/agent.json`,
        JSON.stringify({
          controllerURL: controller.url,
          nodeName: "oci-node",
          token: "t",
          dataDir: `${dir}/data`,
          logFile: `${dir}/agent.log`,
          runtime: "oci",
        }),
      );
      const main = Deno.env.get("MILPA_AGENT_ENTRY") ??
        new URL("../agent/main.ts", import.meta.url).pathname;
      agent = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", main, "--config", `${dir}/agent.json`],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const hello = await controller.next<HelloMessage>("hello", (m) => m.type === "hello");
      assert.ok(hello.containerRuntime, "hello says how the node runs images");
      const desired = pod("agent-web", { units: [{ name: "web", image }] });
      controller.send({ type: "apply", id: 1, pod: desired });
      await controller.next(
        "the unit running",
        (m) =>
          m.type === "status" && m.podUid === desired.uid &&
          m.unitStatuses[0]?.state.running !== undefined,
      );
      assert.match(await get(port, "/cgi-bin/info"), /^hostname=agent-web$/m);
      // httpd, PID 1 of its namespace, ignores SIGTERM: the agent kills it after 10 s.
      agent.kill("SIGTERM");
      assert.equal((await agent.status).code, 0);
      agent = undefined;
      assert.match(
        await Deno.readTextFile(`${dir}/agent.log`),
        /image units run with (runc|unshare)/,
      );
      await assert.rejects(fetch(`http://127.0.0.1:${port}/`), "the unit stopped with the agent");
    } finally {
      if (agent) {
        agent.kill("SIGKILL");
        await agent.status;
      }
      await controller.close();
      await registry.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
