import assert from "node:assert/strict";
import { agentTrustEnv, trustProblem } from "./agent_trust.ts";

Deno.test("agentTrustEnv() points the root store at the CA file and drops variables that add roots", () => {
  const env: Record<string, string> = agentTrustEnv(
    { PATH: "/bin", NODE_EXTRA_CA_CERTS: "/x.pem", DENO_CERT: "/y.pem", SSL_CERT_DIR: "/etc/ssl" },
    "/n/ca.crt",
  );
  assert.equal(trustProblem((n) => env[n]), undefined);
  assert.deepEqual(env, { PATH: "/bin", DENO_TLS_CA_STORE: "system", SSL_CERT_FILE: "/n/ca.crt" });
});

Deno.test("trustProblem() says what lets other roots in", () => {
  assert.match(trustProblem(() => undefined)!, /DENO_TLS_CA_STORE is unset/);
  const env: Record<string, string> = { DENO_TLS_CA_STORE: "system" };
  assert.match(trustProblem((n) => env[n])!, /SSL_CERT_FILE is unset/);
  env.SSL_CERT_FILE = "/ca.crt";
  env.NODE_EXTRA_CA_CERTS = "/etc/ssl/certs/ca-certificates.crt";
  assert.equal(trustProblem((n) => env[n]), "NODE_EXTRA_CA_CERTS add roots");
});
