/**
 * What the agent trusts. Started as `model/agent_trust.ts` says, its process trusts only the
 * controller's CA; registries still need the machine's roots, which it then reads itself.
 */
import { trustProblem } from "../model/agent_trust.ts";

/** Where Linux distributions keep the machine's CA bundle (Debian/Ubuntu, RHEL, SUSE, Alpine). */
export const SYSTEM_CA_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/ca-bundle.pem",
  "/etc/ssl/cert.pem",
];

/** How the agent's connections are to be checked. */
export interface AgentTrust {
  /** Why the controller connection trusts roots besides the controller's CA; absent when it does not. */
  problem?: string;
  /** CAs (PEM) registries are checked against besides the process's roots. */
  registryCaCerts?: string[];
  /** Why https registries cannot be checked, when no bundle was found. */
  registryProblem?: string;
}

/**
 * The trust of an agent given `caCertificate` (none: nothing to say) in the environment `env`:
 * whether its process trusts that CA alone, and if so, the machine's bundle for registries.
 */
export async function agentTrust(
  caCertificate: string | undefined,
  env: (name: string) => string | undefined,
  read: (path: string) => Promise<string> = Deno.readTextFile,
  bundles: string[] = SYSTEM_CA_BUNDLES,
): Promise<AgentTrust> {
  if (!caCertificate) return {};
  const problem = trustProblem(env);
  if (problem) return { problem };
  for (const path of bundles) {
    try {
      const pem = await read(path);
      if (pem.includes("-----BEGIN CERTIFICATE-----")) return { registryCaCerts: [pem] };
    } catch { /* the next one */ }
  }
  return {
    registryProblem: `no CA bundle at ${bundles.join(", ")}: https registries cannot be verified`,
  };
}
