import assert from "node:assert/strict";
import { parse } from "yaml";
import { agentConfigOf, cloudConfig } from "./user_data.ts";

const agent = { controllerURL: "http://10.0.0.5:54555/", nodeName: "n-1", token: "t0k'en" };

Deno.test("cloudConfig() writes agent.json, installs Deno and starts the agent fetched from the controller", () => {
  const text = cloudConfig(agent);
  assert.ok(text.startsWith("#cloud-config\n"));
  const doc = parse(text);
  assert.equal(doc.write_files[0].path, "/etc/milpa/agent.json");
  assert.equal(doc.write_files[0].permissions, "0600");
  const cmds = doc.runcmd.map((c: string[]) => c.join(" ")).join("\n");
  assert.match(cmds, /dl\.deno\.land\/release\/v2\.9\.6\/deno-x86_64-unknown-linux-gnu\.zip/);
  assert.match(cmds, /http:\/\/10\.0\.0\.5:54555\/agent\/v1\/agent\.js/);
  assert.match(cmds, /'Authorization: Bearer t0k'"'"'en'/, "the token is shell-quoted");
  assert.match(cmds, /systemctl enable --now milpa-agent\.service/);
});

Deno.test("agentConfigOf() reads back what cloudConfig() wrote", () => {
  assert.deepEqual(agentConfigOf(cloudConfig(agent)), { dataDir: "/var/lib/milpa", ...agent });
  assert.equal(agentConfigOf("#cloud-config\nruncmd: []\n"), undefined);
});

Deno.test("cloudConfig() refuses user-data over 16,000 bytes", () => {
  assert.throws(() => cloudConfig({ ...agent, caCertificate: "x".repeat(20_000) }), /16000/);
});
