/** reconcileReplicaSet() on a real ObjectStore (`:memory:` KV) and a fake clock. */
import assert from "node:assert/strict";
import { countInFlight } from "./in_flight_testing.ts";
import { loadCatalog } from "../cloud/catalog.ts";
import { defaultConfig } from "../model/config.ts";
import type { ReplicaSet } from "../model/deployment.ts";
import { FakeClock } from "../model/fake_clock.ts";
import type { Pod } from "../model/pod.ts";
import type { Service } from "../model/service.ts";
import { controllerOf, isActivePod, lbGateType } from "../model/workload.ts";
import type { EventInput } from "../store/events.ts";
import { ObjectStore } from "../store/object_store.ts";
import { BURST, reconcileReplicaSet } from "./replicaset_reconcile.ts";

async function withStore(
  fn: (store: ObjectStore, clock: FakeClock, events: EventInput[]) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  const events: EventInput[] = [];
  try {
    await fn(new ObjectStore(kv, clock), clock, events);
  } finally {
    kv.close();
  }
}

function replicaSet(replicas: number): ReplicaSet {
  return {
    kind: "ReplicaSet",
    apiVersion: "v1",
    metadata: { name: "web", namespace: "default" },
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { units: [{ name: "main", command: ["serve"] }], instanceType: "t3.nano" },
      },
    },
  };
}

async function pass(store: ObjectStore, clock: FakeClock, events: EventInput[], rs: ReplicaSet) {
  const deps = {
    store,
    clock,
    config: defaultConfig(),
    catalog: await loadCatalog(),
    event: (e: EventInput) => events.push(e),
  };
  return (await reconcileReplicaSet(deps, {
    namespace: "default",
    name: rs.metadata.name,
    uid: rs.metadata.uid!,
  }))!;
}

async function ownPods(store: ObjectStore, rs: ReplicaSet): Promise<Pod[]> {
  return (await store.list<Pod>("pods")).filter((p) =>
    controllerOf(p)?.uid === rs.metadata.uid && isActivePod(p)
  );
}

Deno.test("reconcileReplicaSet() creates at most BURST pods a pass and looks again at once", async () => {
  await withStore(async (store, clock, events) => {
    const rs = await store.create(replicaSet(BURST * 2 + 10));
    let result = await pass(store, clock, events, rs);
    assert.equal((await ownPods(store, rs)).length, BURST);
    assert.equal(result.state, "Converging");
    assert.equal(result.recheckAt, clock.now(), "more to create: the next pass follows at once");
    await pass(store, clock, events, rs);
    result = await pass(store, clock, events, rs);
    assert.equal((await ownPods(store, rs)).length, BURST * 2 + 10);
    assert.equal(result.recheckAt, undefined);
  });
});

Deno.test("reconcileReplicaSet() runs an object stored with replicas above the limit at the limit, in bursts", async () => {
  await withStore(async (store, clock, events) => {
    // Written before the limit existed: the store itself does not validate specs.
    const rs = await store.create(replicaSet(100_000_000));
    const result = await pass(store, clock, events, rs);
    assert.equal(result.status.replicas, BURST, "one burst, not a hundred million pods");
    assert.equal(result.recheckAt, clock.now());
    const warning = events.find((e) => e.status === "ReplicasLimited");
    assert.match(warning?.message ?? "", /above the limit 10000; keeping 10000/);
  });
});

Deno.test("reconcileReplicaSet() counts a ready pod available only once every LoadBalancer Service selecting it admitted it", async () => {
  await withStore(async (store, clock, events) => {
    const rs = await store.create(replicaSet(1));
    await pass(store, clock, events, rs);
    const [pod] = await ownPods(store, rs);
    const at = new Date(clock.now()).toISOString();
    const setConditions = (conditions: NonNullable<Pod["status"]>["conditions"]) =>
      store.mutate<Pod>("pods", "default", pod.metadata.name, (p) => ({
        ...p,
        status: { ...p.status!, phase: "Running", conditions },
      }));
    await setConditions([{ type: "Ready", status: "True", lastTransitionTime: at }]);
    const service = (name: string, type?: "LoadBalancer", selector = { app: "web" }): Service => ({
      kind: "Service",
      apiVersion: "v1",
      metadata: { name, namespace: "default" },
      spec: { selector, ports: [{ port: 80 }], ...(type ? { type } : {}) },
    });
    await store.create(service("dns-only"));
    await store.create(service("other", "LoadBalancer", { app: "other" }));
    let result = await pass(store, clock, events, rs);
    assert.equal(result.status.availableReplicas, 1, "no balancer in front of it: ready is enough");

    await store.create(service("front", "LoadBalancer"));
    result = await pass(store, clock, events, rs);
    assert.equal(result.status.readyReplicas, 1);
    assert.equal(result.status.availableReplicas, 0, "not admitted by the balancer of front yet");
    assert.equal(result.state, "Converging");

    await setConditions([
      { type: "Ready", status: "True", lastTransitionTime: at },
      { type: lbGateType("front"), status: "False", lastTransitionTime: at },
    ]);
    assert.equal((await pass(store, clock, events, rs)).status.availableReplicas, 0);
    await setConditions([
      { type: "Ready", status: "True", lastTransitionTime: at },
      { type: lbGateType("front"), status: "True", lastTransitionTime: at },
    ]);
    result = await pass(store, clock, events, rs);
    assert.equal(result.status.availableReplicas, 1);
    assert.equal(result.state, "Settled");
  });
});

Deno.test("reconcileReplicaSet() gives a pod whose generated name is taken another, and creates every pod it counts", async () => {
  await withStore(async (store, clock, events) => {
    const rs = await store.create(replicaSet(250));
    // A stranger already holds web-bbbbb, and the first suffixes drawn are all "bbbbb".
    await store.create({
      kind: "Pod",
      apiVersion: "v1",
      metadata: { name: "web-bbbbb", namespace: "default" },
      spec: { units: [{ name: "main", command: ["serve"] }], instanceType: "t3.nano" },
    });
    const real = crypto.getRandomValues.bind(crypto);
    let draws = 0;
    crypto.getRandomValues = (<T extends ArrayBufferView | null>(array: T): T => {
      if (draws++ < 3 && array instanceof Uint8Array && array.length === 5) {
        array.fill(0); // SAFE[0] five times: "bbbbb"
        return array;
      }
      return real(array as never) as T;
    }) as typeof crypto.getRandomValues;
    try {
      await pass(store, clock, events, rs);
    } finally {
      crypto.getRandomValues = real;
    }
    const own = await ownPods(store, rs);
    assert.equal(own.length, 250);
    const created = events.filter((e) => e.status === "SuccessfulCreate")
      .map((e) => e.message.replace("Created pod: ", ""));
    assert.deepEqual(created.sort(), own.map((p) => p.metadata.name).sort());
  });
});

Deno.test("reconcileReplicaSet() hands a burst's transactions to the store at once, not one after another", async () => {
  await withStore(async (store, clock, events) => {
    const rs = await store.create(replicaSet(BURST));
    // Commits of pods in flight at once: one after another (each awaited), there is never more
    // than one, and a pass of BURST pods waits for ten commits in a row behind other writes.
    const commits = countInFlight(store, "commit");
    await pass(store, clock, events, rs);
    assert.equal((await ownPods(store, rs)).length, BURST);
    assert.ok(commits.most() >= BURST / 50, `${commits.most()} commits in flight at most`);
  });
});

Deno.test("reconcileReplicaSet() counts a ready pod available after minReadySeconds, and asks to look again then", async () => {
  await withStore(async (store, clock, events) => {
    const rs = await store.create({
      ...replicaSet(3),
      spec: { ...replicaSet(3).spec, minReadySeconds: 10 },
    });
    await pass(store, clock, events, rs);
    const pods = await ownPods(store, rs);
    // Ready 4 s ago, 2 s ago, and not ready.
    const ready = async (name: string, agoMs: number | undefined) =>
      await store.mutate<Pod>("pods", "default", name, (p) => ({
        ...p,
        status: {
          ...p.status!,
          phase: "Running",
          conditions: agoMs === undefined ? [] : [{
            type: "Ready",
            status: "True",
            lastTransitionTime: new Date(clock.now() - agoMs).toISOString(),
          }],
        },
      }));
    await ready(pods[0].metadata.name, 4_000);
    await ready(pods[1].metadata.name, 2_000);
    await ready(pods[2].metadata.name, undefined);
    let result = await pass(store, clock, events, rs);
    assert.equal(result.status.readyReplicas, 2);
    assert.equal(result.status.availableReplicas, 0);
    assert.equal(
      result.recheckAt,
      clock.now() + 6_000,
      "when the first ready one becomes available",
    );
    await clock.advance(6_000);
    result = await pass(store, clock, events, rs);
    assert.equal(result.status.availableReplicas, 1);
    assert.equal(result.recheckAt, clock.now() + 2_000);
    await clock.advance(2_000);
    result = await pass(store, clock, events, rs);
    assert.equal(result.status.availableReplicas, 2);
    assert.equal(result.recheckAt, undefined, "nothing becomes available by waiting");
    assert.equal(result.state, "Converging");
  });
});

Deno.test("reconcileReplicaSet() asks a burst of surplus pods to terminate at once, not one after another", async () => {
  await withStore(async (store, clock, events) => {
    const rs = await store.create(replicaSet(BURST));
    await pass(store, clock, events, rs);
    await store.mutate<ReplicaSet>("replicasets", "default", "web", (r) => ({
      ...r,
      spec: { ...r.spec, replicas: 0 },
    }));
    const mutates = countInFlight(store, "mutate");
    const result = await pass(store, clock, events, rs);
    assert.equal(result.status.replicas, 0);
    assert.equal((await ownPods(store, rs)).length, 0, "every pod asked to terminate");
    assert.equal(mutates.most(), BURST, "all in flight at once");
    assert.equal(events.filter((e) => e.status === "SuccessfulDelete").length, BURST);
  });
});
