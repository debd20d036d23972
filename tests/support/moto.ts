/**
 * A moto server (Python's AWS emulator) on 127.0.0.1 for one test, and a player that acts as
 * the EC2 instances it "launches": for every running instance it reads the user-data, takes
 * the agent config and the CA file Milpa wrote into it, fetches the agent program from the
 * controller and checks its sha256 as the node's boot script would, and runs the real agent
 * on this machine, trusting that CA alone as the node's service would.
 */
import { DescribeImagesCommand, EC2Client } from "@aws-sdk/client-ec2";
import { agentConfigOf, CA_PATH, writtenFile } from "../../cloud/aws/user_data.ts";
import { agentTrustEnv } from "../../model/agent_trust.ts";
import { type Ec2Api, ec2Api } from "../../cloud/aws/sdk.ts";
import type { AgentConfig } from "../../model/agent_protocol.ts";

import { defaultAgentCommand } from "../../cloud/local/local_provider.ts";

/** Whether moto can be imported here. */
export const hasMoto = await new Deno.Command("python3", {
  args: ["-c", "import moto"],
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A running moto server. */
export interface Moto {
  url: string;
  ec2: Ec2Api;
  /** An AMI the emulator knows. */
  imageId: string;
  close(): Promise<void>;
}

/** A moto server process on a free port of 127.0.0.1. */
export interface MotoServer {
  url: string;
  /** Kills the server (by pid) and waits for it. */
  close(): Promise<void>;
}

/**
 * Starts `python3 -m moto.server` on a free loopback port and waits until it answers. `env` adds
 * to the server's environment, e.g. `MOTO_ENABLE_AMI_VALIDATION: "true"` to refuse unknown AMIs
 * (moto launches any AMI id by default).
 */
export async function startMotoServer(env: Record<string, string> = {}): Promise<MotoServer> {
  const port = freePort();
  const child = new Deno.Command("python3", {
    args: ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)],
    env,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/moto-api/`);
      await r.body?.cancel();
      if (r.ok) return { url, close };
    } catch { /* not up yet */ }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`moto did not start on ${url}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts moto and waits until it answers. */
export async function startMoto(): Promise<Moto> {
  const server = await startMotoServer();
  const url = server.url;
  const client = new EC2Client({
    region: "us-east-1",
    endpoint: url,
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
  const images = (await client.send(new DescribeImagesCommand({ Owners: ["amazon"] }))).Images ??
    [];
  const imageId = images.find((i) => /ubuntu|debian|amzn/i.test(i.Name ?? ""))?.ImageId ??
    images[0].ImageId!;
  return {
    url,
    ec2: ec2Api(client),
    imageId,
    async close() {
      client.destroy();
      await server.close();
    },
  };
}

/** Plays the emulator's instances: one local agent process per running instance. */
export class InstancePlayer {
  readonly #agents = new Map<string, Deno.ChildProcess>();
  #timer?: ReturnType<typeof setInterval>;
  #busy = false;
  /** User-data of every instance seen, by id. */
  readonly userData = new Map<string, string>();
  /** Why an instance's boot failed (the agent program did not check out), by id. */
  readonly bootFailures = new Map<string, string>();

  constructor(private readonly ec2: Ec2Api, private readonly dir: string) {}

  /** Starts watching every `periodMs`. */
  start(periodMs = 300): void {
    this.#timer = setInterval(() => void this.#tick(), periodMs);
  }

  /** Instances with a running agent. */
  get playing(): string[] {
    return [...this.#agents.keys()];
  }

  async #tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const all = await this.ec2.describeInstances({});
      for (const i of all) {
        const id = i.InstanceId!;
        const running = i.State?.Name === "running" || i.State?.Name === "pending";
        if (running && !this.#agents.has(id) && !this.userData.has(id)) await this.#play(id);
        if (!running && this.#agents.has(id)) await this.#stop(id);
      }
    } catch (e) {
      console.error("instance player:", e);
    } finally {
      this.#busy = false;
    }
  }

  async #play(id: string): Promise<void> {
    const raw = await this.ec2.userData(id);
    const text = raw
      ? new TextDecoder().decode(Uint8Array.from(atob(raw), (c) => c.charCodeAt(0)))
      : "";
    this.userData.set(id, text);
    const agent = agentConfigOf(text);
    if (!agent) return; // not one of Milpa's
    const data = `${this.dir}/${id}`;
    await Deno.mkdir(data, { recursive: true });
    const config = `${data}/agent.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({ ...agent, dataDir: `${data}/data`, logFile: `${data}/agent.log` }),
    );
    const ca = writtenFile(text, CA_PATH);
    if (ca !== undefined) await Deno.writeTextFile(`${data}/ca.crt`, ca);
    const failure = await checkAgentProgram(agent, ca);
    if (failure) {
      this.bootFailures.set(id, failure);
      return;
    }
    const [program, ...args] = defaultAgentCommand();
    const child = new Deno.Command(program, {
      args: [...args, "--config", config],
      // The node's systemd unit sets the same (cloud/aws/user_data.ts).
      ...(ca === undefined
        ? {}
        : { env: agentTrustEnv(Deno.env.toObject(), `${data}/ca.crt`), clearEnv: true }),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#agents.set(id, child);
  }

  async #stop(id: string): Promise<void> {
    const child = this.#agents.get(id)!;
    this.#agents.delete(id);
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
  }

  /** Stops watching and every agent. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    while (this.#busy) await new Promise((r) => setTimeout(r, 20));
    for (const id of [...this.#agents.keys()]) await this.#stop(id);
  }
}

/**
 * What the node's boot script does before it starts the agent: fetch `agent.js` from the
 * controller with the node's token, trusting the CA from user-data, and compare its sha256
 * with the config's. The agent then runs from source; the fetched program only has to match.
 * Resolves with why it failed, or undefined.
 */
async function checkAgentProgram(
  agent: AgentConfig,
  ca: string | undefined,
): Promise<string | undefined> {
  if (!agent.agentSha256) return "the agent config carries no agentSha256";
  const client = ca ? Deno.createHttpClient({ caCerts: [ca] }) : undefined;
  const url = `${agent.controllerURL.replace(/\/$/, "")}/agent/v1/agent.js`;
  let why = "";
  try {
    // As the boot script's curl: retried while the controller is not up (a restart).
    for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
      try {
        const res = await fetch(url, {
          headers: { Authorization: `Bearer ${agent.token}`, "X-Milpa-Node": agent.nodeName },
          ...(client ? { client } : {}),
        });
        if (res.ok) {
          const hash = await crypto.subtle.digest("SHA-256", await res.arrayBuffer());
          const hex = Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0"))
            .join("");
          return hex === agent.agentSha256
            ? undefined
            : `agent.js has sha256 ${hex}, not ${agent.agentSha256}`;
        }
        why = `GET ${url}: ${res.status} ${await res.text()}`;
      } catch (e) {
        why = `GET ${url}: ${e instanceof Error ? `${e.message} ${e.cause ?? ""}` : e}`;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    return why;
  } finally {
    client?.close();
  }
}
