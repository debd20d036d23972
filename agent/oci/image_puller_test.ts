import assert from "node:assert/strict";
import { DigestMismatchError, RegistryAuthError } from "./errors.ts";
import { FakeRegistry } from "./fake_registry.ts";
import { credentialFor, ImagePuller } from "./image_puller.ts";
import { LayerStore } from "./layer_store.ts";
import { RegistryClient } from "./registry_client.ts";
import { buildImage, tarArchive } from "./testing.ts";

async function setup(fn: (reg: FakeRegistry, puller: ImagePuller) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const reg = await FakeRegistry.start({ auth: "basic", username: "u", password: "p" });
  try {
    const store = new LayerStore(`${dir}/images`);
    const client = new RegistryClient({ retryDelayMs: 1 });
    await fn(reg, new ImagePuller({ store, client, retryDelayMs: 1 }));
  } finally {
    await reg.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const base = tarArchive([{ path: "bin/", type: "directory" }, { path: "bin/x", content: "x" }]);
const creds = (reg: FakeRegistry) => ({
  [`http://${reg.host}/v2/`]: { username: "u", password: "p" },
});

Deno.test("ImagePuller.pull() fetches each blob once, and nothing for a cached image", async () => {
  await setup(async (reg, puller) => {
    const a = await buildImage([base, tarArchive([{ path: "a", content: "a" }])], { Cmd: ["a"] });
    const b = await buildImage([base, tarArchive([{ path: "b", content: "b" }])], { Cmd: ["b"] });
    reg.push("app/a", "1", a);
    reg.push("app/b", "1", b);
    const [pa, pb] = await Promise.all([
      puller.pull(`${reg.host}/app/a:1`, creds(reg)),
      puller.pull(`${reg.host}/app/b:1`, creds(reg)),
    ]);
    assert.deepEqual(pa.config.config?.Cmd, ["a"]);
    assert.equal(pb.layers.length, 2);
    assert.equal(pa.digest, a.manifestDigest);
    const fetched = reg.blobFetches();
    assert.equal(fetched.filter((d) => d === a.layerDigests[0]).length, 1, "shared base once");
    assert.equal(new Set(fetched).size, fetched.length);
    const before = puller.store.pullStats();
    assert.equal(before.blobsFetched, 5);
    await puller.pull(`${reg.host}/app/a:1`, creds(reg));
    const after = puller.store.pullStats();
    assert.equal(after.bytesFetched, before.bytesFetched);
    assert.equal(after.blobsFetched, before.blobsFetched);
    assert.equal(reg.blobFetches().length, fetched.length);
  });
});

Deno.test("ImagePuller.pull() retries a corrupt blob, then fails naming image and digest", async () => {
  await setup(async (reg, puller) => {
    const img = await buildImage([base]);
    reg.push("app/c", "1", img);
    reg.corrupt.add(img.layerDigests[0]);
    await assert.rejects(
      puller.pull(`${reg.host}/app/c:1`, creds(reg)),
      (e) =>
        e instanceof Error && e.cause instanceof DigestMismatchError &&
        e.message.startsWith(
          `Cannot pull image "${reg.host}/app/c:1": blob ${img.layerDigests[0]}`,
        ),
    );
    assert.equal(reg.blobFetches().filter((d) => d === img.layerDigests[0]).length, 3);
    reg.corrupt.clear();
    const ok = await puller.pull(`${reg.host}/app/c:1`, creds(reg));
    assert.equal(ok.layers[0].digest, img.layerDigests[0]);
  });
});

Deno.test("ImagePuller.pull() without credentials fails with a RegistryAuthError", async () => {
  await setup(async (reg, puller) => {
    reg.push("app/d", "1", await buildImage([base]));
    await assert.rejects(
      puller.pull(`${reg.host}/app/d:1`),
      (e) =>
        e instanceof RegistryAuthError &&
        e.message === `Cannot pull image "${reg.host}/app/d:1": registry "${reg.host}" ` +
            "requires authentication and the pod has no credentials for it (imagePullSecrets)",
    );
    await assert.rejects(
      puller.pull("Bad:Ref"),
      /Cannot pull image "Bad:Ref": invalid image reference/,
    );
  });
});

Deno.test("credentialFor() matches registry keys however they are spelled", () => {
  const c = { username: "u", password: "p" };
  assert.equal(credentialFor("docker.io", { "https://index.docker.io/v1/": c }), c);
  assert.equal(credentialFor("reg:5000", { "reg:5000": c }), c);
  assert.equal(credentialFor("reg:5000", { "reg": c }), undefined);
});
