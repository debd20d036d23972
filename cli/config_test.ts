import assert from "node:assert/strict";
import { clientConfigPaths, loadClientConfig, normalizeEndpoint } from "./config.ts";
import { ConfigError } from "./errors.ts";

function fakeContext(env: Record<string, string>, files: Record<string, string>) {
  return {
    env: (name: string) => env[name] || undefined,
    cwd: "/work",
    readTextFile: (path: string) =>
      path in files ? Promise.resolve(files[path]) : Promise.reject(new Deno.errors.NotFound(path)),
  };
}

const yamlConfig = (endpoint: string, token: string) => `endpoint: ${endpoint}\ntoken: ${token}\n`;

Deno.test("loadClientConfig() prefers flags, then environment, then the file", async () => {
  const ctx = fakeContext(
    { MILPA_ENDPOINT: "http://env:1", MILPA_TOKEN: "envtoken", MILPA_HOME: "/mh" },
    { "/mh/client.yaml": yamlConfig("http://file:1", "filetoken") },
  );
  assert.deepEqual(await loadClientConfig(ctx, { endpoint: "http://flag:1", token: "t" }), {
    endpoint: "http://flag:1",
    token: "t",
    tokenSource: "--token",
  });
  assert.deepEqual(await loadClientConfig(ctx, {}), {
    endpoint: "http://env:1",
    token: "envtoken",
    tokenSource: "MILPA_TOKEN",
  });
  const fileOnly = fakeContext({ MILPA_HOME: "/mh" }, {
    "/mh/client.yaml": yamlConfig("http://file:1", "filetoken"),
  });
  assert.deepEqual(await loadClientConfig(fileOnly, { endpoint: "127.0.0.1:9/" }), {
    endpoint: "https://127.0.0.1:9",
    token: "filetoken",
    tokenSource: "/mh/client.yaml",
  });
});

Deno.test("loadClientConfig() looks in ./.milpa before ~/.milpa when MILPA_HOME is unset", async () => {
  const files = {
    "/work/.milpa/client.yaml": yamlConfig("http://cwd:1", "a"),
    "/home/u/.milpa/client.yaml": yamlConfig("http://home:1", "b"),
  };
  const both = fakeContext({ HOME: "/home/u" }, files);
  assert.equal((await loadClientConfig(both, {})).endpoint, "http://cwd:1");
  const homeOnly = fakeContext({ HOME: "/home/u" }, {
    "/home/u/.milpa/client.yaml": files["/home/u/.milpa/client.yaml"],
  });
  assert.equal((await loadClientConfig(homeOnly, {})).endpoint, "http://home:1");
});

Deno.test("clientConfigPaths() uses only $MILPA_HOME when it is set", () => {
  assert.deepEqual(clientConfigPaths(fakeContext({ MILPA_HOME: "/mh", HOME: "/h" }, {})), [
    "/mh/client.yaml",
  ]);
  assert.deepEqual(clientConfigPaths(fakeContext({ HOME: "/h" }, {})), [
    "/work/.milpa/client.yaml",
    "/h/.milpa/client.yaml",
  ]);
});

Deno.test("loadClientConfig() says where it looked and how to start the controller", async () => {
  const ctx = fakeContext({ HOME: "/h" }, {});
  await assert.rejects(loadClientConfig(ctx, {}), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, /MILPA_ENDPOINT/);
    assert.match(err.message, /\/work\/\.milpa\/client\.yaml, \/h\/\.milpa\/client\.yaml/);
    assert.match(err.hint!, /deno task start/);
    return true;
  });
});

Deno.test("loadClientConfig() fails without a token", async () => {
  const ctx = fakeContext({ MILPA_HOME: "/mh" }, { "/mh/client.yaml": "endpoint: http://x:1\n" });
  await assert.rejects(loadClientConfig(ctx, {}), /no token for the controller at http:\/\/x:1/);
});

Deno.test("loadClientConfig() reports a broken client.yaml", async () => {
  const ctx = fakeContext({ MILPA_HOME: "/mh" }, { "/mh/client.yaml": "endpoint: [\n" });
  await assert.rejects(loadClientConfig(ctx, {}), /\/mh\/client\.yaml: /);
  const list = fakeContext({ MILPA_HOME: "/mh" }, { "/mh/client.yaml": "- a\n" });
  await assert.rejects(loadClientConfig(list, {}), /expected a mapping/);
});

Deno.test("normalizeEndpoint() adds https:// and drops trailing slashes", () => {
  assert.equal(normalizeEndpoint("localhost:54555"), "https://localhost:54555");
  assert.equal(normalizeEndpoint("http://localhost:54555/"), "http://localhost:54555");
  assert.equal(normalizeEndpoint("https://milpa.example.com/"), "https://milpa.example.com");
});

const PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

Deno.test("loadClientConfig() takes the CA of the client.yaml that gave the endpoint", async () => {
  const file = `endpoint: https://127.0.0.1:54555\ntoken: t\ncertificateAuthority: |\n  ${
    PEM.trimEnd().replaceAll("\n", "\n  ")
  }\n`;
  const ctx = fakeContext({ MILPA_HOME: "/mh" }, { "/mh/client.yaml": file });
  assert.deepEqual(await loadClientConfig(ctx, {}), {
    endpoint: "https://127.0.0.1:54555",
    token: "t",
    tokenSource: "/mh/client.yaml",
    caCertificate: PEM,
    caSource: "/mh/client.yaml",
  });
  // An endpoint from elsewhere is another controller: the file's CA is not its.
  const other = await loadClientConfig(ctx, { endpoint: "https://10.0.0.5:54555" });
  assert.equal(other.caCertificate, undefined);
});

Deno.test("loadClientConfig() takes MILPA_CA_FILE over client.yaml's CA, for any endpoint", async () => {
  const other = PEM.replace("MIIB", "MIIC");
  const ctx = fakeContext(
    { MILPA_HOME: "/mh", MILPA_CA_FILE: "/ca.pem", MILPA_ENDPOINT: "https://x:1" },
    {
      "/ca.pem": other,
      "/mh/client.yaml": `token: t\ncertificateAuthority: |\n  ${
        PEM.trimEnd().replaceAll("\n", "\n  ")
      }\n`,
    },
  );
  const c = await loadClientConfig(ctx, {});
  assert.equal(c.caCertificate, other);
  assert.equal(c.caSource, "MILPA_CA_FILE (/ca.pem)");
});

Deno.test("loadClientConfig() names an unreadable MILPA_CA_FILE and a certificateAuthority that is no PEM", async () => {
  const missing = fakeContext({ MILPA_CA_FILE: "/nope.pem", MILPA_HOME: "/mh" }, {});
  await assert.rejects(loadClientConfig(missing, {}), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /cannot read MILPA_CA_FILE \/nope\.pem/);
    return true;
  });
  const junk = fakeContext({ MILPA_CA_FILE: "/junk", MILPA_HOME: "/mh" }, { "/junk": "hello" });
  await assert.rejects(loadClientConfig(junk, {}), /MILPA_CA_FILE \/junk holds no PEM/);
  const bad = fakeContext({ MILPA_HOME: "/mh" }, {
    "/mh/client.yaml": "endpoint: https://x:1\ntoken: t\ncertificateAuthority: 7\n",
  });
  await assert.rejects(loadClientConfig(bad, {}), /certificateAuthority must be a PEM certificate/);
});
