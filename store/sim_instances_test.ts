import assert from "node:assert/strict";
import { GroupCommitter } from "./group_commit.ts";
import { SIM_BATCH_MUTATIONS, type SimInstanceRecord, SimInstanceStore } from "./sim_instances.ts";

function record(n: number): SimInstanceRecord {
  return {
    id: `i-${n}`,
    n,
    nodeName: `node-${n}`,
    instanceType: "t3.nano",
    spot: false,
    address: `10.0.0.${n}`,
    launchedAt: 1000 + n,
    clientToken: `node-${n}`,
  };
}

/** Counts the KV commits made through `kv`. */
function countCommits(kv: Deno.Kv): { commits: number } {
  const counter = { commits: 0 };
  const atomic = kv.atomic.bind(kv);
  kv.atomic = () => {
    const op = atomic();
    const commit = op.commit.bind(op);
    op.commit = () => {
      counter.commits++;
      return commit();
    };
    return op;
  };
  return counter;
}

Deno.test("SimInstanceStore keeps instances and the next number for a store opened later", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new SimInstanceStore(kv);
    assert.deepEqual(await store.load(), { instances: [], next: 1 });
    await Promise.all([1, 2, 3].map((n) => store.put(record(n))));
    await store.remove("i-2");
    await store.remove("i-2");
    const later = await new SimInstanceStore(kv).load();
    assert.deepEqual(later.instances.map((i) => i.id).sort(), ["i-1", "i-3"]);
    assert.deepEqual(later.instances.find((i) => i.id === "i-3"), record(3));
    // Numbers are not given twice, even those of instances that are gone.
    await store.remove("i-3");
    assert.equal((await new SimInstanceStore(kv).load()).next, 4);
  } finally {
    kv.close();
  }
});

Deno.test("SimInstanceStore commits a burst of writes in a few batches, not one per write", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new SimInstanceStore(kv);
    const counter = countCommits(kv);
    const N = 2 * SIM_BATCH_MUTATIONS + 10;
    await Promise.all(Array.from({ length: N }, (_, i) => store.put(record(i + 1))));
    assert.ok(counter.commits <= 3, `${counter.commits} commits for ${N} launches`);
    assert.equal((await store.load()).instances.length, N);
    counter.commits = 0;
    await Promise.all(Array.from({ length: N }, (_, i) => store.remove(`i-${i + 1}`)));
    assert.ok(counter.commits <= 3, `${counter.commits} commits for ${N} terminations`);
    assert.deepEqual((await store.load()).instances, []);
  } finally {
    kv.close();
  }
});

Deno.test("SimInstanceStore rejects the writes of a batch that cannot be committed", async () => {
  const kv = await Deno.openKv(":memory:");
  const store = new SimInstanceStore(kv);
  kv.close();
  await assert.rejects(store.put(record(1)));
  await store.flush();
});

Deno.test("SimInstanceStore's writes go before the controller's queued background writes", async () => {
  const kv = await Deno.openKv(":memory:");
  // Every background write is awaited before KV closes, however the test ends: a failed
  // assertion must not close KV under writes in flight (their rejections went unhandled).
  let background: Promise<unknown> = Promise.resolve();
  try {
    // Actors' snapshots waiting for their commits: 24 transactions' worth.
    const committer = GroupCommitter.of(kv);
    let committed = 0;
    background = Promise.allSettled(Array.from({ length: 24_000 }, (_, i) =>
      committer.commit({
        checks: [],
        mutations: [{ type: "set", key: ["s", i], value: i }],
        bytes: 100,
      }).then(() => committed++)));
    // How many had committed when the store handed its write over (it lets a turn pass first,
    // to batch a burst; on a busy machine several transactions commit meanwhile), and when that
    // write committed.
    let atSubmit = -1;
    let atCommit = -1;
    const commit = committer.commit.bind(committer);
    committer.commit = (w) => {
      atSubmit = committed; // only the store's write comes through here
      return commit(w).then((r) => {
        atCommit = committed;
        return r;
      });
    };
    // A launch's record: the cloud's own write, which the launch waits for. Queued behind the
    // others it would wait for every one still waiting (12,000 or more); it goes in the next
    // transaction formed, after the two in flight (a few more may be counted by then: several
    // transactions' results can arrive in one turn).
    await new SimInstanceStore(kv).put(record(1));
    assert.ok(24_000 - atSubmit > 12_000, `${atSubmit} committed before it was submitted`);
    assert.ok(
      atCommit - atSubmit <= 6_000,
      `${atCommit - atSubmit} background writes committed between its submission and its commit`,
    );
  } finally {
    await background;
    kv.close();
  }
});
