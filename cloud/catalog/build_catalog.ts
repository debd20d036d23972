/**
 * Regenerates `aws_us_east_1.json` from the reference instance file:
 *
 *     deno run -R -W cloud/catalog/build_catalog.ts <source.json> [output.json]
 *
 * The output keeps the source's provenance text, date and region, checks every field and
 * adds each type's family. It is written in `deno fmt` layout, so a rebuild from the same
 * source leaves the file unchanged.
 */
import type { CatalogFile, InstanceType } from "../catalog.ts";

const NUMBER_FIELDS = ["vcpu", "memoryGiB", "gpu", "baselineVcpu", "pricePerHour"] as const;
const STRING_FIELDS = ["name", "arch", "generation"] as const;

/** Checks the reference file's shape and returns the catalog with a `family` on every type. */
export function buildCatalog(source: unknown): CatalogFile {
  const src = asRecord(source, "the source file");
  const types = src.instanceTypes;
  if (!Array.isArray(types)) throw new TypeError("instanceTypes: expected an array");
  const seen = new Set<string>();
  const instanceTypes = types.map((raw, i) => {
    const t = buildType(asRecord(raw, `instanceTypes[${i}]`), `instanceTypes[${i}]`);
    if (seen.has(t.name)) throw new TypeError(`instanceTypes[${i}]: duplicate name "${t.name}"`);
    seen.add(t.name);
    return t;
  });
  return {
    source: str(src, "source", "the source file"),
    asOf: str(src, "asOf", "the source file"),
    region: str(src, "region", "the source file"),
    instanceTypes,
  };
}

/** The catalog as `deno fmt` would lay it out, with a final newline. */
export function formatCatalog(catalog: CatalogFile): string {
  return JSON.stringify(catalog, null, 2) + "\n";
}

function buildType(raw: Record<string, unknown>, where: string): InstanceType {
  for (const f of STRING_FIELDS) str(raw, f, where);
  for (const f of NUMBER_FIELDS) {
    if (typeof raw[f] !== "number" || !Number.isFinite(raw[f]) || raw[f] < 0) {
      throw new TypeError(`${where}.${f}: expected a number >= 0, got ${JSON.stringify(raw[f])}`);
    }
  }
  if (typeof raw.burstable !== "boolean") {
    throw new TypeError(`${where}.burstable: expected a boolean`);
  }
  if (raw.gpuType !== null && typeof raw.gpuType !== "string") {
    throw new TypeError(`${where}.gpuType: expected a string or null`);
  }
  const name = raw.name as string;
  return {
    name,
    family: name.split(".")[0],
    vcpu: raw.vcpu as number,
    memoryGiB: raw.memoryGiB as number,
    gpu: raw.gpu as number,
    gpuType: raw.gpuType as string | null,
    burstable: raw.burstable,
    baselineVcpu: raw.baselineVcpu as number,
    pricePerHour: raw.pricePerHour as number,
    arch: raw.arch as string,
    generation: raw.generation as string,
  };
}

function asRecord(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(`${where}: expected an object`);
  }
  return value as Record<string, unknown>;
}

function str(obj: Record<string, unknown>, key: string, where: string): string {
  const v = obj[key];
  if (typeof v !== "string" || v === "") throw new TypeError(`${where}.${key}: expected a string`);
  return v;
}

if (import.meta.main) {
  const [input, output = new URL("./aws_us_east_1.json", import.meta.url).pathname] = Deno.args;
  if (!input) {
    console.error(
      "usage: deno run -R -W cloud/catalog/build_catalog.ts <source.json> [output.json]",
    );
    Deno.exitCode = 2;
  } else {
    const catalog = buildCatalog(JSON.parse(await Deno.readTextFile(input)));
    await Deno.writeTextFile(output, formatCatalog(catalog));
    console.log(`wrote ${catalog.instanceTypes.length} instance types to ${output}`);
  }
}
