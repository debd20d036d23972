/**
 * A Secret's value on a node of the embedded local cloud (as root, where image units run in
 * namespaces): a pod takes it through `valueFrom.secretKeyRef` into an image unit and a host
 * unit, which print it; while they run, no process's command line shows it, and every file of
 * the node holding it is private (0600) — only the units' logs and, with runc, the bundle
 * config — while the agent's and the controller's logs never mention it.
 */
import assert from "node:assert/strict";
import { findTool } from "../agent/container_support.ts";
import { filesHolding, modeOf, processesShowing } from "../agent/leak_testing.ts";
import { buildImage, busyboxLayer, haveStaticBusybox } from "../agent/oci/testing.ts";
import type { Pod } from "../model/pod.ts";
import { defaultAgentCommand } from "../cloud/local/local_provider.ts";
import { LocalCloud } from "./support/local_cloud.ts";
import { startRegistry, type TestRegistry } from "./support/oci_registry.ts";

const CAN_RUN = Deno.uid() === 0 && haveStaticBusybox();

/**
 * The node agent's command with runc hidden from it (a private mount namespace where runc is
 * /dev/null, which does not run), so that it runs image units with `unshare`.
 */
function agentWithoutRunc(): string[] {
  const runc = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"];
  const hide = runc.map((r) => `if [ -e ${r} ]; then mount --bind /dev/null ${r}; fi`).join("; ");
  return ["unshare", "-m", "sh", "-c", `${hide}; exec "$@"`, "sh", ...defaultAgentCommand()];
}

for (const launcher of ["runc", "unshare"] as const) {
  Deno.test({
    name:
      `a Secret in a pod's env is on no command line and only in private files of its node (${launcher})`,
    ignore: !CAN_RUN || (launcher === "runc" && !findTool("runc")),
    fn: () => secretStaysPrivate(launcher),
  });
}

async function secretStaysPrivate(launcher: "runc" | "unshare"): Promise<void> {
  const cloud = await LocalCloud.start({
    extraYml: ({ gateway }) =>
      gateway ? `nodes:\n  insecureRegistries: ["${gateway}"]\n  runtime: oci\n` : "",
    ...(launcher === "unshare" ? { agentCommand: agentWithoutRunc() } : {}),
  });
  let registry: TestRegistry | undefined;
  try {
    assert.ok(cloud.gateway, "nodes have namespaces as root");
    registry = await startRegistry(undefined, cloud.gateway);
    await registry.push("milpa/bb", "1", await buildImage([busyboxLayer()], {}));
    const secret = `s3cret-${crypto.randomUUID()}`;
    const print = ["sh", "-c", 'echo "token=$TOKEN"; exec sleep 3600'];
    const env = [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "db", key: "token" } } }];
    const file = `${cloud.home}/secret-pod.yml`;
    await Deno.writeTextFile(
      file,
      [
        {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "db" },
          stringData: { token: secret },
        },
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "leaky" },
          spec: {
            units: [
              { name: "img", image: `${registry.host}/milpa/bb:1`, command: print, env },
              { name: "host", command: print, env },
            ],
          },
        },
      ].map((doc) => JSON.stringify(doc)).join("\n---\n"),
    );
    await cloud.ok("create", "-f", file);
    const pod = await cloud.eventually(
      async () => {
        const p = await cloud.api<Pod>("/api/v1/namespaces/default/pods/leaky");
        const running = p.status?.unitStatuses?.filter((u) => u.state.running).length;
        return p.status?.phase === "Running" && running === 2 ? p : undefined;
      },
      "both units of pod leaky running",
      60_000,
    );
    const node = `${cloud.home}/local/instances/${pod.status!.boundInstanceID!}`;
    const logs = `${node}/data/logs`;
    await cloud.eventually(async () => {
      const texts = await Promise.all(
        ["img", "host"].map((u) => Deno.readTextFile(`${logs}/${u}.log`).catch(() => "")),
      );
      return texts.every((t) => t.includes(`token=${secret}`));
    }, "both units printing the secret");

    assert.deepEqual(processesShowing(secret), [], "no command line shows the secret");
    const files = await filesHolding(node, secret);
    for (const f of files) assert.equal(f.mode, 0o600, `${f.path} is private`);
    const names = files.map((f) => f.path.slice(node.length + 1));
    console.log(`files of the node holding the secret (all 0600): ${names.join(", ")}`);
    const bundles = names.filter((n) =>
      /^data\/pods\/[^/]+\/units\/img\.\d+\/config\.json$/.test(n)
    );
    assert.deepEqual(names, [...bundles, "data/logs/host.log", "data/logs/img.log"].sort());
    // runc keeps the env in its bundle's config.json (0600); unshare keeps it in no file.
    assert.equal(bundles.length, launcher === "runc" ? 1 : 0, names.join(", "));
    assert.equal(modeOf(logs), "700");
    assert.equal(modeOf(`${node}/data`), "700");
    assert.equal(modeOf(`${node}/data/pods/${pod.metadata.uid}`), "700");
    assert.ok(!(await cloud.controllerLog()).includes(secret), "the controller's log");
  } finally {
    await registry?.close();
    await cloud.close();
  }
}
