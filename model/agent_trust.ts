/**
 * How a node agent comes to trust the controller's CA and nothing else. `caCertificate` in
 * the agent config only adds the CA to the roots a Deno process trusts (Mozilla's, and those
 * of the variables below): any of those could vouch for a server posing as the controller.
 * Started in {@linkcode agentTrustEnv}, Deno's root store is built from the CA file alone
 * (`DENO_TLS_CA_STORE=system` reads the system store, which `SSL_CERT_FILE` replaces).
 */

/** Variables that add CAs to a Deno process's root store; an agent trusting only its CA runs without them. */
export const EXTRA_CA_VARIABLES = ["DENO_CERT", "NODE_EXTRA_CA_CERTS", "SSL_CERT_DIR"] as const;

/** The variables that make a Deno process's root store exactly the certificates in `caFile`. */
export function agentTrustVariables(caFile: string): Record<string, string> {
  return { DENO_TLS_CA_STORE: "system", SSL_CERT_FILE: caFile };
}

/**
 * `env` for an agent that trusts only the CA in `caFile`: the variables of
 * {@linkcode agentTrustVariables} set and the {@linkcode EXTRA_CA_VARIABLES} removed (start the
 * process with `clearEnv`).
 */
export function agentTrustEnv(
  env: Record<string, string>,
  caFile: string,
): Record<string, string> {
  const out = { ...env, ...agentTrustVariables(caFile) };
  for (const name of EXTRA_CA_VARIABLES) delete out[name];
  return out;
}

/**
 * Whether a process with this environment trusts only the CA in its `SSL_CERT_FILE` (the file
 * is the caller's to compare), or else what lets in other roots.
 */
export function trustProblem(env: (name: string) => string | undefined): string | undefined {
  if (env("DENO_TLS_CA_STORE") !== "system") {
    return `DENO_TLS_CA_STORE is ${
      env("DENO_TLS_CA_STORE") ? `"${env("DENO_TLS_CA_STORE")}"` : "unset"
    } (Deno's bundled roots count)`;
  }
  if (!env("SSL_CERT_FILE")) return "SSL_CERT_FILE is unset (the system's roots count)";
  const extra = EXTRA_CA_VARIABLES.filter((v) => env(v));
  if (extra.length) return `${extra.join(", ")} add roots`;
  return undefined;
}
