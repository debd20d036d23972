/**
 * The user-data of a Milpa node on AWS: a `#cloud-config` for a plain Debian or Ubuntu AMI
 * (cloud-init, curl, sha256sum and python3 preinstalled) that writes the agent's config to
 * `/etc/milpa/agent.json` and the controller's CA to `/etc/milpa/ca.crt`, installs Deno,
 * fetches the bundled agent from the controller (`GET /agent/v1/agent.js`, with the node's
 * token read from a 0600 file, trusting that CA alone), checks it against the config's `agentSha256` and only then
 * runs it as a systemd service that trusts that CA alone too. Any step failing ends the boot
 * script there: the agent never starts, and the controller replaces the node after
 * `nodes.bootTimeout`.
 */
import { parse, stringify } from "yaml";
import type { AgentConfig } from "../../model/agent_protocol.ts";
import { agentTrustVariables, EXTRA_CA_VARIABLES } from "../../model/agent_trust.ts";
import { ValidationError } from "../../model/errors.ts";

/** The Deno release nodes install. */
export const NODE_DENO_VERSION = "2.9.6";

/** AWS refuses user-data over 16 KiB; Milpa kept it under 16,000 bytes. */
export const MAX_USER_DATA_BYTES = 16_000;

/** Where the agent's config lands on the node. */
export const AGENT_CONFIG_PATH = "/etc/milpa/agent.json";

/** Where the controller's CA lands on the node. */
export const CA_PATH = "/etc/milpa/ca.crt";

/** Where the fetched agent program lands on the node. */
export const AGENT_PATH = "/opt/milpa/agent.js";

/** The boot script, run once by cloud-init (root only: it names the headers file). */
export const BOOT_SCRIPT_PATH = "/etc/milpa/boot.sh";

/**
 * The headers the boot script's curl sends (`-H @file`): the node's token stays out of every
 * process's argv, where any user of the node could read it in `ps`.
 */
export const FETCH_HEADERS_PATH = "/etc/milpa/agent-fetch.headers";

/** The agent's systemd unit; with a CA, Deno's root store is that file alone. */
function unit(withCa: boolean): string {
  const trust = withCa
    ? Object.entries(agentTrustVariables(CA_PATH)).map(([k, v]) => `Environment=${k}=${v}\n`)
      .join("") + `UnsetEnvironment=${EXTRA_CA_VARIABLES.join(" ")}\n`
    : "";
  return `[Unit]
Description=Milpa node agent
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/deno run -A --no-prompt ${AGENT_PATH} --config ${AGENT_CONFIG_PATH}
${trust}Restart=always
RestartSec=2
KillMode=mixed

[Install]
WantedBy=multi-user.target
`;
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

/**
 * The cloud-config text for a node; throws when it would exceed MAX_USER_DATA_BYTES. `user` (the
 * keys of `nodes.cloudInitFile`) adds its keys; its `write_files` and `runcmd` come before
 * Milpa's own, so that they can prepare the machine and cannot replace the agent's files.
 */
export function cloudConfig(agent: AgentConfig, user: Record<string, unknown> = {}): string {
  const url = agent.controllerURL.replace(/\/$/, "");
  const fetchAgent = [
    "curl -fsSL --retry 20 --retry-delay 3 --retry-all-errors",
    // --capath: a directory without hashed certificates, or Debian's curl also trusts /etc/ssl/certs.
    ...(agent.caCertificate ? [`--cacert ${CA_PATH} --capath /etc/milpa`] : []),
    `-H @${FETCH_HEADERS_PATH}`,
    `${shellQuote(`${url}/agent/v1/agent.js`)} -o ${AGENT_PATH}`,
  ].join(" ");
  const checkAgent = agent.agentSha256
    ? [
      `echo ${shellQuote(`${agent.agentSha256}  ${AGENT_PATH}`)} | sha256sum -c - || ` +
      `{ echo "milpa: ${AGENT_PATH} is not the program the controller meant; not starting it" >&2; ` +
      `rm -f ${AGENT_PATH}; exit 1; }`,
    ]
    : [];
  const denoZip =
    `https://dl.deno.land/release/v${NODE_DENO_VERSION}/deno-x86_64-unknown-linux-gnu.zip`;
  // One script under `sh -e`: cloud-init runs every runcmd entry even when one before failed.
  const boot = [
    `curl -fsSL --retry 10 ${denoZip} -o /tmp/deno.zip`,
    "python3 -m zipfile -e /tmp/deno.zip /usr/local/bin/",
    "chmod 0755 /usr/local/bin/deno",
    "mkdir -p /opt/milpa /var/lib/milpa",
    fetchAgent,
    ...checkAgent,
    "systemctl daemon-reload",
    "systemctl enable --now milpa-agent.service",
  ].join("\n");
  const doc = {
    ...user,
    write_files: [
      ...(user.write_files as unknown[] ?? []),
      {
        path: AGENT_CONFIG_PATH,
        permissions: "0600",
        content: JSON.stringify({ dataDir: "/var/lib/milpa", ...agent }, null, 2) + "\n",
      },
      ...(agent.caCertificate
        ? [{ path: CA_PATH, permissions: "0644", content: agent.caCertificate }]
        : []),
      {
        path: FETCH_HEADERS_PATH,
        permissions: "0600",
        content: `Authorization: Bearer ${agent.token}\nX-Milpa-Node: ${agent.nodeName}\n`,
      },
      { path: BOOT_SCRIPT_PATH, permissions: "0700", content: `${boot}\n` },
      {
        path: "/etc/systemd/system/milpa-agent.service",
        permissions: "0644",
        content: unit(agent.caCertificate !== undefined),
      },
    ],
    runcmd: [...(user.runcmd as unknown[] ?? []), ["sh", "-e", BOOT_SCRIPT_PATH]],
  };
  const text = `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
  const size = new TextEncoder().encode(text).length;
  if (size > MAX_USER_DATA_BYTES) {
    throw new Error(`node user-data is ${size} bytes; AWS takes at most ${MAX_USER_DATA_BYTES}`);
  }
  return text;
}

/** The content of a file a node's user-data writes (`write_files`), if it writes `path`. */
export function writtenFile(userData: string, path: string): string | undefined {
  const doc = parse(userData) as { write_files?: { path: string; content: string }[] } | null;
  return doc?.write_files?.find((f) => f.path === path)?.content;
}

/** The agent config a node's user-data carries (what a test harness playing the node reads). */
export function agentConfigOf(userData: string): AgentConfig | undefined {
  const file = writtenFile(userData, AGENT_CONFIG_PATH);
  return file === undefined ? undefined : JSON.parse(file) as AgentConfig;
}

/**
 * The keys of a `#cloud-config` file (`nodes.cloudInitFile`) for {@linkcode cloudConfig}: a YAML
 * mapping, whose `write_files` and `runcmd`, when there, are lists. Throws a ValidationError
 * naming the field when the file cannot be read or is not such a file.
 */
export async function readCloudInitFile(path: string): Promise<Record<string, unknown>> {
  const bad = (why: string) =>
    new ValidationError(`nodes.cloudInitFile: ${path} ${why}`, [
      { field: "nodes.cloudInitFile", message: why, value: path },
    ]);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw bad(`cannot be read: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw bad(`is not YAML: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw bad("is not a #cloud-config mapping");
  for (const key of ["write_files", "runcmd"]) {
    const v = (doc as Record<string, unknown>)[key];
    if (v !== undefined && v !== null && !Array.isArray(v)) {
      throw bad(`has a ${key} that is not a list`);
    }
  }
  const { write_files, runcmd, ...rest } = doc as Record<string, unknown>;
  return { ...rest, ...(write_files ? { write_files } : {}), ...(runcmd ? { runcmd } : {}) };
}
