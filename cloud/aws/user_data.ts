/**
 * The user-data of a Milpa node on AWS: a `#cloud-config` for a plain Debian or Ubuntu AMI
 * (cloud-init, curl and python3 preinstalled) that writes the agent's config to
 * `/etc/milpa/agent.json`, installs Deno, fetches the bundled agent from the controller
 * (`GET /agent/v1/agent.js`, with the node's token) and runs it as a systemd service.
 */
import { parse, stringify } from "yaml";
import type { AgentConfig } from "../../model/agent_protocol.ts";

/** The Deno release nodes install. */
export const NODE_DENO_VERSION = "2.9.6";

/** AWS refuses user-data over 16 KiB; Milpa kept it under 16,000 bytes. */
export const MAX_USER_DATA_BYTES = 16_000;

/** Where the agent's config lands on the node. */
export const AGENT_CONFIG_PATH = "/etc/milpa/agent.json";

const UNIT = `[Unit]
Description=Milpa node agent
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=/usr/local/bin/deno run -A --no-prompt /opt/milpa/agent.js --config ${AGENT_CONFIG_PATH}
Restart=always
RestartSec=2
KillMode=mixed

[Install]
WantedBy=multi-user.target
`;

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}

/** The cloud-config text for a node; throws when it would exceed MAX_USER_DATA_BYTES. */
export function cloudConfig(agent: AgentConfig): string {
  const url = agent.controllerURL.replace(/\/$/, "");
  const fetchAgent = [
    "curl -fsSL --retry 20 --retry-delay 3 --retry-all-errors",
    ...(agent.caCertificate ? ["--cacert /etc/milpa/ca.crt"] : []),
    `-H ${shellQuote(`Authorization: Bearer ${agent.token}`)}`,
    `-H ${shellQuote(`X-Milpa-Node: ${agent.nodeName}`)}`,
    `${shellQuote(`${url}/agent/v1/agent.js`)} -o /opt/milpa/agent.js`,
  ].join(" ");
  const denoZip =
    `https://dl.deno.land/release/v${NODE_DENO_VERSION}/deno-x86_64-unknown-linux-gnu.zip`;
  const doc = {
    write_files: [
      {
        path: AGENT_CONFIG_PATH,
        permissions: "0600",
        content: JSON.stringify({ dataDir: "/var/lib/milpa", ...agent }, null, 2) + "\n",
      },
      ...(agent.caCertificate
        ? [{ path: "/etc/milpa/ca.crt", permissions: "0644", content: agent.caCertificate }]
        : []),
      { path: "/etc/systemd/system/milpa-agent.service", permissions: "0644", content: UNIT },
    ],
    runcmd: [
      [
        "sh",
        "-c",
        `curl -fsSL --retry 10 ${denoZip} -o /tmp/deno.zip && python3 -m zipfile -e /tmp/deno.zip /usr/local/bin/ && chmod 0755 /usr/local/bin/deno`,
      ],
      ["sh", "-c", `mkdir -p /opt/milpa /var/lib/milpa && ${fetchAgent}`],
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "milpa-agent.service"],
    ],
  };
  const text = `#cloud-config\n${stringify(doc, { lineWidth: 0 })}`;
  const size = new TextEncoder().encode(text).length;
  if (size > MAX_USER_DATA_BYTES) {
    throw new Error(`node user-data is ${size} bytes; AWS takes at most ${MAX_USER_DATA_BYTES}`);
  }
  return text;
}

/** The agent config a node's user-data carries (what a test harness playing the node reads). */
export function agentConfigOf(userData: string): AgentConfig | undefined {
  const doc = parse(userData) as { write_files?: { path: string; content: string }[] } | null;
  const file = doc?.write_files?.find((f) => f.path === AGENT_CONFIG_PATH);
  return file ? JSON.parse(file.content) as AgentConfig : undefined;
}
