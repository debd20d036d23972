/**
 * Readiness probes, the pure part: Kubernetes defaults, checking a probe the agent was sent, and
 * the {@linkcode Prober} seam that carries out one check (host_prober.ts for real, fake_prober.ts
 * for tests and the simulator).
 */
import type { FieldError } from "../model/errors.ts";
import type { Probe } from "../model/pod.ts";

/** When and how often a probe runs, every field filled in. */
export interface ProbeTiming {
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

/** Kubernetes' defaults: probe at once, every 10 s, 1 s timeout, 1 success, 3 failures. */
export const PROBE_DEFAULTS: Readonly<ProbeTiming> = {
  initialDelaySeconds: 0,
  periodSeconds: 10,
  timeoutSeconds: 1,
  successThreshold: 1,
  failureThreshold: 3,
};

/** The timing of a probe, defaults filled in. */
export function probeTiming(probe: Probe): ProbeTiming {
  return {
    initialDelaySeconds: probe.initialDelaySeconds ?? PROBE_DEFAULTS.initialDelaySeconds,
    periodSeconds: probe.periodSeconds ?? PROBE_DEFAULTS.periodSeconds,
    timeoutSeconds: probe.timeoutSeconds ?? PROBE_DEFAULTS.timeoutSeconds,
    successThreshold: probe.successThreshold ?? PROBE_DEFAULTS.successThreshold,
    failureThreshold: probe.failureThreshold ?? PROBE_DEFAULTS.failureThreshold,
  };
}

/** Where one run of a unit can be probed. */
export interface ProbeTarget {
  /** Host of httpGet and tcpSocket checks: the pod IP. */
  host: string;
  /** Environment of exec checks: the run's environment. */
  env: Record<string, string>;
  /** Working directory of exec checks: the run's. */
  cwd: string;
}

/** One check to carry out, everything resolved (defaults, host, environment). */
export type ProbeCheck =
  & { unit: string }
  & (
    | { type: "httpGet"; scheme: "HTTP" | "HTTPS"; host: string; port: number; path: string }
    | { type: "tcpSocket"; host: string; port: number }
    | { type: "exec"; command: string[]; env: Record<string, string>; cwd: string }
  );

/** The check a probe makes against one run of `unit`. The probe must have passed probeProblems(). */
export function probeCheck(unit: string, probe: Probe, target: ProbeTarget): ProbeCheck {
  if (probe.httpGet) {
    const path = probe.httpGet.path || "/";
    return {
      unit,
      type: "httpGet",
      scheme: probe.httpGet.scheme ?? "HTTP",
      host: target.host,
      port: probe.httpGet.port,
      path: path.startsWith("/") ? path : `/${path}`,
    };
  }
  if (probe.tcpSocket) {
    return { unit, type: "tcpSocket", host: target.host, port: probe.tcpSocket.port };
  }
  return { unit, type: "exec", command: probe.exec!.command, env: target.env, cwd: target.cwd };
}

/** How one check went; `detail` says why it failed (or what answered), for the agent's log. */
export interface ProbeResult {
  ok: boolean;
  detail: string;
}

/** Carries out probe checks. */
export interface Prober {
  /**
   * Carries out one check and resolves with its result; never rejects. Once `signal` aborts
   * (the probe timed out or the unit stopped) it gives up promptly: closes its connection or
   * kills the exec command's processes, and resolves with a failure.
   */
  check(check: ProbeCheck, signal: AbortSignal): Promise<ProbeResult>;
}

/** A canonical string of a probe (defaults filled in): equal strings probe alike. */
export function probeKey(probe: Probe | undefined): string {
  if (!probe) return "";
  const { httpGet, tcpSocket, exec } = probe;
  return JSON.stringify([
    httpGet ? [httpGet.scheme ?? "HTTP", httpGet.port, httpGet.path || "/"] : null,
    tcpSocket ? [tcpSocket.port] : null,
    exec ? exec.command : null,
    Object.values(probeTiming(probe)),
  ]);
}

const TIMING_MINIMUMS: [keyof ProbeTiming, number][] = [
  ["initialDelaySeconds", 0],
  ["periodSeconds", 1],
  ["timeoutSeconds", 1],
  ["successThreshold", 1],
  ["failureThreshold", 1],
];

/** Every problem that keeps the agent from running `probe`; fields relative to the probe. */
export function probeProblems(probe: Probe): FieldError[] {
  const errors: FieldError[] = [];
  const bad = (field: string, message: string, value: unknown) =>
    errors.push({ field, message, value });
  if (typeof probe !== "object" || probe === null || Array.isArray(probe)) {
    bad("", "must be an object", probe);
    return errors;
  }
  const { httpGet, tcpSocket, exec } = probe;
  if ([httpGet, tcpSocket, exec].filter((h) => h !== undefined).length !== 1) {
    bad("", "needs exactly one of httpGet, tcpSocket or exec", undefined);
  }
  const port = (field: string, value: unknown) => {
    if (!Number.isInteger(value) || (value as number) < 1 || (value as number) > 65535) {
      bad(field, "must be a port number (1-65535)", value);
    }
  };
  if (httpGet !== undefined) {
    port("httpGet.port", httpGet?.port);
    if (httpGet?.path !== undefined && typeof httpGet.path !== "string") {
      bad("httpGet.path", "must be a string", httpGet.path);
    }
    if (httpGet?.scheme !== undefined && httpGet.scheme !== "HTTP" && httpGet.scheme !== "HTTPS") {
      bad("httpGet.scheme", 'must be "HTTP" or "HTTPS"', httpGet.scheme);
    }
  }
  if (tcpSocket !== undefined) port("tcpSocket.port", tcpSocket?.port);
  if (exec !== undefined) {
    const command = exec?.command;
    if (
      !Array.isArray(command) || command.length === 0 || command.some((s) => typeof s !== "string")
    ) {
      bad("exec.command", "must be a non-empty list of strings", command);
    }
  }
  for (const [field, min] of TIMING_MINIMUMS) {
    const value = probe[field];
    if (value !== undefined && (!Number.isInteger(value) || value < min)) {
      bad(field, `must be an integer of at least ${min}`, value);
    }
  }
  return errors;
}
