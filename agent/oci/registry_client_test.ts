import assert from "node:assert/strict";
import { DigestMismatchError, RegistryAuthError, RegistryNotFoundError } from "./errors.ts";
import { FakeRegistry, type FakeRegistryOptions } from "./fake_registry.ts";
import { parseReference } from "./reference.ts";
import { parseChallenge } from "./registry_auth.ts";
import { proxyFetch, RegistryClient } from "./registry_client.ts";
import { PullProxy } from "../../cloud/local/pull_proxy.ts";
import { buildImage, sha256, tarArchive } from "./testing.ts";

const CREDS = { username: "alice", password: "s3cret" };

async function withRegistry(
  options: FakeRegistryOptions,
  fn: (reg: FakeRegistry, image: Awaited<ReturnType<typeof buildImage>>) => Promise<void>,
) {
  const reg = await FakeRegistry.start({ ...CREDS, ...options });
  try {
    const image = await buildImage([tarArchive([{ path: "hello", content: "hi" }])], {
      Cmd: ["/hello"],
    });
    reg.push("team/app", "v1", image);
    await fn(reg, image);
  } finally {
    await reg.close();
  }
}

const client = () => new RegistryClient({ retryDelayMs: 1 });

Deno.test("RegistryClient.manifest() pulls anonymously from an open registry", async () => {
  await withRegistry({}, async (reg, image) => {
    const got = await client().manifest(parseReference(`${reg.host}/team/app:v1`));
    assert.equal(got.digest, image.manifestDigest);
    assert.equal(got.manifest.config.digest, image.configDigest);
    assert.equal(reg.requests[0].authorization, undefined);
  });
});

Deno.test("RegistryClient follows a bearer challenge anonymously (Docker Hub's flow)", async () => {
  await withRegistry({ auth: "bearer", anonymousTokens: true }, async (reg, image) => {
    const c = client();
    const ref = parseReference(`${reg.host}/team/app:v1`);
    const got = await c.manifest(ref);
    assert.equal(got.digest, image.manifestDigest);
    const res = await c.blob(ref, image.configDigest);
    assert.equal(sha256(new Uint8Array(await res.arrayBuffer())), image.configDigest);
    const paths = reg.requests.map((r) => r.path);
    assert.deepEqual(paths, [
      "/v2/team/app/manifests/v1",
      "/token",
      "/v2/team/app/manifests/v1",
      `/v2/team/app/blobs/${image.configDigest}`,
    ]);
    assert.equal(reg.requests[1].authorization, undefined);
  });
});

Deno.test("RegistryClient sends credentials to the token service and for basic auth", async () => {
  for (const auth of ["bearer", "basic"] as const) {
    await withRegistry({ auth }, async (reg, image) => {
      const ref = parseReference(`${reg.host}/team/app:v1`);
      const got = await client().manifest(ref, CREDS);
      assert.equal(got.digest, image.manifestDigest, auth);
      assert.ok(reg.requests.some((r) => r.authorization?.startsWith("Basic ")), auth);
    });
  }
});

Deno.test("RegistryClient says when credentials are missing or rejected", async () => {
  for (const auth of ["bearer", "basic"] as const) {
    await withRegistry({ auth }, async (reg) => {
      const ref = parseReference(`${reg.host}/team/app:v1`);
      await assert.rejects(
        client().manifest(ref),
        (e) =>
          e instanceof RegistryAuthError &&
          /requires authentication.*no credentials/.test(e.message),
      );
      await assert.rejects(
        client().manifest(ref, { username: "alice", password: "wrong" }),
        (e) => e instanceof RegistryAuthError && /rejected the pod's credentials/.test(e.message),
      );
    });
  }
});

Deno.test("RegistryClient resolves a manifest list to linux/amd64", async () => {
  await withRegistry({}, async (reg, image) => {
    const arm = `sha256:${"0".repeat(64)}`;
    const index = new TextEncoder().encode(JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        { digest: arm, size: 1, platform: { os: "linux", architecture: "arm64" } },
        {
          digest: image.manifestDigest,
          size: image.manifest.length,
          platform: { os: "linux", architecture: "amd64" },
        },
      ],
    }));
    reg.putManifest("team/app", "multi", index, "application/vnd.oci.image.index.v1+json");
    const ref = parseReference(`${reg.host}/team/app:multi`);
    const got = await new RegistryClient({ architecture: "amd64" }).manifest(ref);
    assert.equal(got.digest, image.manifestDigest);
    await assert.rejects(
      new RegistryClient({ architecture: "s390x" }).manifest(ref),
      /no linux\/s390x image in the manifest list \(it has linux\/arm64, linux\/amd64\)/,
    );
  });
});

Deno.test("RegistryClient verifies manifests fetched by digest", async () => {
  await withRegistry({}, async (reg, image) => {
    const other = `sha256:${"1".repeat(64)}`;
    reg.manifests.set(`team/app:${other}`, {
      body: image.manifest,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
    });
    await assert.rejects(
      client().manifest(parseReference(`${reg.host}/team/app@${other}`)),
      DigestMismatchError,
    );
    const ok = await client().manifest(
      parseReference(`${reg.host}/team/app@${image.manifestDigest}`),
    );
    assert.equal(ok.digest, image.manifestDigest);
  });
});

Deno.test("RegistryClient retries 5xx answers and reports 404s with the registry's words", async () => {
  await withRegistry({}, async (reg, image) => {
    reg.failNext(/manifests/, 503, 2);
    const got = await client().manifest(parseReference(`${reg.host}/team/app:v1`));
    assert.equal(got.digest, image.manifestDigest);
    reg.failNext(/manifests/, 500, 4);
    await assert.rejects(
      client().manifest(parseReference(`${reg.host}/team/app:v1`)),
      /answered 500/,
    );
    await assert.rejects(
      client().manifest(parseReference(`${reg.host}/team/app:nope`)),
      (e) =>
        e instanceof RegistryNotFoundError &&
        e.message === `manifest "team/app:nope" not found in registry "${reg.host}": ` +
            "MANIFEST_UNKNOWN manifest unknown",
    );
  });
});

Deno.test("RegistryClient reports an unreachable registry after its retries", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assert.rejects(
    new RegistryClient({ attempts: 2, retryDelayMs: 1 }).manifest(
      parseReference(`127.0.0.1:${port}/x:1`),
    ),
    new RegExp(`cannot reach registry "127.0.0.1:${port}" \\(http://127.0.0.1:${port}\\)`),
  );
});

/**
 * Runs `fn` with the local cloud's registry proxy on 127.0.0.1 and a fetch through it; it may
 * connect to `loopbackPorts` of this host.
 */
async function withProxy(
  nodeRange: string,
  fn: (proxied: typeof fetch, nodes: string[], logs: string[]) => Promise<void>,
  loopbackPorts: number[] = [],
) {
  const nodes: string[] = [];
  const logs: string[] = [];
  const proxy = PullProxy.start({
    hostname: "127.0.0.1",
    nodeRange,
    authorize: (node, token) => {
      nodes.push(node);
      return Promise.resolve(node === "node-a" && token === "secret-a");
    },
    log: (m) => logs.push(m),
    lookup: (host) => Promise.resolve(host === "node.example" ? ["127.98.0.9"] : []),
    loopbackPorts,
  });
  const through = proxyFetch({ url: proxy.url, username: "node-a", password: "secret-a" });
  try {
    await fn(through.fetch, nodes, logs);
  } finally {
    through.close();
    await proxy.close();
  }
}

Deno.test("RegistryClient pulls through a registry proxy with proxyFetch()", async () => {
  await withRegistry({ auth: "bearer" }, async (reg, image) => {
    await withProxy("127.98.0.0/16", async (proxied, nodes, logs) => {
      const c = new RegistryClient({ fetch: proxied, retryDelayMs: 1 });
      const ref = parseReference(`${reg.host}/team/app:v1`);
      const got = await c.manifest(ref, CREDS);
      assert.equal(got.digest, image.manifestDigest);
      const res = await c.blob(ref, image.configDigest, CREDS);
      assert.equal(sha256(new Uint8Array(await res.arrayBuffer())), image.configDigest);
      assert.equal(reg.requests.length, 4, "challenge, token, manifest, blob");
      assert.deepEqual(nodes, ["node-a", "node-a", "node-a", "node-a"], "all through the proxy");
      assert.deepEqual(logs, []);
    }, [Number(reg.host.split(":")[1])]);
  });
});

Deno.test("RegistryClient tells the registry proxy's refusals from the registry's", async () => {
  const reg = await FakeRegistry.start({ hostname: "127.98.0.9" });
  try {
    await withProxy("127.98.0.0/16", async (proxied, _nodes, logs) => {
      await assert.rejects(
        new RegistryClient({ fetch: proxied }).manifest(parseReference(`${reg.host}/x:1`)),
        (e) =>
          !(e instanceof RegistryAuthError) &&
          e instanceof Error &&
          e.message === `the registry proxy answered 403 for manifest "x:1" of registry ` +
              `"${reg.host}": 127.98.0.9 is in the node range 127.98.0.0/16; nodes reach it ` +
              "directly",
      );
      // An https registry is tunnelled: fetch only says the tunnel failed, the proxy logs why.
      await assert.rejects(
        new RegistryClient({ fetch: proxied, attempts: 1 }).manifest(
          parseReference("node.example:5000/x:1"),
        ),
        /^ImageError: cannot reach registry "node\.example:5000" \(https:\/\/node\.example:5000\): fetch failed: .+/,
      );
      assert.equal(reg.requests.length, 0);
      assert.equal(logs.length, 2);
      assert.match(logs[1], /^refused CONNECT node\.example:5000 from node "node-a" .* node range/);
    });
  } finally {
    await reg.close();
  }
});

Deno.test("parseChallenge() reads schemes and quoted parameters", () => {
  assert.deepEqual(
    parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io"'),
    {
      scheme: "bearer",
      params: { realm: "https://auth.docker.io/token", service: "registry.docker.io" },
    },
  );
  assert.deepEqual(parseChallenge('Basic realm="x"'), { scheme: "basic", params: { realm: "x" } });
  assert.equal(parseChallenge(null), undefined);
});
