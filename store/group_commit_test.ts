import assert from "node:assert/strict";
import { GroupCommitter, keyId, type Write } from "./group_commit.ts";

async function withKv(fn: (kv: Deno.Kv, c: GroupCommitter) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    await fn(kv, GroupCommitter.of(kv));
  } finally {
    kv.close();
  }
}

const put = (key: Deno.KvKey, value: unknown, versionstamp?: string | null): Write => ({
  checks: versionstamp === undefined ? [] : [{ key, versionstamp }],
  mutations: [{ type: "set", key, value }],
  bytes: 100,
});

Deno.test("GroupCommitter writes what is submitted together in one transaction", async () => {
  await withKv(async (kv, c) => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => c.commit(put(["k", i], i, null))),
    );
    assert.ok(results.every((r) => r.ok));
    assert.equal(c.stats.transactions, 1);
    assert.equal((await kv.get(["k", 49])).value, 49);
    // All of them at the same version: one transaction.
    assert.equal(new Set(results.map((r) => (r as Deno.KvCommitResult).versionstamp)).size, 1);
  });
});

Deno.test("GroupCommitter keeps KV's limits: 100 checks and 1,000 mutations a transaction", async () => {
  await withKv(async (kv, c) => {
    const checked = Array.from({ length: 250 }, (_, i) => c.commit(put(["c", i], i, null)));
    assert.ok((await Promise.all(checked)).every((r) => r.ok));
    assert.equal(c.stats.transactions, 3);
    const wide: Write = {
      checks: [],
      mutations: Array.from({ length: 600 }, (_, i) => ({ type: "set", key: ["w", i], value: i })),
      bytes: 1_000,
    };
    const before = c.stats.transactions;
    const two = await Promise.all([c.commit(wide), c.commit({ ...wide })]);
    assert.ok(two.every((r) => r.ok));
    assert.equal(c.stats.transactions - before, 2, "1,200 mutations do not fit in one");
    assert.equal((await kv.get(["w", 599])).value, 599);
  });
});

Deno.test("GroupCommitter lets writes without checks join a transaction whose checks are used up", async () => {
  await withKv(async (_kv, c) => {
    const stamp = (r: Deno.KvCommitResult | Deno.KvCommitError) => r.ok ? r.versionstamp : "";
    // 150 checked creates, then 300 statuses without checks, all queued together.
    const checked = Array.from({ length: 150 }, (_, i) => c.commit(put(["c", i], i, null)));
    const free = Array.from({ length: 300 }, (_, i) => c.commit(put(["f", i], i)));
    const [cs, fs] = [
      (await Promise.all(checked)).map(stamp),
      (await Promise.all(free)).map(stamp),
    ];
    assert.equal(new Set(cs).size, 2, "100 checks a transaction");
    assert.equal(fs[0], cs[0], "the statuses ride with the first 100 creates");
    assert.equal(fs[299], cs[0], "all of them");
    assert.notEqual(cs[100], cs[0]);
    assert.equal(c.stats.transactions, 2);
  });
});

Deno.test("GroupCommitter never decides two writes of one key in the same transaction", async () => {
  await withKv(async (kv, c) => {
    const v1 = await kv.set(["obj"], "v1");
    // Both read version v1 and write: only the first may win (optimistic concurrency).
    const [a, b] = await Promise.all([
      c.commit(put(["obj"], "a", v1.versionstamp)),
      c.commit(put(["obj"], "b", v1.versionstamp)),
    ]);
    assert.equal(a.ok, true);
    assert.equal(b.ok, false);
    assert.equal((await kv.get(["obj"])).value, "a");
  });
});

Deno.test("GroupCommitter answers each write of a merged transaction that failed on its own", async () => {
  await withKv(async (kv, c) => {
    await kv.set(["taken"], "someone");
    const results = await Promise.all([
      c.commit(put(["free", 1], 1, null)),
      c.commit(put(["taken"], "me", null)), // its check fails
      c.commit(put(["free", 2], 2, null)),
    ]);
    assert.deepEqual(results.map((r) => r.ok), [true, false, true]);
    assert.equal((await kv.get(["taken"])).value, "someone");
    assert.equal((await kv.get(["free", 2])).value, 2);
  });
});

Deno.test("GroupCommitter finds the writes whose checks fail and commits the others together again", async () => {
  await withKv(async (kv, c) => {
    await kv.set(["taken", 1], "someone");
    await kv.set(["taken", 2], "someone");
    const status = { current: "v0" };
    const writes = Array.from(
      { length: 500 },
      (_, i) =>
        i === 100 || i === 400
          ? put(["taken", i === 100 ? 1 : 2], "me", null) // their checks fail
          : put(["free", i], i),
    );
    // A write whose late mutation is decided once, and must survive the retry.
    writes.push({
      checks: [],
      mutations: [],
      bytes: 100,
      lateKeys: [["late"]],
      late: () => [{ type: "set", key: ["late"], value: `${status.current}+late` }],
    });
    const results = await Promise.all(writes.map((w) => c.commit(w)));
    status.current = "changed";
    assert.deepEqual(
      results.flatMap((r, i) => r.ok ? [] : [i]),
      [100, 400],
      "only the two stale writes fail",
    );
    // One transaction failed, one committed the 499 others: not 501 transactions, one each.
    assert.equal(c.stats.transactions, 2);
    assert.equal(new Set(results.flatMap((r) => r.ok ? [r.versionstamp] : [])).size, 1);
    assert.equal((await kv.get(["free", 499])).value, 499);
    assert.equal((await kv.get(["taken", 2])).value, "someone");
    assert.equal((await kv.get(["late"])).value, "v0+late");
  });
});

Deno.test("GroupCommitter finds the write KV refuses by halves, not one write at a time", async () => {
  await withKv(async (kv, c) => {
    const writes = Array.from(
      { length: 64 },
      (_, i) => i === 37 ? put(["big"], "x".repeat(70_000)) : put(["ok", i], i),
    );
    const settled = await Promise.allSettled(writes.map((w) => c.commit(w)));
    assert.deepEqual(
      settled.flatMap((s, i) => s.status === "rejected" ? [i] : []),
      [37],
    );
    assert.equal((await kv.get(["ok", 63])).value, 63);
    assert.equal((await kv.get(["big"])).value, null);
    // Halves: at most two committed transactions a level (6 levels), not 63.
    assert.ok(c.stats.transactions <= 12, `${c.stats.transactions} transactions`);
  });
});

Deno.test("GroupCommitter.backlog() tells the writes waiting and the oldest one's wait", async () => {
  await withKv(async (_kv, c) => {
    assert.deepEqual(c.backlog(), { writes: 0, oldestMs: 0 });
    const t0 = performance.now();
    const writes = Array.from({ length: 3_000 }, (_, i) => c.commit(put(["b", i], i)));
    // Not one transaction formed yet (that waits for this turn's microtasks to end).
    const now = c.backlog(t0 + 250);
    assert.equal(now.writes, 3_000);
    assert.ok(now.oldestMs >= 240 && now.oldestMs <= 260, `${now.oldestMs} ms`);
    await Promise.all(writes);
    assert.deepEqual(c.backlog(), { writes: 0, oldestMs: 0 });
  });
});

Deno.test("GroupCommitter fails only the write KV refuses", async () => {
  await withKv(async (kv, c) => {
    const settled = await Promise.allSettled([
      c.commit(put(["ok", 1], "fine")),
      c.commit(put(["big"], "x".repeat(70_000))), // over KV's 64 KiB per value
      c.commit(put(["ok", 2], "fine")),
    ]);
    assert.deepEqual(settled.map((s) => s.status), ["fulfilled", "rejected", "fulfilled"]);
    assert.equal((await kv.get(["ok", 2])).value, "fine");
    assert.equal((await kv.get(["big"])).value, null);
    await c.flush();
  });
});

Deno.test("GroupCommitter decides late mutations when it forms their transaction, after those before it committed", async () => {
  await withKv(async (kv, c) => {
    let current = "v0";
    // The object's writer updates what others read once its write committed (as the index does).
    const first = c.commit(put(["obj"], "v1")).then((r) => {
      current = "v1";
      return r;
    });
    const status = c.commit({
      checks: [],
      mutations: [{ type: "set", key: ["snap"], value: "s" }],
      bytes: 100,
      lateKeys: [["obj"]],
      late: () => [{ type: "set", key: ["obj"], value: `${current}+status` }],
    });
    const [a, b] = await Promise.all([first, status]);
    assert.ok(a.ok && b.ok);
    assert.equal((await kv.get(["obj"])).value, "v1+status", "built on the write before it");
    assert.equal(c.stats.transactions, 2, "the same key: not in the same transaction");
    // 300 status writes without checks share transactions (checks would allow 100 each).
    const before = c.stats.transactions;
    await Promise.all(Array.from({ length: 300 }, (_, i) =>
      c.commit({
        checks: [],
        mutations: [],
        bytes: 100,
        lateKeys: [["o", i]],
        late: () => [{ type: "set", key: ["o", i], value: i }],
      })));
    assert.equal(c.stats.transactions - before, 1);
    assert.equal((await kv.get(["o", 299])).value, 299);
  });
});

Deno.test("GroupCommitter puts urgent writes (a request waits) before queued background writes", async () => {
  await withKv(async (_kv, c) => {
    const stamp = (r: Deno.KvCommitResult | Deno.KvCommitError) => r.ok ? r.versionstamp : "";
    // 150 checked background writes: two transactions' worth (100 checks each).
    const background = Array.from({ length: 150 }, (_, i) => c.commit(put(["bg", i], i, null)));
    const urgent = c.commit({ ...put(["req"], "r", null), urgent: true });
    const [req, ...bg] = (await Promise.all([urgent, ...background])).map(stamp);
    // Writes of one transaction share its versionstamp: the request went in the first one,
    // which the 100th background write no longer fits in. (The two transactions are in flight
    // together, so the order their answers come in says nothing.)
    assert.equal(req, bg[0], "with the first background writes");
    assert.notEqual(req, bg[100], "not after them");
    assert.equal(new Set(bg).size, 2);
    assert.equal(c.stats.transactions, 2);
  });
});

Deno.test("GroupCommitter hands KV a second transaction while the first is written, never with the same keys", async () => {
  await withKv(async (kv, c) => {
    const v1 = await kv.set(["obj"], "v1");
    // 250 checked writes (three transactions' worth) and two writes of one key.
    const many = Array.from({ length: 250 }, (_, i) => c.commit(put(["m", i], i, null)));
    const [a, b] = await Promise.all([
      c.commit(put(["obj"], "a", v1.versionstamp)),
      c.commit(put(["obj"], "b", v1.versionstamp)),
      ...many,
    ]);
    assert.equal(a.ok, true);
    assert.equal(b.ok, false, "the second write of a key never rides with the first");
    assert.equal((await kv.get(["obj"])).value, "a");
    assert.equal((await kv.get(["m", 249])).value, 249);
    await c.flush();
  });
});

Deno.test("keyId is equal for equal keys and differs for every two keys KV tells apart", () => {
  const keys: Deno.KvKey[] = [
    ["pods", "default", "web"],
    ["pods", "default/web"],
    ["pods", "defaultweb"],
    ["ab", "c"],
    ["a", "bc"],
    ["1"],
    [1],
    [1n],
    ["1n"],
    [true],
    ["t;"],
    [false],
    [new Uint8Array([1, 2])],
    ["u1,2;"],
    [new Uint8Array([12])],
    ["s1:a"],
    ["a"],
    [],
  ];
  const ids = keys.map(keyId);
  assert.equal(new Set(ids).size, keys.length, ids.join(" | "));
  assert.equal(keyId(["pods", "default", "web"]), keyId(["pods", "default", "web"]));
  assert.equal(keyId([new Uint8Array([1, 2]), 7n]), keyId([new Uint8Array([1, 2]), 7n]));
});

Deno.test('GroupCommitter puts writes of keys that only look alike ("1n" and 1n) in one transaction', async () => {
  await withKv(async (kv, c) => {
    await Promise.all([c.commit(put(["k", "1n"], 1)), c.commit(put(["k", 1n], 2))]);
    assert.equal(c.stats.transactions, 1);
    assert.equal((await kv.get(["k", "1n"])).value, 1);
    assert.equal((await kv.get(["k", 1n])).value, 2);
  });
});

Deno.test("GroupCommitter keeps each key's writes in submission order through a long queue", async () => {
  await withKv(async (kv, c) => {
    // 6,000 writes to 300 keys, 20 each, queued at once: many transactions, each write of a key
    // waiting behind its predecessor (kept in the queue), past the scan limit and the queue's
    // compaction of its front.
    const keys = 300;
    const writes = Array.from({ length: 6_000 }, (_, i) => {
      const write = put(["q", i % keys], i);
      // Some with several mutations, so transactions fill up unevenly.
      if (i % 7 === 0) write.mutations.push({ type: "set", key: ["extra", i], value: i });
      return c.commit(write);
    });
    const results = await Promise.all(writes);
    assert.ok(results.every((r) => r.ok));
    assert.ok(c.stats.transactions > 6, `${c.stats.transactions} transactions`);
    for (let k = 0; k < keys; k++) {
      const stamps: string[] = results.filter((_, i) => i % keys === k)
        .map((r) => (r as Deno.KvCommitResult).versionstamp);
      for (let j = 1; j < stamps.length; j++) {
        assert.ok(stamps[j - 1] < stamps[j], `key ${k}: write ${j} committed before ${j - 1}`);
      }
      assert.equal((await kv.get(["q", k])).value, 6_000 - keys + k, `key ${k} holds its last`);
    }
  });
});

Deno.test("GroupCommitter hands KV the next transaction once one is answered, before its writers run; their keys wait for them", async () => {
  await withKv(async (kv, c) => {
    // Three writes of 600 mutations each: one transaction each, two in flight, one queued.
    const wide = (name: string): Write => ({
      checks: [],
      mutations: Array.from({ length: 600 }, (_, i) => ({ type: "set", key: [name, i], value: i })),
      bytes: 1_000,
    });
    let current = "v0";
    const seen: string[] = [];
    const first = c.commit({
      ...wide("a"),
      mutations: [...wide("a").mutations, { type: "set", key: ["obj"], value: "v1" }],
    })
      .then((r) => {
        // The first transaction's writer: the third is with KV already (none waits).
        seen.push(`first answered; queued ${c.backlog().writes}`);
        current = "v1"; // as the index learns the object's new version
        return r;
      });
    const second = c.commit(wide("b"));
    const third = c.commit(wide("c"));
    // A status of the first's object: decided only after the first's writer saw its answer.
    const status = c.commit({
      checks: [],
      mutations: [],
      bytes: 100,
      lateKeys: [["obj"]],
      late: () => {
        seen.push("status decided");
        return [{ type: "set", key: ["obj"], value: `${current}+status` }];
      },
    });
    const results = await Promise.all([first, second, third, status]);
    assert.ok(results.every((r) => r.ok));
    assert.deepEqual(seen, ["first answered; queued 1", "status decided"]);
    assert.equal((await kv.get(["obj"])).value, "v1+status");
    assert.equal((await kv.get(["c", 599])).value, 599);
  });
});
