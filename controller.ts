/**
 * Assembles a controller: store, cloud, agent hub, supervisor and HTTP API. `main.ts`
 * calls it with the real pieces; tests call it with `:memory:` KV and the sim provider.
 */
import { AgentHub } from "./actors/agent_hub.ts";
import { TransitionRecorder } from "./actors/inspection.ts";
import { Supervisor, type Timings } from "./actors/supervisor.ts";
import { loadCatalog } from "./cloud/catalog.ts";
import { loopbackRegistryPorts } from "./cloud/local/destination_policy.ts";
import { LocalProvider, type RegistryProxySetup } from "./cloud/local/local_provider.ts";
import type { CloudProvider } from "./cloud/provider.ts";
import { randomLaunchFailures, SimProvider, type StartAgent } from "./cloud/sim/sim_provider.ts";
import type { Clock } from "./model/clock.ts";
import { systemClock } from "./model/clock.ts";
import type { ServerConfig, SimCloudConfig } from "./model/config.ts";
import { ActorStore } from "./store/actor_store.ts";
import { flushEvents } from "./store/events.ts";
import { GroupCommitter } from "./store/group_commit.ts";
import { ApiTokenStore } from "./store/api_tokens.ts";
import { SavedLogs } from "./store/log_store.ts";
import { deleteMeta, getOrCreateMeta, randomToken } from "./store/meta_store.ts";
import { NODE_KEY_FILE, NodeCredentials } from "./store/node_credentials.ts";
import { PodCredentials } from "./store/pod_credentials.ts";
import { ObjectStore } from "./store/object_store.ts";
import { SimInstanceStore } from "./store/sim_instances.ts";
import { UnavailableError } from "./model/errors.ts";
import { agentBundleSha256 } from "./api/agent_bundle.ts";
import { apiAuthenticator, createApp, createNodeApp } from "./api/app.ts";
import { ControllerMetrics } from "./api/metrics.ts";
import { toStatus } from "./api/errors.ts";
import { PackageStore } from "./api/packages.ts";
import type { ControllerTls, ServerCertificate } from "./api/pki.ts";
import { setListenerNoDelay } from "./api/tcp_nodelay.ts";
import { hostPort, listening } from "./model/listen_error.ts";
import { log } from "./model/log.ts";
import { holdMemoryReducer } from "./model/memory_reducer.ts";

/** The agents of the simulated cloud's nodes (`agent/sim_agent.ts`'s `SimAgents`). */
export interface SimAgentRunner {
  /** Starts an instance's agent; the returned function stops it. */
  start: StartAgent;
  /** Stops them all (the controller is stopping). */
  close(): void;
}

/** How to start a controller. */
export interface ControllerOptions {
  config: ServerConfig;
  kv: Deno.Kv;
  /** State directory (`MILPA_HOME`); the local cloud keeps its instances under it. */
  home: string;
  /** `host:port` to listen on; port 0 picks a free port. */
  listen: string;
  /**
   * Serve https (the API, the agent channel, the web view) with certificates from this CA, which
   * every node's agent config carries. Without it, plain http.
   */
  tls?: ControllerTls;
  /** A ready cloud provider; by default the one the config names. */
  cloud?: (
    ctx: { controllerId: string; hub: AgentHub; controllerURL: string },
  ) => CloudProvider | Promise<CloudProvider>;
  clock?: Clock;
  timings?: Partial<Timings>;
  /** Where actors' transitions are recorded; by default a new recorder on `clock`. */
  recorder?: TransitionRecorder;
  /** Extra work after the supervisor started but before the API listens. */
  hub?: AgentHub;
  /**
   * Makes the agents of the simulated cloud's nodes, for `cloud.sim` (main.ts passes
   * `SimAgents` from `agent/sim_agent.ts`, which this layer may not import).
   */
  simAgents?: (hub: AgentHub, sim: SimCloudConfig) => SimAgentRunner;
}

/** A running controller. */
export interface Controller {
  url: string;
  token: string;
  controllerId: string;
  store: ObjectStore;
  hub: AgentHub;
  supervisor: Supervisor;
  /** Recent transitions of every actor (served at `/api/v1/actors`). */
  recorder: TransitionRecorder;
  cloud: CloudProvider;
  /** Stops serving and every actor; agents keep running. Closes the KV database unless `keepKv`. */
  close(opts?: { keepKv?: boolean }): Promise<void>;
}

/** A 26-character lowercase base32 id from 16 random bytes, as Milpa's controllerID. */
export function newControllerId(): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let bits = 0, value = 0, out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** Starts a controller and resolves once it is serving. */
export async function startController(opts: ControllerOptions): Promise<Controller> {
  const clock = opts.clock ?? systemClock;
  const store = new ObjectStore(opts.kv, clock);
  const actorStore = new ActorStore(store, opts.kv);
  const apiTokens = new ApiTokenStore(opts.kv);
  const savedLogs = new SavedLogs(opts.kv);
  const controllerId = await getOrCreateMeta(opts.kv, "controllerID", newControllerId);
  const token = await getOrCreateMeta(opts.kv, "apiToken", () => randomToken());
  // Node tokens die with their node, and a KV dump alone makes none (store/node_credentials.ts).
  const nodeCredentials = await NodeCredentials.open({
    store,
    kv: opts.kv,
    keyFile: `${opts.home}/${NODE_KEY_FILE}`,
  });
  // Pods' tokens (pod.elotl.co/milpactl-volume-name) live as long as their pod.
  const podCredentials = await PodCredentials.open({
    store,
    kv: opts.kv,
    keyFile: `${opts.home}/${NODE_KEY_FILE}`,
    clock,
  });
  const nodeToken = (node: string) => nodeCredentials.issue(node);
  const verifyNodeToken = (node: string, t: string) => nodeCredentials.verify(node, t);
  // The secret every node token used to be derived from: it opens nothing now.
  await deleteMeta(opts.kv, "agentSecret");
  const [hostname, portText] = splitHostPort(opts.listen);
  const hub = opts.hub ?? new AgentHub(clock);

  // Listen first (port 0 resolves to a real port) but refuse work until the actors are back.
  let ready = false;
  type Handler = (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response>;
  const starting: Handler = () =>
    Response.json(toStatus(new UnavailableError("the controller is starting; retry in a moment")), {
      status: 503,
    });
  // The user API; on the nodes' own network (agentServer), only what agents need.
  let handler = starting;
  let nodeHandler = starting;
  const scheme = opts.tls ? "https" : "http";
  const listenCert = await opts.tls?.serverCertificate([hostname]);
  const server = listening(() =>
    Deno.serve(
      { hostname, port: Number(portText), onListen: () => {}, ...listenCert },
      (req, info) => handler(req, info),
    ), {
    what: "the API (MILPA_LISTEN)",
    hostname,
    port: Number(portText),
    fix: "Stop the other controller, or give this one another port: " +
      `MILPA_LISTEN=${hostPort(hostname, Number(portText) + 1)}.`,
  });
  const addr = server.addr as Deno.NetAddr;
  const host = addr.hostname === "0.0.0.0" ? "127.0.0.1" : addr.hostname;
  const url = `${scheme}://${host.includes(":") ? `[${host}]` : host}:${addr.port}`;
  let cloud: CloudProvider;
  // The simulated cloud's agents, when the config names it.
  let sim: { provider: SimProvider; agents: SimAgentRunner } | undefined;
  try {
    if (!opts.cloud && opts.config.cloud.sim) {
      sim = await simCloud(opts.config.cloud.sim, opts.kv, hub, opts.simAgents);
    }
    cloud = opts.cloud
      ? await opts.cloud({ controllerId, hub, controllerURL: url })
      : sim
      ? sim.provider
      : await defaultCloud(opts.config, opts.home, controllerId, {
        authorize: verifyNodeToken,
        // Agents keep the proxy's URL in agent.json and outlive restarts: the port is kept.
        rememberPort: async (pick) =>
          Number(await getOrCreateMeta(opts.kv, "registryProxyPort", () => String(pick()))),
        // The API's port: served to agents on the gateway too (below); the proxy never goes there.
        reservedPorts: [addr.port],
      });
  } catch (e) {
    await server.shutdown();
    throw e;
  }
  // Nodes on their own network reach the controller at the cloud's address for them.
  let agentServer: Deno.HttpServer | undefined;
  /** Stops what was started so far, when start-up fails. */
  const abandon = async () => {
    await server.shutdown();
    await agentServer?.shutdown();
    await cloud.close();
    sim?.agents.close();
  };
  let agentURL = opts.config.nodes.controllerURL?.replace(/\/$/, "") ?? url;
  let agentCert: ServerCertificate | undefined;
  try {
    // Exactly the addresses served now: one served no more leaves the certificate.
    agentCert = await opts.tls?.serverCertificate([hostname, cloud.agentAddress ?? ""], "exact");
  } catch (e) {
    await server.shutdown();
    await cloud.close();
    sim?.agents.close();
    throw e;
  }
  if (cloud.agentAddress) {
    try {
      agentServer = listening(() =>
        Deno.serve(
          { hostname: cloud.agentAddress!, port: addr.port, onListen: () => {}, ...agentCert },
          (req, info) => nodeHandler(req, info),
        ), {
        what: "node agents (the cloud's gateway address, at the API's port)",
        hostname: cloud.agentAddress,
        port: addr.port,
        fix: "Give this controller another port (MILPA_LISTEN) or, on the local cloud, a bridge " +
          "and address range of its own (cloud.local.bridge, cloud.local.addressRange).",
      });
    } catch (e) {
      await abandon();
      throw e;
    }
    agentURL = `${scheme}://${cloud.agentAddress}:${addr.port}`;
  }
  if (opts.tls) {
    // Deno leaves Nagle on for TLS connections: 44 ms per response without this.
    const set = setListenerNoDelay(addr.port);
    if (typeof set === "string") {
      log.warn(
        `cannot set TCP_NODELAY on the https listeners (${set}): ` +
          "responses over 500 bytes will each take about 40 ms more",
      );
    }
  }
  const catalog = loadCatalog();
  const recorder = opts.recorder ?? new TransitionRecorder({ clock });
  const committer = GroupCommitter.of(opts.kv);
  const metrics = new ControllerMetrics({ store, clock, kvBacklog: () => committer.backlog() });
  const timeCommit = (seconds: number) => metrics.kvCommit(seconds);
  committer.onCommit = timeCommit;
  const supervisor = new Supervisor({
    catalog,
    store,
    actorStore,
    savedLogs,
    cloud,
    hub,
    clock,
    config: opts.config,
    controllerURL: agentURL,
    caCertificate: opts.tls?.caCertificate,
    agentSha256: agentBundleSha256,
    nodeToken,
    revokeNodeToken: (node) => nodeCredentials.revoke(node),
    podToken: (pod) => podCredentials.issue(pod),
    sweepPodTokens: () => podCredentials.sweep(),
    timings: opts.timings,
    recorder,
    onLaunch: (outcome) => metrics.nodeLaunch(outcome),
    // Counted once the actors are restored (not while: a restart reads every object once).
    restored: (objects) => void metrics.seed(objects),
  });
  try {
    await supervisor.start();
  } catch (e) {
    await abandon();
    throw e;
  }
  // Uploads on their way to a node (`milpactl deploy`); nothing there outlives its request.
  const packages = await PackageStore.open(`${opts.home}/packages`);
  const app = createApp({
    store,
    clock,
    config: opts.config,
    catalog,
    hub,
    token,
    verifyNodeToken,
    cloudName: cloud.name,
    apiTokens,
    savedLogs,
    recorder,
    packages,
    metrics,
  });
  handler = app.fetch;
  nodeHandler = createNodeApp({
    hub,
    verifyNodeToken,
    clock,
    packages,
    userApi: { app, auth: apiAuthenticator({ token, store, clock, apiTokens }) },
  }).fetch;
  ready = true;
  // Heap pages a burst, or a purge of many objects, left committed go back once the process is
  // quiet (model/memory_reducer.ts).
  const releaseReducer = holdMemoryReducer(() => store.objectCount);
  // Agents reach a controller once it serves: the simulated ones too (those of the instances
  // an earlier controller launched, and of those booted while this one started).
  // They arrive over a few turns of the event loop (see startAgents), the API answering meanwhile.
  void sim?.provider.startAgents();
  // A label index in KV that no one read, left by a controller before 2026-12-07: gone in the
  // background (at most a few transactions of 1,000 keys).
  const legacyLabels = store.dropLegacyLabelIndex().then(
    (n) => n > 0 && log.info("deleted the old label index from KV", { keys: n }),
    (e) => log.warn("could not delete the old label index from KV", { error: e }),
  );
  return {
    url,
    token,
    controllerId,
    store,
    hub,
    supervisor,
    recorder,
    cloud,
    async close(o = {}) {
      if (!ready) return;
      ready = false;
      releaseReducer();
      await legacyLabels;
      await supervisor.stop();
      // Open actor streams (the web view's) would keep the server from shutting down.
      recorder.endSubscriptions();
      metrics.close();
      store.closeWatches();
      hub.closeAll();
      await server.shutdown();
      await agentServer?.shutdown();
      await cloud.close();
      sim?.agents.close();
      // Events recorded while stopping, and every write queued, reach KV before it closes.
      await flushEvents(store);
      await committer.flush();
      if (committer.onCommit === timeCommit) committer.onCommit = undefined;
      if (!o.keepKv) opts.kv.close();
    },
  };
}

/**
 * The simulated cloud of `cloud.sim`: instances kept in this KV (they outlive the controller),
 * a simulated agent per node, launches that fail at the configured rate.
 */
async function simCloud(
  config: SimCloudConfig,
  kv: Deno.Kv,
  hub: AgentHub,
  simAgents: ControllerOptions["simAgents"],
): Promise<{ provider: SimProvider; agents: SimAgentRunner }> {
  if (!simAgents) {
    throw new Error(
      "cloud.sim needs simulated agents: startController() takes them as simAgents " +
        "(main.ts passes agent/sim_agent.ts)",
    );
  }
  const agents = simAgents(hub, config);
  const provider = await SimProvider.open({
    store: new SimInstanceStore(kv),
    record: false,
    bootDelayMs: config.bootDelayMs,
    bootJitterMs: config.bootJitterMs,
    failLaunch: randomLaunchFailures(config.launchFailureRate, config.launchFailureKind),
    startAgent: agents.start,
  });
  return { provider, agents };
}

async function defaultCloud(
  config: ServerConfig,
  home: string,
  controllerId: string,
  registryProxy: RegistryProxySetup,
): Promise<CloudProvider> {
  if (config.cloud.aws) {
    // Loaded only when configured: the AWS SDK is large, and the local cloud needs none of it.
    const { createAwsCloud } = await import("./cloud/aws/setup.ts");
    const aws = await createAwsCloud({
      aws: config.cloud.aws,
      nodes: config.nodes,
      controllerId,
      clusterName: config.clusterName,
      ttl: config.serviceDiscovery.ttl,
      log: (m) => log.info(`aws: ${m}`),
    });
    return aws.provider;
  }
  const local = config.cloud.local ?? {};
  return LocalProvider.create({
    home: `${home}/local`,
    controllerId,
    clusterName: config.clusterName,
    ttl: config.serviceDiscovery.ttl,
    network: local.network,
    addressRange: local.addressRange,
    bridge: local.bridge,
    agentCommand: local.agentCommand,
    registryProxy: {
      ...registryProxy,
      loopbackPorts: loopbackRegistryPorts(
        local.registryProxy?.loopbackPorts,
        config.nodes.insecureRegistries,
      ),
    },
    log: (m, level) => log.at(level ?? "info", `local cloud: ${m}`),
  });
}

function splitHostPort(listen: string): [string, string] {
  const i = listen.lastIndexOf(":");
  if (i < 0) throw new Error(`MILPA_LISTEN must be host:port, not "${listen}"`);
  return [listen.slice(0, i).replace(/^\[|\]$/g, ""), listen.slice(i + 1)];
}
