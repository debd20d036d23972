/**
 * A real controller subprocess on the embedded local cloud, driven the way a user drives
 * it: `deno run -A main.ts` with its own MILPA_HOME and port, and `milpactl` as a
 * subprocess. Requests of its own go where client.yaml says (https, trusting its CA, unless
 * the config turns TLS off). Cleans up every process it started (controller by pid, node
 * agents by the process groups recorded in their instance files) and its temp directory.
 */
import { parse as parseYaml } from "yaml";
import { type CliResult, runMilpactl } from "./milpactl.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const CONFIG = `${ROOT}deno.json`;

export type { CliResult };

/** Options of a local cloud. */
export interface LocalCloudOptions {
  /** server.yml text. */
  serverYml?: string;
  /**
   * More server.yml (top-level keys other than clusterName and cloud) for the generated config,
   * given the address of the nodes' gateway when they have namespaces.
   */
  extraYml?: (net: { gateway?: string }) => string;
  /**
   * serviceDiscovery.drainSeconds of the generated config: how long a leaving pod that backs a
   * Service stays up. @default 2 (the controller's own default is the DNS TTL, 30 s)
   */
  drainSeconds?: number;
  /** serviceDiscovery.ttl of the generated config. @default 30 */
  dnsTtl?: number;
  /** cloud.local.agentCommand of the generated config. */
  agentCommand?: string[];
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

let nextRange = 0;

/** A controller on the local cloud, for one test. */
export class LocalCloud {
  #controller?: Deno.ChildProcess;
  #log?: Deno.FsFile;
  /** Connections that trust the controller's CA, made once client.yaml names one. */
  #http?: { ca: string; client: Deno.HttpClient };
  private constructor(
    readonly home: string,
    readonly port: number,
    readonly config: string,
    /** The bridge of its namespaced nodes, when they have namespaces (root). */
    readonly bridge?: string,
    /** The first address of the bridge (the host, as nodes see it), when nodes have namespaces. */
    readonly gateway?: string,
  ) {}

  /** Whether nodes have their own namespaces and firewalls here. */
  get netns(): boolean {
    return this.bridge !== undefined;
  }

  /** Creates a home directory and starts the controller. */
  static async start(opts: LocalCloudOptions = {}): Promise<LocalCloud> {
    const home = await Deno.makeTempDir({ prefix: "milpa-e2e-" });
    // Each test cloud gets its own bridge and range (namespaces as root, else loopback), so
    // that it never collides with another test or a running controller.
    const n = (Deno.pid + nextRange++) % 250 + 1;
    const bridge = `me${crypto.randomUUID().slice(0, 6)}`;
    const isRoot = Deno.uid() === 0 && !opts.serverYml;
    const local = isRoot
      ? `    network: netns\n    bridge: ${bridge}\n    addressRange: 10.251.${n}.0/24\n`
      : `    network: host\n    addressRange: 127.${80 + (Deno.pid % 40)}.${n}.0/24\n`;
    const gateway = isRoot ? `10.251.${n}.1` : undefined;
    const config = `${home}/server.yml`;
    const agent = opts.agentCommand
      ? `    agentCommand: ${JSON.stringify(opts.agentCommand)}\n`
      : "";
    const discovery = `serviceDiscovery:\n  ttl: ${opts.dnsTtl ?? 30}\n  drainSeconds: ${
      opts.drainSeconds ?? 2
    }\n`;
    await Deno.writeTextFile(
      config,
      opts.serverYml ??
        `clusterName: e2e\ncloud:\n  local:\n${local}${agent}${discovery}${
          opts.extraYml?.({ gateway }) ?? ""
        }`,
    );
    const cloud = new LocalCloud(home, freePort(), config, isRoot ? bridge : undefined, gateway);
    try {
      await cloud.startController();
    } catch (e) {
      // Nothing is left behind by a controller that did not start: its process, network, home.
      await cloud.close();
      throw e;
    }
    return cloud;
  }

  /** The controller's log so far. */
  async controllerLog(): Promise<string> {
    return await Deno.readTextFile(`${this.home}/controller.log`).catch(() => "");
  }

  /** Starts (or restarts) the controller and waits until it serves. */
  async startController(): Promise<void> {
    this.#log = await Deno.open(`${this.home}/controller.log`, {
      append: true,
      create: true,
      write: true,
    });
    this.#controller = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", CONFIG, `${ROOT}main.ts`, "--config", this.config],
      env: { MILPA_HOME: this.home, MILPA_LISTEN: `127.0.0.1:${this.port}`, NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    void this.#pump(this.#controller);
    let exited = false;
    this.#controller.status.then(() => exited = true);
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        // client.yaml is written once the controller serves (a restart finds the last one).
        const r = await this.fetch("/healthz");
        await r.body?.cancel();
        if (r.ok) return;
      } catch { /* not up yet */ }
      if (exited || Date.now() > deadline) {
        // Its last words reach the log once its output is drained.
        if (exited) await new Promise((r) => setTimeout(r, 100));
        throw new Error(`controller did not start:\n${await this.controllerLog()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #pump(child: Deno.ChildProcess): Promise<void> {
    const log = this.#log!;
    const copy = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s) await log.write(chunk).catch(() => {});
    };
    await Promise.all([copy(child.stdout), copy(child.stderr)]).catch(() => {});
  }

  /** Kills the controller with SIGKILL (agents keep running). */
  async killController(): Promise<void> {
    const c = this.#controller;
    if (!c) return;
    this.#controller = undefined;
    try {
      c.kill("SIGKILL");
    } catch { /* already gone */ }
    await c.status;
  }

  /** Stops the controller with SIGTERM and waits for it. */
  async stopController(): Promise<void> {
    const c = this.#controller;
    if (!c) return;
    this.#controller = undefined;
    try {
      c.kill("SIGTERM");
    } catch { /* already gone */ }
    await c.status;
  }

  /** Runs milpactl with this cloud's MILPA_HOME. */
  milpactl(...args: string[]): Promise<CliResult> {
    return runMilpactl({ env: { MILPA_HOME: this.home } }, ...args);
  }

  /** Like milpactl(), but throws unless it exits 0. */
  async ok(...args: string[]): Promise<string> {
    const r = await this.milpactl(...args);
    if (r.code !== 0) {
      throw new Error(`milpactl ${args.join(" ")} exited ${r.code}:\n${r.stderr}${r.stdout}`);
    }
    return r.stdout;
  }

  /** The object as JSON. */
  async getJson<T = Record<string, unknown>>(kind: string, name?: string): Promise<T> {
    return JSON.parse(await this.ok("get", kind, ...(name ? [name] : []), "-o", "json")) as T;
  }

  /** What client.yaml says: the endpoint (https://127.0.0.1:port), token and CA. */
  async clientConfig(): Promise<
    { endpoint: string; token: string; certificateAuthority?: string }
  > {
    return parseYaml(await Deno.readTextFile(`${this.home}/client.yaml`));
  }

  /** $MILPA_HOME/ca.crt: the controller's CA, as curl and browsers take it. */
  get caFile(): string {
    return `${this.home}/ca.crt`;
  }

  /** A request to the controller at `path`, as client.yaml says (no token unless in `init`). */
  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const { endpoint, certificateAuthority: ca } = await this.clientConfig();
    if (ca && this.#http?.ca !== ca) {
      this.#http?.client.close();
      this.#http = { ca, client: Deno.createHttpClient({ caCerts: [ca] }) };
    }
    return await fetch(`${endpoint}${path}`, ca ? { ...init, client: this.#http!.client } : init);
  }

  /** An authenticated API request to the controller (for tight polling; milpactl is slower). */
  async api<T = unknown>(path: string): Promise<T> {
    const { token } = await this.clientConfig();
    const r = await this.fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    if (!r.ok) throw new Error(`GET ${path}: ${r.status} ${await r.text()}`);
    return await r.json() as T;
  }

  /** Polls `check` every 100 ms until it returns a value. */
  async eventually<T>(
    check: () => Promise<T | undefined | false>,
    what: string,
    timeoutMs = 30_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = await check();
        if (v !== undefined && v !== false) return v as T;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}${last ? `: ${last}` : ""}\n${await this.controllerLog()}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Pids of the live agent processes of this cloud. */
  async agentPids(): Promise<number[]> {
    const pids: number[] = [];
    const dir = `${this.home}/local/instances`;
    try {
      for await (const e of Deno.readDir(dir)) {
        try {
          const rec = JSON.parse(await Deno.readTextFile(`${dir}/${e.name}/instance.json`));
          if (rec.pid && alive(rec.pid)) pids.push(rec.pid);
        } catch { /* being written or removed */ }
      }
    } catch { /* no instances yet */ }
    return pids;
  }

  /** The agents and every process of their process groups (their units). */
  async nodeProcesses(): Promise<number[]> {
    const groups = new Set(await this.agentPids());
    const out: number[] = [];
    for await (const e of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
        const pgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
        if (groups.has(pgid)) out.push(Number(e.name));
      } catch { /* gone */ }
    }
    return out.sort((a, b) => a - b);
  }

  /** Every process whose environment or command line mentions this cloud's home. */
  async processesOfHome(): Promise<number[]> {
    const out: number[] = [];
    for await (const e of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(e.name) || Number(e.name) === Deno.pid) continue;
      try {
        const cmd = await Deno.readTextFile(`/proc/${e.name}/cmdline`);
        const env = await Deno.readTextFile(`/proc/${e.name}/environ`).catch(() => "");
        if (cmd.includes(this.home) || env.includes(this.home)) out.push(Number(e.name));
      } catch { /* gone */ }
    }
    return out;
  }

  /** Stops the controller and kills every agent and unit it left, then removes the home. */
  async close(): Promise<void> {
    await this.stopController();
    for (const pid of await this.agentPids()) {
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch { /* gone */ }
    }
    for (const pid of await this.processesOfHome()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    this.#log?.close();
    this.#http?.client.close();
    this.#http = undefined;
    if (this.bridge) await this.#removeNetwork();
    await Deno.remove(this.home, { recursive: true }).catch(() => {});
  }

  /** Deletes the namespaces of instances left behind and the bridge. */
  async #removeNetwork(): Promise<void> {
    const quiet = (args: string[]) =>
      new Deno.Command(args[0], { args: args.slice(1), stdout: "null", stderr: "null" }).output()
        .catch(() => {});
    try {
      for await (const e of Deno.readDir(`${this.home}/local/instances`)) {
        await quiet(["ip", "netns", "del", `milpa-${e.name}`]);
        await Deno.remove(`/etc/netns/milpa-${e.name}`, { recursive: true }).catch(() => {});
      }
    } catch { /* no instances */ }
    await quiet(["ip", "link", "del", this.bridge!]);
  }
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}
