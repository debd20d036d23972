/**
 * TLS by default: a controller started as a user starts it (`main.ts`) serves https with the
 * CA it made in MILPA_HOME, milpactl and node agents trust that CA, and an agent refuses a
 * server whose certificate comes from any other CA, even one the machine trusts.
 */
import assert from "node:assert/strict";
import { ControllerPki } from "../api/pki.ts";
import { agentTrustEnv } from "../model/agent_trust.ts";
import type { Pod } from "../model/pod.ts";
import { defaultAgentCommand } from "../cloud/local/local_provider.ts";
import { LocalCloud } from "./support/local_cloud.ts";
import { runMilpactl } from "./support/milpactl.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const HELLO = `${ROOT}docs/tutorial-files/helloworld-pod.yml`;

const hasCurl = await new Deno.Command("curl", { args: ["--version"], stdout: "null" }).output()
  .then((o) => o.success, () => false);

async function curl(...args: string[]): Promise<{ code: number; stdout: string }> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "10", ...args],
    stdout: "piped",
    stderr: "null",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

function milpactl(env: Record<string, string>, ...args: string[]) {
  return runMilpactl({ env }, ...args);
}

/** A CA other than the controller's, in its own temp dir; removed by `close()`. */
async function otherCa(): Promise<{ pki: ControllerPki; file: string; close(): Promise<void> }> {
  const home = await Deno.makeTempDir({ prefix: "milpa-other-ca-" });
  const pki = await ControllerPki.open({ home });
  return {
    pki,
    file: `${home}/ca.crt`,
    close: () => Deno.remove(home, { recursive: true }),
  };
}

const mode = async (path: string) => (await Deno.stat(path)).mode! & 0o777;

Deno.test({
  name: "the controller serves https with its own CA; curl, milpactl and node agents use it; " +
    "a restart keeps the CA",
  async fn() {
    const cloud = await LocalCloud.start();
    const stranger = await otherCa();
    try {
      const base = `127.0.0.1:${cloud.port}`;
      for (const key of ["ca.key", "server.key"]) {
        assert.equal(await mode(`${cloud.home}/${key}`), 0o600, `${key} is 0600`);
      }
      const ca = await Deno.readTextFile(cloud.caFile);
      const client = await cloud.clientConfig();
      assert.equal(client.endpoint, `https://${base}`);
      assert.equal(client.certificateAuthority, ca, "client.yaml carries the CA");

      // Plain http gets nowhere; https with the CA works; with another CA it is refused.
      await assert.rejects(fetch(`http://${base}/healthz`));
      if (hasCurl) {
        assert.notEqual((await curl(`http://${base}/healthz`)).code, 0);
        assert.deepEqual(await curl("--cacert", cloud.caFile, `https://${base}/healthz`), {
          code: 0,
          stdout: "ok",
        });
        assert.equal(
          (await curl("--cacert", stranger.file, "--capath", "/nonexistent", `https://${base}/`))
            .code,
          60,
          "curl: the peer's certificate cannot be verified",
        );
      }

      // milpactl works unchanged; a node's agent comes up over https trusting the CA alone.
      await cloud.ok("create", "-f", HELLO);
      await cloud.eventually(
        async () => {
          const pod = await cloud.api<Pod>("/api/v1/namespaces/default/pods/helloworld");
          return pod.status?.phase === "Running";
        },
        "helloworld Running",
        60_000,
      );
      const instances = `${cloud.home}/local/instances`;
      const [instance] = await Array.fromAsync(Deno.readDir(instances));
      const dir = `${instances}/${instance.name}`;
      assert.equal(await Deno.readTextFile(`${dir}/ca.crt`), ca);
      const agent = JSON.parse(await Deno.readTextFile(`${dir}/agent.json`));
      assert.match(agent.controllerURL, /^https:\/\//);
      assert.equal(agent.caCertificate, ca);
      assert.equal(agent.agentSha256, undefined, "local nodes run the agent from source");
      const log = await Deno.readTextFile(`${dir}/agent.log`);
      assert.match(log, /connected to wss:\/\//);
      assert.doesNotMatch(log, /trusts more than the controller's CA/);

      // milpactl given another CA refuses the controller and says why.
      const wrong = await milpactl(
        { MILPA_HOME: cloud.home, MILPA_CA_FILE: stranger.file },
        "get",
        "pods",
      );
      assert.equal(wrong.code, 3, wrong.stderr);
      assert.match(
        wrong.stderr,
        new RegExp(
          `^Error: cannot verify the Milpa controller at https://${base}: .*UnknownIssuer`,
        ),
      );
      assert.match(wrong.stderr, new RegExp(`the CA from MILPA_CA_FILE \\(${stranger.file}\\)`));

      // A restart keeps the CA (and the server certificate); the node reconnects.
      const serverCert = await Deno.readTextFile(`${cloud.home}/server.crt`);
      await cloud.stopController();
      await cloud.startController();
      assert.equal(await Deno.readTextFile(cloud.caFile), ca);
      assert.equal(await Deno.readTextFile(`${cloud.home}/server.crt`), serverCert);
      assert.match(await cloud.ok("get", "pods"), /helloworld .*Running/);
      await cloud.ok("delete", "pod", "helloworld");
    } finally {
      await cloud.close();
      await stranger.close();
    }
  },
});

Deno.test({
  name: "tls.enabled: false serves plain http with no CA",
  async fn() {
    const cloud = await LocalCloud.start({ extraYml: () => "tls:\n  enabled: false\n" });
    try {
      const client = await cloud.clientConfig();
      assert.equal(client.endpoint, `http://127.0.0.1:${cloud.port}`);
      assert.equal(client.certificateAuthority, undefined);
      await assert.rejects(Deno.stat(cloud.caFile), Deno.errors.NotFound);
      const res = await fetch(`http://127.0.0.1:${cloud.port}/healthz`);
      assert.equal(await res.text(), "ok");
      assert.match(await cloud.ok("get", "pods"), /No resources found|NAME/);
    } finally {
      await cloud.close();
    }
  },
});

Deno.test("the controller warns when tls.enabled is false and MILPA_LISTEN is not loopback", async () => {
  const home = await Deno.makeTempDir({ prefix: "milpa-plain-" });
  try {
    await Deno.writeTextFile(`${home}/server.yml`, "tls:\n  enabled: false\n");
    // 192.0.2.1 (TEST-NET-1) is no address of this machine: the warning comes, then the
    // listen fails, so nothing is ever served beyond loopback.
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}main.ts`, "--config", `${home}/server.yml`],
      env: { MILPA_HOME: home, MILPA_LISTEN: "192.0.2.1:54555", NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.notEqual(out.code, 0);
    assert.match(
      stderr,
      /WARN +tls\.enabled is false and MILPA_LISTEN \(192\.0\.2\.1:54555\) is not a loopback address/,
    );
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

/**
 * A TLS server on loopback with a certificate of `pki` that accepts any agent WebSocket, and
 * an agent process dialling it with `agentCa` in its config, in environment `env`.
 */
async function dial(
  pki: ControllerPki,
  agentCa: string,
  env: (dir: string) => Record<string, string>,
  prefix: string[] = [],
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "milpa-agent-tls-" });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {}, ...await pki.serverCertificate([]) },
    (req) => {
      if (req.headers.get("upgrade") !== "websocket") return new Response("no", { status: 400 });
      return Deno.upgradeWebSocket(req).response;
    },
  );
  let agent: Deno.ChildProcess | undefined;
  try {
    await Deno.writeTextFile(`${dir}/ca.crt`, agentCa);
    await Deno.writeTextFile(
      `${dir}/agent.json`,
      JSON.stringify({
        controllerURL: `https://127.0.0.1:${server.addr.port}`,
        nodeName: "n-1",
        token: "t",
        caCertificate: agentCa,
        dataDir: `${dir}/data`,
        logFile: `${dir}/agent.log`,
        runtime: "host",
      }),
    );
    const argv = [...defaultAgentCommand(), "--config", `${dir}/agent.json`];
    agent = new Deno.Command(prefix[0] ?? argv[0], {
      args: [...prefix.slice(1), ...(prefix.length ? argv : argv.slice(1))],
      env: env(dir),
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = Date.now() + 30_000;
    for (;;) {
      const log = await Deno.readTextFile(`${dir}/agent.log`).catch(() => "");
      if (/connected to wss:|connection to wss:/.test(log)) return log;
      if (Date.now() > deadline) throw new Error(`the agent did not dial:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    try {
      agent?.kill("SIGTERM");
    } catch { /* gone */ }
    await agent?.status;
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("an agent given the controller's CA refuses a server whose certificate comes from another CA, even one its machine trusts", async () => {
  const controller = await otherCa();
  const impostor = await otherCa();
  try {
    // NODE_EXTRA_CA_CERTS stands for a CA the machine trusts: plain Deno trusts it too.
    const machine = { ...Deno.env.toObject(), NODE_EXTRA_CA_CERTS: impostor.file };
    const trusting = await dial(impostor.pki, controller.pki.caCertificate, () => machine);
    assert.match(trusting, /connected to wss:/, "without the trust environment: let in");
    assert.match(
      trusting,
      /warning: the controller connection trusts more than the controller's CA/,
    );

    const refusing = await dial(
      impostor.pki,
      controller.pki.caCertificate,
      (dir) => agentTrustEnv(machine, `${dir}/ca.crt`),
    );
    assert.match(refusing, /connection to wss:.*invalid peer certificate: UnknownIssuer/);
    assert.doesNotMatch(refusing, /connected to wss:/);

    // And the controller's own server: let in.
    const own = await dial(
      controller.pki,
      controller.pki.caCertificate,
      (dir) => agentTrustEnv(machine, `${dir}/ca.crt`),
    );
    assert.match(own, /connected to wss:/);
  } finally {
    await controller.close();
    await impostor.close();
  }
});

const canUnshare = Deno.uid() === 0 &&
  await new Deno.Command("unshare", { args: ["-m", "true"], stderr: "null" }).output()
    .then((o) => o.success, () => false);

Deno.test({
  name: "an agent started to trust its CA alone refuses a CA in the system store (root only)",
  ignore: !canUnshare,
  async fn() {
    const controller = await otherCa();
    const impostor = await otherCa();
    const bundle = await Deno.makeTempFile({ prefix: "milpa-bundle-" });
    try {
      // In a mount namespace of its own, the system bundle holds the impostor's CA as well.
      const system = "/etc/ssl/certs/ca-certificates.crt";
      await Deno.writeTextFile(
        bundle,
        (await Deno.readTextFile(system).catch(() => "")) + "\n" + impostor.pki.caCertificate,
      );
      const inNamespace = [
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        `mount --bind ${bundle} ${system} && exec "$@"`,
        "sh",
      ];
      const clean = Object.fromEntries(
        Object.entries(Deno.env.toObject()).filter(([k]) =>
          !["NODE_EXTRA_CA_CERTS", "DENO_CERT", "SSL_CERT_FILE", "SSL_CERT_DIR"].includes(k)
        ),
      );
      const systemStore = await dial(
        impostor.pki,
        controller.pki.caCertificate,
        () => ({ ...clean, DENO_TLS_CA_STORE: "system" }),
        inNamespace,
      );
      assert.match(systemStore, /connected to wss:/, "the system store alone lets it in");
      const refusing = await dial(
        impostor.pki,
        controller.pki.caCertificate,
        (dir) => agentTrustEnv(clean, `${dir}/ca.crt`),
        inNamespace,
      );
      assert.match(refusing, /invalid peer certificate: UnknownIssuer/);
      assert.doesNotMatch(refusing, /connected to wss:/);
    } finally {
      await Deno.remove(bundle);
      await controller.close();
      await impostor.close();
    }
  },
});

Deno.test("an agent that trusts its CA alone still checks registries against the CAs it is given (the machine's bundle)", async () => {
  const controller = await otherCa();
  const registryCa = await otherCa();
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      ...await registryCa.pki.serverCertificate([]),
    },
    () => new Response("registry"),
  );
  try {
    // What agent/main.ts does with agentTrust()'s registryCaCerts, in an agent's environment.
    const probe = `
      import { registryFetch } from "${ROOT}agent/oci/registry_client.ts";
      const url = "https://127.0.0.1:${server.addr.port}/v2/";
      const plain = await fetch(url).then(() => "trusted", () => "refused");
      const given = registryFetch({ caCerts: [await Deno.readTextFile(Deno.args[0])] });
      const withBundle = await given.fetch(url).then((r) => r.text(), () => "refused");
      given.close();
      console.log(plain, withBundle);`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--config", `${ROOT}deno.json`, probe, registryCa.file],
      env: agentTrustEnv(
        { ...Deno.env.toObject(), NODE_EXTRA_CA_CERTS: registryCa.file },
        controller.file,
      ),
      clearEnv: true,
      stderr: "inherit",
    }).output();
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "refused registry");
  } finally {
    await server.shutdown();
    await controller.close();
    await registryCa.close();
  }
});
