import assert from "node:assert/strict";
import { agentTrust } from "./trust.ts";

const restricted: Record<string, string> = {
  DENO_TLS_CA_STORE: "system",
  SSL_CERT_FILE: "/node/ca.crt",
};
const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

Deno.test("agentTrust() without a CA has nothing to say", async () => {
  assert.deepEqual(await agentTrust(undefined, () => undefined), {});
});

Deno.test("agentTrust() names what lets other roots in for the controller connection", async () => {
  const t = await agentTrust(PEM, (n) => ({ ...restricted, DENO_CERT: "/x.pem" } as never)[n]);
  assert.equal(t.problem, "DENO_CERT add roots");
  assert.equal(t.registryCaCerts, undefined);
});

Deno.test("agentTrust() of a process that trusts the CA alone reads the machine's first bundle for registries", async () => {
  const files: Record<string, string> = { "/b": PEM, "/c": "other" };
  const read = (p: string) =>
    p in files ? Promise.resolve(files[p]) : Promise.reject(new Deno.errors.NotFound(p));
  const t = await agentTrust(PEM, (n) => restricted[n], read, ["/a", "/b", "/c"]);
  assert.deepEqual(t, { registryCaCerts: [PEM] });
  const none = await agentTrust(PEM, (n) => restricted[n], read, ["/a"]);
  assert.match(none.registryProblem!, /no CA bundle at \/a/);
});
