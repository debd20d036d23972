/** NodeCredentials: tokens from a key file and the node object's uid, ending with the node. */
import assert from "node:assert/strict";
import { FakeClock } from "../model/fake_clock.ts";
import type { Node, NodePhase } from "../model/node.ts";
import { createHmac } from "node:crypto";
import {
  CredentialKey,
  loadOrCreateNodeKey,
  NODE_KEY_FILE,
  NodeCredentials,
} from "./node_credentials.ts";
import { ObjectStore } from "./object_store.ts";

interface Fixture {
  dir: string;
  keyFile: string;
  kv: Deno.Kv;
  store: ObjectStore;
  open(): Promise<NodeCredentials>;
  /** Stores node `name` in `phase` (created when missing). */
  node(name: string, phase?: NodePhase): Promise<void>;
}

async function withCredentials(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "milpa-creds-" });
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  const store = new ObjectStore(kv, clock);
  const keyFile = `${dir}/${NODE_KEY_FILE}`;
  const node = async (name: string, phase: NodePhase = "Available") => {
    const current = await store.get<Node>("nodes", undefined, name);
    const obj: Node = current ?? {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name },
      spec: { instanceType: "t3.nano" },
    };
    const next = { ...obj, status: { phase } };
    if (current) await store.update(next);
    else await store.create(next);
  };
  try {
    await fn({
      dir,
      keyFile,
      kv,
      store,
      open: () => NodeCredentials.open({ store, kv, keyFile }),
      node,
    });
  } finally {
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const hex = (b: ArrayBuffer) =>
  Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, "0")).join("");

/** Every value in KV, as one JSON text. */
async function dump(kv: Deno.Kv): Promise<string> {
  const all = [];
  for await (const e of kv.list({ prefix: [] })) all.push([e.key, e.value]);
  return JSON.stringify(all);
}

Deno.test("NodeCredentials.issue() gives a node the same token every time, writes nothing, and KV never holds it", async () => {
  await withCredentials(async ({ kv, open, node }) => {
    const creds = await open();
    await node("node-a");
    await node("node-b");
    const before = await dump(kv);
    const [first, ...again] = await Promise.all([
      creds.issue("node-a"),
      creds.issue("node-a"),
      creds.issue("node-a"),
    ]);
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.deepEqual(again, [first, first], "concurrent issues agree on one token");
    assert.equal(await creds.issue("node-a"), first);
    assert.notEqual(await creds.issue("node-b"), first);
    const after = await dump(kv);
    assert.ok(!after.includes(first), "the token is not in KV");
    assert.equal(after, before, "issuing writes nothing: a launch waits for no KV commit");
    assert.ok(await creds.verify("node-a", first));
    await assert.rejects(creds.issue("node-c"), /node node-c has no Node object/);
  });
});

Deno.test("NodeCredentials.verify() accepts a node's token for that node only", async () => {
  await withCredentials(async ({ open, node }) => {
    const creds = await open();
    await node("node-a");
    await node("node-b");
    const a = await creds.issue("node-a");
    const b = await creds.issue("node-b");
    assert.equal(await creds.verify("node-a", a), true);
    assert.equal(await creds.verify("node-b", b), true);
    assert.equal(await creds.verify("node-b", a), false, "A's token is not B's");
    assert.equal(await creds.verify("node-a", b), false);
    for (const wrong of ["", "x", a.slice(0, -1), `${a}0`, a.toUpperCase()]) {
      assert.equal(await creds.verify("node-a", wrong), false, JSON.stringify(wrong));
    }
    assert.equal(await creds.verify("node-c", a), false, "a node with no credentials");
  });
});

Deno.test("NodeCredentials.verify() refuses a node that is gone or terminating", async () => {
  await withCredentials(async ({ store, open, node }) => {
    const creds = await open();
    await node("node-a", "Creating");
    const token = await creds.issue("node-a");
    assert.equal(await creds.verify("node-a", token), true);
    for (const phase of ["Terminating", "Terminated"] as const) {
      await node("node-a", phase);
      assert.equal(await creds.verify("node-a", token), false, phase);
    }
    await node("node-a", "Claimed");
    assert.equal(await creds.verify("node-a", token), true);
    await store.delete("nodes", undefined, "node-a");
    assert.equal(await creds.verify("node-a", token), false, "deleted");
  });
});

Deno.test("NodeCredentials: a node's token ends with its object; a later node of the same name gets another", async () => {
  await withCredentials(async ({ store, open, node }) => {
    const creds = await open();
    await node("node-a");
    const token = await creds.issue("node-a");
    await creds.revoke("node-a");
    await creds.revoke("node-a");
    assert.equal(await creds.verify("node-a", token), true, "ends with the Terminating phase");
    await store.delete("nodes", undefined, "node-a");
    assert.equal(await creds.verify("node-a", token), false);
    await node("node-a");
    const next = await creds.issue("node-a");
    assert.notEqual(next, token, "another object, another uid");
    assert.equal(await creds.verify("node-a", token), false, "the old one stays refused");
    assert.equal(await creds.verify("node-a", next), true);
  });
});

Deno.test("NodeCredentials after a restart: the same key file and KV give the same tokens; a new key file refuses them", async () => {
  await withCredentials(async ({ keyFile, open, node }) => {
    await node("node-a");
    const before = await (await open()).issue("node-a");
    const restarted = await open();
    assert.equal(await restarted.verify("node-a", before), true, "the running agent's token");
    assert.equal(await restarted.issue("node-a"), before, "a re-run launch hands out the same");

    await Deno.remove(keyFile);
    const rekeyed = await open();
    assert.equal(await rekeyed.verify("node-a", before), false, "KV alone opens nothing");
    const after = await rekeyed.issue("node-a");
    assert.notEqual(after, before);
    assert.equal(await rekeyed.verify("node-a", after), true);
    assert.equal(await rekeyed.verify("node-a", before), false);
  });
});

Deno.test("loadOrCreateNodeKey() makes 32 random bytes, mode 0600, once; refuses a bad file", async () => {
  await withCredentials(async ({ dir, keyFile }) => {
    const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateNodeKey(keyFile)));
    assert.equal(keys[0].length, 32);
    for (const k of keys) assert.deepEqual(k, keys[0], "racing starts end with one key");
    assert.deepEqual(await loadOrCreateNodeKey(keyFile), keys[0]);
    if (Deno.build.os !== "windows") {
      assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600);
      await Deno.chmod(keyFile, 0o644);
      await loadOrCreateNodeKey(keyFile);
      assert.equal((await Deno.stat(keyFile)).mode! & 0o777, 0o600, "tightened again");
    }
    const names = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    assert.deepEqual(names, [NODE_KEY_FILE], "no temporary file is left");
    await Deno.writeTextFile(keyFile, "short");
    await assert.rejects(
      loadOrCreateNodeKey(keyFile),
      new RegExp(`Cannot use the node credentials key ${keyFile}: it has 5 bytes, not 32`),
    );
  });
});

Deno.test("NodeCredentials tokens are HMAC-SHA256 of name:uid:<uid> under the key file", async () => {
  await withCredentials(async ({ store, keyFile, open, node }) => {
    const creds = await open();
    await node("node-a");
    const token = await creds.issue("node-a");
    const uid = (await store.get<Node>("nodes", undefined, "node-a"))!.metadata.uid!;
    // The same value, computed with WebCrypto.
    const key = await crypto.subtle.importKey(
      "raw",
      await Deno.readFile(keyFile),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    const mac = await crypto.subtle.sign(
      "HMAC",
      key,
      new TextEncoder().encode(`node-a:uid:${uid}`),
    );
    assert.equal(token, hex(mac));
  });
});

Deno.test("NodeCredentials: a token issued before 2026-12-07 (name:nonce, with a record) still verifies until revoked", async () => {
  await withCredentials(async ({ kv, keyFile, open, node }) => {
    await node("node-a");
    // The record and token an earlier version made at the node's first launch.
    const nonce = "0123456789abcdef0123456789abcdef";
    const old = await CredentialKey.of(await loadOrCreateNodeKey(keyFile)).mac(`node-a:${nonce}`);
    const sha256 = hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(old)));
    await kv.set(["nodeCredentials", "node-a"], { nonce, sha256, createdAt: 0 });

    const creds = await open();
    assert.equal(await creds.verify("node-a", old), true, "the running agent's token");
    assert.equal(await creds.issue("node-a"), old, "a re-run launch hands out the same");
    // Another last hex digit, whatever the key made it.
    const tampered = `${old.slice(0, -1)}${old.endsWith("0") ? "1" : "0"}`;
    assert.equal(await creds.verify("node-a", tampered), false, "one digit changed");
    await node("node-a", "Terminating");
    assert.equal(await creds.verify("node-a", old), false, "terminating");
    await node("node-a", "Claimed");
    await creds.revoke("node-a");
    assert.equal((await kv.get(["nodeCredentials", "node-a"])).value, null, "the record goes");
    assert.equal(await creds.verify("node-a", old), false, "revoked");
    const now = await creds.issue("node-a");
    assert.notEqual(now, old);
    assert.equal(await creds.verify("node-a", now), true);
  });
});

Deno.test("CredentialKey.mac() is HMAC-SHA256 (RFC 2104) of the text's UTF-8 under the key, in hex", async () => {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const key = CredentialKey.of(bytes);
  for (const text of ["", "node-1:0123abcd", "pod:日本:é", "x".repeat(200)]) {
    assert.equal(await key.mac(text), createHmac("sha256", bytes).update(text).digest("hex"));
  }
  // RFC 4231, test case 2: a key shorter than the block.
  const rfc = CredentialKey.of(new TextEncoder().encode("Jefe"));
  assert.equal(
    await rfc.mac("what do ya want for nothing?"),
    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
  );
  assert.notEqual(
    await CredentialKey.of(new Uint8Array(32)).mac("a"),
    await CredentialKey.of(new Uint8Array(32).fill(1)).mac("a"),
  );
});
