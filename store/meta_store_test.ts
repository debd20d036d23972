import assert from "node:assert/strict";
import { getOrCreateMeta, randomToken } from "./meta_store.ts";

Deno.test("getOrCreateMeta() makes the value once and returns it on every later call", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    let made = 0;
    const make = () => `value-${++made}`;
    assert.equal(await getOrCreateMeta(kv, "controllerId", make), "value-1");
    assert.equal(await getOrCreateMeta(kv, "controllerId", make), "value-1");
    assert.equal(made, 1);
    assert.equal((await kv.get(["m", "controllerId"])).value, "value-1");
    assert.equal(await getOrCreateMeta(kv, "apiToken", make), "value-2");
  } finally {
    kv.close();
  }
});

Deno.test("getOrCreateMeta() returns one value to concurrent first callers", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const values = await Promise.all(
      Array.from({ length: 20 }, () => getOrCreateMeta(kv, "agentSecret", () => randomToken())),
    );
    assert.equal(new Set(values).size, 1);
    assert.equal((await kv.get(["m", "agentSecret"])).value, values[0]);
  } finally {
    kv.close();
  }
});

Deno.test("randomToken() returns bytes*2 hex characters, different each time", () => {
  assert.match(randomToken(), /^[0-9a-f]{64}$/);
  assert.match(randomToken(4), /^[0-9a-f]{8}$/);
  assert.notEqual(randomToken(), randomToken());
});
