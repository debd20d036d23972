/** The agent's configuration file: reading, checking and defaults. */
import type { AgentConfig } from "../model/agent_protocol.ts";
import { type FieldError, ValidationError } from "../model/errors.ts";

/** Where units, logs and volumes live when the config does not say. */
export const DEFAULT_DATA_DIR = "/var/lib/milpa";

/** A config with every default filled in. */
export type ResolvedAgentConfig = AgentConfig & {
  dataDir: string;
  runtime: NonNullable<AgentConfig["runtime"]>;
};

const OPTIONAL_STRINGS = [
  "caCertificate",
  "agentSha256",
  "dataDir",
  "imageDir",
  "podIP",
  "logFile",
  "registryProxy",
] as const;
const RUNTIMES = ["auto", "oci", "host"];

/** Checks parsed JSON against AgentConfig, reporting every bad field at once, and fills defaults. */
export function checkAgentConfig(value: unknown, source = "agent config"): ResolvedAgentConfig {
  const errors: FieldError[] = [];
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError(`Invalid ${source}: must be a JSON object`, [
      { field: "", message: "must be a JSON object", value },
    ]);
  }
  const c = value as Record<string, unknown>;
  for (const field of ["controllerURL", "nodeName", "token"]) {
    if (typeof c[field] !== "string" || c[field] === "") {
      errors.push({
        field,
        message: c[field] === undefined ? "is required" : "must be a non-empty string",
        value: field === "token" ? undefined : c[field],
      });
    }
  }
  checkURL(c, "controllerURL", ["http:", "https:"], errors);
  for (const field of OPTIONAL_STRINGS) {
    if (c[field] !== undefined && (typeof c[field] !== "string" || c[field] === "")) {
      errors.push({ field, message: "must be a non-empty string when given", value: c[field] });
    }
  }
  checkURL(c, "registryProxy", ["http:"], errors);
  if (c.runtime !== undefined && !RUNTIMES.includes(c.runtime as string)) {
    errors.push({ field: "runtime", message: 'must be "auto", "oci" or "host"', value: c.runtime });
  }
  const insecure = c.insecureRegistries;
  if (
    insecure !== undefined &&
    (!Array.isArray(insecure) || insecure.some((r) => typeof r !== "string" || r === ""))
  ) {
    errors.push({
      field: "insecureRegistries",
      message: "must be a list of registry hosts",
      value: insecure,
    });
  }
  if (errors.length) {
    const detail = errors.map((e) => `${e.field} ${e.message}`).join("; ");
    throw new ValidationError(`Invalid ${source}: ${detail}`, errors);
  }
  const config = c as unknown as AgentConfig;
  return {
    ...config,
    dataDir: config.dataDir ?? DEFAULT_DATA_DIR,
    runtime: config.runtime ?? "auto",
  };
}

/** Reports `c[field]`, when it is a non-empty string, unless it is a URL of one of `protocols`. */
function checkURL(
  c: Record<string, unknown>,
  field: string,
  protocols: string[],
  errors: FieldError[],
): void {
  const value = c[field];
  if (typeof value !== "string" || value === "") return;
  let protocol = "";
  try {
    protocol = new URL(value).protocol;
  } catch {
    // reported below
  }
  if (!protocols.includes(protocol)) {
    const names = protocols.map((p) => p.slice(0, -1)).join(" or ");
    errors.push({ field, message: `must be an ${names} URL`, value });
  }
}

/** Reads and checks a config file; errors name the file. */
export async function loadAgentConfig(path: string): Promise<ResolvedAgentConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? "no such file"
      : err instanceof Error
      ? err.message
      : String(err);
    throw new ValidationError(`Cannot read agent config "${path}": ${why}`, [], { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ValidationError(
      `Cannot parse agent config "${path}": ${err instanceof Error ? err.message : err}`,
      [],
      { cause: err },
    );
  }
  return checkAgentConfig(json, `agent config "${path}"`);
}
