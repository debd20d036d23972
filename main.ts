/**
 * The Milpa controller: `deno task start [--config server.yml]`.
 *
 * Composition root: load config → open KV → build the cloud provider → start the root
 * supervisor → serve the API. State lives in MILPA_HOME (default ./.milpa); on first
 * start the controller writes $MILPA_HOME/client.yaml for milpactl, and (unless
 * `tls.enabled: false`) its CA and server certificate (api/pki.ts).
 */
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { SimAgents } from "./agent/sim_agent.ts";
import { startController } from "./controller.ts";
import { ControllerPki } from "./api/pki.ts";
import { isLoopbackHost } from "./api/tls_names.ts";
import {
  type IgnoredField,
  ignoredFields,
  resolveConfig,
  type ServerConfig,
} from "./model/config.ts";
import { MilpaError, ValidationError } from "./model/errors.ts";
import { log, LOG_LEVELS, type LogLevel, parseLogLevel } from "./model/log.ts";

const USAGE = `Usage: deno task start [--config FILE]

Starts the Milpa controller. With no --config it runs the embedded local cloud, where
each node is an agent process on this machine. The config picks one cloud:
  cloud: {local: {}}   the embedded local cloud (the default)
  cloud: {aws: {...}}  EC2 instances (docs/aws.md)
  cloud: {sim: {}}     a simulated cloud in this process: nodes that run nothing, to
                       rehearse thousands of pods (docs/tutorial-files/sim.yml)
It serves https with its own CA, made on first start: $MILPA_HOME/ca.crt (curl --cacert,
browsers); milpactl finds it in $MILPA_HOME/client.yaml. tls.enabled: false in the config
serves plain http.

Options:
  --config FILE        server.yml (see docs/configuration.md)
  --log-level LEVEL    debug, info (the default), warn or error; debug adds stack traces
  -h, --help           this help

Environment:
  MILPA_HOME      state directory (default ./.milpa)
  MILPA_LISTEN    API address host:port (default 127.0.0.1:54555), served over https
  MILPA_KV        Deno KV location: a file path or a KV Connect URL (default $MILPA_HOME/state.kv)
  MILPA_LOG_LEVEL like --log-level (the flag wins; both win over logLevel in the config)`;

async function loadConfigFile(
  path: string | undefined,
): Promise<{ config: ServerConfig; ignored: IgnoredField[] }> {
  if (!path) return { config: resolveConfig({}), ignored: [] };
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new MilpaError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new ValidationError(`${path} is not valid YAML: ${(e as Error).message}`);
  }
  const config = resolveConfig(raw, path);
  return { config, ignored: ignoredFields(raw, config) };
}

/** A --log-level or MILPA_LOG_LEVEL value, checked. */
function logLevel(text: string, source: string): LogLevel {
  const level = parseLogLevel(text);
  if (!level) {
    throw new MilpaError(`${source}: "${text}" is not a log level (${LOG_LEVELS.join(", ")})`);
  }
  return level;
}

/** The names the server certificate carries besides loopback and the listen address. */
function certificateNames(config: ServerConfig): string[] {
  const nodesURL = config.nodes.controllerURL;
  return [...config.tls.subjectAltNames, ...(nodesURL ? [new URL(nodesURL).hostname] : [])];
}

function parseArgs(args: string[]): { config?: string; logLevel?: LogLevel; help: boolean } {
  const out: { config?: string; logLevel?: LogLevel; help: boolean } = { help: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-h" || a === "--help") out.help = true;
    else if (a === "--config") out.config = args[++i];
    else if (a.startsWith("--config=")) out.config = a.slice("--config=".length);
    else if (a === "--log-level") out.logLevel = logLevel(args[++i] ?? "", "--log-level");
    else if (a.startsWith("--log-level=")) {
      out.logLevel = logLevel(a.slice("--log-level=".length), "--log-level");
    } else throw new MilpaError(`unknown argument "${a}"\n\n${USAGE}`);
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseArgs(Deno.args);
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  const env = Deno.env.get("MILPA_LOG_LEVEL");
  // Flags and the environment count at once, so that the config's own warnings obey them.
  log.level = args.logLevel ?? (env ? logLevel(env, "MILPA_LOG_LEVEL") : "info");
  const { config, ignored } = await loadConfigFile(args.config);
  log.level = args.logLevel ?? (env ? logLevel(env, "MILPA_LOG_LEVEL") : config.logLevel);
  for (const f of ignored) log.warn(`${args.config}: ${f.field} is ignored: ${f.reason}`);
  await Deno.mkdir(Deno.env.get("MILPA_HOME") ?? "./.milpa", { recursive: true, mode: 0o700 });
  const home = await Deno.realPath(Deno.env.get("MILPA_HOME") ?? "./.milpa");
  const listen = Deno.env.get("MILPA_LISTEN") ?? "127.0.0.1:54555";
  const tls = config.tls.enabled
    ? await ControllerPki.open({ home, subjectAltNames: certificateNames(config) })
    : undefined;
  const listenHost = listen.slice(0, listen.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  if (!tls && !isLoopbackHost(listenHost)) {
    log.warn(
      `tls.enabled is false and MILPA_LISTEN (${listen}) is not a loopback address: ` +
        "the API token, node tokens and everything the controller serves cross the network " +
        "in plain text",
    );
  }
  const kv = await Deno.openKv(Deno.env.get("MILPA_KV") ?? `${home}/state.kv`);
  const controller = await startController({
    config,
    kv,
    home,
    listen,
    tls,
    // Agents of the simulated cloud's nodes (cloud.sim), in this process.
    simAgents: (hub, sim) => new SimAgents(hub, { unitStartDelayMs: sim.unitStartDelayMs }),
  });
  const clientConfig = "# written by the Milpa controller; milpactl reads it\n" +
    stringifyYaml({
      endpoint: controller.url,
      token: controller.token,
      ...(tls ? { certificateAuthority: tls.caCertificate } : {}),
    });
  await Deno.writeTextFile(`${home}/client.yaml`, clientConfig, { mode: 0o600 });
  log.info(
    `Milpa controller ${controller.controllerId} listening on ${controller.url} ` +
      `(cloud: ${controller.cloud.name}, cluster: ${config.clusterName}, state: ${home})`,
  );
  log.info(`milpactl finds it through ${home}/client.yaml`);
  if (tls) log.info(`its CA certificate (curl --cacert, browsers): ${home}/ca.crt`);
  log.info(`state machines, live: ${controller.url}/ui (log in with the token in client.yaml)`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      Deno.removeSignalListener("SIGINT", stop);
      Deno.removeSignalListener("SIGTERM", stop);
      log.info("stopping the controller (nodes keep running)...");
      controller.close().then(resolve, resolve);
    };
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  });
  return 0;
}

if (import.meta.main) {
  main().then((code) => {
    if (code !== 0) Deno.exitCode = code;
  }, (e) => {
    // The message says what failed and what to do; the stack is for --log-level debug.
    log.error(e instanceof Error ? e.message : String(e));
    log.debug("the start-up failure, in full", { error: e });
    Deno.exitCode = 1;
  });
}
