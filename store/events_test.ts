import assert from "node:assert/strict";
import { isoTime } from "../model/clock.ts";
import { FakeClock } from "../model/fake_clock.ts";
import type { Event } from "../model/event.ts";
import { EVENT_TTL_MS } from "../model/event.ts";
import type { Pod, PodPhase } from "../model/pod.ts";
import {
  COMBINED_PREFIX,
  CORRELATOR_ENTRIES,
  EventLog,
  FINISHED_POD_TTL_MS,
  FinishedPods,
  MAX_EVENTS,
  MAX_SIMILAR_EVENTS,
  purgeExpired,
  recordEvent,
  SIMILAR_EVENTS_INTERVAL_MS,
} from "./events.ts";
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

/** One purge pass as the controller makes it, with followers made for it (and stopped). */
async function purge(store: ObjectStore, clock: FakeClock): Promise<number> {
  const finished = new FinishedPods(store);
  const events = new EventLog(store);
  try {
    return await purgeExpired(store, clock, finished, events);
  } finally {
    finished.stop();
    events.stop();
  }
}

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
    const input = (i: number) => ({
      involvedObject: { kind: "Pod", name: "web", namespace: "default" },
      status: "pod-waiting",
      source: "pod-controller",
      message: `waiting ${i}`,
    });
    await Promise.all(Array.from({ length: 3 }, (_, i) => recordEvent(store, clock, input(i))));
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
    assert.equal(await purge(store, clock), 1);
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
    assert.equal(await purge(store, clock), extra);
    const left = await store.list<Event>("events");
    assert.equal(left.length, MAX_EVENTS);
    const oldestKept = left.map((e) => Date.parse(e.metadata.creationTimestamp!)).sort()[0];
    assert.equal(oldestKept, start + extra);
  });
});

/** Counts the store's lists of `plural` from now on. */
function countLists(store: ObjectStore, plural: string): { n: number } {
  const count = { n: 0 };
  const list = store.list.bind(store);
  store.list = ((kind: string, ...rest: unknown[]) => {
    if (kind === plural) count.n++;
    return (list as (...a: unknown[]) => unknown)(kind, ...rest);
  }) as typeof store.list;
  return count;
}

Deno.test("EventLog: purging keeps the newest MAX_EVENTS by time and drops expired events, and lists events only once", async () => {
  await withStore(async (store, clock) => {
    const start = clock.now();
    // Some events before the log exists (it reads them once), in reverse time order.
    await store.commit(
      Array.from({ length: 50 }, (_, i) => ({
        op: "create" as const,
        object: event(`before-${i}`, start + 100 - i),
      })),
    );
    const lists = countLists(store, "events");
    const log = new EventLog(store);
    const finished = new FinishedPods(store);
    try {
      assert.equal(await purgeExpired(store, clock, finished, log), 0);
      assert.equal(log.size, 50);
      assert.equal(lists.n, 1);
      // More, with times out of order among themselves and older than some already there.
      const extra = 5;
      const ops: BatchOp[] = Array.from({ length: MAX_EVENTS - 50 + extra }, (_, i) => ({
        op: "create",
        object: event(`e${String(i).padStart(5, "0")}`, start + 200 + ((i * 7919) % 5000)),
      }));
      ops.push({ op: "create", object: event("oldest", start - 1) });
      for (let i = 0; i < ops.length; i += 100) await store.commit(ops.slice(i, i + 100));
      assert.equal(log.size, MAX_EVENTS + extra + 1);
      assert.equal(await purgeExpired(store, clock, finished, log), extra + 1);
      const left = await store.list<Event>("events");
      assert.equal(left.length, MAX_EVENTS);
      assert.equal(log.size, MAX_EVENTS);
      const times = left.map((e) => Date.parse(e.metadata.creationTimestamp!)).sort((a, b) =>
        a - b
      );
      // The six oldest went: "oldest" and before-45 … before-49 (start + 51 … 55).
      assert.equal(times[0], start + 56);
      assert.ok(!left.some((e) => e.metadata.name === "oldest"));
      // A user deletes one; nothing to purge; then an hour passes: all but the newest go.
      await store.delete("events", "default", "before-0");
      assert.equal(log.size, MAX_EVENTS - 1);
      assert.equal(await purgeExpired(store, clock, finished, log), 0);
      await clock.advance(EVENT_TTL_MS + 200 + 4_000);
      await store.create(event("fresh", clock.now()));
      const purged = await purgeExpired(store, clock, finished, log);
      const kept = (await store.list<Event>("events")).map((e) => e.metadata.name);
      assert.ok(kept.includes("fresh"));
      assert.equal(purged, MAX_EVENTS - 1 - (kept.length - 1));
      for (const e of await store.list<Event>("events")) {
        assert.ok(clock.now() - Date.parse(e.metadata.creationTimestamp!) <= EVENT_TTL_MS);
      }
      assert.equal(lists.n, 1 + 3, "lists made by the test itself, none by the purges");
    } finally {
      log.stop();
      finished.stop();
    }
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
    assert.equal(await purge(store, clock), 3);
    assert.deepEqual((await store.list("pods")).map((p) => p.metadata.name), [
      "running-for-long",
      "succeeded-at-ttl",
      "succeeded-recently",
      "waiting-for-long",
    ]);
    await clock.advance(MINUTE + 1);
    assert.equal(await purge(store, clock), 2);
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
    assert.equal(await purge(store, clock), 0);
    assert.equal((await store.list("events")).length, 1);
    assert.equal((await store.list("pods")).length, 1);
  });
});

/** Counts the objects of every commit the store makes from now on. */
function countCommits(store: ObjectStore): number[] {
  const sizes: number[] = [];
  const commit = store.commit.bind(store);
  store.commit = (ops) => {
    sizes.push(ops.length);
    return commit(ops);
  };
  return sizes;
}

const input = (name: string, message = "running") => ({
  involvedObject: { kind: "Pod", name, namespace: "default" },
  status: "pod-running",
  source: "pod-controller",
  message,
});

Deno.test("recordEvent() writes events recorded together in a few commits, not one each", async () => {
  await withStore(async (store, clock) => {
    const commits = countCommits(store);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => recordEvent(store, clock, input(`p${i}`))),
    );
    assert.equal((await store.list("events")).length, 50);
    assert.ok(commits.length <= 3, `${commits.length} commits: ${commits}`);
    commits.length = 0;
    await Promise.all(
      Array.from({ length: 250 }, (_, i) => recordEvent(store, clock, input(`q${i}`))),
    );
    assert.equal((await store.list("events")).length, 300);
    assert.deepEqual(commits, [100, 100, 50], "at most MAX_BATCH per commit");
  });
});

Deno.test("recordEvent() collects events recorded during a commit for the next one", async () => {
  await withStore(async (store, clock) => {
    const commits = countCommits(store);
    const first = recordEvent(store, clock, input("first"));
    await Promise.resolve(); // the first commit has started
    assert.deepEqual(commits, [1]);
    const more = Array.from({ length: 30 }, (_, i) => recordEvent(store, clock, input(`p${i}`)));
    await first;
    await Promise.all(more);
    assert.deepEqual(commits, [1, 30]);
    assert.equal((await store.list("events")).length, 31);
  });
});

Deno.test("recordEvent() does not lose a batch's other events to one bad event", async () => {
  await withStore(async (store, clock) => {
    const errors: unknown[][] = [];
    const consoleError = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      await Promise.all([
        ...Array.from({ length: 5 }, (_, i) => recordEvent(store, clock, input(`a${i}`))),
        recordEvent(store, clock, input("huge", "x".repeat(70_000))),
        ...Array.from({ length: 5 }, (_, i) => recordEvent(store, clock, input(`b${i}`))),
      ]);
    } finally {
      console.error = consoleError;
    }
    const names = (await store.list<Event>("events")).map((e) => e.involvedObject.name).sort();
    assert.deepEqual(names, ["a0", "a1", "a2", "a3", "a4", "b0", "b1", "b2", "b3", "b4"]);
    assert.equal(errors.length, 1, "the bad event's failure is logged");
    assert.match(String(errors[0][0]), /WARN {2}could not record event error=".*too large/);
  });
});

Deno.test("recordEvent() keeps each store's events apart", async () => {
  await withStore(async (a, clock) => {
    await withStore(async (b) => {
      await Promise.all([
        recordEvent(a, clock, input("in-a")),
        recordEvent(b, clock, input("in-b")),
        recordEvent(a, clock, input("in-a", "stopped")),
        // Not a repeat of b's event: each store counts its own.
        recordEvent(a, clock, input("in-b")),
      ]);
      const names = (es: Event[]) => es.map((e) => `${e.involvedObject.name} ${e.count ?? 1}`);
      assert.deepEqual(names(await a.list<Event>("events")).sort(), ["in-a 1", "in-a 1", "in-b 1"]);
      assert.deepEqual(names(await b.list<Event>("events")), ["in-b 1"]);
    });
  });
});

Deno.test("purgeExpired() deletes expired events in batches, not one transaction each", async () => {
  await withStore(async (store, clock) => {
    const start = clock.now();
    for (let i = 0; i < 250; i += 100) {
      await store.commit(
        Array.from({ length: Math.min(100, 250 - i) }, (_, j) => ({
          op: "create" as const,
          object: event(`old${i + j}`, start),
        })),
      );
    }
    await store.create(event("fresh", start + EVENT_TTL_MS));
    await clock.advance(EVENT_TTL_MS + 1);
    const commits = countCommits(store);
    assert.equal(await purge(store, clock), 250);
    assert.ok(commits.length <= 3, `${commits.length} commits`);
    assert.deepEqual((await store.list("events")).map((e) => e.metadata.name), ["fresh"]);
  });
});

Deno.test("purgeExpired() skips an object changed since it was read, and deletes the rest", async () => {
  await withStore(async (store, clock) => {
    const start = clock.now();
    await store.commit(
      ["e1", "e2", "e3", "e4"].map((name) => ({ op: "create", object: event(name, start) })),
    );
    await clock.advance(EVENT_TTL_MS + 1);
    const version = store.resourceVersion.bind(store);
    store.resourceVersion = async (...args: Parameters<typeof store.resourceVersion>) => {
      const read = await version(...args);
      if (args[0] === "events" && args[2] === "e2") {
        // Someone changes e2 between the purge's read and its delete.
        await store.mutate<Event>("Event", "default", "e2", (e) => ({ ...e, message: "again" }));
      }
      return read;
    };
    assert.equal(await purge(store, clock), 3);
    store.resourceVersion = version;
    assert.deepEqual((await store.list("events")).map((e) => e.metadata.name), ["e2"]);
  });
});

Deno.test("FinishedPods: purging finished pods reads only those that ended, kept from the watch", async () => {
  await withStore(async (store, clock) => {
    const now = clock.now();
    const long = now - FINISHED_POD_TTL_MS - 1;
    await store.commit([
      { op: "create", object: pod("ended-before-start", "Succeeded", long) },
      { op: "create", object: pod("running", "Running", long) },
      { op: "create", object: pod("ends-later", "Running", long) },
      { op: "create", object: pod("ends-then-restarts", "Running", long) },
    ]);
    const finished = new FinishedPods(store);
    await finished.start();
    try {
      assert.equal(finished.size, 1, "read once at start");
      // Ended after the start: known from the watch.
      await store.mutate<Pod>("pods", "default", "ends-later", (p) => ({
        ...p,
        status: { phase: "Failed", lastPhaseChange: new Date(long).toISOString() },
      }));
      await store.mutate<Pod>("pods", "default", "ends-then-restarts", (p) => ({
        ...p,
        status: { phase: "Succeeded", lastPhaseChange: new Date(long).toISOString() },
      }));
      await store.mutate<Pod>("pods", "default", "ends-then-restarts", (p) => ({
        ...p,
        status: { phase: "Running", lastPhaseChange: new Date(now).toISOString() },
      }));
      assert.equal(finished.size, 2);
      // No pod list after the start: a store that refuses one shows it.
      const list = store.list.bind(store);
      store.list = ((kind: string, opts?: object) => {
        if (kind === "pods") throw new Error("purge listed every pod");
        return list(kind, opts);
      }) as typeof store.list;
      const events = new EventLog(store);
      try {
        assert.equal(await purgeExpired(store, clock, finished, events), 2);
      } finally {
        events.stop();
      }
      store.list = list;
      assert.deepEqual((await store.list("pods")).map((p) => p.metadata.name), [
        "ends-then-restarts",
        "running",
      ]);
      assert.equal(finished.size, 0, "deleted pods are forgotten");
    } finally {
      finished.stop();
    }
  });
});

Deno.test("recordEvent() counts a repeated event into the first: count and lastTimestamp", async () => {
  await withStore(async (store, clock) => {
    const start = clock.now();
    await recordEvent(store, clock, input("web"));
    await clock.advance(MINUTE);
    // Two repeats while the first write of the count is in flight: one more write, the last.
    const commits = countCommits(store);
    const first = recordEvent(store, clock, input("web"));
    await Promise.resolve();
    await clock.advance(MINUTE);
    await Promise.all([first, recordEvent(store, clock, input("web"))]);
    const events = await store.list<Event>("events");
    assert.equal(events.length, 1);
    assert.equal(events[0].count, 3);
    assert.equal(events[0].metadata.creationTimestamp, isoTime(start));
    assert.equal(events[0].lastTimestamp, isoTime(start + 2 * MINUTE));
    assert.deepEqual(commits, [1, 1]);
    // Another message, object or uid is another event.
    await recordEvent(store, clock, input("web", "stopped"));
    await recordEvent(store, clock, input("db"));
    await recordEvent(store, clock, {
      ...input("web"),
      involvedObject: { ...input("web").involvedObject, uid: "u2" },
    });
    assert.equal((await store.list("events")).length, 4);
  });
});

Deno.test("recordEvent() combines similar events of one object past MAX_SIMILAR_EVENTS", async () => {
  await withStore(async (store, clock) => {
    const created = (i: number) => ({
      involvedObject: { kind: "ReplicaSet", name: "web-1", namespace: "default", uid: "rs" },
      status: "SuccessfulCreate",
      source: "replicaset-controller",
      message: `Created pod: web-1-${i}`,
    });
    const n = MAX_SIMILAR_EVENTS + 500;
    await Promise.all(Array.from({ length: n }, (_, i) => recordEvent(store, clock, created(i))));
    const events = await store.list<Event>("events");
    assert.equal(events.length, MAX_SIMILAR_EVENTS);
    const combined = events.filter((e) => e.message.startsWith(COMBINED_PREFIX));
    assert.equal(combined.length, 1);
    assert.equal(combined[0].count, n - MAX_SIMILAR_EVENTS + 1, "all but the first nine");
    assert.equal(combined[0].message, `${COMBINED_PREFIX}Created pod: web-1-${n - 1}`);
    // Later similar events count into it too.
    await recordEvent(store, clock, created(n));
    const again = (await store.list<Event>("events")).filter((e) =>
      e.message.startsWith(COMBINED_PREFIX)
    );
    assert.equal(again[0].count, n - MAX_SIMILAR_EVENTS + 2);
    // A quiet spell longer than the interval starts over: recorded one by one again.
    await clock.advance(SIMILAR_EVENTS_INTERVAL_MS + 1);
    await recordEvent(store, clock, created(n + 1));
    const last = await store.list<Event>("events");
    assert.equal(last.length, MAX_SIMILAR_EVENTS + 1, "another event, not combined");
    assert.ok(last.some((e) => e.message === `Created pod: web-1-${n + 1}`));
  });
});

Deno.test("recordEvent() stores a counted event again when it expired meanwhile", async () => {
  await withStore(async (store, clock) => {
    await recordEvent(store, clock, input("web"));
    const [first] = await store.list<Event>("events");
    await store.delete("events", "default", first.metadata.name);
    await recordEvent(store, clock, input("web"));
    const events = await store.list<Event>("events");
    assert.equal(events.length, 1);
    assert.equal(events[0].metadata.name, first.metadata.name);
    assert.equal(events[0].count, 2);
  });
});

Deno.test("purgeExpired() keeps an event counted up within the hour", async () => {
  await withStore(async (store, clock) => {
    await recordEvent(store, clock, input("web"));
    await clock.advance(EVENT_TTL_MS - MINUTE);
    await recordEvent(store, clock, input("web"));
    await clock.advance(2 * MINUTE);
    // First seen an hour and a minute ago, last a minute ago: kept.
    assert.equal(await purge(store, clock), 0);
    assert.equal((await store.list("events")).length, 1);
    await clock.advance(EVENT_TTL_MS);
    assert.equal(await purge(store, clock), 1);
  });
});

Deno.test("recordEvent() forgets the least recently recorded events past CORRELATOR_ENTRIES", async () => {
  await withStore(async (store, clock) => {
    await recordEvent(store, clock, input("old"));
    await recordEvent(store, clock, input("kept"));
    for (let i = 0; i < 2 * CORRELATOR_ENTRIES; i++) {
      void recordEvent(store, clock, input(`p${i}`));
      // "kept" is recorded again now and then: it stays remembered.
      if (i % 1000 === 0) void recordEvent(store, clock, input("kept"));
    }
    await recordEvent(store, clock, input("old"));
    await recordEvent(store, clock, input("kept"));
    const of = async (name: string) =>
      (await store.list<Event>("events")).filter((e) => e.involvedObject.name === name)
        .map((e) => e.count ?? 1);
    assert.deepEqual(await of("old"), [1, 1], "forgotten: a new event");
    assert.deepEqual(await of("kept"), [11], "remembered: counted up");
  });
});
