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
    endpoint: "http://127.0.0.1:9",
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

Deno.test("normalizeEndpoint() adds http:// and drops trailing slashes", () => {
  assert.equal(normalizeEndpoint("localhost:54555"), "http://localhost:54555");
  assert.equal(normalizeEndpoint("https://milpa.example.com/"), "https://milpa.example.com");
});
