import assert from "node:assert/strict";
import { parseApiToken } from "../model/api_token.ts";
import { ApiTokenStore } from "./api_tokens.ts";

const NOW = Date.UTC(2026, 0, 1);

async function withStore(fn: (store: ApiTokenStore, kv: Deno.Kv) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(new ApiTokenStore(kv), kv);
  } finally {
    kv.close();
  }
}

Deno.test("ApiTokenStore.create() returns milpa_<id>_<secret> and keeps only the secret's hash", async () => {
  await withStore(async (store, kv) => {
    const t = await store.create({ role: "view", namespace: "team", description: "ci" }, NOW);
    const parsed = parseApiToken(t.token)!;
    assert.equal(parsed.id, t.id);
    assert.deepEqual({ ...t, token: undefined }, {
      kind: "Token",
      apiVersion: "v1",
      id: t.id,
      namespace: "team",
      role: "view",
      description: "ci",
      createdAt: "2026-01-01T00:00:00.000Z",
      token: undefined,
    });
    const stored = JSON.stringify((await kv.get(["apitoken", t.id])).value);
    assert.ok(!stored.includes(parsed.secret), "the secret is not stored");
    assert.match(stored, /"secretHash":"[0-9a-f]{64}"/);
  });
});

Deno.test("ApiTokenStore.verify() accepts the token and refuses a changed, malformed or unknown one", async () => {
  await withStore(async (store) => {
    const t = await store.create({ role: "edit" }, NOW);
    assert.deepEqual(await store.verify(t.token, NOW), { id: t.id, role: "edit" });
    const last = t.token.at(-1) === "0" ? "1" : "0";
    assert.equal(await store.verify(t.token.slice(0, -1) + last, NOW), undefined);
    assert.equal(await store.verify(t.token + "0", NOW), undefined);
    assert.equal(await store.verify(`milpa_000000000000_${"0".repeat(64)}`, NOW), undefined);
    assert.equal(await store.verify("", NOW), undefined);
  });
});

Deno.test("ApiTokenStore: an expired token neither verifies nor lists; a revoked one is gone", async () => {
  await withStore(async (store) => {
    const short = await store.create({ role: "view", ttlMs: 60_000 }, NOW);
    const forever = await store.create({ role: "view" }, NOW + 1);
    assert.equal(short.expiresAt, "2026-01-01T00:01:00.000Z");
    assert.equal(forever.expiresAt, undefined);
    assert.deepEqual((await store.list(NOW)).map((t) => t.id), [short.id, forever.id]);
    assert.ok(await store.verify(short.token, NOW + 59_999));
    assert.equal(await store.verify(short.token, NOW + 60_000), undefined);
    assert.equal(await store.grant(short.id, NOW + 60_000), undefined);
    assert.deepEqual((await store.list(NOW + 60_000)).map((t) => t.id), [forever.id]);

    assert.equal((await store.revoke(forever.id))?.id, forever.id);
    assert.equal(await store.verify(forever.token, NOW), undefined);
    assert.equal(await store.revoke(forever.id), undefined);
  });
});
