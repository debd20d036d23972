import assert from "node:assert/strict";
import { FakeClock } from "../model/fake_clock.ts";
import type { MilpaObject } from "../model/meta.ts";
import { ActorStore } from "./actor_store.ts";
import type { WatchEvent } from "./object_store.ts";
import { ObjectStore } from "./object_store.ts";

interface Fixture {
  kv: Deno.Kv;
  objects: ObjectStore;
  actors: ActorStore;
  events: WatchEvent[];
  /** Each event's JSON as a watch sends it (undefined: none at hand). */
  texts: (string | undefined)[];
}

/** Runs `fn` with stores on a fresh in-memory KV (closed afterwards) and a watch log. */
async function withActors(fn: (f: Fixture) => Promise<void>): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  try {
    const objects = new ObjectStore(kv, new FakeClock());
    const events: WatchEvent[] = [];
    const texts: (string | undefined)[] = [];
    objects.watch(({ json, ...e }) => {
      events.push(e);
      texts.push(json?.());
    });
    await fn({ kv, objects, actors: new ActorStore(objects, kv), events, texts });
  } finally {
    kv.close();
  }
}

function pod(name: string): MilpaObject {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name, labels: { app: name } },
    spec: { units: [{ name: "main", image: "nginx" }] },
    status: { phase: "Waiting" },
  };
}

async function chunkKeys(kv: Deno.Kv, id: string): Promise<Deno.KvKey[]> {
  const out: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix: ["sc", id] })) out.push(e.key);
  return out;
}

const ID = "pod/default/web";

Deno.test("ActorStore.load() returns what save() stored, and undefined for an unknown actor", async () => {
  await withActors(async ({ actors }) => {
    const snapshot = { value: "Running", context: { attempts: 2, node: null, list: [1, 2] } };
    await actors.save(ID, snapshot);
    assert.deepEqual(await actors.load(ID), snapshot);
    assert.equal(await actors.load("pod/default/other"), undefined);
    await actors.save(ID, { value: "Succeeded" });
    assert.deepEqual(await actors.load(ID), { value: "Succeeded" });
  });
});

Deno.test("ActorStore.save() with an owned status writes the object's status with the snapshot", async () => {
  await withActors(async ({ objects, actors, events, texts }) => {
    const created = await objects.create(pod("web"));
    events.length = 0;
    texts.length = 0;
    const status = { phase: "Running", boundNodeName: "node-1" };
    await actors.save(ID, { value: "Running" }, {
      kind: "Pod",
      namespace: "default",
      name: "web",
      status,
    });
    const stored = await objects.mustGet("pods", "default", "web");
    assert.deepEqual(stored.status, status);
    assert.deepEqual(stored.spec, created.spec);
    assert.deepEqual(stored.metadata.labels, created.metadata.labels);
    assert.equal(stored.metadata.generation, created.metadata.generation);
    assert.notEqual(stored.metadata.resourceVersion, created.metadata.resourceVersion);
    assert.deepEqual(await actors.load(ID), { value: "Running" });
    assert.deepEqual(events, [{ type: "MODIFIED", object: stored }]);
    assert.deepEqual(
      texts,
      [await objects.getJson("pods", "default", "web")],
      "a watch sends what GET serves",
    );
  });
});

Deno.test("ActorStore.save() with an unchanged status writes only the snapshot and emits nothing", async () => {
  await withActors(async ({ objects, actors, events }) => {
    await objects.create(pod("web"));
    const owned = { kind: "Pod", namespace: "default", name: "web", status: { phase: "Running" } };
    await actors.save(ID, { value: "Running", n: 1 }, owned);
    const first = await objects.mustGet("pods", "default", "web");
    events.length = 0;
    await actors.save(ID, { value: "Running", n: 2 }, structuredClone(owned));
    assert.deepEqual(events, []);
    assert.deepEqual(await objects.mustGet("pods", "default", "web"), first);
    assert.deepEqual(await actors.load(ID), { value: "Running", n: 2 });
  });
});

Deno.test("ActorStore.save() writes a cluster-scoped object's status", async () => {
  await withActors(async ({ objects, actors, events }) => {
    await objects.create({
      kind: "Node",
      apiVersion: "v1",
      metadata: { name: "node-1" },
      spec: { instanceType: "t3.nano" },
    });
    events.length = 0;
    await actors.save("node/node-1", { value: "Available" }, {
      kind: "Node",
      name: "node-1",
      status: { phase: "Available" },
    });
    assert.deepEqual((await objects.mustGet("nodes", undefined, "node-1")).status, {
      phase: "Available",
    });
    assert.deepEqual(events.map((e) => e.type), ["MODIFIED"]);
  });
});

Deno.test("ActorStore.save() for an object that is gone writes only the snapshot", async () => {
  await withActors(async ({ kv, objects, actors, events }) => {
    await actors.save(ID, { value: "Terminated" }, {
      kind: "Pod",
      namespace: "default",
      name: "web",
      status: { phase: "Terminated" },
    });
    assert.deepEqual(await actors.load(ID), { value: "Terminated" });
    assert.equal(await objects.get("pods", "default", "web"), null);
    assert.deepEqual(events, []);
    const keys: Deno.KvKey[] = [];
    for await (const e of kv.list({ prefix: [] })) keys.push(e.key);
    assert.deepEqual(keys, [["s", ID]]);
  });
});

Deno.test("ActorStore.save() splits a snapshot over 30 000 characters into chunks that load back intact", async () => {
  await withActors(async ({ kv, actors }) => {
    const big = { value: "Running", context: { log: "abcdefghij".repeat(7_000) } };
    await actors.save(ID, big);
    const json = JSON.stringify(big);
    const n = Math.ceil(json.length / 30_000);
    assert.equal(n, 3);
    assert.deepEqual((await kv.get(["s", ID])).value, { n });
    assert.deepEqual(await chunkKeys(kv, ID), [["sc", ID, 0], ["sc", ID, 1], ["sc", ID, 2]]);
    assert.deepEqual(await actors.load(ID), big);
  });
});

Deno.test("ActorStore.save() of a smaller snapshot removes the chunks it no longer needs", async () => {
  await withActors(async ({ kv, actors }) => {
    await actors.save(ID, { log: "x".repeat(85_000) });
    assert.equal((await chunkKeys(kv, ID)).length, 3);
    const medium = { log: "y".repeat(50_000) };
    await actors.save(ID, medium);
    assert.deepEqual(await chunkKeys(kv, ID), [["sc", ID, 0], ["sc", ID, 1]]);
    assert.deepEqual(await actors.load(ID), medium);
    await actors.save(ID, { log: "small" });
    assert.deepEqual(await chunkKeys(kv, ID), []);
    assert.deepEqual((await kv.get(["s", ID])).value, { v: '{"log":"small"}' });
    assert.deepEqual(await actors.load(ID), { log: "small" });
  });
});

Deno.test("ActorStore.loadAll() returns every snapshot by system id, chunked or not", async () => {
  await withActors(async ({ actors }) => {
    const big = { log: "z".repeat(80_000) };
    await actors.save("pod/default/a", { value: "Waiting" });
    await actors.save("node/node-1", big);
    await actors.save("pool", { value: "Ready" });
    const all = await actors.loadAll();
    assert.deepEqual(
      [...all.entries()].sort(([a], [b]) => a.localeCompare(b)),
      [["node/node-1", big], ["pod/default/a", { value: "Waiting" }], ["pool", { value: "Ready" }]],
    );
  });
});

Deno.test("ActorStore.remove() forgets the snapshot and its chunks", async () => {
  await withActors(async ({ kv, actors }) => {
    await actors.save(ID, { log: "x".repeat(130_000) });
    await actors.save("pod/default/other", { value: "Waiting" });
    await actors.remove(ID);
    assert.equal(await actors.load(ID), undefined);
    assert.deepEqual(await chunkKeys(kv, ID), []);
    assert.deepEqual([...(await actors.loadAll()).keys()], ["pod/default/other"]);
    await actors.remove("never/saved");
  });
});

Deno.test({
  name:
    "ActorStore.save() chunks a snapshot of non-Latin-1 text that fits in characters but not in bytes",
  fn: async () => {
    await withActors(async ({ actors }) => {
      const snapshot = { message: "节点".repeat(20_000) };
      await actors.save(ID, snapshot);
      assert.deepEqual(await actors.load(ID), snapshot);
    });
  },
});
