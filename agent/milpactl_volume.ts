/**
 * For pods that drive Milpa (`model/pod_milpactl.ts`): milpactl in the pod's volume and the
 * environment that points units at it and at the controller.
 *
 * The volume gets `milpactl.js` (fetched once per pod from the controller,
 * `GET /agent/v1/milpactl.js` with the node's token), `milpactl` (a shell script running it
 * with the agent's own Deno, so it works in host-process units) and `ca.crt` (the controller's
 * CA, when the agent has one).
 */
import type { DesiredPod } from "../model/agent_protocol.ts";
import type { Unit } from "../model/pod.ts";

/** Where the agent gets milpactl from, and what units need to reach the controller. */
export interface MilpactlSource {
  /** The controller's URL as this node reaches it (the agent's controllerURL). */
  endpoint: string;
  /** PEM of the controller's CA; absent for an http controller. */
  caCertificate?: string;
  /** milpactl as one JavaScript file. */
  fetchBundle: () => Promise<string>;
  /** The Deno that runs milpactl. @default Deno.execPath() */
  denoPath?: string;
}

/** A MilpactlSource fetching from the controller with the node's credentials. */
export function controllerMilpactl(o: {
  controllerURL: string;
  nodeName: string;
  token: string;
  caCertificate?: string;
}): MilpactlSource {
  return {
    endpoint: o.controllerURL.replace(/\/+$/, ""),
    caCertificate: o.caCertificate,
    fetchBundle: async () => {
      const client = o.caCertificate
        ? Deno.createHttpClient({ caCerts: [o.caCertificate] })
        : undefined;
      try {
        const url = new URL("/agent/v1/milpactl.js", o.controllerURL);
        const res = await fetch(url, {
          headers: { Authorization: `Bearer ${o.token}`, "X-Milpa-Node": o.nodeName },
          ...(client ? { client } : {}),
        });
        if (!res.ok) {
          await res.body?.cancel();
          throw new Error(`GET ${url} answered ${res.status}`);
        }
        return await res.text();
      } finally {
        client?.close();
      }
    },
  };
}

/** The wrapper script: runs milpactl.js beside it with `deno`. */
export function milpactlWrapper(deno: string): string {
  const quoted = `'${deno.replaceAll("'", `'\\''`)}'`;
  return `#!/bin/sh\n# milpactl, put here by the Milpa agent for this pod.\n` +
    `exec ${quoted} run --allow-all --no-config --quiet "$(dirname "$0")/milpactl.js" "$@"\n`;
}

/** Puts milpactl into `dir` (the pod's milpactl volume) unless it is there already. */
export async function provideMilpactl(dir: string, source: MilpactlSource): Promise<void> {
  const exists = await Deno.stat(`${dir}/milpactl.js`).then(() => true, () => false);
  if (!exists) {
    const code = await source.fetchBundle();
    await Deno.writeTextFile(`${dir}/milpactl.js.tmp`, code, { mode: 0o644 });
    await Deno.rename(`${dir}/milpactl.js.tmp`, `${dir}/milpactl.js`);
  }
  await Deno.writeTextFile(`${dir}/milpactl`, milpactlWrapper(source.denoPath ?? Deno.execPath()));
  await Deno.chmod(`${dir}/milpactl`, 0o755);
  if (source.caCertificate) await Deno.writeTextFile(`${dir}/ca.crt`, source.caCertificate);
}

/**
 * The environment a unit of `pod` gets for driving Milpa (none when the pod does not): the
 * volume's path is the unit's mountPath when it mounts it, else the host directory
 * `volumeDir` (host-process units).
 */
export function milpactlEnv(
  pod: DesiredPod,
  unit: Unit,
  volumeDir: string | undefined,
  source: MilpactlSource | undefined,
): Record<string, string> {
  const volume = pod.milpactl?.volume;
  if (!volume || !source || !volumeDir) return {};
  const mount = unit.volumeMounts?.find((m) => m.name === volume);
  const dir = (mount?.mountPath ?? volumeDir).replace(/\/+$/, "");
  return {
    MILPA_ENDPOINT: source.endpoint,
    MILPACTL: `${dir}/milpactl`,
    ...(source.caCertificate ? { MILPA_CA_FILE: `${dir}/ca.crt` } : {}),
  };
}
