/**
 * Turns a pod's resources into the cheapest instance type that fits (reference §6, Milpa's
 * `ResourcesToInstanceType`). Pure: the catalog and the config come in as arguments.
 */
import { DEFAULT_FAMILIES } from "../model/config.ts";
import { ValidationError } from "../model/errors.ts";
import type { PodSpec, ResourceSpec } from "../model/pod.ts";
import { findInstanceType, type InstanceType } from "./catalog.ts";

/** Families the selector considers when the config names none. t2 and t3a are opt-in. */
export const DEFAULT_INSTANCE_FAMILIES: readonly string[] = DEFAULT_FAMILIES;

/** USD per vCPU-hour a burstable type costs above its baseline (Milpa's `t2UnlimitedPrice`). */
export const SUSTAINED_CPU_PRICE = 0.05;

/** What the selector chooses from. */
export interface SelectorOptions {
  /** Candidate types; ties go to the one listed first. */
  catalog: readonly InstanceType[];
  /** Returned when the pod asks for nothing (`nodes.defaultInstanceType`). */
  defaultInstanceType: string;
  /** Families picked from when the pod gives resources; explicit names and globs ignore it. */
  instanceFamilies: readonly string[];
}

/** The chosen type, and whether the node should run with unlimited CPU credits. */
export interface Selection {
  instanceType: string;
  /** Unset means "leave the cloud's default alone". */
  sustainedCPU?: boolean;
}

/** GPU names in Kubernetes style, mapped to the EC2 names the catalog uses. */
const GPU_TYPE_NAMES: Record<string, string> = {
  "nvidia-tesla-t4": "nvidia t4",
  "nvidia-a10g": "nvidia a10g",
  "nvidia-tesla-v100": "nvidia v100",
};

/**
 * Picks the instance type for a pod: an explicit `spec.instanceType` wins (a glob such as
 * "c5*" picks the cheapest fitting match); no instance type, cpu, memory or gpu gives the
 * default type; otherwise the cheapest fitting type of `instanceFamilies`, where a
 * burstable type pays `SUSTAINED_CPU_PRICE` per vCPU above its baseline.
 * Throws `ValidationError` for an unknown type, a malformed quantity, or when nothing fits.
 */
export function selectInstanceType(spec: PodSpec, opts: SelectorOptions): Selection {
  const res = spec.resources ?? {};
  const explicit = spec.instanceType;
  if (explicit && !/[*?]/.test(explicit)) {
    if (!findInstanceType(opts.catalog, explicit)) {
      throw invalid(
        `instance type "${explicit}" is not in the catalog`,
        "spec.instanceType",
        explicit,
      );
    }
    return withSustained(explicit, res.sustainedCPU);
  }
  if (!explicit && !res.cpu && !res.memory && !res.gpu) {
    return withSustained(opts.defaultInstanceType, res.sustainedCPU);
  }
  const pool = explicit
    ? opts.catalog.filter((t) => globMatch(explicit, t.name))
    : opts.catalog.filter((t) => opts.instanceFamilies.includes(t.family));
  if (explicit && pool.length === 0) {
    throw invalid(
      `instance type "${explicit}" matches no instance type`,
      "spec.instanceType",
      explicit,
    );
  }
  const winner = cheapestFit(pool, res);
  if (!winner) {
    const where = explicit
      ? `matching "${explicit}"`
      : `of families ${opts.instanceFamilies.join(", ")}`;
    throw new ValidationError(`${describeRequest(res)} fits no instance type`, [
      { field: "spec.resources", message: `fits no instance type ${where}`, value: res },
    ]);
  }
  return { instanceType: winner.name, sustainedCPU: res.sustainedCPU ?? winner.surcharged };
}

/** The requested resources for messages: `cpu "1", memory "3Gi", dedicated CPU`. */
export function describeRequest(resources: ResourceSpec | undefined): string {
  const r = resources ?? {};
  const parts = (["cpu", "memory", "gpu"] as const)
    .filter((k) => r[k])
    .map((k) => `${k} "${r[k]}"`);
  if (r.dedicatedCPU) parts.push("dedicated CPU");
  else if (r.sustainedCPU === false) parts.push("no sustained CPU");
  return parts.length > 0 ? parts.join(", ") : "no resources";
}

/** The cheapest type that fits, by effective price; the first listed wins a tie. */
function cheapestFit(
  pool: readonly InstanceType[],
  res: ResourceSpec,
): { name: string; surcharged: boolean } | undefined {
  const memoryGiB = res.memory ? parseMemoryGiB(res.memory) : 0;
  const cpu = res.cpu ? parseCpuCores(res.cpu) : 0;
  const gpu = res.gpu ? parseGpu(res.gpu) : { count: 0 };
  let best: { name: string; surcharged: boolean; price: number } | undefined;
  for (const t of pool) {
    if (t.pricePerHour <= 0 || t.memoryGiB < memoryGiB || t.vcpu < cpu || t.gpu < gpu.count) {
      continue;
    }
    if (gpu.type && t.gpuType?.toLowerCase() !== gpu.type) continue;
    const price = effectivePrice(t, cpu, res);
    if (price !== undefined && (!best || price.price < best.price)) {
      best = { name: t.name, ...price };
    }
  }
  return best;
}

/** The CPU rule: hourly price with any credit surcharge, or undefined if the type is out. */
function effectivePrice(
  t: InstanceType,
  cpu: number,
  res: ResourceSpec,
): { price: number; surcharged: boolean } | undefined {
  if (t.burstable && res.dedicatedCPU) return undefined;
  if (!t.burstable || cpu <= t.baselineVcpu) return { price: t.pricePerHour, surcharged: false };
  if (res.sustainedCPU === false) return undefined;
  const extra = (cpu - t.baselineVcpu) * SUSTAINED_CPU_PRICE;
  // Rounded so that float noise cannot break a tie that catalog order should settle.
  return { price: Math.round((t.pricePerHour + extra) * 1e9) / 1e9, surcharged: true };
}

const MEMORY_UNITS: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** GiB in a Kubernetes-style memory quantity: "0.4Gi", "512Mi", "3G" or plain bytes. */
function parseMemoryGiB(q: string): number {
  const m = /^(\d+\.?\d*|\.\d+)(k|[KMGTPE]i|[MGTPE])?$/.exec(String(q).trim());
  if (!m) throw invalid(`invalid memory "${q}"`, "spec.resources.memory", q, "expected e.g. 512Mi");
  return (Number(m[1]) * MEMORY_UNITS[m[2] ?? ""]) / 2 ** 30;
}

/** Cores in a cpu quantity: "2", "0.5" or "500m". */
function parseCpuCores(q: string): number {
  const m = /^(\d+\.?\d*|\.\d+)(m)?$/.exec(String(q).trim());
  if (!m) throw invalid(`invalid cpu "${q}"`, "spec.resources.cpu", q, "expected e.g. 0.5 or 500m");
  return m[2] ? Number(m[1]) / 1000 : Number(m[1]);
}

/** A gpu request: a count, optionally followed by a type ("1 nvidia-tesla-t4"), lower-cased. */
function parseGpu(q: string): { count: number; type?: string } {
  const m = /^(\d+)(?:\s+(\S.*))?$/.exec(String(q).trim());
  if (!m) {
    throw invalid(`invalid gpu "${q}"`, "spec.resources.gpu", q, "expected e.g. 1 nvidia-tesla-t4");
  }
  const type = m[2]?.trim().toLowerCase();
  return { count: Number(m[1]), type: type && (GPU_TYPE_NAMES[type] ?? type) };
}

/** Whole-name match with `*` (any run) and `?` (one character). */
function globMatch(glob: string, name: string): boolean {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".");
  return new RegExp(`^${body}$`).test(name);
}

function withSustained(instanceType: string, sustainedCPU: boolean | undefined): Selection {
  return sustainedCPU === undefined ? { instanceType } : { instanceType, sustainedCPU };
}

function invalid(message: string, field: string, value: unknown, why = message): ValidationError {
  return new ValidationError(message, [{ field, message: why, value }]);
}

/**
 * The spec with `instanceType` chosen by the selector and `resources.sustainedCPU` filled in
 * when the selector decided it; what a pod is stored with.
 */
export function withInstanceType(spec: PodSpec, opts: SelectorOptions): PodSpec {
  const sel = selectInstanceType(spec, opts);
  const out: PodSpec = { ...spec, instanceType: sel.instanceType };
  if (spec.resources || sel.sustainedCPU !== undefined) {
    out.resources = {
      ...spec.resources,
      ...(sel.sustainedCPU !== undefined ? { sustainedCPU: sel.sustainedCPU } : {}),
    };
  }
  return out;
}
