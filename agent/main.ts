/**
 * The node agent program: `deno run -A agent/main.ts --config FILE`.
 *
 * Reads the AgentConfig, runs units (as host processes, or from their images in namespaces,
 * per the config's `runtime`) and keeps a WebSocket to the controller.
 * SIGTERM or SIGINT stops every unit (SIGKILL after 10 s) and exits 0. Exit 2: bad arguments
 * or config.
 */
import { controllerMilpactl } from "./milpactl_volume.ts";
import { AGENT_PROTOCOL_VERSION } from "../model/agent_protocol.ts";
import { NodeAgent } from "./agent.ts";
import { loadAgentConfig } from "./config.ts";
import { createNodeRuntime } from "./container_support.ts";
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from "./private_files.ts";
import { agentTrust } from "./trust.ts";
import { ControllerLink } from "./ws_client.ts";

const USAGE = "usage: deno run -A agent/main.ts --config FILE";
const SHUTDOWN_GRACE_MS = 10_000;

function configPath(args: string[]): string {
  let path: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--config" && i + 1 < args.length) path = args[++i];
    else if (arg.startsWith("--config=")) path = arg.slice("--config=".length);
    else throw new Error(`unexpected argument "${arg}"`);
  }
  if (!path) throw new Error("--config FILE is required");
  return path;
}

function openLog(logFile: string | undefined): (message: string) => void {
  const encoder = new TextEncoder();
  let file: Deno.FsFile | undefined;
  if (logFile) {
    try {
      file = Deno.openSync(logFile, { append: true, create: true, mode: PRIVATE_FILE_MODE });
    } catch (err) {
      console.error(`milpa-agent: cannot open log file "${logFile}" (${err}); logging to stderr`);
    }
  }
  return (message) => {
    const line = encoder.encode(`${new Date().toISOString()} ${message}\n`);
    try {
      if (file) file.writeSync(line);
      else Deno.stderr.writeSync(line);
    } catch {
      // Nowhere left to report it.
    }
  };
}

async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(USAGE);
    return 0;
  }
  let config;
  try {
    config = await loadAgentConfig(configPath(args));
  } catch (err) {
    console.error(`milpa-agent: ${err instanceof Error ? err.message : err}\n${USAGE}`);
    return 2;
  }
  const log = openLog(config.logFile);
  // A bug in one handler must not take the units' supervisor down with it.
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    log(`unhandled error: ${event.reason instanceof Error ? event.reason.stack : event.reason}`);
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    log(`uncaught error: ${event.error instanceof Error ? event.error.stack : event.message}`);
  });
  try {
    await Deno.mkdir(config.dataDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (err) {
    log(
      `cannot create data directory "${config.dataDir}": ${
        err instanceof Error ? err.message : err
      }`,
    );
    return 1;
  }
  const trust = await agentTrust(config.caCertificate, (name) => Deno.env.get(name));
  if (trust.problem) {
    log(
      `warning: the controller connection trusts more than the controller's CA (${trust.problem}); ` +
        "start the agent with DENO_TLS_CA_STORE=system and SSL_CERT_FILE=<the CA file>",
    );
  }
  if (trust.registryProblem) log(`warning: ${trust.registryProblem}`);
  const link = new ControllerLink({
    controllerURL: config.controllerURL,
    nodeName: config.nodeName,
    token: config.token,
    caCertificate: config.caCertificate,
    log,
  });
  const node = await createNodeRuntime({
    mode: config.runtime,
    dataDir: config.dataDir,
    imageDir: config.imageDir,
    insecureRegistries: config.insecureRegistries,
    registryProxy: config.registryProxy
      ? { url: config.registryProxy, username: config.nodeName, password: config.token }
      : undefined,
    registryCaCerts: trust.registryCaCerts,
    log,
  });
  log(
    node.containerRuntime
      ? `runtime "${config.runtime}": image units run with ${node.containerRuntime}`
      : `runtime "${config.runtime}": image units cannot run here${
        node.reason ? ` (${node.reason})` : ""
      }; units run as host processes`,
  );
  const agent = new NodeAgent({
    nodeName: config.nodeName,
    dataDir: config.dataDir,
    podIP: config.podIP,
    runtime: node.runtime,
    containerRuntime: node.containerRuntime,
    milpactl: controllerMilpactl(config),
    send: link.send,
    dialStream: (id) => link.dialStream(id),
    fetchPackage: link.fetchPackage,
    log,
  });
  log(
    `milpa agent for node "${config.nodeName}" (protocol ${AGENT_PROTOCOL_VERSION}, pid ${Deno.pid}), ` +
      `controller ${config.controllerURL}, data in ${config.dataDir}` +
      (config.registryProxy ? `, registries through ${config.registryProxy}` : ""),
  );
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (sig: Deno.Signal) => () => {
      if (stopping) return log(`${sig} again; still stopping units`);
      stopping = true;
      log(`${sig}: stopping units`);
      agent.stop(SHUTDOWN_GRACE_MS)
        .catch((err) => log(`stopping units: ${err}`))
        .then(() => link.close())
        .catch((err) => log(`closing the connection: ${err}`))
        .then(() => {
          log("stopped");
          resolve(0);
        });
    };
    Deno.addSignalListener("SIGTERM", onSignal("SIGTERM"));
    Deno.addSignalListener("SIGINT", onSignal("SIGINT"));
  });
  link.start(agent);
  return await stopped;
}

Deno.exit(await main(Deno.args));
