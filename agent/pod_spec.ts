/** Pure helpers about a desired pod: checking it, comparing unit definitions, unit env. */
import type { DesiredPod } from "../model/agent_protocol.ts";
import { type FieldError, ValidationError } from "../model/errors.ts";
import { DEFAULT_TERMINATION_GRACE_SECONDS, type Unit } from "../model/pod.ts";
import { probeProblems } from "./probe.ts";

/** PATH of a unit after the directory of the agent's own `deno`. */
export const HOST_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Unit names double as file names (`logs/<unit>.log`, `units/<unit>/`), so they must be safe. */
const UNIT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** The program and arguments of a unit: command followed by args. */
export function unitArgv(unit: Unit): string[] {
  return [...(unit.command ?? []), ...(unit.args ?? [])];
}

/**
 * The parts of a unit whose change restarts it (name, image, command, args, env, workingDir,
 * ports, volumeMounts, stdin), as a canonical string. Missing lists equal empty ones. A changed
 * readinessProbe alone does not restart the unit.
 */
export function unitKey(unit: Unit): string {
  return JSON.stringify([
    unit.name,
    unit.image ?? "",
    unit.command ?? [],
    unit.args ?? [],
    (unit.env ?? []).map((e) => [e.name, e.value ?? ""]),
    unit.workingDir ?? "",
    (unit.ports ?? []).map((p) => [p.name ?? "", p.containerPort, p.protocol ?? "TCP"]),
    (unit.volumeMounts ?? []).map((m) => [m.name, m.mountPath]),
    unit.stdin === true,
  ]);
}

/** True when two unit lists define the same units in the same order. */
export function sameUnits(a: Unit[] = [], b: Unit[] = []): boolean {
  return a.length === b.length && a.every((unit, i) => unitKey(unit) === unitKey(b[i]));
}

/** Environment every unit starts from; the pod's env and then the unit's own env override it. */
export interface BaseEnv {
  PATH: string;
  HOME: string;
  /** The node's hostname, which host processes share. @default the pod name */
  HOSTNAME?: string;
}

/**
 * A host process's full environment: PATH, HOME and HOSTNAME (the node's name, which it shares
 * as a Kubernetes hostNetwork pod does, else the pod name), overridden by the pod's env
 * (MILPA_POD_NAME...), overridden by the unit's env values. Containers start from
 * {@linkcode unitSpecEnv} instead: their HOSTNAME is their hostname, the pod name.
 */
export function unitEnv(unit: Unit, pod: DesiredPod, base: BaseEnv): Record<string, string> {
  const { HOSTNAME = podHostname(pod), ...rest } = base;
  return { ...rest, ...specEnv(unit, pod, HOSTNAME) };
}

/** What the pod sets in a container's environment: HOSTNAME, the pod's env, the unit's env values. */
export function unitSpecEnv(unit: Unit, pod: DesiredPod): Record<string, string> {
  return specEnv(unit, pod, podHostname(pod));
}

function specEnv(unit: Unit, pod: DesiredPod, hostname: string): Record<string, string> {
  const env: Record<string, string> = { HOSTNAME: hostname, ...pod.env };
  for (const e of unit.env ?? []) env[e.name] = e.value ?? "";
  return env;
}

/** The hostname of a pod's units: its name, cut to 63 characters. */
export function podHostname(pod: DesiredPod): string {
  return pod.name.slice(0, 63);
}

/**
 * How long the pod's units get between SIGTERM and SIGKILL when they are stopped, in
 * milliseconds: its `terminationGracePeriodSeconds`, else
 * {@linkcode DEFAULT_TERMINATION_GRACE_SECONDS}.
 */
export function podGraceMs(pod: DesiredPod): number {
  return (pod.spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS) * 1000;
}

/** The directory of the running `deno` followed by {@linkcode HOST_PATH}. */
export function defaultUnitPath(): string {
  try {
    const exec = Deno.execPath();
    const dir = exec.slice(0, exec.lastIndexOf("/"));
    return dir ? `${dir}:${HOST_PATH}` : HOST_PATH;
  } catch {
    return HOST_PATH;
  }
}

/** Throws a ValidationError naming every problem that keeps the agent from running `pod`. */
export function checkDesiredPod(pod: DesiredPod): void {
  const errors: FieldError[] = [];
  if (typeof pod?.uid !== "string" || pod.uid === "") {
    errors.push({ field: "uid", message: "must be a non-empty string", value: pod?.uid });
  }
  if (!Array.isArray(pod?.spec?.units)) {
    errors.push({ field: "spec.units", message: "must be a list", value: pod?.spec?.units });
  }
  const grace = pod?.spec?.terminationGracePeriodSeconds;
  const graceOk = typeof grace === "number" && Number.isFinite(grace) && grace >= 0;
  if (grace !== undefined && grace !== null && !graceOk) {
    errors.push({
      field: "spec.terminationGracePeriodSeconds",
      message: "must be a number of seconds, 0 or more",
      value: grace,
    });
  }
  const seen = new Set<string>();
  const lists = [["spec.initUnits", pod?.spec?.initUnits ?? []], [
    "spec.units",
    pod?.spec?.units ?? [],
  ]];
  for (const [field, units] of lists as [string, Unit[]][]) {
    if (!Array.isArray(units)) continue;
    units.forEach((unit, i) => {
      const at = `${field}[${i}]`;
      if (typeof unit?.name !== "string" || !UNIT_NAME.test(unit.name)) {
        errors.push({
          field: `${at}.name`,
          message: "must be letters, digits, '.', '_' or '-', starting with a letter or digit",
          value: unit?.name,
        });
      } else if (seen.has(unit.name)) {
        errors.push({ field: `${at}.name`, message: "is used by another unit", value: unit.name });
      } else {
        seen.add(unit.name);
      }
      for (const list of ["command", "args"] as const) {
        const v = unit?.[list];
        if (v !== undefined && (!Array.isArray(v) || v.some((s) => typeof s !== "string"))) {
          errors.push({ field: `${at}.${list}`, message: "must be a list of strings", value: v });
        }
      }
      if (unit?.readinessProbe !== undefined) {
        for (const e of probeProblems(unit.readinessProbe)) {
          const field = e.field ? `${at}.readinessProbe.${e.field}` : `${at}.readinessProbe`;
          errors.push({ ...e, field });
        }
      }
    });
  }
  if (errors.length) {
    const name = `${pod?.namespace ?? ""}/${pod?.name ?? ""}`;
    const detail = errors.map((e) => `${e.field} ${e.message}`).join("; ");
    throw new ValidationError(`Cannot run pod "${name}": ${detail}`, errors);
  }
}
