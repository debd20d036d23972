/**
 * The bundled EC2 instance catalog (us-east-1, Linux on-demand prices). The data lives in
 * `catalog/aws_us_east_1.json`; `catalog/README.md` says where it came from.
 */
import data from "./catalog/aws_us_east_1.json" with { type: "json" };

/** One EC2 instance type with the numbers the instance selector needs. */
export interface InstanceType {
  /** EC2 name, e.g. "t3.nano". */
  name: string;
  /** The part before the dot, e.g. "t3". */
  family: string;
  vcpu: number;
  /** Nominal memory; the allocatable amount is lower. */
  memoryGiB: number;
  /** GPU count. */
  gpu: number;
  /** EC2 GPU name ("NVIDIA T4"), or null without a GPU. */
  gpuType: string | null;
  /** T2/T3 style: CPU above the baseline costs credits. */
  burstable: boolean;
  /** vCPUs a burstable type sustains for free; `vcpu` for the others. */
  baselineVcpu: number;
  /** On-demand USD per hour. */
  pricePerHour: number;
  arch: string;
  generation: string;
}

/** The catalog file: provenance, price date and region, then the types. */
export interface CatalogFile {
  /** Where every field came from. */
  source: string;
  /** Date of the prices, YYYY-MM-DD. */
  asOf: string;
  region: string;
  instanceTypes: InstanceType[];
}

const bundled: CatalogFile = data;

/** The bundled instance types in catalog order (a fresh copy on each call). */
export function loadCatalog(): InstanceType[] {
  return bundled.instanceTypes.map((t) => ({ ...t }));
}

/** Provenance of the bundled catalog: source text, price date and region. */
export function catalogInfo(): Omit<CatalogFile, "instanceTypes"> {
  return { source: bundled.source, asOf: bundled.asOf, region: bundled.region };
}

/** The family of an instance type name: "t3" for "t3.nano"; the whole name without a dot. */
export function familyOf(name: string): string {
  const dot = name.indexOf(".");
  return dot < 0 ? name : name.slice(0, dot);
}

/** The catalog entry with exactly this name, or undefined. */
export function findInstanceType(
  catalog: readonly InstanceType[],
  name: string,
): InstanceType | undefined {
  return catalog.find((t) => t.name === name);
}
