import assert from "node:assert/strict";
import { FakeClock } from "../model/fake_clock.ts";
import type { StatusMessage } from "../model/agent_protocol.ts";
import type { HubEvent } from "./agent_hub.ts";
import {
  coalesceChanged,
  routeHubEvent,
  routeStoreEvent,
  type RouteTarget,
  ServiceSelectors,
  StatusFilter,
} from "./routing.ts";
import type { Pod } from "../model/pod.ts";
import type { Service } from "../model/service.ts";
import type { WatchEvent } from "../store/object_store.ts";

const status = (phase: string): HubEvent => ({
  type: "status",
  node: "n1",
  status: {
    type: "status",
    podUid: "uid-1",
    unitStatuses: [{ name: "main", state: { running: { startedAt: phase } }, restartCount: 0 }],
    initUnitStatuses: [],
  } as unknown as StatusMessage,
});

Deno.test("StatusFilter passes changed statuses, and a repeated one once per refresh", async () => {
  const clock = new FakeClock();
  const f = new StatusFilter(clock, 30_000);
  assert.equal(f.pass(status("a")), true, "the first");
  assert.equal(f.pass(status("a")), false, "a heartbeat that changed nothing");
  assert.equal(f.pass(status("b")), true, "a change");
  // Heartbeats every 10 s for 10 minutes: one passes in each 30 s slot of the node.
  const passed: number[] = [];
  for (let t = 0; t < 600_000; t += 10_000) {
    await clock.advance(10_000);
    if (f.pass(status("b"))) passed.push(clock.now());
  }
  assert.ok(passed.length >= 19 && passed.length <= 21, `${passed.length} refreshes`);
  for (let i = 1; i < passed.length; i++) {
    const gap = passed[i] - passed[i - 1];
    assert.ok(gap >= 20_000 && gap <= 40_000, `refreshed ${gap} ms apart`);
  }
  // Heard from just now (a change), a node waits half a period before it refreshes, whatever
  // its slot: heartbeats every second for a minute.
  await clock.advance(1_000);
  assert.equal(f.pass(status("c")), true, "a change");
  const changedAt = clock.now();
  const refreshed: number[] = [];
  for (let t = 0; t < 60_000; t += 1_000) {
    await clock.advance(1_000);
    if (f.pass(status("c"))) refreshed.push(clock.now() - changedAt);
  }
  assert.ok(refreshed.length === 2 || refreshed.length === 3, `refreshed at ${refreshed}`);
  assert.ok(refreshed[0] >= 15_000 && refreshed[0] <= 30_000, `first refresh at ${refreshed[0]}`);
  assert.equal(f.pass({ type: "connected", node: "n1" } as HubEvent), true);
  assert.equal(f.pass(status("b")), true, "a new connection's first status always goes");
  assert.equal(f.pass({ ...status("b"), node: "n2" } as HubEvent), true, "per node");
});

Deno.test("StatusFilter spreads the refreshes of nodes that started together over the period", async () => {
  const clock = new FakeClock();
  const f = new StatusFilter(clock, 30_000);
  // 3,000 agents connect within the same 10 s (a burst) and each sends a heartbeat every 10 s.
  const nodes = Array.from(
    { length: 3000 },
    (_, i) => ({ name: crypto.randomUUID(), at: i % 100 }),
  );
  const perThird = [0, 0, 0];
  for (let tick = 0; tick < 1200; tick++) { // 120 s in 100 ms ticks
    await clock.advance(100);
    for (const n of nodes) {
      if (tick % 100 !== n.at) continue;
      const passed = f.pass({ ...status("a"), node: n.name } as HubEvent);
      // From 60 s on, every pass is a refresh: count them by third of a 30 s period.
      if (passed && tick >= 600 && tick < 900) perThird[Math.floor((tick - 600) / 100)]++;
    }
  }
  assert.equal(perThird[0] + perThird[1] + perThird[2], 3000, "each node once per period");
  for (const n of perThird) assert.ok(n > 700 && n < 1300, `refreshes by third: ${perThird}`);
});

Deno.test("StatusFilter.beat(): a node's liveness is refreshed at most once per half refresh period", async () => {
  const clock = new FakeClock();
  const f = new StatusFilter(clock, 30_000);
  assert.equal(f.pass({ type: "connected", node: "n1" } as HubEvent), true);
  // A pod starting: its first statuses come right after the connect, which refreshed the node.
  assert.equal(f.pass(status("a")), true);
  assert.equal(f.beat("n1"), false, "just connected");
  await clock.advance(50);
  assert.equal(f.pass(status("b")), true);
  assert.equal(f.beat("n1"), false, "a change 50 ms later");
  // Heartbeats every 10 s, the status changing now and then, for 10 minutes: between two
  // refreshes of the node, never more than 1.5 refresh periods and a heartbeat.
  let last = clock.now() - 50;
  let changes = 0;
  for (let t = 0; t < 600_000; t += 10_000) {
    await clock.advance(10_000);
    const s = t % 70_000 === 0 ? status(`c${changes++}`) : status(`c${changes}`);
    if (f.pass(s) && f.beat("n1")) {
      assert.ok(clock.now() - last >= 15_000, `refreshed ${clock.now() - last} ms apart`);
      last = clock.now();
    }
    assert.ok(clock.now() - last <= 55_000, `not refreshed for ${clock.now() - last} ms`);
  }
  assert.equal(f.beat("n2"), true, "a node not heard from yet");
  assert.equal(f.pass({ type: "disconnected", node: "n1" } as HubEvent), true);
  assert.equal(f.beat("n1"), true, "a disconnect forgets the node");
});

/** A route target whose node `n1` (in `nodeState`) is bound to pod `default/web`, in `podState`. */
function target(podState: string, nodeState = "Claimed") {
  const sent: [string, string][] = [];
  const entries: Record<string, unknown> = {
    "node/n1": {
      ref: { getSnapshot: () => ({ value: nodeState, context: { boundPod: "default/web" } }) },
    },
    "pod/default/web": {
      ref: { getSnapshot: () => ({ matches: (s: string) => podState.startsWith(s) }) },
    },
  };
  const t = {
    send: (id: string, e: { type: string }) => void sent.push([id, e.type]),
    entry: (id: string) => entries[id],
  } as unknown as RouteTarget;
  return { t, sent };
}

Deno.test("routeHubEvent() tells a pod of its agent's connect only while it runs, and a node of a status only on a beat", () => {
  for (const [state, toPod] of [["Waiting", false], ["Dispatching", false], ["Running", true]]) {
    const { t, sent } = target(state as string);
    routeHubEvent(t, { type: "connected", node: "n1" } as HubEvent);
    assert.deepEqual(sent, [
      ["node/n1", "AGENT_CONNECTED"],
      ...(toPod ? [["pod/default/web", "AGENT_CONNECTED"]] : []),
    ], state as string);
  }
  const { t, sent } = target("Running");
  routeHubEvent(t, status("a"), false);
  routeHubEvent(t, status("a"), true);
  assert.deepEqual(sent, [
    ["pod/default/web", "AGENT_STATUS"],
    ["node/n1", "HEARTBEAT"],
    ["pod/default/web", "AGENT_STATUS"],
  ]);
});

Deno.test("routeHubEvent() does not tell a node still being launched of its agent's connect", () => {
  // Its launch returning asks the hub (node machine: "goes Available when launched").
  for (const [state, told] of [["Creating", false], ["Created", true], ["Available", true]]) {
    const { t, sent } = target("Waiting", state as string);
    routeHubEvent(t, { type: "connected", node: "n1" } as HubEvent);
    assert.deepEqual(sent, told ? [["node/n1", "AGENT_CONNECTED"]] : [], state as string);
  }
});

Deno.test("routeHubEvent() sends a pod no status of an agent that has no pod yet", () => {
  const { t, sent } = target("Waiting");
  const none = status("a");
  delete (none as { status: { podUid?: string } }).status.podUid;
  routeHubEvent(t, none, true);
  assert.deepEqual(sent, [["node/n1", "HEARTBEAT"]], "only the node hears it");
  routeHubEvent(t, status("b"), false);
  assert.deepEqual(sent.slice(1), [["pod/default/web", "AGENT_STATUS"]], "its pod's status goes");
});

Deno.test("routeStoreEvent() tells a pod's actor of a spec change and of its deletion once, not of its status writes", () => {
  const entry = { uid: "uid-1", generation: 1, ref: { getSnapshot: () => ({}) } };
  const sent: [string, string][] = [];
  const t = {
    send: (id: string, e: { type: string }) => void sent.push([id, e.type]),
    entry: (id: string) => id === "pod/default/web" ? entry : undefined,
    services: new ServiceSelectors(),
  } as unknown as RouteTarget;
  const pod = (generation: number, phase: string, status: string): WatchEvent => ({
    type: "MODIFIED",
    object: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", namespace: "default", uid: "uid-1", generation },
      spec: { phase, units: [{ name: "main", image: "nginx" }] },
      status: { phase: status },
    } as unknown as Pod,
  });
  routeStoreEvent(t, pod(1, "Running", "Running")); // the actor's own status write
  routeStoreEvent(t, pod(2, "Running", "Running")); // the user changed the spec
  routeStoreEvent(t, pod(2, "Running", "Running"));
  routeStoreEvent(t, pod(3, "Terminated", "Running")); // milpactl delete
  // The pod drains and stops: each of its status writes comes back with the mark.
  routeStoreEvent(t, pod(3, "Terminated", "Running"));
  routeStoreEvent(t, pod(3, "Terminated", "Terminated"));
  assert.deepEqual(sent, [["pod/default/web", "SPEC_UPDATED"], ["pod/default/web", "DELETE"]]);
});

Deno.test("coalesceChanged() sends CHANGED to each actor once per run of synchronous code; other events all", async () => {
  const sent: [string, string][] = [];
  const send = coalesceChanged((id, e) => void sent.push([id, e.type]));
  const owned = (i: number): WatchEvent => ({
    type: "MODIFIED",
    object: {
      kind: "Pod",
      apiVersion: "v1",
      metadata: {
        name: `web-${i}`,
        namespace: "default",
        uid: `u${i}`,
        generation: 1,
        ownerReferences: [{
          apiVersion: "v1",
          kind: "ReplicaSet",
          name: "web",
          uid: "rs-1",
          controller: true,
        }],
      },
      spec: { units: [] },
    } as unknown as Pod,
  });
  const entries: Record<string, unknown> = {
    "replicaset/default/web": { uid: "rs-1" },
    "service/default/front": { uid: "svc-1" },
  };
  const services = new ServiceSelectors();
  services.set(service("front", {})); // an empty selector: every pod of the namespace
  const t = {
    send,
    entry: (id: string) => entries[id],
    services,
  } as unknown as RouteTarget;
  // A commit of 300 pods of one ReplicaSet, told to watchers in one loop.
  for (let i = 0; i < 300; i++) routeStoreEvent(t, owned(i));
  send("pod/default/web-1", { type: "DELETE" });
  send("pod/default/web-1", { type: "DELETE" });
  assert.deepEqual(sent, [
    ["service/default/front", "CHANGED"],
    ["replicaset/default/web", "CHANGED"],
    ["pod/default/web-1", "DELETE"],
    ["pod/default/web-1", "DELETE"],
  ]);
  await Promise.resolve();
  routeStoreEvent(t, owned(1));
  assert.equal(sent.length, 6, "a later change is told again");
});

function service(name: string, selector?: Record<string, string>, namespace = "default"): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, uid: `uid-${name}` },
    spec: { ...(selector ? { selector } : {}), ports: [{ port: 80 }] },
  } as unknown as Service;
}

function labelled(
  type: WatchEvent["type"],
  labels: Record<string, string>,
  previousLabels?: Record<string, string>,
  namespace = "default",
): WatchEvent {
  return {
    type,
    object: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p", namespace, uid: "uid-p", generation: 1, labels },
      spec: { units: [] },
    } as unknown as Pod,
    ...(previousLabels ? { previousLabels } : {}),
  };
}

Deno.test("routeStoreEvent() tells a pod's change only to the Services selecting it, now or before its labels changed", async () => {
  const sent: string[] = [];
  const live = new Set(["service/default/web", "service/default/db", "service/default/all"]);
  live.add("service/default/manual").add("service/other/web");
  const t = {
    send: coalesceChanged((id) => void sent.push(id)),
    entry: (id: string) => live.has(id) ? { uid: id } : undefined,
    spawn: () => {},
    collectGarbage: () => {},
    forget: () => {},
    services: new ServiceSelectors(),
  } as unknown as RouteTarget;
  // Services arrive as store events (and restored actors through the supervisor's spawnFor).
  for (const svc of [service("web", { app: "web" }), service("db", { app: "db" })]) {
    routeStoreEvent(t, { type: "ADDED", object: svc });
  }
  routeStoreEvent(t, { type: "ADDED", object: service("all", {}) });
  routeStoreEvent(t, { type: "ADDED", object: service("manual") }); // no selector: no pod
  routeStoreEvent(t, { type: "ADDED", object: service("web", { app: "web" }, "other") });
  const told = async (e: WatchEvent) => {
    sent.length = 0;
    routeStoreEvent(t, e);
    await Promise.resolve(); // coalesceChanged forgets at the end of the run
    return [...sent].sort();
  };
  assert.deepEqual(await told(labelled("ADDED", { app: "web" })), [
    "service/default/all",
    "service/default/web",
  ]);
  assert.deepEqual(await told(labelled("MODIFIED", { app: "cache" })), ["service/default/all"]);
  // Its labels changed from web to db: the Service it left looks again, and the one it joined.
  assert.deepEqual(await told(labelled("MODIFIED", { app: "db" }, { app: "web" })), [
    "service/default/all",
    "service/default/db",
    "service/default/web",
  ]);
  assert.deepEqual(await told(labelled("DELETED", { app: "db" })), [
    "service/default/all",
    "service/default/db",
  ]);
  assert.deepEqual(await told(labelled("ADDED", { app: "web" }, undefined, "other")), [
    "service/other/web",
  ]);
  // A Service whose selector changed follows its new pods; a deleted one hears of none.
  routeStoreEvent(t, { type: "MODIFIED", object: service("web", { app: "cache" }) });
  routeStoreEvent(t, { type: "DELETED", object: service("all", {}) });
  assert.deepEqual(await told(labelled("MODIFIED", { app: "cache" })), ["service/default/web"]);
  assert.deepEqual(await told(labelled("MODIFIED", { app: "web" })), []);
  // A Service noted but whose actor is gone is not sent to.
  live.delete("service/default/web");
  assert.deepEqual(await told(labelled("MODIFIED", { app: "cache" })), []);
});
