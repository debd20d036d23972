import assert from "node:assert/strict";
import { FakeClock } from "../model/fake_clock.ts";
import {
  AlreadyExistsError,
  ConflictError,
  NotFoundError,
  ValidationError,
} from "../model/errors.ts";
import type { MilpaObject } from "../model/meta.ts";
import type { WatchEvent } from "./object_store.ts";
import {
  MAX_BATCH,
  MAX_OBJECT_BYTES,
  metadataMembersAt,
  ObjectStore,
  opIndexOf,
  Projection,
  storedSize,
} from "./object_store.ts";

/** Runs `fn` with a fresh store on an in-memory KV, closed afterwards. */
async function withStore(
  fn: (store: ObjectStore, clock: FakeClock) => Promise<void>,
  kv?: Deno.Kv,
): Promise<void> {
  const db = kv ?? await Deno.openKv(":memory:");
  const clock = new FakeClock();
  try {
    await fn(new ObjectStore(db, clock), clock);
  } finally {
    db.close();
  }
}

function pod(
  name: string,
  opts: { namespace?: string; labels?: Record<string, string>; image?: string } = {},
): MilpaObject {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(opts.labels ? { labels: opts.labels } : {}),
    },
    spec: { units: [{ name: "main", image: opts.image ?? "nginx" }] },
  };
}

function node(name: string): MilpaObject {
  return {
    kind: "Node",
    apiVersion: "v1",
    metadata: { name },
    spec: { instanceType: "t3.nano" },
  };
}

async function kvKeys(kv: Deno.Kv, prefix: Deno.KvKey): Promise<Deno.KvKey[]> {
  const out: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix })) out.push(e.key);
  return out;
}

function names(objs: MilpaObject[]): string[] {
  return objs.map((o) => o.metadata.name);
}

Deno.test("ObjectStore.create() fills uid, creationTimestamp, generation, namespace and resourceVersion", async () => {
  await withStore(async (store, clock) => {
    const created = await store.create(pod("web"));
    assert.match(created.metadata.uid!, /^[0-9a-f-]{36}$/);
    assert.equal(created.metadata.creationTimestamp, new Date(clock.now()).toISOString());
    assert.equal(created.metadata.generation, 1);
    assert.equal(created.metadata.namespace, "default");
    assert.ok(created.metadata.resourceVersion);
    const stored = await store.get("pods", "default", "web");
    assert.deepEqual(stored, created);
  });
});

Deno.test("ObjectStore.create() of a name that is taken fails with AlreadyExistsError", async () => {
  await withStore(async (store) => {
    const first = await store.create(pod("web"));
    await assert.rejects(store.create(pod("web", { image: "httpd" })), AlreadyExistsError);
    assert.deepEqual(await store.get("pods", "default", "web"), first);
  });
});

Deno.test("ObjectStore creates of unique names use no KV checks: a burst of them shares one transaction", async () => {
  const kv = await Deno.openKv(":memory:");
  await withStore(async (store) => {
    const { GroupCommitter } = await import("./group_commit.ts");
    const stats = GroupCommitter.of(kv).stats;
    const burst = (prefix: string, unique: boolean) =>
      Promise.all(
        Array.from({ length: 250 }, (_, i) =>
          store.commit([{ op: "create", object: node(`${prefix}-${i}`), unique }])),
      );
    const before = stats.transactions;
    await burst("checked", false);
    assert.equal(stats.transactions - before, 3, "KV takes 100 checks a transaction");
    const mid = stats.transactions;
    await burst("unique", true);
    assert.equal(stats.transactions - mid, 1);
    assert.equal((await store.list("nodes")).length, 500);
    // The index still knows the name is taken.
    await assert.rejects(
      store.commit([{ op: "create", object: node("unique-7"), unique: true }]),
      AlreadyExistsError,
    );
  }, kv);
});

Deno.test("ObjectStore.get() returns null and mustGet() throws NotFoundError for a missing object", async () => {
  await withStore(async (store) => {
    assert.equal(await store.get("pods", "default", "nope"), null);
    await assert.rejects(store.mustGet("pods", "default", "nope"), NotFoundError);
    await store.create(pod("web", { namespace: "team-a" }));
    assert.equal(await store.get("pods", "default", "web"), null);
    assert.equal((await store.mustGet("pods", "team-a", "web")).metadata.name, "web");
  });
});

Deno.test("ObjectStore.get() accepts a kind's name, plural or alias", async () => {
  await withStore(async (store) => {
    await store.create(pod("web"));
    for (const kind of ["Pod", "pods", "pod", "po"]) {
      assert.equal((await store.get(kind, "default", "web"))?.metadata.name, "web");
    }
  });
});

Deno.test("ObjectStore keys namespaced objects by namespace and cluster-scoped ones by name only", async () => {
  const kv = await Deno.openKv(":memory:");
  await withStore(async (store) => {
    await store.create(pod("web"));
    await store.create(pod("web", { namespace: "team-a" }));
    const n = await store.create({
      ...node("node-1"),
      metadata: { name: "node-1", namespace: "x" },
    });
    assert.equal(n.metadata.namespace, undefined);
    assert.deepEqual(await kvKeys(kv, ["o"]), [
      ["o", "nodes", "", "node-1"],
      ["o", "pods", "default", "web"],
      ["o", "pods", "team-a", "web"],
    ]);
    // The namespace argument means nothing for a cluster-scoped kind.
    assert.equal((await store.get("nodes", "anything", "node-1"))?.metadata.name, "node-1");
    assert.equal((await store.get("nodes", undefined, "node-1"))?.metadata.name, "node-1");
  }, kv);
});

Deno.test("ObjectStore.list() returns one kind, sorted by namespace then name", async () => {
  await withStore(async (store) => {
    for (const n of ["c", "a", "b"]) await store.create(pod(n));
    await store.create(pod("a", { namespace: "team-a" }));
    await store.create(node("node-1"));
    assert.deepEqual(
      (await store.list("pods")).map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
      ["default/a", "default/b", "default/c", "team-a/a"],
    );
    assert.deepEqual(names(await store.list("nodes")), ["node-1"]);
    assert.deepEqual(await store.list("services"), []);
  });
});

Deno.test("ObjectStore.list() with a namespace returns only that namespace", async () => {
  await withStore(async (store) => {
    await store.create(pod("a"));
    await store.create(pod("b", { namespace: "team-a" }));
    await store.create(pod("c", { namespace: "team-ab" }));
    assert.deepEqual(names(await store.list("pods", { namespace: "team-a" })), ["b"]);
    assert.deepEqual(names(await store.list("pods", { namespace: "default" })), ["a"]);
    assert.deepEqual(await store.list("pods", { namespace: "none" }), []);
  });
});

Deno.test("ObjectStore.list() with an equality selector checks every label; KV keeps no label index", async () => {
  const kv = await Deno.openKv(":memory:");
  await withStore(async (store) => {
    await store.create(pod("web-2", { labels: { app: "web", tier: "fe" } }));
    await store.create(pod("web-1", { labels: { app: "web", tier: "be" } }));
    await store.create(pod("api", { labels: { app: "api", tier: "fe" } }));
    await store.create(pod("web-3", { namespace: "team-a", labels: { app: "web" } }));
    await store.create(pod("bare"));
    assert.deepEqual(await kvKeys(kv, ["l"]), [], "nothing but the objects is written");
    assert.deepEqual(names(await store.list("pods", { selector: { app: "web" } })), [
      "web-1",
      "web-2",
      "web-3",
    ]);
    assert.deepEqual(
      names(await store.list("pods", { namespace: "default", selector: { app: "web" } })),
      ["web-1", "web-2"],
    );
    assert.deepEqual(
      names(await store.list("pods", { selector: { matchLabels: { app: "web", tier: "fe" } } })),
      ["web-2"],
    );
    assert.deepEqual(await store.list("pods", { selector: { app: "db" } }), []);
  }, kv);
});

Deno.test("ObjectStore.list() with a set-based selector filters every object", async () => {
  await withStore(async (store) => {
    await store.create(pod("a", { labels: { env: "prod" } }));
    await store.create(pod("b", { labels: { env: "dev" } }));
    await store.create(pod("c", { labels: { env: "test" } }));
    await store.create(pod("d"));
    const sel = (operator: "In" | "NotIn" | "Exists" | "DoesNotExist", values?: string[]) => ({
      matchExpressions: [{ key: "env", operator, values }],
    });
    assert.deepEqual(names(await store.list("pods", { selector: sel("In", ["prod", "dev"]) })), [
      "a",
      "b",
    ]);
    assert.deepEqual(names(await store.list("pods", { selector: sel("NotIn", ["prod"]) })), [
      "b",
      "c",
      "d",
    ]);
    assert.deepEqual(names(await store.list("pods", { selector: sel("Exists") })), [
      "a",
      "b",
      "c",
    ]);
    assert.deepEqual(names(await store.list("pods", { selector: sel("DoesNotExist") })), ["d"]);
  });
});

Deno.test("ObjectStore.list() keeps names in order through creates, deletes and creates again between lists", async () => {
  await withStore(async (store) => {
    // A seeded walk over a small pool of names, so that names come, go and come back.
    let seed = 7;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const pool = Array.from({ length: 40 }, (_, i) => `p-${(i * 7919) % 97}`);
    const live = new Set<string>();
    for (let step = 0; step < 600; step++) {
      const name = pool[random(pool.length)];
      if (live.has(name)) {
        await store.delete("pods", "default", name);
        live.delete(name);
      } else {
        await store.create(pod(name));
        live.add(name);
      }
      if (random(5) === 0) {
        const listed = names(await store.list("pods", { namespace: "default" }));
        assert.deepEqual(listed, [...live].sort(), `after step ${step}`);
      }
    }
    for (let i = 0; i < 8; i++) {
      await store.create(pod(`q-${i}`));
      live.add(`q-${i}`);
    }
    const page = await store.listPage("pods", { namespace: "default", limit: 5 });
    assert.deepEqual(names(page.items), [...live].sort().slice(0, 5));
    assert.equal(page.remainingItemCount, live.size - 5);
  });
});

Deno.test("ObjectStore.objectCount counts the objects held, of every kind, through creates, updates, deletes and failures", async () => {
  await withStore(async (store) => {
    assert.equal(store.objectCount, 0);
    await store.create(pod("a"));
    await store.create(pod("b", { namespace: "other" }));
    await store.create(node("n1"));
    assert.equal(store.objectCount, 3);
    const a = await store.mustGet("pods", "default", "a");
    await store.update({ ...a, metadata: { ...a.metadata, labels: { app: "x" } } });
    await assert.rejects(store.create(pod("a")));
    assert.equal(store.objectCount, 3, "an update and a refused create hold no more");
    await store.delete("pods", "other", "b");
    await store.delete("nodes", undefined, "n1");
    assert.equal(store.objectCount, 1);
    await store.commit([
      { op: "create", object: pod("c") },
      { op: "create", object: pod("d") },
      { op: "delete", object: await store.mustGet("pods", "default", "a") },
    ]);
    assert.equal(store.objectCount, 2);
  });
});

Deno.test("ObjectStore.listProjected() summarizes each version of an object once, as list() would filter", async () => {
  await withStore(async (store) => {
    const seen: string[] = [];
    const images = new Projection<MilpaObject, string>((o) => {
      seen.push(`${o.metadata.name}@${o.metadata.resourceVersion}`);
      return `${o.metadata.name}:${
        (o as { spec: { units: { image: string }[] } }).spec.units[0].image
      }`;
    });
    await store.create(pod("a", { labels: { app: "web" }, image: "nginx:1" }));
    await store.create(pod("b", { labels: { app: "web" }, image: "nginx:1" }));
    await store.create(pod("c", { labels: { app: "db" }, image: "redis" }));
    await store.create(pod("d", { namespace: "other", labels: { app: "web" }, image: "nginx:1" }));
    const web = { namespace: "default", selector: { app: "web" } };
    assert.deepEqual(await store.listProjected("pods", images, web), ["a:nginx:1", "b:nginx:1"]);
    assert.equal(seen.length, 2, "only what the selector and namespace let through is decoded");
    assert.deepEqual(await store.listProjected("pods", images, web), ["a:nginx:1", "b:nginx:1"]);
    assert.equal(seen.length, 2, "a second list decodes nothing");
    const b = await store.mustGet("pods", "default", "b");
    (b as { spec: { units: { image: string }[] } }).spec.units[0].image = "nginx:2";
    const updated = await store.update(b);
    await store.delete("pods", "default", "a");
    assert.deepEqual(await store.listProjected("pods", images, web), ["b:nginx:2"]);
    assert.deepEqual(
      seen.slice(2),
      [`b@${updated.metadata.resourceVersion}`],
      "only the new version",
    );
    assert.deepEqual(await store.listProjected("pods", images), [
      "b:nginx:2",
      "c:redis",
      "d:nginx:1",
    ]);
    assert.equal(seen.length, 5);
  });
});

Deno.test("ObjectStore.update() with a stale resourceVersion fails with ConflictError and writes nothing", async () => {
  await withStore(async (store) => {
    const v1 = await store.create(pod("web", { labels: { app: "web" } }));
    const v2 = await store.update({ ...v1, metadata: { ...v1.metadata, labels: { app: "v2" } } });
    assert.notEqual(v2.metadata.resourceVersion, v1.metadata.resourceVersion);
    await assert.rejects(
      store.update({ ...v1, spec: { units: [{ name: "main", image: "httpd" }] } }),
      ConflictError,
    );
    assert.deepEqual(await store.get("pods", "default", "web"), v2);
  });
});

Deno.test("ObjectStore.update() without a resourceVersion overwrites the current object", async () => {
  await withStore(async (store) => {
    const v1 = await store.create(pod("web"));
    await store.update({ ...v1, metadata: { ...v1.metadata, labels: { a: "1" } } });
    const { resourceVersion: _, ...meta } = v1.metadata;
    const v3 = await store.update({ ...v1, metadata: { ...meta, labels: { a: "3" } } });
    assert.deepEqual(v3.metadata.labels, { a: "3" });
    assert.deepEqual(await store.get("pods", "default", "web"), v3);
  });
});

Deno.test("ObjectStore.update() of a missing object fails with NotFoundError", async () => {
  await withStore(async (store) => {
    await assert.rejects(store.update(pod("ghost")), NotFoundError);
    assert.equal(await store.get("pods", "default", "ghost"), null);
  });
});

Deno.test("ObjectStore.update() keeps uid and creationTimestamp whatever the caller sends", async () => {
  await withStore(async (store, clock) => {
    const v1 = await store.create(pod("web"));
    await clock.advance(60_000);
    const v2 = await store.update({
      ...v1,
      metadata: { ...v1.metadata, uid: "forged", creationTimestamp: "1999-01-01T00:00:00.000Z" },
    });
    assert.equal(v2.metadata.uid, v1.metadata.uid);
    assert.equal(v2.metadata.creationTimestamp, v1.metadata.creationTimestamp);
  });
});

Deno.test("ObjectStore.update() increments generation only when spec changes", async () => {
  await withStore(async (store) => {
    const v1 = await store.create(pod("web"));
    const labels = await store.update({ ...v1, metadata: { ...v1.metadata, labels: { a: "b" } } });
    assert.equal(labels.metadata.generation, 1);
    const status = await store.update({ ...labels, status: { phase: "Running" } });
    assert.equal(status.metadata.generation, 1);
    const spec = await store.update({ ...status, spec: { units: [{ name: "m", image: "x" }] } });
    assert.equal(spec.metadata.generation, 2);
    const same = await store.update({ ...spec, status: { phase: "Failed" } });
    assert.equal(same.metadata.generation, 2);
  });
});

Deno.test("ObjectStore selectors follow label changes and deletes", async () => {
  const kv = await Deno.openKv(":memory:");
  await withStore(async (store) => {
    const v1 = await store.create(pod("web", { labels: { app: "web", tier: "fe" } }));
    const v2 = await store.update({
      ...v1,
      metadata: { ...v1.metadata, labels: { app: "api", tier: "fe" } },
    });
    assert.deepEqual(await store.list("pods", { selector: { app: "web" } }), []);
    assert.deepEqual(names(await store.list("pods", { selector: { app: "api" } })), ["web"]);
    assert.deepEqual(names(await store.list("pods", { selector: { tier: "fe" } })), ["web"]);
    await store.update({ ...v2, metadata: { ...v2.metadata, labels: {} } });
    assert.deepEqual(await store.list("pods", { selector: { tier: "fe" } }), []);
    const v4 = await store.mustGet("pods", "default", "web");
    await store.update({ ...v4, metadata: { ...v4.metadata, labels: { app: "back" } } });
    assert.deepEqual(names(await store.list("pods", { selector: { app: "back" } })), ["web"]);
    await store.delete("pods", "default", "web");
    assert.deepEqual(await store.list("pods", { selector: { app: "back" } }), []);
    assert.deepEqual(await kvKeys(kv, ["l"]), []);
  }, kv);
});

Deno.test("ObjectStore.dropLegacyLabelIndex() deletes the label index older controllers wrote", async () => {
  const kv = await Deno.openKv(":memory:");
  await withStore(async (store) => {
    await store.create(pod("web", { labels: { app: "web" } }));
    // 2,500 entries as a controller before 2026-12-07 left them, and one other key.
    for (let i = 0; i < 2_500; i += 500) {
      const op = kv.atomic();
      for (let j = i; j < i + 500; j++) {
        op.set(["l", "pods", "app", "web", "default", `p${j}`], null);
      }
      await op.commit();
    }
    await kv.set(["m", "keep"], 1);
    assert.equal(await store.dropLegacyLabelIndex(), 2_500);
    assert.deepEqual(await kvKeys(kv, ["l"]), []);
    assert.equal((await kv.get(["m", "keep"])).value, 1);
    assert.deepEqual(names(await store.list("pods", { selector: { app: "web" } })), ["web"]);
    assert.equal(await store.dropLegacyLabelIndex(), 0);
  }, kv);
});

Deno.test("ObjectStore.mutate() applies fn to the current object and stores the result", async () => {
  await withStore(async (store) => {
    await store.create(pod("web"));
    const out = await store.mutate("pods", "default", "web", (p) => {
      p.metadata.labels = { touched: "yes" };
      return p;
    });
    assert.deepEqual(out.metadata.labels, { touched: "yes" });
    assert.deepEqual(await store.get("pods", "default", "web"), out);
  });
});

Deno.test("ObjectStore.mutate() returning null leaves the object alone", async () => {
  await withStore(async (store) => {
    const v1 = await store.create(pod("web"));
    const events: WatchEvent[] = [];
    store.watch((e) => events.push(e));
    assert.deepEqual(await store.mutate("pods", "default", "web", () => null), v1);
    assert.deepEqual(await store.get("pods", "default", "web"), v1);
    assert.deepEqual(events, []);
  });
});

Deno.test("ObjectStore.mutate() of a missing object fails with NotFoundError", async () => {
  await withStore(async (store) => {
    await assert.rejects(store.mutate("pods", "default", "nope", (p) => p), NotFoundError);
  });
});

Deno.test("ObjectStore.mutate() retries when another writer changed the object since it was read", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const other = new ObjectStore(kv);
    await other.create(pod("web"));
    const store = new ObjectStore(kv);
    // The second store has indexed the pod; the other writer changes it behind its back.
    assert.equal((await store.mustGet("pods", "default", "web")).metadata.labels, undefined);
    await other.mutate("pods", "default", "web", (p) => {
      p.metadata.labels = { ...p.metadata.labels, other: "yes" };
      return p;
    });
    const seen: (Record<string, string> | undefined)[] = [];
    const out = await store.mutate("pods", "default", "web", (p) => {
      seen.push(p.metadata.labels);
      p.metadata.labels = { ...p.metadata.labels, mine: "yes" };
      return p;
    });
    assert.equal(seen.length, 2);
    assert.equal(seen[0], undefined);
    assert.deepEqual(seen[1], { other: "yes" });
    assert.deepEqual(out.metadata.labels, { other: "yes", mine: "yes" });
    assert.deepEqual(
      (await new ObjectStore(kv).mustGet("pods", "default", "web")).metadata.labels,
      { other: "yes", mine: "yes" },
    );
    // And the label index in KV agrees with the object.
    assert.deepEqual(
      (await new ObjectStore(kv).list("pods", { selector: { matchLabels: { other: "yes" } } }))
        .map((p) => p.metadata.name),
      ["web"],
    );
  } finally {
    kv.close();
  }
});

Deno.test("ObjectStore.listPage() pages in list order with continue tokens", async () => {
  await withStore(async (store) => {
    for (const ns of ["b", "a"]) {
      for (let i = 0; i < 5; i++) {
        await store.create(pod(`p${i}`, { namespace: ns, labels: { even: String(i % 2 === 0) } }));
      }
    }
    const all = (await store.list("pods")).map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    assert.equal(all.length, 10);
    assert.equal(all[0], "a/p0");
    const paged: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await store.listPage("pods", { limit: 3, continue: cont });
      paged.push(...page.items.map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
      if (page.continue) assert.equal(page.remainingItemCount, 10 - paged.length);
      cont = page.continue;
      pages++;
    } while (cont);
    assert.deepEqual(paged, all);
    assert.equal(pages, 4);
    const even = await store.listPage("pods", {
      namespace: "b",
      selector: { matchLabels: { even: "true" } },
      limit: 2,
    });
    assert.deepEqual(even.items.map((p) => p.metadata.name), ["p0", "p2"]);
    assert.equal(even.remainingItemCount, 1);
    await assert.rejects(store.listPage("pods", { continue: "nonsense" }), /continue token/);
  });
});

Deno.test("ObjectStore.getJson() and listPageJson() give what get() and listPage() give, encoded", async () => {
  await withStore(async (store) => {
    // Top-level metadata after a member holding a nested "metadata" (a template's), and a
    // string value with the key's text in it: only the top-level metadata gets the version.
    await store.create({
      spec: {
        note: '"metadata":{"x":1}',
        template: { metadata: { labels: { app: "a" } }, spec: {} },
      },
      kind: "Deployment",
      apiVersion: "v1",
      metadata: { name: "d", labels: { 'a\\"b': "{[" } },
    } as MilpaObject);
    await store.create(pod("p0"));
    await store.create(pod("p1", { labels: { even: "true" } }));
    const d = await store.mustGet("deployments", "default", "d");
    assert.deepEqual(JSON.parse((await store.getJson("deployments", "default", "d"))!), d);
    assert.equal(await store.getJson("pods", "default", "none"), null);
    await assert.rejects(store.mustGetJson("pods", "default", "none"), NotFoundError);
    const page = await store.listPage("pods", { limit: 1 });
    const pageJson = await store.listPageJson("pods", { limit: 1 });
    assert.deepEqual(pageJson.items.map((j) => JSON.parse(j)), page.items);
    assert.equal(pageJson.continue, page.continue);
    assert.equal(pageJson.remainingItemCount, 1);
    const even = await store.listPageJson("pods", { selector: { matchLabels: { even: "true" } } });
    assert.deepEqual(even.items.map((j) => JSON.parse(j).metadata.name), ["p1"]);
  });
});

Deno.test("metadataMembersAt() finds the top-level metadata object only", () => {
  const at = (o: unknown) => metadataMembersAt(JSON.stringify(o));
  const json = JSON.stringify({ a: { metadata: { x: 1 } }, b: ['"metadata":{'], metadata: {} });
  assert.equal(json.slice(at(JSON.parse(json)) - 12), '"metadata":{}}');
  assert.equal(at({ kind: "Pod", metadata: { name: "p" } }), '{"kind":"Pod","metadata":{'.length);
  assert.equal(at({ kind: "Pod", spec: { metadata: {} } }), -1);
  assert.equal(at({ metadata: "not an object" }), -1);
});

Deno.test("ObjectStore reads objects written by an earlier store on the same database", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const first = new ObjectStore(kv);
    const v1 = await first.create(pod("web", { labels: { app: "web" } }));
    const second = new ObjectStore(kv);
    assert.deepEqual(await second.get("pods", "default", "web"), v1);
    assert.equal(await second.count("pods"), 1);
    // What a caller does to a returned object does not change the store's copy.
    const got = (await second.get("pods", "default", "web"))!;
    got.metadata.labels!.app = "changed";
    assert.equal((await second.get("pods", "default", "web"))!.metadata.labels!.app, "web");
  } finally {
    kv.close();
  }
});

Deno.test("ObjectStore stores each object as its JSON in UTF-8, reads it back with its labels, and reads objects stored as values by earlier versions", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const first = new ObjectStore(kv);
    const web = await first.create(pod("web", { labels: { app: "web" } }));
    await first.create(pod("bare"));
    const raw = (await kv.get(["o", "pods", "default", "web"])).value;
    assert.ok(raw instanceof Uint8Array);
    const { resourceVersion: _, ...meta } = web.metadata;
    assert.deepEqual(JSON.parse(new TextDecoder().decode(raw)), { ...web, metadata: meta });
    // Written by a version before 2026-12-06: the object itself.
    const old = pod("old", { labels: { app: "web" } });
    old.metadata.namespace = "default";
    old.metadata.uid = "u-old";
    await kv.set(["o", "pods", "default", "old"], old);

    // A new store (a restart) loads both forms; selectors see the labels of each.
    const second = new ObjectStore(kv);
    assert.deepEqual(await second.get("pods", "default", "web"), web);
    const listed = await second.list("pods", { selector: { app: "web" } });
    assert.deepEqual(listed.map((p) => p.metadata.name), ["old", "web"]);
    assert.equal(listed[0].metadata.uid, "u-old");
    assert.deepEqual(
      (await second.list("pods", {
        selector: { matchExpressions: [{ key: "app", operator: "DoesNotExist" }] },
      }))
        .map((p) => p.metadata.name),
      ["bare"],
    );
    // Its next write stores the old one as text.
    await second.update({
      ...listed[0],
      metadata: { ...listed[0].metadata, labels: { app: "db" } },
    });
    assert.ok((await kv.get(["o", "pods", "default", "old"])).value instanceof Uint8Array);
    assert.deepEqual(
      (await new ObjectStore(kv).list("pods", { selector: { app: "db" } })).map((p) =>
        p.metadata.name
      ),
      ["old"],
    );
  } finally {
    kv.close();
  }
});

Deno.test("ObjectStore.delete() without a resourceVersion removes the object and returns it", async () => {
  const kv = await Deno.openKv(":memory:");
  await withStore(async (store) => {
    const v1 = await store.create(pod("web", { labels: { app: "web" } }));
    assert.deepEqual(await store.delete("pods", "default", "web"), v1);
    assert.equal(await store.get("pods", "default", "web"), null);
    assert.deepEqual(await kvKeys(kv, []), []);
    await assert.rejects(store.delete("pods", "default", "web"), NotFoundError);
  }, kv);
});

Deno.test("ObjectStore.delete() with a resourceVersion removes only that version", async () => {
  await withStore(async (store) => {
    const v1 = await store.create(pod("web"));
    const v2 = await store.update({ ...v1, metadata: { ...v1.metadata, labels: { a: "b" } } });
    await assert.rejects(
      store.delete("pods", "default", "web", v1.metadata.resourceVersion),
      ConflictError,
    );
    assert.deepEqual(await store.get("pods", "default", "web"), v2);
    await store.delete("pods", "default", "web", v2.metadata.resourceVersion);
    assert.equal(await store.get("pods", "default", "web"), null);
  });
});

Deno.test("ObjectStore.commit() writes several objects in one transaction with one resourceVersion", async () => {
  await withStore(async (store) => {
    const old = await store.create(pod("old"));
    const out = await store.commit([
      { op: "create", object: pod("a") },
      { op: "create", object: pod("b", { namespace: "team-a" }) },
      { op: "update", object: { ...old, metadata: { ...old.metadata, labels: { x: "y" } } } },
    ]);
    assert.deepEqual(names(out), ["a", "b", "old"]);
    assert.equal(new Set(out.map((o) => o.metadata.resourceVersion)).size, 1);
    assert.deepEqual(names(await store.list("pods")), ["a", "old", "b"]);
  });
});

Deno.test("ObjectStore.commit() writes nothing when one operation fails", async () => {
  await withStore(async (store) => {
    const taken = await store.create(pod("taken"));
    const moved = await store.update({ ...taken, metadata: { ...taken.metadata, labels: {} } });
    await assert.rejects(
      store.commit([{ op: "create", object: pod("a") }, { op: "create", object: pod("taken") }]),
      AlreadyExistsError,
    );
    await assert.rejects(
      store.commit([{ op: "create", object: pod("a") }, { op: "update", object: taken }]),
      ConflictError,
    );
    await assert.rejects(
      store.commit([{ op: "create", object: pod("a") }, { op: "delete", object: pod("ghost") }]),
      NotFoundError,
    );
    assert.deepEqual(await store.list("pods"), [moved]);
  });
});

Deno.test("ObjectStore.commit() rejects the same object twice and writes nothing", async () => {
  await withStore(async (store) => {
    await assert.rejects(
      store.commit([
        { op: "create", object: pod("a") },
        { op: "create", object: pod("b") },
        { op: "create", object: pod("a", { namespace: "default", image: "httpd" }) },
      ]),
      (e: unknown) => e instanceof ValidationError && opIndexOf(e) === 2,
    );
    assert.deepEqual(await store.list("pods"), []);
    // The same name in another namespace, or of another kind, is another object.
    await store.commit([
      { op: "create", object: pod("a") },
      { op: "create", object: pod("a", { namespace: "team-a" }) },
      { op: "create", object: node("a") },
    ]);
  });
});

Deno.test("ObjectStore.commit() of more than MAX_BATCH operations fails with ValidationError", async () => {
  await withStore(async (store) => {
    const ops = Array.from(
      { length: MAX_BATCH + 1 },
      (_, i) => ({ op: "create" as const, object: pod(`p${i}`) }),
    );
    await assert.rejects(store.commit(ops), ValidationError);
    assert.deepEqual(await store.list("pods"), []);
    await store.commit(ops.slice(0, MAX_BATCH));
    assert.equal((await store.list("pods")).length, MAX_BATCH);
  });
});

Deno.test("ObjectStore.commit() 'replace' overwrites the current object with a new one", async () => {
  const kv = await Deno.openKv(":memory:");
  await withStore(async (store, clock) => {
    const first = await store.create(pod("web", { labels: { gen: "one" } }));
    const mod = await store.update({ ...first, spec: { units: [{ name: "m", image: "x" }] } });
    assert.equal(mod.metadata.generation, 2);
    await clock.advance(1000);
    const [second] = await store.commit([{
      op: "replace",
      object: pod("web", { labels: { gen: "two" } }),
      previous: mod,
    }]);
    assert.notEqual(second.metadata.uid, first.metadata.uid);
    assert.equal(second.metadata.generation, 1);
    assert.equal(second.metadata.creationTimestamp, new Date(clock.now()).toISOString());
    assert.deepEqual(await store.get("pods", "default", "web"), second);
    assert.deepEqual(names(await store.list("pods", { selector: { gen: "two" } })), ["web"]);
    assert.deepEqual(await store.list("pods", { selector: { gen: "one" } }), []);
  }, kv);
});

Deno.test("ObjectStore.commit() 'replace' of a previous that moved on fails with ConflictError", async () => {
  await withStore(async (store) => {
    const v1 = await store.create(pod("web"));
    const v2 = await store.update({ ...v1, status: { phase: "Failed" } });
    await assert.rejects(
      store.commit([{ op: "replace", object: pod("web", { image: "new" }), previous: v1 }]),
      ConflictError,
    );
    assert.deepEqual(await store.get("pods", "default", "web"), v2);
  });
});

Deno.test("ObjectStore.watch() gets ADDED, MODIFIED and DELETED after each commit", async () => {
  await withStore(async (store) => {
    const events: WatchEvent[] = [];
    const texts: (string | undefined)[] = [];
    store.watch(({ json, ...e }) => {
      texts.push(json?.());
      events.push(e);
    });
    const v1 = await store.create(pod("web"));
    assert.deepEqual(events, [{ type: "ADDED", object: v1 }]);
    const v2 = await store.update({ ...v1, metadata: { ...v1.metadata, labels: { a: "b" } } });
    // The labels it had before (none) come with the change that replaced them.
    assert.deepEqual(events[1], { type: "MODIFIED", object: v2, previousLabels: {} });
    const served = await store.getJson("pods", "default", "web");
    await store.delete("pods", "default", "web");
    assert.deepEqual(events[2], { type: "DELETED", object: v2 });
    assert.equal(events.length, 3);
    // The JSON a watch sends, from the text the store wrote: the object as GET serves it.
    assert.deepEqual(texts.slice(0, 2).map((t) => JSON.parse(t!)), [v1, v2]);
    assert.equal(texts[1], served, "the same text GET serves");
    assert.equal(texts[2], undefined, "a deletion has none at hand");
  });
});

Deno.test("ObjectStore.watch() gets nothing for a commit that failed", async () => {
  await withStore(async (store) => {
    await store.create(pod("taken"));
    const events: WatchEvent[] = [];
    store.watch((e) => events.push(e));
    await assert.rejects(
      store.commit([{ op: "create", object: pod("a") }, { op: "create", object: pod("taken") }]),
    );
    assert.deepEqual(events, []);
  });
});

Deno.test("ObjectStore.watch() gets DELETED for the old object then ADDED for the new on replace", async () => {
  await withStore(async (store) => {
    const old = await store.create(pod("web"));
    const events: WatchEvent[] = [];
    store.watch(({ json: _, ...e }) => events.push(e));
    const [fresh] = await store.commit([{ op: "replace", object: pod("web"), previous: old }]);
    assert.deepEqual(events, [
      { type: "DELETED", object: old },
      { type: "ADDED", object: fresh },
    ]);
  });
});

Deno.test("ObjectStore.watch() returns a function that stops the listener", async () => {
  await withStore(async (store) => {
    const events: WatchEvent[] = [];
    const stop = store.watch((e) => events.push(e));
    await store.create(pod("a"));
    stop();
    await store.create(pod("b"));
    assert.deepEqual(events.map((e) => e.object.metadata.name), ["a"]);
  });
});

Deno.test("ObjectStore.watch() keeps calling other listeners when one throws", async () => {
  await withStore(async (store) => {
    const logged: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      const before: string[] = [];
      const after: string[] = [];
      store.watch((e) => before.push(e.type));
      store.watch(() => {
        throw new Error("listener broke");
      });
      store.watch((e) => after.push(e.type));
      const created = await store.create(pod("a"));
      await store.delete("pods", "default", "a");
      assert.equal(created.metadata.name, "a");
      assert.deepEqual(before, ["ADDED", "DELETED"]);
      assert.deepEqual(after, ["ADDED", "DELETED"]);
      assert.equal(logged.length, 2);
    } finally {
      console.error = original;
    }
  });
});

Deno.test("ObjectStore refuses an object over MAX_OBJECT_BYTES with ValidationError", async () => {
  await withStore(async (store) => {
    const big = (o: MilpaObject): MilpaObject => ({
      ...o,
      metadata: { ...o.metadata, annotations: { blob: "x".repeat(MAX_OBJECT_BYTES) } },
    });
    await assert.rejects(store.create(big(pod("web"))), (e) => {
      assert.ok(e instanceof ValidationError);
      assert.match(e.message, /too large/);
      return true;
    });
    assert.equal(await store.get("pods", "default", "web"), null);
    const small = await store.create(pod("web"));
    await assert.rejects(store.update(big(small)), ValidationError);
    assert.deepEqual(await store.get("pods", "default", "web"), small);
  });
});

Deno.test({
  name:
    "ObjectStore.commit() of objects too large together for one KV transaction fails with ValidationError",
  fn: async () => {
    await withStore(async (store) => {
      const ops = Array.from({ length: 17 }, (_, i) => {
        const p = pod(`p${i}`);
        p.metadata.annotations = { blob: "x".repeat(50_000) };
        return { op: "create" as const, object: p };
      });
      await assert.rejects(store.commit(ops), ValidationError);
      assert.deepEqual(await store.list("pods"), []);
    });
  },
});

Deno.test({
  name:
    "ObjectStore.commit() of MAX_BATCH objects with many long labels fits one transaction (one write each)",
  fn: async () => {
    const kv = await Deno.openKv(":memory:");
    await withStore(async (store) => {
      // With a label index in KV (before 2026-12-07), these were 1,000 writes and 130 kB of keys.
      const labels = Object.fromEntries(
        Array.from({ length: 9 }, (_, i) => [`example.com/${"k".repeat(40)}${i}`, "v".repeat(63)]),
      );
      const ops = Array.from(
        { length: MAX_BATCH },
        (_, i) => ({ op: "create" as const, object: pod(`p${i}`, { labels }) }),
      );
      await store.commit(ops);
      const selector = { [`example.com/${"k".repeat(40)}3`]: "v".repeat(63) };
      assert.equal((await store.list("pods", { selector })).length, MAX_BATCH);
      assert.deepEqual(await kvKeys(kv, ["l"]), []);
    }, kv);
  },
});

Deno.test({
  name:
    "ObjectStore.update() of a namespaced object without metadata.namespace keeps its namespace",
  fn: async () => {
    await withStore(async (store) => {
      const v1 = await store.create(pod("web"));
      const { namespace: _, ...meta } = v1.metadata;
      await store.update({ ...v1, metadata: { ...meta, labels: { a: "b" } } });
      const got = await store.mustGet("pods", "default", "web");
      assert.equal(got.metadata.namespace, "default");
    });
  },
});

// --- sizes as Deno KV counts them ---

/** `o` with annotations added. */
function annotated(o: MilpaObject, annotations: Record<string, string>): MilpaObject {
  return { ...o, metadata: { ...o.metadata, annotations } };
}

Deno.test({
  name:
    "ObjectStore counts an object's size in UTF-8 bytes and refuses one over the limit with ValidationError",
  fn: async () => {
    await withStore(async (store) => {
      // 40,000 characters, one of them past Latin-1: about 40 kB of UTF-8, under the limit.
      // (Stored as the object or as a JavaScript string, that was 80 kB: 2 bytes a character.)
      const fits = await store.create(annotated(pod("fits"), { note: "x".repeat(39_999) + "€" }));
      assert.equal(fits.metadata.annotations!.note.length, 40_000);
      await store.delete("pods", "default", "fits");
      // 21,000 characters of 3 bytes each: 63 kB.
      const note = "€".repeat(21_000);
      const big = annotated(pod("web"), { note });
      await assert.rejects(store.create(big), (e) => {
        assert.ok(e instanceof ValidationError, String(e));
        assert.match(e.message, /^Pod "web" is too large: 63\d{3} bytes \(max 60000\)$/);
        return true;
      });
      assert.equal(await store.get("pods", "default", "web"), null);
      const small = await store.create(pod("web"));
      await assert.rejects(store.update(annotated(small, { note })), ValidationError);
      await assert.rejects(
        store.commit([{ op: "create", object: annotated(pod("other"), { note }) }]),
        ValidationError,
      );
      assert.deepEqual(await store.list("pods"), [small]);
    });
  },
});

Deno.test("ObjectStore stores an object of exactly MAX_OBJECT_BYTES as KV counts them", async () => {
  await withStore(async (store) => {
    const current = await store.create(pod("web"));
    const { resourceVersion: _, ...meta } = current.metadata;
    // The stored form: the JSON of the object without resourceVersion, as UTF-8 ("é" takes 2
    // bytes, "x" 1).
    const withPad = (n: number) =>
      annotated({ ...current, metadata: meta }, { note: "é".repeat(20_000), pad: "x".repeat(n) });
    const size = (n: number) => storedSize(new TextEncoder().encode(JSON.stringify(withPad(n))));
    let n = MAX_OBJECT_BYTES - size(0);
    while (size(n) > MAX_OBJECT_BYTES) n--;
    assert.equal(size(n), MAX_OBJECT_BYTES);

    const saved = await store.update(withPad(n));
    assert.deepEqual(await store.get("pods", "default", "web"), saved);
    await assert.rejects(store.update(withPad(n + 1)), ValidationError);
  });
});

Deno.test("storedSize() counts what Deno KV counts: a value of 65,536 is its largest", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    for (const text of ["x", "é", "€", "日本", "x€", "😀"]) {
      const value = (n: number) => ({ kind: "Pod", metadata: { note: text.repeat(n) } });
      let n = Math.floor(65_536 / storedSize(text.repeat(1_000)) * 1_000);
      while (storedSize(value(n)) > 65_536) n--;
      while (storedSize(value(n + 1)) <= 65_536) n++;
      await kv.set(["k"], value(n));
      await assert.rejects(kv.set(["k"], value(n + 1)), /Value too large/, text);
    }
  } finally {
    kv.close();
  }
});

Deno.test({
  name: "ObjectStore.commit() of MAX_BATCH updates that keep their labels fits one transaction",
  fn: async () => {
    await withStore(async (store) => {
      const labels = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`l${i}`, "v"]));
      for (let i = 0; i < MAX_BATCH; i += 50) {
        await store.commit(Array.from({ length: 50 }, (_, j) => ({
          op: "create" as const,
          object: pod(`p${i + j}`, { labels }),
        })));
      }
      const all = await store.list("pods");
      await store.commit(all.map((p) => ({ op: "update", object: annotated(p, { a: "b" }) })));
      const listed = await store.list("pods", { selector: { matchLabels: { l3: "v" } } });
      assert.equal(listed.length, MAX_BATCH);
      assert.ok(listed.every((p) => p.metadata.annotations?.a === "b"));
    });
  },
});

Deno.test("ObjectStore.list() with owner gives the objects of that controlling owner only, in a fresh store too", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new ObjectStore(kv);
    const owned = (name: string, uid: string, controller = true) => ({
      ...pod(name),
      metadata: {
        ...pod(name).metadata,
        ownerReferences: [{ apiVersion: "v1", kind: "ReplicaSet", name: "rs", uid, controller }],
      },
    });
    await store.create(owned("a-1", "uid-a"));
    await store.create(owned("a-2", "uid-a"));
    await store.create(owned("b-1", "uid-b"));
    await store.create(owned("c-1", "uid-a", false)); // an owner, but not its controller
    await store.create(pod("alone"));
    const names = async (s: ObjectStore, owner: string) =>
      (await s.list("pods", { namespace: "default", owner })).map((p) => p.metadata.name);
    assert.deepEqual(await names(store, "uid-a"), ["a-1", "a-2"]);
    assert.deepEqual(await names(store, "uid-b"), ["b-1"]);
    // A write that changes the owner moves it.
    const b1 = await store.mustGet("pods", "default", "b-1");
    await store.update({ ...b1, metadata: { ...b1.metadata, ownerReferences: [] } });
    assert.deepEqual(await names(store, "uid-b"), []);
    // Loaded from KV (a restarted controller): read from the stored JSON.
    const fresh = new ObjectStore(kv);
    assert.deepEqual(await names(fresh, "uid-a"), ["a-1", "a-2"]);
    const page = await fresh.listPage("pods", { owner: "uid-a", limit: 1 });
    assert.deepEqual(page.items.map((p) => p.metadata.name), ["a-1"]);
    assert.equal(page.remainingItemCount, 1, "only the owner's count toward the rest");
  } finally {
    kv.close();
  }
});

Deno.test("ObjectStore.list() by owner follows creates, owner changes and deletes after its first list (a seeded walk)", async () => {
  await withStore(async (store) => {
    const owners = ["uid-a", "uid-b", "uid-c", undefined];
    const withOwner = (obj: MilpaObject, uid: string | undefined): MilpaObject => ({
      ...obj,
      metadata: {
        ...obj.metadata,
        ownerReferences: uid
          ? [{ apiVersion: "v1", kind: "ReplicaSet", name: uid, uid, controller: true }]
          : [],
      },
    });
    let seed = 5;
    const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const pool = Array.from({ length: 30 }, (_, i) => `p-${(i * 7919) % 101}`);
    /** name → owner uid (or undefined) of the pods there are. */
    const live = new Map<string, string | undefined>();
    for (let step = 0; step < 500; step++) {
      const name = pool[random(pool.length)];
      const owner = owners[random(owners.length)];
      if (!live.has(name)) {
        await store.create(withOwner(pod(name), owner));
        live.set(name, owner);
      } else if (random(2) === 0) {
        await store.delete("pods", "default", name);
        live.delete(name);
      } else {
        // A status-only write keeps the owner; an update may change it (orphaned, adopted).
        const current = await store.mustGet("pods", "default", name);
        await store.update(withOwner(current, owner));
        live.set(name, owner);
      }
      if (random(4) === 0) {
        for (const uid of owners.slice(0, 3) as string[]) {
          const listed = names(await store.list("pods", { namespace: "default", owner: uid }));
          const want = [...live].filter(([, o]) => o === uid).map(([n]) => n).sort();
          assert.deepEqual(listed, want, `owner ${uid} after step ${step}`);
        }
      }
    }
  });
});

Deno.test("ObjectStore.watch(): a change of an object's labels carries the labels it replaced; other changes do not", async () => {
  await withStore(async (store) => {
    const v1 = await store.create(pod("web", { labels: { app: "web", tier: "1" } }));
    const events: WatchEvent[] = [];
    store.watch((e) => events.push(e));
    const relabel = (o: MilpaObject, labels: Record<string, string>) =>
      store.update({ ...o, metadata: { ...o.metadata, labels } });
    // The same labels in another order: not a change of them.
    const v2 = await relabel(v1, { tier: "1", app: "web" });
    const v3 = await relabel(v2, { app: "db" });
    const v4 = await store.update({ ...v3, spec: { units: [{ name: "main", image: "x" }] } });
    // An actor's status write (the group committer decides it late, then reports it committed).
    const { late, committed } = store.statusWrite({
      kind: "Pod",
      namespace: "default",
      name: "web",
      status: { phase: "Running" },
    });
    assert.equal(late().length, 1);
    committed("00000000000000ff0000");
    assert.deepEqual(events.map((e) => [e.type, e.object.metadata.labels, e.previousLabels]), [
      ["MODIFIED", { tier: "1", app: "web" }, undefined],
      ["MODIFIED", { app: "db" }, { tier: "1", app: "web" }],
      ["MODIFIED", { app: "db" }, undefined],
      ["MODIFIED", { app: "db" }, undefined],
    ]);
    assert.equal(v4.metadata.labels?.app, "db");
  });
});
