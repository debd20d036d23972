import assert from "node:assert/strict";
import { isoTime } from "../model/clock.ts";
import { FakeClock } from "../model/fake_clock.ts";
import type { Event } from "../model/event.ts";
import { EVENT_TTL_MS } from "../model/event.ts";
import type { Pod, PodPhase } from "../model/pod.ts";
import { FINISHED_POD_TTL_MS, MAX_EVENTS, purgeExpired, recordEvent } from "./events.ts";
import type { BatchOp } from "./object_store.ts";
import { ObjectStore } from "./object_store.ts";

/** Runs `fn` with a store on a fresh in-memory KV (closed afterwards) and a manual clock. */
async function withStore(
  fn: (store: ObjectStore, clock: FakeClock) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  try {
    await fn(new ObjectStore(kv, clock), clock);
  } finally {
    kv.close();
  }
}

const MINUTE = 60_000;

function pod(name: string, phase: PodPhase, lastPhaseChange?: number): Pod {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name, namespace: "default" },
    spec: { phase: "Running", units: [{ name: "main", command: ["serve"] }] },
    status: {
      phase,
      ...(lastPhaseChange === undefined ? {} : { lastPhaseChange: isoTime(lastPhaseChange) }),
    },
  };
}

function event(name: string, at: number): Event {
  return {
    kind: "Event",
    apiVersion: "v1",
    metadata: { name, namespace: "default", creationTimestamp: isoTime(at) },
    involvedObject: { kind: "Pod", name: "web", namespace: "default" },
    status: "pod-running",
    source: "pod-controller",
    message: "running",
    type: "Normal",
  };
}

Deno.test("recordEvent() stores an Event about the involved object", async () => {
  await withStore(async (store, clock) => {
    await recordEvent(store, clock, {
      involvedObject: { kind: "Pod", name: "web", namespace: "team-a", uid: "u-1" },
      status: "pod-running",
      source: "pod-controller",
      message: "Pod web is running on node-1",
    });
    const [e, ...rest] = await store.list<Event>("events");
    assert.deepEqual(rest, []);
    assert.match(e.metadata.name, /^web\./);
    assert.equal(e.metadata.namespace, "team-a");
    assert.equal(e.metadata.creationTimestamp, isoTime(clock.now()));
    assert.deepEqual(e.involvedObject, {
      kind: "Pod",
      name: "web",
      namespace: "team-a",
      uid: "u-1",
    });
    assert.equal(e.status, "pod-running");
    assert.equal(e.source, "pod-controller");
    assert.equal(e.message, "Pod web is running on node-1");
    assert.equal(e.type, "Normal");
  });
});

Deno.test("recordEvent() puts events about cluster-scoped objects in the default namespace", async () => {
  await withStore(async (store, clock) => {
    await recordEvent(store, clock, {
      involvedObject: { kind: "Node", name: "node-1" },
      status: "node-terminated",
      source: "node-controller",
      message: "boot timeout",
      type: "Warning",
    });
    const [e] = await store.list<Event>("events", { namespace: "default" });
    assert.equal(e.type, "Warning");
    assert.deepEqual(e.involvedObject, { kind: "Node", name: "node-1" });
  });
});

Deno.test("recordEvent() gives events recorded in the same millisecond distinct names", async () => {
  await withStore(async (store, clock) => {
    const input = {
      involvedObject: { kind: "Pod", name: "web", namespace: "default" },
      status: "pod-waiting",
      source: "pod-controller",
      message: "waiting",
    };
    await Promise.all(Array.from({ length: 3 }, () => recordEvent(store, clock, input)));
    assert.equal((await store.list("events")).length, 3);
  });
});

Deno.test("purgeExpired() deletes events older than an hour and keeps the rest", async () => {
  await withStore(async (store, clock) => {
    const start = clock.now();
    await store.create(event("old", start));
    await store.create(event("edge", start + 1));
    await clock.advance(EVENT_TTL_MS - MINUTE);
    await store.create(event("new", clock.now()));
    await clock.advance(MINUTE + 1);
    // "old" is an hour and a millisecond old; "edge" exactly an hour.
    assert.equal(await purgeExpired(store, clock), 1);
    assert.deepEqual((await store.list("events")).map((e) => e.metadata.name), ["edge", "new"]);
  });
});

Deno.test("purgeExpired() keeps only the newest MAX_EVENTS events", async () => {
  await withStore(async (store, clock) => {
    const extra = 3;
    const start = clock.now();
    const ops: BatchOp[] = Array.from({ length: MAX_EVENTS + extra }, (_, i) => ({
      op: "create",
      // Names in reverse time order, so that neither name nor insertion order is time order.
      object: event(`e${String(MAX_EVENTS + extra - i).padStart(5, "0")}`, start + i),
    }));
    for (let i = 0; i < ops.length; i += 100) await store.commit(ops.slice(i, i + 100));
    assert.equal(await purgeExpired(store, clock), extra);
    const left = await store.list<Event>("events");
    assert.equal(left.length, MAX_EVENTS);
    const oldestKept = left.map((e) => Date.parse(e.metadata.creationTimestamp!)).sort()[0];
    assert.equal(oldestKept, start + extra);
  });
});

Deno.test("purgeExpired() deletes pods that ended more than FINISHED_POD_TTL_MS ago, and only those", async () => {
  await withStore(async (store, clock) => {
    const now = clock.now();
    const long = now - FINISHED_POD_TTL_MS - 1;
    const recent = now - FINISHED_POD_TTL_MS + MINUTE;
    await store.commit([
      { op: "create", object: pod("succeeded-long-ago", "Succeeded", long) },
      { op: "create", object: pod("failed-long-ago", "Failed", long) },
      { op: "create", object: pod("terminated-long-ago", "Terminated", long) },
      { op: "create", object: pod("succeeded-recently", "Succeeded", recent) },
      { op: "create", object: pod("succeeded-at-ttl", "Succeeded", now - FINISHED_POD_TTL_MS) },
      { op: "create", object: pod("running-for-long", "Running", long) },
      { op: "create", object: pod("waiting-for-long", "Waiting", long) },
    ]);
    assert.equal(await purgeExpired(store, clock), 3);
    assert.deepEqual((await store.list("pods")).map((p) => p.metadata.name), [
      "running-for-long",
      "succeeded-at-ttl",
      "succeeded-recently",
      "waiting-for-long",
    ]);
    await clock.advance(MINUTE + 1);
    assert.equal(await purgeExpired(store, clock), 2);
    assert.deepEqual((await store.list("pods")).map((p) => p.metadata.name), [
      "running-for-long",
      "waiting-for-long",
    ]);
  });
});

Deno.test("purgeExpired() with nothing expired deletes nothing", async () => {
  await withStore(async (store, clock) => {
    await store.create(event("fresh", clock.now()));
    await store.create(pod("live", "Running", clock.now()));
    assert.equal(await purgeExpired(store, clock), 0);
    assert.equal((await store.list("events")).length, 1);
    assert.equal((await store.list("pods")).length, 1);
  });
});
