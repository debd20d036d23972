import assert from "node:assert/strict";
import { uuidv7, uuidVersion } from "./uuid.ts";

Deno.test("uuidv7() is a version 7 UUID holding its time in its first 48 bits", () => {
  const ms = Date.UTC(2026, 11, 6, 23, 30, 0, 123);
  const id = uuidv7(ms);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(uuidVersion(id), 7);
  assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), ms);
  // The RFC's own example time: 2022-02-22 19:22:22 UTC is 017f22e2-79b0-7…
  assert.ok(uuidv7(0x017f22e279b0).startsWith("017f22e2-79b0-7"));
  assert.ok(uuidv7(0).startsWith("00000000-0000-7"));
  assert.ok(uuidv7(2 ** 48 - 1).startsWith("ffffffff-ffff-7"));
});

Deno.test("uuidv7() sorts by time, and names of one moment differ", () => {
  const times = Array.from({ length: 1_000 }, (_, i) => 1_700_000_000_000 + i * 37);
  const ids = times.map((t) => uuidv7(t));
  assert.deepEqual([...ids].sort(), ids, "later names sort after earlier ones");
  const same = new Set(Array.from({ length: 10_000 }, () => uuidv7(1_700_000_000_000)));
  assert.equal(same.size, 10_000);
});

Deno.test("uuidVersion() reads the version of a UUID and refuses other names", () => {
  assert.equal(uuidVersion(crypto.randomUUID()), 4);
  assert.equal(uuidVersion("37621e3e-38b6-4dab-97e3-d719af861b9b"), 4);
  assert.equal(uuidVersion("ip-172-31-44-62.ec2.internal"), undefined);
  assert.equal(uuidVersion("37621e3e38b64dab97e3d719af861b9b"), undefined);
});
