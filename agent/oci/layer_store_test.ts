import assert from "node:assert/strict";
import { DigestMismatchError } from "./errors.ts";
import { LayerStore } from "./layer_store.ts";
import { sha256, streamOf } from "./testing.ts";

async function withStore(fn: (store: LayerStore, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  try {
    await fn(new LayerStore(`${dir}/images`), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const data = new TextEncoder().encode("layer bytes ".repeat(1000));
const digest = sha256(data);

Deno.test("LayerStore.ensure() stores a verified blob under blobs/sha256/<hex>", async () => {
  await withStore(async (store, dir) => {
    const path = await store.ensure(
      { digest, size: data.length },
      () => Promise.resolve(streamOf(data)),
    );
    assert.equal(path, `${dir}/images/blobs/sha256/${digest.slice(7)}`);
    assert.deepEqual(await Deno.readFile(path), data);
    assert.deepEqual(store.pullStats(), {
      blobsFetched: 1,
      bytesFetched: data.length,
      blobsReused: 0,
    });
    await store.ensure({ digest }, () => Promise.reject(new Error("must not download")));
    assert.equal(store.pullStats().blobsReused, 1);
  });
});

Deno.test("LayerStore.ensure() downloads a blob once for concurrent requests", async () => {
  await withStore(async (store) => {
    let opened = 0;
    const open = async () => {
      opened++;
      await new Promise((r) => setTimeout(r, 20));
      return streamOf(data, 100);
    };
    const paths = await Promise.all(
      Array.from({ length: 5 }, () => store.ensure({ digest }, open)),
    );
    assert.equal(opened, 1);
    assert.equal(new Set(paths).size, 1);
    assert.equal(store.pullStats().bytesFetched, data.length);
  });
});

Deno.test("LayerStore.ensure() rejects bytes that do not match the digest and keeps nothing", async () => {
  await withStore(async (store, dir) => {
    const wrong = data.slice();
    wrong[5] ^= 0xff;
    await assert.rejects(
      store.ensure({ digest }, () => Promise.resolve(streamOf(wrong))),
      (err) => err instanceof DigestMismatchError && err.message.includes(digest),
    );
    assert.equal(await store.has(digest), false);
    assert.deepEqual([...Deno.readDirSync(`${dir}/images/blobs/sha256`)], []);
    await assert.rejects(
      store.ensure({ digest, size: 10 }, () => Promise.resolve(streamOf(data))),
      DigestMismatchError,
    );
    const path = await store.ensure({ digest }, () => Promise.resolve(streamOf(data)));
    assert.deepEqual(await Deno.readFile(path), data);
  });
});

Deno.test("LayerStore.path() refuses digests other than sha256", async () => {
  await withStore((store) => {
    assert.throws(() => store.path("md5:abc"), /only sha256/);
    return Promise.resolve();
  });
});
