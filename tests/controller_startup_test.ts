/**
 * The controller's start as a user sees it (`deno run main.ts`, loopback only, the simulated
 * cloud): its log lines, `--log-level`, a Milpa installer's server.yml, and what it says when an
 * address it needs is taken. Every process is stopped by its pid, every directory removed.
 */
import assert from "node:assert/strict";
import { type Controller, startController } from "../controller.ts";
import { SimProvider } from "../cloud/sim/sim_provider.ts";
import { resolveConfig } from "../model/config.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO |WARN |ERROR) \S/;

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "milpa-startup-" });
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

function controller(home: string, listen: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, ...args],
    env: { MILPA_HOME: home, MILPA_LISTEN: listen, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Reads `stream` until `done(text)` holds or it ends; the rest is read on in the background. */
async function readUntil(
  stream: ReadableStream<Uint8Array>,
  done: (text: string) => boolean,
): Promise<{ text: () => string; rest: Promise<void> }> {
  let text = "";
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  const pump = async (stop?: (t: string) => boolean) => {
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) return;
      text += value;
      if (stop?.(text)) return;
    }
  };
  await pump(done);
  return { text: () => text, rest: pump() };
}

const SEED = `# as Milpa's installers left /opt/milpa/etc/server.yml, on the simulated cloud
apiVersion: v1
kind: serverConfig
clusterName: seed
cloud:
  sim: {}
etcd:
  client:
    endpoints: []
  internal:
    dataDir: /opt/milpa/data
nodes:
  defaultInstanceType: t3.nano
  itzo:
    version: v1.0.7
    url: http://itzo-download.s3.amazonaws.com
  nametag: seed
  extraCIDRs: ["10.50.0.0/16"]
license:
  key: FILL_IN
  id: FILL_IN
  username: FILL_IN
  password: FILL_IN
disableUsageReporter: false
`;

/** Kills a controller child (if it still runs) and waits for it, its stdout closed. */
async function reap(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGKILL");
  } catch { /* exited */ }
  await child.status;
  await child.stdout.cancel().catch(() => {});
}

Deno.test("main.ts starts from a Milpa installer's server.yml: one warning per ignored field, every line timestamped", async () => {
  await withHome(async (home) => {
    await Deno.writeTextFile(`${home}/server.yml`, SEED);
    const child = controller(home, "127.0.0.1:0", ["--config", `${home}/server.yml`]);
    try {
      const out = await readUntil(child.stderr, (t) => t.includes("/ui (log in"));
      const lines = out.text().trimEnd().split("\n");
      for (const l of lines) assert.match(l, LINE);
      const warnings = lines.filter((l) => l.includes(" WARN  "));
      const ignored = warnings.map((l) => l.match(/server\.yml: (\S+) is ignored: /)?.[1]);
      assert.deepEqual(ignored, [
        "license",
        "etcd",
        "disableUsageReporter",
        "nodes.itzo",
        "nodes.nametag",
        "nodes.extraCIDRs",
      ]);
      assert.match(warnings[0], /license is ignored: Milpa needs no license here/);
      assert.ok(
        lines.some((l) =>
          / INFO {2}Milpa controller \w+ listening on https:\/\/127\.0\.0\.1:\d+ \(cloud: sim, cluster: seed/
            .test(l)
        ),
      );
      Deno.kill(child.pid, "SIGTERM");
      assert.equal((await child.status).code, 0);
      await out.rest;
      assert.match(out.text(), /INFO {2}stopping the controller \(nodes keep running\)/);
    } finally {
      await reap(child);
    }
  });
});

Deno.test("main.ts still refuses an unknown field of server.yml, a bad --log-level and MILPA_LOG_LEVEL", async () => {
  await withHome(async (home) => {
    await Deno.writeTextFile(`${home}/server.yml`, "cloud:\n  sim: {}\nlicence: {}\n");
    for (
      const [args, message, level] of [
        [
          ["--config", `${home}/server.yml`],
          /ERROR .*server\.yml is invalid: licence: unknown field/,
          "info",
        ],
        [
          ["--log-level", "verbose"],
          /ERROR --log-level: "verbose" is not a log level \(debug, info, warn, error\)/,
          "info",
        ],
        [[], /ERROR MILPA_LOG_LEVEL: "loud" is not a log level/, "loud"],
      ] as const
    ) {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}main.ts`, ...args],
        env: {
          MILPA_HOME: home,
          MILPA_LISTEN: "127.0.0.1:0",
          MILPA_LOG_LEVEL: level,
          NO_COLOR: "1",
        },
        stdin: "null",
      }).output();
      assert.equal(out.code, 1);
      assert.match(new TextDecoder().decode(out.stderr), message);
    }
  });
});

Deno.test("main.ts --log-level warn wins over logLevel in server.yml: the start-up lines stay out", async () => {
  await withHome(async (home) => {
    // The controller logs nothing at warn; client.yaml tells when it serves.
    await Deno.writeTextFile(`${home}/server.yml`, "cloud:\n  sim: {}\nlogLevel: debug\n");
    const child = controller(home, "127.0.0.1:0", [
      "--config",
      `${home}/server.yml`,
      "--log-level=warn",
    ]);
    try {
      for (let i = 0; i < 300; i++) {
        if (await Deno.stat(`${home}/client.yaml`).then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      Deno.kill(child.pid, "SIGTERM");
      const [status, stderr] = await Promise.all([
        child.status,
        new Response(child.stderr).text(),
      ]);
      assert.equal(status.code, 0);
      assert.equal(stderr, "", "nothing at warn or above, though the config says debug");
    } finally {
      await reap(child);
    }
  });
});

Deno.test("a controller whose API address is taken names it and says to set MILPA_LISTEN", async () => {
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = held.addr.port;
  try {
    await withHome(async (home) => {
      await Deno.writeTextFile(`${home}/server.yml`, "cloud:\n  sim: {}\n");
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `${ROOT}main.ts`, "--config", `${home}/server.yml`],
        env: { MILPA_HOME: home, MILPA_LISTEN: `127.0.0.1:${port}`, NO_COLOR: "1" },
        stdin: "null",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 1);
      assert.match(
        stderr,
        new RegExp(
          `ERROR Cannot listen on 127\\.0\\.0\\.1:${port} for the API \\(MILPA_LISTEN\\): the ` +
            `address is in use, by another Milpa controller or another program .*` +
            `Stop the other controller, or give this one another port: ` +
            `MILPA_LISTEN=127\\.0\\.0\\.1:${port + 1}\\.`,
        ),
      );
      assert.doesNotMatch(stderr, /os error 98\)\n|^\s+at /m, "no bare OS error, no stack");
    });
  } finally {
    held.close();
  }
});

/** The sim cloud, with nodes that reach the controller at 127.0.0.2 (a bridge gateway's stand-in). */
class GatewaySim extends SimProvider {
  readonly agentAddress = "127.0.0.2";
}

Deno.test("startController() names the node agents' address when it is taken and what to change", async () => {
  // Taken on 127.0.0.2 only: the API gets the same port on 127.0.0.1, the agents' listener not.
  const held = Deno.listen({ hostname: "127.0.0.2", port: 0 });
  const port = held.addr.port;
  const home = await Deno.makeTempDir({ prefix: "milpa-startup-" });
  const kv = await Deno.openKv(":memory:");
  let started: Controller | undefined;
  try {
    await assert.rejects(
      async () => {
        started = await startController({
          config: resolveConfig({}),
          kv,
          home,
          listen: `127.0.0.1:${port}`,
          cloud: () => new GatewaySim(),
        });
      },
      (e: Error) => {
        assert.equal(e.name, "ListenError");
        assert.match(
          e.message,
          new RegExp(
            `^Cannot listen on 127\\.0\\.0\\.2:${port} for node agents \\(the cloud's gateway ` +
              "address, at the API's port\\): the address is in use.*cloud\\.local\\.bridge, " +
              "cloud\\.local\\.addressRange",
          ),
        );
        return true;
      },
    );
    // The API's listener was released: the port is free again on 127.0.0.1.
    Deno.listen({ hostname: "127.0.0.1", port }).close();
  } finally {
    await started?.close();
    held.close();
    kv.close();
    await Deno.remove(home, { recursive: true });
  }
});
