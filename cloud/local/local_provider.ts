/**
 * The embedded local cloud: a node is a real agent process on this machine.
 *
 * Each instance has a directory `<home>/instances/<id>/` holding `instance.json` (the
 * record, written before the agent starts), `agent.json` (the agent's config), `ca.crt` (the
 * controller's CA, when it serves https: the agent is started to trust it alone), the agent's
 * log, its stderr (`agent.stderr`: what a command that fails before it can log says) and its
 * data. The instance id is derived from the controller id and the client token, so a repeated
 * launch finds the first one. Agents run detached in their own session, so they and their
 * units outlive a controller crash, as real machines would; terminating an instance kills the
 * agent's whole process group. An agent that exits on its own is reported to
 * `onInstanceExit` listeners at once, when this process started it.
 */
import { CapacityError } from "../../model/errors.ts";
import { listenError } from "../../model/listen_error.ts";
import type { LogLevel } from "../../model/log.ts";
import type { AgentConfig } from "../../model/agent_protocol.ts";
import { agentTrustEnv } from "../../model/agent_trust.ts";
import type {
  CloudProvider,
  IngressRule,
  Instance,
  InstanceExit,
  LaunchRequest,
  LoadBalancerSpec,
  LoadBalancerState,
  ServiceDnsPort,
} from "../provider.ts";
import { allocate } from "./addresses.ts";
import { DnsZone } from "./dns_records.ts";
import { DnsServer } from "./dns_server.ts";
import { HostNetwork } from "./host_network.ts";
import { LocalServices } from "./local_services.ts";
import { createNodeNetwork, DEFAULT_HOST_RANGE, type NodeNetwork } from "./network.ts";
import { checkRangeFree, ownNetworkFix } from "./own_network.ts";
import { PullProxy } from "./pull_proxy.ts";

/** How to run the local cloud. */
export interface LocalProviderOptions {
  /** Directory for instance records: `$MILPA_HOME/local`. */
  home: string;
  controllerId: string;
  /** Addresses for nodes on the host network (when no `network` is given). @default "127.77.0.0/16" */
  addressRange?: string;
  /** Command that starts an agent; `--config <file>` is appended. */
  agentCommand?: string[];
  /** Grace period between SIGTERM and SIGKILL on terminate. @default 5000 */
  terminateGraceMs?: number;
  /** How nodes are networked. @default the host network over `addressRange` */
  network?: NodeNetwork;
  /** The cluster's DNS zone. @default a zone for cluster "milpa", served by nobody */
  zone?: DnsZone;
  /** Released on close(). */
  dnsServer?: DnsServer;
  /** Registry proxy for the nodes: its URL goes into every new agent.json. Closed on close(). */
  registryProxy?: PullProxy;
  /** Where provider messages go, at `info` unless a level is given. */
  log?: (message: string, level?: LogLevel) => void;
}

/** What `LocalProvider.create` sets up from the configuration. */
export interface LocalCloudSetup {
  home: string;
  controllerId: string;
  clusterName: string;
  /** DNS TTL of service records. */
  ttl: number;
  /** "auto" uses network namespaces when it can (root, Linux, ip, nft). @default "auto" */
  network?: "auto" | "netns" | "host";
  addressRange?: string;
  bridge?: string;
  agentCommand?: string[];
  /** Runs the registry proxy for nodes in namespaces; without it they reach only the gateway. */
  registryProxy?: RegistryProxySetup;
  /** Where provider messages go, at `info` unless a level is given. */
  log?: (message: string, level?: LogLevel) => void;
}

/**
 * How the registry proxy (pull_proxy.ts) is run on the gateway for nodes in namespaces. Agents
 * keep its URL in their config and outlive the controller, so its port must not change.
 */
export interface RegistryProxySetup {
  /** Whether `token` is node `nodeName`'s token. */
  authorize(nodeName: string, token: string): Promise<boolean>;
  /**
   * Returns the port kept for the proxy, or keeps and returns `pick()` (a free port) the first
   * time. @default a new free port on every start
   */
  rememberPort?(pick: () => number): Promise<number>;
  /**
   * The controller's own ports (it listens on them on the gateway too): the proxy neither takes
   * them nor connects to them, on any address.
   */
  reservedPorts?: number[];
  /** Loopback ports of registries the proxy may connect to. @default [5000] */
  loopbackPorts?: number[];
}

/** The record of one local instance. */
interface InstanceRecord {
  id: string;
  clientToken: string;
  controllerId: string;
  nodeName: string;
  instanceType: string;
  spot: boolean;
  address: string;
  pid?: number;
  launchedAt: number;
}

/**
 * Runs `$2...` with its stderr appended to file `$1`: Deno.Command cannot redirect to a file,
 * and a pipe would tie the agent to the controller. `exec` keeps the pid (the agent's, and its
 * process group's) through the network prefix to the agent itself.
 */
const STDERR_TO_FILE = 'f=$1; shift; exec 2>>"$f"; exec "$@"';

/** The controller's CA beside a node's agent.json, when the controller serves https. */
export const CA_FILE = "ca.crt";

/** How much of the agent's stderr and log an exit reason quotes. */
const TAIL = { bytes: 4096, lines: 5, lineChars: 300 };

/** Where the agent's stderr file and log ended when it was started: its own lines come after. */
interface LogOffsets {
  stderr: number;
  log: number;
}

/** The default agent command: this checkout's agent under the running Deno. */
export function defaultAgentCommand(): string[] {
  const root = new URL("../../", import.meta.url);
  return [
    Deno.execPath(),
    "run",
    "-A",
    "--no-prompt",
    "--config",
    new URL("deno.json", root).pathname,
    new URL("agent/main.ts", root).pathname,
  ];
}

async function sha256Hex(s: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether `pid` is alive and is the agent started with `configPath`. */
/** Whether process `pid` exists and is not a zombie. */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

async function isAgent(pid: number | undefined, configPath: string): Promise<boolean> {
  if (!pid) return false;
  try {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return cmdline.split("\0").includes(configPath) && await alive(pid);
  } catch {
    return false;
  }
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch {
    return 0;
  }
}

/** The last lines written to `path` after byte `from`, each cut short; [] when none. */
async function linesSince(path: string, from: number): Promise<string[]> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path);
  } catch {
    return [];
  }
  try {
    const size = (await file.stat()).size;
    const start = Math.max(from, size - TAIL.bytes);
    if (size <= start) return [];
    await file.seek(start, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - start);
    let n = 0;
    while (n < buf.length) {
      const read = await file.read(buf.subarray(n));
      if (read === null) break;
      n += read;
    }
    const text = (start > from ? "…" : "") + new TextDecoder().decode(buf.subarray(0, n));
    return text.split("\n").map((l) => l.trim()).filter((l) => l !== "").slice(-TAIL.lines)
      .map((l) => l.length > TAIL.lineChars ? `${l.slice(0, TAIL.lineChars)}…` : l);
  } catch {
    return [];
  } finally {
    file.close();
  }
}

/** `s` as a shell word, quoted only when it needs to be. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * Why an agent stopped, for the node's events: "agent process exited with code 3 (command:
 * <argv> --config <dir>/agent.json); stderr: <lines>; agent.log: <lines>", lines joined by
 * " | ", each part only when the process wrote any since it started.
 */
async function exitReason(
  status: Deno.CommandStatus,
  argv: string[],
  dir: string,
  since: LogOffsets,
): Promise<string> {
  const how = status.signal ? `was killed by ${status.signal}` : `exited with code ${status.code}`;
  const parts = [`agent process ${how} (command: ${argv.map(shellWord).join(" ")})`];
  const stderr = await linesSince(`${dir}/agent.stderr`, since.stderr);
  if (stderr.length) parts.push(`stderr: ${stderr.join(" | ")}`);
  const log = await linesSince(`${dir}/agent.log`, since.log);
  if (log.length) parts.push(`agent.log: ${log.join(" | ")}`);
  return parts.join("; ");
}

function processGroupAlive(pgid: number): boolean {
  try {
    Deno.kill(-pgid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** A cloud whose nodes are agent processes on this machine. */
export class LocalProvider implements CloudProvider {
  readonly name = "local";
  readonly network: NodeNetwork;
  readonly zone: DnsZone;
  readonly #services: LocalServices;
  readonly #dir: string;
  readonly #command: string[];
  readonly #grace: number;
  readonly #exitListeners = new Set<(e: InstanceExit) => void>();
  /** The agents this object spawned and waits on, by instance id: their pids. */
  readonly #watched = new Map<string, number>();
  #lock: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: LocalProviderOptions) {
    const home = options.home.startsWith("/") ? options.home : `${Deno.cwd()}/${options.home}`;
    this.#dir = `${home}/instances`;
    this.network = options.network ??
      new HostNetwork(options.addressRange ?? DEFAULT_HOST_RANGE, "no network was configured");
    this.zone = options.zone ?? new DnsZone({ name: "milpa.local" });
    this.#services = new LocalServices(this.network, this.zone, options.log);
    this.#command = options.agentCommand ?? defaultAgentCommand();
    this.#grace = options.terminateGraceMs ?? 5000;
  }

  /**
   * Sets up the network (namespaces and a bridge as root, else the host network) and the
   * DNS server for `<clusterName>.local` (on the bridge address, port 53; on the host
   * network, 127.0.0.1 on a free port, which pods cannot use).
   */
  static async create(setup: LocalCloudSetup): Promise<LocalProvider> {
    const log = setup.log ?? (() => {});
    const network = await createNodeNetwork({
      range: setup.addressRange,
      bridge: setup.bridge,
      forceHost: setup.network === "host",
    });
    if (setup.network === "netns" && network.kind !== "netns") {
      throw new Error(`cloud.local.network is netns, but ${network.reason}`);
    }
    // createNodeNetwork's default bridge.
    const fix = ownNetworkFix(setup.bridge ?? "milpa0", network.range);
    if (network.kind === "netns") await checkRangeFree(setup.bridge ?? "milpa0", network.range);
    await network.setUp();
    for (const w of network.warnings) log(w, "warn");
    // On the host network agents reach every registry this machine does: no proxy needed.
    const registryProxy = network.kind === "netns" && setup.registryProxy
      ? await startRegistryProxy(network, setup.registryProxy, (m) => log(`registry proxy: ${m}`))
      : undefined;
    const zone = new DnsZone({
      name: `${setup.clusterName}.local`,
      ttl: setup.ttl,
      nameserverAddress: network.gateway,
    });
    let dnsServer: DnsServer;
    try {
      dnsServer = await DnsServer.start({
        hostname: network.gateway,
        port: network.kind === "netns" ? 53 : 0,
        zone,
        log: (m, level) => log(`dns: ${m}`, level),
      });
    } catch (e) {
      await registryProxy?.close();
      if (network.kind !== "netns") throw e;
      throw listenError(e, {
        what: `the local cloud's DNS server (nodes' resolver, on bridge ${
          setup.bridge ?? "milpa0"
        }'s address)`,
        hostname: network.gateway,
        port: 53,
        fix,
      });
    }
    return new LocalProvider({
      home: setup.home,
      controllerId: setup.controllerId,
      agentCommand: setup.agentCommand,
      network,
      zone,
      dnsServer,
      registryProxy,
      log,
    });
  }

  /** Where nodes reach the controller: the bridge address (namespaces), else the API's own. */
  get agentAddress(): string | undefined {
    return this.network.kind === "netns" ? this.network.gateway : undefined;
  }

  /** Where the DNS server answers, when there is one. */
  get dnsAddress(): { hostname: string; port: number } | undefined {
    return this.options.dnsServer?.addr;
  }

  /** Starts (or finds) the agent process of a node. */
  launch(req: LaunchRequest): Promise<Instance> {
    return this.#serial(() => this.#launch(req));
  }

  async #launch(req: LaunchRequest): Promise<Instance> {
    const id = `i-${
      (await sha256Hex(`${this.options.controllerId}/${req.clientToken}`)).slice(0, 17)
    }`;
    const dir = `${this.#dir}/${id}`;
    let rec = await this.#read(id);
    if (!rec) {
      const used = [
        ...(await this.#records()).map((r) => r.address),
        this.network.gateway,
        ...this.#services.lbAddresses(),
      ];
      let address: string;
      try {
        address = allocate(this.network.range, used);
      } catch (e) {
        throw new CapacityError(`local cloud: ${(e as Error).message}`);
      }
      // The agent's data: the pod's environment (Secret values) and logs; the agent's alone.
      await Deno.mkdir(`${dir}/data`, { recursive: true, mode: 0o700 });
      const agent: AgentConfig = {
        ...req.agent,
        dataDir: `${dir}/data`,
        // One blob cache for every node on this machine: a second pod of an image pulls nothing.
        imageDir: `${this.#dir.slice(0, -"/instances".length)}/images`,
        podIP: address,
        logFile: `${dir}/agent.log`,
        ...(this.options.registryProxy ? { registryProxy: this.options.registryProxy.url } : {}),
      };
      await Deno.writeTextFile(`${dir}/agent.json`, JSON.stringify(agent, null, 2), {
        mode: 0o600,
      });
      if (agent.caCertificate) await Deno.writeTextFile(`${dir}/${CA_FILE}`, agent.caCertificate);
      rec = {
        id,
        clientToken: req.clientToken,
        controllerId: this.options.controllerId,
        nodeName: req.nodeName,
        instanceType: req.instanceType,
        spot: req.spot,
        address,
        launchedAt: Date.now(),
      };
      await this.#write(rec);
    }
    // A child this provider started and that has not exited is the agent, even before it has
    // exec'd (its /proc cmdline is still this process's then); others are judged by /proc.
    const running = rec.pid !== undefined && this.#watched.get(id) === rec.pid &&
      await alive(rec.pid);
    if (!running && !(await isAgent(rec.pid, `${dir}/agent.json`))) {
      const zone = this.zone.name;
      const prefix = await this.network.attach(id, rec.address, {
        nameserver: this.network.gateway,
        search: [`default.${zone}`, zone],
      }, nodeHostname(rec.address));
      const command = [...this.#command, "--config", `${dir}/agent.json`];
      const since = {
        stderr: await sizeOf(`${dir}/agent.stderr`),
        log: await sizeOf(`${dir}/agent.log`),
      };
      // With a CA, the agent trusts it alone (model/agent_trust.ts).
      const trustsCa = await sizeOf(`${dir}/${CA_FILE}`) > 0;
      const child = new Deno.Command("sh", {
        args: ["-c", STDERR_TO_FILE, "milpa-agent", `${dir}/agent.stderr`, ...prefix, ...command],
        ...(trustsCa
          ? { env: agentTrustEnv(Deno.env.toObject(), `${dir}/${CA_FILE}`), clearEnv: true }
          : {}),
        cwd: dir,
        stdin: "null",
        stdout: "null",
        stderr: "null",
        detached: true,
      }).spawn();
      // Waiting on the agent must not keep the controller alive.
      child.unref();
      this.#watch(rec, child, command, since);
      rec.pid = child.pid;
      await this.#write(rec);
    }
    return this.#toInstance(rec);
  }

  /** Kills the agent and its units (the whole process group) and removes the instance. */
  async terminate(instanceId: string): Promise<void> {
    // Its exit is this call's doing: nobody is told.
    this.#watched.delete(instanceId);
    const rec = await this.#read(instanceId);
    if (!rec) return;
    if (rec.pid && processGroupAlive(rec.pid)) {
      const term = () => {
        try {
          Deno.kill(-rec.pid!, "SIGTERM");
        } catch { /* gone meanwhile */ }
      };
      term();
      const deadline = Date.now() + this.#grace;
      // Again every second: a process still starting up may have missed it (a shell that
      // forks as the signal comes, a program that sets its handler later), as `kill` repeats.
      for (let n = 1; processGroupAlive(rec.pid) && Date.now() < deadline; n++) {
        await new Promise((r) => setTimeout(r, 50));
        if (n % 20 === 0) term();
      }
      if (processGroupAlive(rec.pid)) {
        try {
          Deno.kill(-rec.pid, "SIGKILL");
        } catch { /* gone meanwhile */ }
      }
    }
    await this.network.detach(instanceId);
    await Deno.remove(`${this.#dir}/${instanceId}`, { recursive: true }).catch(() => {});
  }

  /**
   * Calls `listener` when an agent this object spawned exits other than through `terminate()`,
   * with a reason naming its exit code or signal, its command and the last lines of its stderr
   * and `agent.log` (see {@linkcode exitReason}). Agents found already running (started before a
   * controller restart) are not this process's children and cannot be waited on: their
   * heartbeats tell. Stops after `close()`.
   */
  onInstanceExit(listener: (e: InstanceExit) => void): () => void {
    this.#exitListeners.add(listener);
    return () => this.#exitListeners.delete(listener);
  }

  /** Tells the exit listeners when `child` exits, unless `terminate()` or `close()` came first. */
  #watch(rec: InstanceRecord, child: Deno.ChildProcess, argv: string[], since: LogOffsets): void {
    const { id, nodeName } = rec;
    const pid = child.pid;
    const watched = () => this.#watched.get(id) === pid;
    this.#watched.set(id, pid);
    child.status.then(async (status) => {
      if (!watched()) return;
      const reason = await exitReason(status, argv, `${this.#dir}/${id}`, since);
      if (!watched()) return;
      this.#watched.delete(id);
      for (const listener of [...this.#exitListeners]) {
        try {
          listener({ instanceId: id, nodeName, reason });
        } catch (e) {
          this.options.log?.(`an instance exit listener failed: ${e}`, "error");
        }
      }
    }).catch(() => {});
  }

  /** Makes `rules` the service's rules on exactly `instances` (nftables in their namespaces). */
  syncFirewall(service: string, rules: IngressRule[], instances: string[]): Promise<void> {
    return this.#services.syncFirewall(service, rules, instances);
  }

  /** Makes the service's records in the zone those of `ports` over `endpoints`. */
  syncDns(
    service: string,
    ports: ServiceDnsPort[],
    endpoints: { pod: string; address: string }[],
  ): Promise<void> {
    return this.#services.syncDns(service, ports, endpoints);
  }

  /** Stops the service's load balancer. */
  removeLoadBalancer(service: string): Promise<void> {
    return this.#services.removeLoadBalancer(service);
  }

  /** Runs the service's load balancer in this process. */
  syncLoadBalancer(
    service: string,
    spec: LoadBalancerSpec,
    backends: { id: string; address: string }[],
  ): Promise<LoadBalancerState> {
    return this.#services.syncLoadBalancer(service, spec, backends);
  }

  /** Removes the service's rules, records and load balancer. */
  deleteService(service: string): Promise<void> {
    return this.#services.deleteService(service);
  }

  /** Services with rules, records or a load balancer. */
  listServices(): Promise<string[]> {
    return this.#services.listServices();
  }

  /** Instances of this controller whose directory still exists. */
  async listInstances(): Promise<Instance[]> {
    return (await this.#records()).filter((r) => r.controllerId === this.options.controllerId).map(
      (r) => this.#toInstance(r),
    );
  }

  /**
   * Stops the load balancers, the DNS server, the registry proxy and the exit listeners' calls;
   * agents keep running.
   */
  async close(): Promise<void> {
    this.#exitListeners.clear();
    this.#watched.clear();
    await this.#services.close();
    await this.options.dnsServer?.close();
    await this.options.registryProxy?.close();
  }

  async #records(): Promise<InstanceRecord[]> {
    const out: InstanceRecord[] = [];
    try {
      for await (const e of Deno.readDir(this.#dir)) {
        const r = e.isDirectory ? await this.#read(e.name) : undefined;
        if (r) out.push(r);
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    return out;
  }

  async #read(id: string): Promise<InstanceRecord | undefined> {
    try {
      return JSON.parse(await Deno.readTextFile(`${this.#dir}/${id}/instance.json`));
    } catch {
      return undefined;
    }
  }

  async #write(rec: InstanceRecord): Promise<void> {
    const path = `${this.#dir}/${rec.id}/instance.json`;
    await Deno.writeTextFile(`${path}.tmp`, JSON.stringify(rec, null, 2));
    await Deno.rename(`${path}.tmp`, path);
  }

  /** The instance of a record; nodes with namespaces also have their hostname as PrivateDNS. */
  #toInstance(r: InstanceRecord): Instance {
    const i = toInstance(r);
    if (this.network.kind === "netns") {
      i.addresses.push({ type: "PrivateDNS", address: nodeHostname(r.address) });
    }
    return i;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#lock.then(fn);
    this.#lock = p.catch(() => {});
    return p;
  }
}

/**
 * Starts the registry proxy on the gateway, for destinations outside the node range, on the
 * port it had before when `setup.rememberPort` keeps one.
 */
export async function startRegistryProxy(
  network: { gateway: string; range: string },
  setup: RegistryProxySetup,
  log?: (message: string) => void,
): Promise<PullProxy> {
  const pick = () => freePort(network.gateway, setup.reservedPorts ?? []);
  const port = setup.rememberPort ? await setup.rememberPort(pick) : pick();
  try {
    return PullProxy.start({
      hostname: network.gateway,
      port,
      nodeRange: network.range,
      authorize: setup.authorize,
      reservedPorts: setup.reservedPorts,
      loopbackPorts: setup.loopbackPorts,
      log,
    });
  } catch (e) {
    if (!setup.rememberPort) throw e;
    throw new Error(
      `${(e as Error).message} (nodes were given this port and keep it in their agent.json)`,
      { cause: e },
    );
  }
}

/** A port of `hostname` nothing listens on, other than `reserved`. */
function freePort(hostname: string, reserved: number[]): number {
  const held: Deno.Listener[] = [];
  try {
    for (;;) {
      const l = Deno.listen({ hostname, port: 0 });
      held.push(l);
      // Kept open until the end, so the next listen gets another port.
      if (!reserved.includes(l.addr.port)) return l.addr.port;
    }
  } finally {
    for (const l of held) l.close();
  }
}

/**
 * A node's hostname, made from its address as EC2 names instances: `ip-198-18-0-2` for
 * 198.18.0.2. Nodes with namespaces run under it (their own UTS namespace); it is in no DNS zone.
 */
export function nodeHostname(address: string): string {
  return `ip-${address.replaceAll(".", "-")}`;
}

function toInstance(r: InstanceRecord): Instance {
  return {
    id: r.id,
    nodeName: r.nodeName,
    instanceType: r.instanceType,
    state: "running",
    spot: r.spot,
    addresses: [{ type: "PrivateIP", address: r.address }],
    launchedAt: r.launchedAt,
  };
}
