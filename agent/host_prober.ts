/**
 * The real {@linkcode Prober} of host nodes. httpGet and tcpSocket connect to the pod IP directly
 * (never through a proxy); exec runs the command as a host process with the unit's environment
 * and working directory, as the host runtime runs units.
 *
 * As in Kubernetes, httpGet follows no redirects (a 3xx is a success) and does not verify an
 * HTTPS certificate; node:http is used because it offers both and ignores proxy variables.
 */
import * as http from "node:http";
import * as https from "node:https";
import { spawnProblem } from "./host_runtime.ts";
import type { ProbeCheck, Prober, ProbeResult } from "./probe.ts";
import { descendants, signal as sendSignal } from "./proc.ts";

type Check<T extends ProbeCheck["type"]> = Extract<ProbeCheck, { type: T }>;

/** Probes units running on this host. */
export class HostProber implements Prober {
  /** Carries out one check; see {@linkcode Prober.check}. */
  check(check: ProbeCheck, signal: AbortSignal): Promise<ProbeResult> {
    if (signal.aborted) return Promise.resolve({ ok: false, detail: "aborted" });
    switch (check.type) {
      case "httpGet":
        return httpGet(check, signal);
      case "tcpSocket":
        return tcpSocket(check, signal);
      case "exec":
        return exec(check, signal);
    }
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function httpGet(check: Check<"httpGet">, signal: AbortSignal): Promise<ProbeResult> {
  const url = `${check.scheme.toLowerCase()}://${hostPort(check.host, check.port)}${check.path}`;
  return new Promise((resolve) => {
    const options: https.RequestOptions = {
      host: check.host,
      port: check.port,
      path: check.path,
      agent: false,
      signal,
      headers: { "User-Agent": "milpa-probe/1", Accept: "*/*", Connection: "close" },
    };
    const onResponse = (res: http.IncomingMessage) => {
      const status = res.statusCode ?? 0;
      res.destroy();
      const ok = status >= 200 && status < 400;
      resolve({ ok, detail: `HTTP probe ${url}: status ${status}` });
    };
    const fail = (err: unknown) =>
      resolve({
        ok: false,
        detail: `HTTP probe ${url}: ${signal.aborted ? "aborted" : message(err)}`,
      });
    try {
      const req = check.scheme === "HTTPS"
        ? https.get({ ...options, rejectUnauthorized: false }, onResponse)
        : http.get(options, onResponse);
      req.on("error", fail);
    } catch (err) {
      fail(err);
    }
  });
}

async function tcpSocket(check: Check<"tcpSocket">, signal: AbortSignal): Promise<ProbeResult> {
  const at = hostPort(check.host, check.port);
  try {
    const conn = await Deno.connect({ hostname: check.host, port: check.port, signal });
    conn.close();
    return { ok: true, detail: `TCP probe ${at}: connected` };
  } catch (err) {
    return { ok: false, detail: `TCP probe ${at}: ${signal.aborted ? "aborted" : message(err)}` };
  }
}

async function exec(check: Check<"exec">, signal: AbortSignal): Promise<ProbeResult> {
  const [program, ...args] = check.command;
  const what = `exec probe ${JSON.stringify(check.command)}`;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(program, {
      args,
      env: check.env,
      clearEnv: true,
      cwd: check.cwd,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (err) {
    return { ok: false, detail: `${what}: ${spawnProblem(err)}` };
  }
  // The whole tree goes: a shell's children would otherwise outlive it.
  const kill = () => {
    const tree = descendants(child.pid);
    sendSignal(child.pid, "SIGKILL");
    for (const proc of tree) sendSignal(proc.pid, "SIGKILL");
  };
  signal.addEventListener("abort", kill, { once: true });
  const status = await child.status;
  signal.removeEventListener("abort", kill);
  if (signal.aborted) return { ok: false, detail: `${what}: killed` };
  return status.code === 0
    ? { ok: true, detail: `${what}: exit code 0` }
    : { ok: false, detail: `${what}: exit code ${status.code}` };
}
