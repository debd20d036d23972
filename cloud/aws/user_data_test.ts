import assert from "node:assert/strict";
import { parse } from "yaml";
import {
  AGENT_PATH,
  agentConfigOf,
  BOOT_SCRIPT_PATH,
  CA_PATH,
  cloudConfig,
  FETCH_HEADERS_PATH,
  MAX_USER_DATA_BYTES,
  writtenFile,
} from "./user_data.ts";

const agent = { controllerURL: "http://10.0.0.5:54555/", nodeName: "n-1", token: "t0k'en" };
const CA = `-----BEGIN CERTIFICATE-----\n${"A".repeat(64)}\n-----END CERTIFICATE-----\n`;
const SHA = "0123456789abcdef".repeat(4);
const secure = {
  ...agent,
  controllerURL: "https://10.0.0.5:54555",
  caCertificate: CA,
  agentSha256: SHA,
};

/** The boot script (the file the one runcmd entry runs) of a cloud-config. */
function bootScript(text: string): string {
  const doc = parse(text);
  assert.deepEqual(
    doc.runcmd,
    [["sh", "-e", BOOT_SCRIPT_PATH]],
    "one script that stops at the first failure",
  );
  return writtenFile(text, BOOT_SCRIPT_PATH)!.trimEnd();
}

Deno.test("cloudConfig() writes agent.json, installs Deno and starts the agent fetched from the controller", () => {
  const text = cloudConfig(agent);
  assert.ok(text.startsWith("#cloud-config\n"));
  const doc = parse(text);
  assert.equal(doc.write_files[0].path, "/etc/milpa/agent.json");
  assert.equal(doc.write_files[0].permissions, "0600");
  const cmds = bootScript(text);
  assert.match(cmds, /dl\.deno\.land\/release\/v2\.9\.6\/deno-x86_64-unknown-linux-gnu\.zip/);
  assert.match(cmds, /http:\/\/10\.0\.0\.5:54555\/agent\/v1\/agent\.js/);
  assert.match(cmds, new RegExp(`-H @${FETCH_HEADERS_PATH} `));
  assert.equal(
    writtenFile(text, FETCH_HEADERS_PATH),
    "Authorization: Bearer t0k'en\nX-Milpa-Node: n-1\n",
  );
  assert.match(cmds, /systemctl enable --now milpa-agent\.service$/);
});

Deno.test("cloudConfig() with a CA writes it, fetches the agent trusting it alone, checks the sha256, then starts a unit that trusts it alone", () => {
  const text = cloudConfig(secure);
  assert.equal(writtenFile(text, CA_PATH), CA);
  const lines = bootScript(text).split("\n");
  const fetchAt = lines.findIndex((l) => l.includes("/agent/v1/agent.js"));
  assert.match(lines[fetchAt], /--cacert \/etc\/milpa\/ca\.crt --capath \/etc\/milpa /);
  assert.match(
    lines[fetchAt],
    /'https:\/\/10\.0\.0\.5:54555\/agent\/v1\/agent\.js' -o \/opt\/milpa\/agent\.js/,
  );
  assert.match(
    lines[fetchAt + 1],
    new RegExp(`^echo '${SHA}  /opt/milpa/agent\\.js' \\| sha256sum -c -`),
  );
  assert.ok(
    lines.findIndex((l) => l.includes("systemctl enable")) > fetchAt + 1,
    "the service is enabled only after the check",
  );
  const unit = writtenFile(text, "/etc/systemd/system/milpa-agent.service")!;
  assert.match(unit, /^Environment=DENO_TLS_CA_STORE=system$/m);
  assert.match(unit, /^Environment=SSL_CERT_FILE=\/etc\/milpa\/ca\.crt$/m);
  assert.match(unit, /^UnsetEnvironment=DENO_CERT NODE_EXTRA_CA_CERTS SSL_CERT_DIR$/m);
  assert.doesNotMatch(
    writtenFile(cloudConfig(agent), "/etc/systemd/system/milpa-agent.service")!,
    /SSL_CERT_FILE/,
  );
});

Deno.test("the boot script's check stops the boot when the fetched agent does not match, and goes on when it does", async () => {
  const dir = await Deno.makeTempDir({ prefix: "milpa-userdata-" });
  try {
    const program = `${dir}/agent.js`;
    const bytes = new TextEncoder().encode("console.log('agent');\n");
    const hex = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    // The check line of the real script, on a file here, followed by what would start the agent.
    const run = async (sha: string) => {
      await Deno.writeFile(program, bytes);
      const lines = bootScript(cloudConfig({ ...secure, agentSha256: sha })).split("\n");
      const check = lines.find((l) => l.includes("sha256sum"))!.replaceAll(AGENT_PATH, program);
      return await new Deno.Command("sh", {
        args: ["-ec", `${check}\necho started`],
        stdout: "piped",
        stderr: "piped",
      }).output();
    };
    const good = await run(hex);
    assert.equal(good.code, 0);
    assert.match(new TextDecoder().decode(good.stdout), /started/);
    const bad = await run(SHA);
    assert.notEqual(bad.code, 0);
    assert.doesNotMatch(new TextDecoder().decode(bad.stdout), /started/);
    assert.match(new TextDecoder().decode(bad.stderr), /is not the program the controller meant/);
    await assert.rejects(Deno.stat(program), Deno.errors.NotFound, "the bad program is removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the node's token is in no command line of the boot, only in files root alone reads", () => {
  const text = cloudConfig(secure);
  const doc = parse(text);
  assert.doesNotMatch(JSON.stringify(doc.runcmd), /t0k/);
  assert.doesNotMatch(bootScript(text), /t0k/);
  const modes = Object.fromEntries(
    doc.write_files.filter((f: { content: string }) => f.content.includes("t0k'en"))
      .map((f: { path: string; permissions: string }) => [f.path, f.permissions]),
  );
  assert.deepEqual(modes, { "/etc/milpa/agent.json": "0600", [FETCH_HEADERS_PATH]: "0600" });
  assert.equal(
    doc.write_files.find((f: { path: string }) => f.path === BOOT_SCRIPT_PATH).permissions,
    "0700",
  );
});

Deno.test("agentConfigOf() reads back what cloudConfig() wrote", () => {
  assert.deepEqual(agentConfigOf(cloudConfig(agent)), { dataDir: "/var/lib/milpa", ...agent });
  assert.deepEqual(agentConfigOf(cloudConfig(secure)), { dataDir: "/var/lib/milpa", ...secure });
  assert.equal(agentConfigOf("#cloud-config\nruncmd: []\n"), undefined);
});

Deno.test("cloudConfig() of a node with a real-sized CA and token stays well under the limit", () => {
  const pem = `-----BEGIN CERTIFICATE-----\n${"A".repeat(800)}\n-----END CERTIFICATE-----\n`;
  const text = cloudConfig({ ...secure, caCertificate: pem, token: "t".repeat(128) });
  assert.ok(new TextEncoder().encode(text).length < MAX_USER_DATA_BYTES / 3);
});

Deno.test("cloudConfig() refuses user-data over 16,000 bytes", () => {
  assert.throws(() => cloudConfig({ ...agent, caCertificate: "x".repeat(20_000) }), /16000/);
});

Deno.test("cloudConfig() adds nodes.cloudInitFile's keys, its write_files and runcmd before Milpa's", () => {
  const text = cloudConfig(agent, {
    packages: ["htop"],
    write_files: [{ path: "/etc/motd", content: "hi\n" }],
    runcmd: [["touch", "/tmp/first"]],
  });
  const doc = parse(text);
  assert.deepEqual(doc.packages, ["htop"]);
  assert.equal(doc.write_files[0].path, "/etc/motd");
  assert.equal(doc.write_files[1].path, "/etc/milpa/agent.json", "Milpa's files are written after");
  assert.deepEqual(doc.runcmd, [["touch", "/tmp/first"], ["sh", "-e", BOOT_SCRIPT_PATH]]);
  assert.equal(agentConfigOf(text)?.nodeName, "n-1");
});
