import assert from "node:assert/strict";
import { countInFlight } from "./in_flight_testing.ts";
import { FakeClock } from "../model/fake_clock.ts";
import type { Deployment, ReplicaSet } from "../model/deployment.ts";
import type { MilpaObject } from "../model/meta.ts";
import type { Pod } from "../model/pod.ts";
import { controllerRef } from "../model/workload.ts";
import type { KindInfo } from "../model/kinds.ts";
import { type ListOptions, ObjectStore } from "../store/object_store.ts";
import { collectGarbage } from "./garbage_collector.ts";

/**
 * A store that runs `afterList` once a listing is read, before the caller gets it: the writes
 * of someone else between two reads of the collector. Listings inside the hook run no hook.
 */
class RacingStore extends ObjectStore {
  afterList?: (plural: string) => Promise<void>;
  #racing = false;

  override async list<T extends MilpaObject = MilpaObject>(
    kind: KindInfo | string,
    opts: ListOptions = {},
  ): Promise<T[]> {
    const out = await super.list<T>(kind, opts);
    if (this.afterList && !this.#racing) {
      this.#racing = true;
      try {
        await this.afterList(typeof kind === "string" ? kind : kind.plural);
      } finally {
        this.#racing = false;
      }
    }
    return out;
  }
}

/** Runs `fn` with a racing store on an in-memory KV, closed afterwards. */
async function withStore(fn: (store: RacingStore, clock: FakeClock) => Promise<void>) {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  try {
    await fn(new RacingStore(kv, clock), clock);
  } finally {
    kv.close();
  }
}

/** One collection with the store's hook, which ends with it (the test's own reads run none). */
async function collectRacing(store: RacingStore, clock: FakeClock): Promise<number> {
  try {
    return await collectGarbage(store, clock);
  } finally {
    store.afterList = undefined;
  }
}

const template = {
  metadata: { labels: { app: "web" } },
  spec: { units: [{ name: "main", command: ["serve"] }] },
};

async function createDeployment(store: ObjectStore, name: string): Promise<Deployment> {
  return await store.create<Deployment>({
    kind: "Deployment",
    apiVersion: "v1",
    metadata: { name, namespace: "default" },
    spec: { replicas: 2, template },
  });
}

async function createReplicaSet(
  store: ObjectStore,
  name: string,
  owner?: Deployment,
): Promise<ReplicaSet> {
  return await store.create<ReplicaSet>({
    kind: "ReplicaSet",
    apiVersion: "v1",
    metadata: {
      name,
      namespace: "default",
      ...(owner ? { ownerReferences: [controllerRef(owner)] } : {}),
    },
    spec: { replicas: 2, template },
  });
}

/** Two running pods owned by `owner`, named `<owner>-a` and `<owner>-b`. */
async function createPods(store: ObjectStore, owner: ReplicaSet): Promise<void> {
  for (const suffix of ["a", "b"]) {
    await store.create<Pod>({
      kind: "Pod",
      apiVersion: "v1",
      metadata: {
        name: `${owner.metadata.name}-${suffix}`,
        namespace: "default",
        ownerReferences: [controllerRef(owner)],
      },
      spec: { phase: "Running", units: template.spec.units },
      status: { phase: "Running" },
    });
  }
}

/** What `delete --cascade=false` writes: the dependents without the owner reference, owner gone. */
async function orphanAndDelete(store: ObjectStore, owner: MilpaObject, plural: string) {
  const ops = (await store.list(plural)).map((d) => ({
    op: "update" as const,
    object: { ...d, metadata: { ...d.metadata, ownerReferences: [] } },
  }));
  await store.commit([...ops, { op: "delete", object: owner }]);
}

async function terminated(store: ObjectStore): Promise<string[]> {
  return (await store.list<Pod>("pods"))
    .filter((p) => p.spec.phase === "Terminated")
    .map((p) => p.metadata.name);
}

Deno.test("collectGarbage() deletes ReplicaSets whose Deployment is gone and terminates their pods", async () => {
  await withStore(async (store, clock) => {
    const gone = await createDeployment(store, "gone");
    await createPods(store, await createReplicaSet(store, "gone-1", gone));
    await store.delete("deployments", "default", "gone");
    const kept = await createDeployment(store, "kept");
    await createPods(store, await createReplicaSet(store, "kept-1", kept));
    await createPods(store, await createReplicaSet(store, "alone"));

    assert.equal(await collectGarbage(store, clock), 3);
    assert.deepEqual((await store.list("replicasets")).map((r) => r.metadata.name), [
      "alone",
      "kept-1",
    ]);
    assert.deepEqual(await terminated(store), ["gone-1-a", "gone-1-b"]);
    assert.equal(await collectGarbage(store, clock), 0);
  });
});

Deno.test("collectGarbage() collects a dependent whose owner's name now belongs to a new object", async () => {
  await withStore(async (store, clock) => {
    const old = await createDeployment(store, "web");
    await createReplicaSet(store, "web-1", old);
    await store.delete("deployments", "default", "web");
    await createDeployment(store, "web");

    assert.equal(await collectGarbage(store, clock), 1);
    assert.equal(await store.get("replicasets", "default", "web-1"), null);
  });
});

Deno.test("collectGarbage() keeps a Deployment's ReplicaSet and pods created after it listed deployments", async () => {
  await withStore(async (store, clock) => {
    store.afterList = async (plural) => {
      if (plural !== "deployments") return;
      const d = await createDeployment(store, "web");
      await createPods(store, await createReplicaSet(store, "web-1", d));
    };

    assert.equal(await collectRacing(store, clock), 0);
    assert.ok(await store.get("replicasets", "default", "web-1"));
    assert.deepEqual(await terminated(store), []);
  });
});

Deno.test("collectGarbage() keeps the pods of a ReplicaSet created after it listed replicasets", async () => {
  await withStore(async (store, clock) => {
    let listings = 0;
    store.afterList = async (plural) => {
      if (plural === "replicasets" && ++listings === 2) {
        await createPods(store, await createReplicaSet(store, "api"));
      }
    };

    assert.equal(await collectRacing(store, clock), 0);
    assert.equal(listings, 2);
    assert.deepEqual(await terminated(store), []);
  });
});

Deno.test("collectGarbage() keeps a ReplicaSet its Deployment released after it was listed", async () => {
  await withStore(async (store, clock) => {
    // A Deployment and ReplicaSet appear after the deployments listing (a suspect), and the
    // Deployment is deleted with cascade=false after the replicasets listing.
    let d: Deployment | undefined;
    store.afterList = async (plural) => {
      if (plural === "deployments") {
        d = await createDeployment(store, "web");
        await createReplicaSet(store, "web-1", d);
      } else if (plural === "replicasets" && d) {
        await orphanAndDelete(store, d, "replicasets");
        d = undefined;
      }
    };

    assert.equal(await collectRacing(store, clock), 0);
    const rs = await store.mustGet("replicasets", "default", "web-1");
    assert.deepEqual(rs.metadata.ownerReferences, []);
  });
});

Deno.test("collectGarbage() keeps the pods their ReplicaSet released after they were listed", async () => {
  await withStore(async (store, clock) => {
    // A ReplicaSet and pods appear after the second replicasets listing (suspects), and the
    // ReplicaSet is deleted with cascade=false after the pods listing.
    let listings = 0;
    let rs: ReplicaSet | undefined;
    store.afterList = async (plural) => {
      if (plural === "replicasets" && ++listings === 2) {
        rs = await createReplicaSet(store, "web-1");
        await createPods(store, rs);
      } else if (plural === "pods" && rs) {
        await orphanAndDelete(store, rs, "pods");
      }
    };

    assert.equal(await collectRacing(store, clock), 0);
    assert.equal(await store.get("replicasets", "default", "web-1"), null);
    assert.deepEqual(await terminated(store), []);
  });
});

Deno.test("collectGarbage({pods: false}) reads no pod: orphaned pods wait for a full pass", async () => {
  await withStore(async (store, clock) => {
    const gone = await createDeployment(store, "gone");
    await createPods(store, await createReplicaSet(store, "gone-1", gone));
    await store.delete("deployments", "default", "gone");
    const listed: string[] = [];
    store.afterList = (plural) => Promise.resolve(void listed.push(plural));
    // The cheap pass deletes the ReplicaSet but leaves its pods to the full pass.
    assert.equal(await collectGarbage(store, clock, undefined, { pods: false }), 1);
    assert.ok(!listed.includes("pods"), `listed ${listed}`);
    assert.deepEqual(await terminated(store), []);
    assert.equal(await collectGarbage(store, clock), 2);
    assert.deepEqual(await terminated(store), ["gone-1-a", "gone-1-b"]);
  });
});

Deno.test("collectGarbage() asks the pods of a deleted ReplicaSet to terminate many at once, reading their owner once", async () => {
  await withStore(async (store, clock) => {
    const rs = await createReplicaSet(store, "gone");
    const names = Array.from({ length: 600 }, (_, i) => `gone-${i}`);
    await Promise.all(names.map((name) =>
      store.create<Pod>({
        kind: "Pod",
        apiVersion: "v1",
        metadata: { name, namespace: "default", ownerReferences: [controllerRef(rs)] },
        spec: { phase: "Running", units: template.spec.units },
        status: { phase: "Running" },
      })
    ));
    await store.delete("replicasets", "default", "gone");
    const mutates = countInFlight(store, "mutate");
    const get = store.get.bind(store);
    let ownerReads = 0;
    store.get = ((...args: Parameters<typeof get>) => {
      if (args[0] === "ReplicaSet") ownerReads++;
      return get(...args);
    }) as typeof store.get;
    assert.equal(await collectGarbage(store, clock), 600);
    assert.equal((await terminated(store)).length, 600);
    assert.equal(mutates.most(), 500, "500 at a time");
    assert.equal(ownerReads, 1);
  });
});
