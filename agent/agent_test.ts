import assert from "node:assert/strict";
import {
  AGENT_HEARTBEAT_MS,
  AGENT_PROTOCOL_VERSION,
  type AgentMessage,
  type DesiredPod,
  type StatusMessage,
} from "../model/agent_protocol.ts";
import type { Unit } from "../model/pod.ts";
import { NodeAgent } from "./agent.ts";
import { FakeClock, settle } from "../model/fake_clock.ts";
import { FakeProber } from "./fake_prober.ts";
import { FakeRuntime } from "./fake_runtime.ts";

function desired(units: Unit[], uid = "uid-1"): DesiredPod {
  return {
    namespace: "default",
    name: "hello",
    uid,
    spec: { units },
    env: { MILPA_POD_NAME: "hello" },
  };
}
const unit = (name: string): Unit => ({ name, command: ["serve", name] });

/** A connected agent on a fake clock and runtime that records what it sends. */
async function harness() {
  const clock = new FakeClock();
  const runtime = new FakeRuntime({ clock });
  const prober = new FakeProber();
  const dataDir = await Deno.makeTempDir();
  const sent: AgentMessage[] = [];
  const waiters = new Set<() => void>();
  const agent = new NodeAgent({
    nodeName: "node-1",
    dataDir,
    podIP: "10.0.0.5",
    runtime,
    prober,
    clock,
    send: (msg) => {
      sent.push(msg);
      for (const w of [...waiters]) w();
    },
  });
  /** Resolves with the first message sent from index `from` on that matches. */
  const next = <T extends AgentMessage>(pred: (m: AgentMessage) => m is T, from = 0) =>
    new Promise<T>((resolve) => {
      const check = () => {
        const found = sent.slice(from).find(pred);
        if (!found) return;
        waiters.delete(check);
        resolve(found);
      };
      waiters.add(check);
      check();
    });
  return {
    clock,
    runtime,
    prober,
    agent,
    sent,
    next,
    async [Symbol.asyncDispose]() {
      await agent.stop(0);
      agent.disconnected();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

const isStatus = (pred: (m: StatusMessage) => boolean) => (m: AgentMessage): m is StatusMessage =>
  m.type === "status" && pred(m);

Deno.test("NodeAgent.connected() sends hello, then the status", async () => {
  await using h = await harness();
  h.agent.connected();
  assert.deepEqual(h.sent, [
    { type: "hello", node: "node-1", protocolVersion: AGENT_PROTOCOL_VERSION, pid: Deno.pid },
    { type: "status", unitStatuses: [], initUnitStatuses: [], podIP: "10.0.0.5" },
  ]);
});

Deno.test("NodeAgent answers apply with applied and reports the units running", async () => {
  await using h = await harness();
  h.agent.connected();
  await h.agent.handle({ type: "apply", id: 7, pod: desired([unit("web")]) });
  assert.ok(h.sent.some((m) => m.type === "applied" && m.id === 7 && !("error" in m)));
  const status = await h.next(isStatus((m) => m.unitStatuses[0]?.state.running !== undefined));
  assert.equal(status.podUid, "uid-1");
  assert.equal(status.podIP, "10.0.0.5");

  const from = h.sent.length;
  h.runtime.exit("web", 4);
  const restarting = await h.next(isStatus((m) => m.unitStatuses[0]?.restartCount === 1), from);
  assert.deepEqual(restarting.unitStatuses[0].state, {
    waiting: { reason: "Waiting for unit restart, last exit code: 4" },
  });

  h.sent.length = 0;
  h.agent.disconnected();
  h.agent.connected();
  assert.deepEqual(h.sent[0], {
    type: "hello",
    node: "node-1",
    protocolVersion: AGENT_PROTOCOL_VERSION,
    podUid: "uid-1",
    pid: Deno.pid,
  });
});

Deno.test("NodeAgent answers a failed apply with applied and the error", async () => {
  await using h = await harness();
  h.agent.connected();
  await h.agent.handle({ type: "apply", id: 1, pod: desired([unit("a"), unit("a")]) });
  const applied = h.sent.find((m) => m.type === "applied");
  assert.ok(
    applied?.type === "applied" && applied.error?.includes('Cannot run pod "default/hello"'),
  );
});

Deno.test("NodeAgent sends a status heartbeat while connected", async () => {
  await using h = await harness();
  h.agent.connected();
  h.sent.length = 0;
  await h.clock.advance(AGENT_HEARTBEAT_MS);
  assert.deepEqual(h.sent.map((m) => m.type), ["status"]);
  await h.clock.advance(AGENT_HEARTBEAT_MS);
  assert.equal(h.sent.length, 2);
  h.agent.disconnected();
  await h.clock.advance(5 * AGENT_HEARTBEAT_MS);
  assert.equal(h.sent.length, 2);
  assert.equal(h.clock.pendingTimers, 0);
});

Deno.test("NodeAgent answers logs requests", async () => {
  await using h = await harness();
  h.agent.connected();
  await h.agent.handle({ type: "logs", id: 1, unit: "web" });
  await h.agent.handle({ type: "apply", id: 2, pod: desired([unit("web")]) });
  h.runtime.write("web", "one\ntwo\nthree\n");
  await h.agent.handle({ type: "logs", id: 3, unit: "web", lines: 2 });
  await h.agent.handle({ type: "logs", id: 4, unit: "" });
  await h.agent.handle({ type: "logs", id: 5, unit: "nope" });
  await h.agent.handle({ type: "apply", id: 6, pod: desired([unit("web"), unit("side")]) });
  await h.agent.handle({ type: "logs", id: 7, unit: "" });
  const results = h.sent.filter((m) => m.type === "logs.result");
  assert.deepEqual(results, [
    { type: "logs.result", id: 1, error: 'unit "web" not found: node "node-1" runs no pod' },
    { type: "logs.result", id: 3, text: "two\nthree\n" },
    { type: "logs.result", id: 4, text: "one\ntwo\nthree\n" },
    { type: "logs.result", id: 5, error: 'unit "nope" not found in pod "hello"' },
    { type: "logs.result", id: 7, error: 'pod "hello" has 2 units (web, side); name one' },
  ]);
});

Deno.test("NodeAgent streams a followed log until cancelled or the unit goes", async () => {
  await using h = await harness();
  h.agent.connected();
  await h.agent.handle({ type: "apply", id: 1, pod: desired([unit("web")]) });
  h.runtime.write("web", "before\n");
  await h.agent.handle({ type: "logs", id: 2, unit: "web", follow: true });
  await h.agent.handle({ type: "logs", id: 3, unit: "web", follow: true, lines: 1 });
  h.runtime.write("web", "after\nhalf");
  await h.agent.handle({ type: "logs.cancel", id: 2 });
  h.runtime.write("web", " done\n");
  await h.agent.handle({ type: "apply", id: 4, pod: null });
  const stream = (id: number) =>
    h.sent.filter((m) => m.type.startsWith("logs") && "id" in m && m.id === id).map((m) => ({
      ...m,
      id: undefined,
    }));
  assert.deepEqual(stream(2), [
    { type: "logs.result", id: undefined, text: "before\n" },
    { type: "logs.data", id: undefined, text: "after\n" },
  ]);
  assert.deepEqual(stream(3), [
    { type: "logs.result", id: undefined, text: "before\n" },
    { type: "logs.data", id: undefined, text: "after\n" },
    { type: "logs.data", id: undefined, text: "half done\n" },
    { type: "logs.end", id: undefined },
  ]);
});

Deno.test("NodeAgent keeps units running while disconnected and sends nothing", async () => {
  await using h = await harness();
  h.agent.connected();
  await h.agent.handle({ type: "apply", id: 1, pod: desired([unit("web")]) });
  h.agent.disconnected();
  const sent = h.sent.length;
  h.runtime.exit("web", 1);
  await h.clock.advance(AGENT_HEARTBEAT_MS);
  assert.equal(h.sent.length, sent);
  assert.deepEqual(h.runtime.runningUnits(), ["web"]);
  h.agent.connected();
  assert.equal(h.sent[sent].type, "hello");
  assert.deepEqual(h.sent[sent + 1], h.agent.statusMessage());
});

Deno.test("NodeAgent.stop() stops the units and refuses later applies", async () => {
  await using h = await harness();
  h.agent.connected();
  await h.agent.handle({ type: "apply", id: 1, pod: desired([unit("web")]) });
  await h.agent.stop();
  assert.deepEqual(h.runtime.runningUnits(), []);
  await h.agent.handle({ type: "apply", id: 2, pod: desired([unit("web")]) });
  assert.deepEqual(h.sent.at(-1), { type: "applied", id: 2, error: "the agent is stopping" });
  await settle();
  assert.equal(h.clock.pendingTimers, 0);
});

Deno.test("NodeAgent probes the pod IP and sends a status when a unit turns ready", async () => {
  await using h = await harness();
  h.agent.connected();
  const probed: Unit = { ...unit("web"), readinessProbe: { tcpSocket: { port: 8080 } } };
  await h.agent.handle({ type: "apply", id: 1, pod: desired([probed]) });
  const running = await h.next(isStatus((m) => m.unitStatuses[0]?.state.running !== undefined));
  assert.equal(running.unitStatuses[0].ready, false);
  const from = h.sent.length;
  await h.clock.advance(0);
  const ready = await h.next(isStatus((m) => m.unitStatuses[0]?.ready === true), from);
  assert.deepEqual(ready.unitStatuses[0], { ...running.unitStatuses[0], ready: true });
  assert.deepEqual(h.prober.checks, [{
    unit: "web",
    type: "tcpSocket",
    host: "10.0.0.5",
    port: 8080,
  }]);
});

Deno.test("NodeAgent.connected() reports its container runtime in hello", async () => {
  const sent: AgentMessage[] = [];
  const dataDir = await Deno.makeTempDir();
  try {
    const agent = new NodeAgent({
      nodeName: "node-1",
      dataDir,
      runtime: new FakeRuntime(),
      containerRuntime: "runc",
      send: (msg) => sent.push(msg),
    });
    agent.connected();
    assert.deepEqual(sent[0], {
      type: "hello",
      node: "node-1",
      protocolVersion: AGENT_PROTOCOL_VERSION,
      pid: Deno.pid,
      containerRuntime: "runc",
    });
    await agent.stop(0);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("NodeAgent answers apply(null) once the units stopped, after the pod's grace period", async () => {
  await using h = await harness();
  h.agent.connected();
  h.runtime.script = (l) => ({ ignoreTerm: l.name === "stubborn" });
  const pod = desired([unit("web"), unit("stubborn")]);
  pod.spec.terminationGracePeriodSeconds = 5;
  await h.agent.handle({ type: "apply", id: 1, pod });
  await h.next(isStatus((m) => m.unitStatuses.every((u) => u.state.running !== undefined)));
  const from = h.sent.length;
  let answered = false;
  const stop = h.agent.handle({ type: "apply", id: 2, pod: null }).then(() => answered = true);
  await h.clock.advance(4_999);
  assert.equal(answered, false);
  assert.ok(!h.sent.some((m) => m.type === "applied" && m.id === 2));
  assert.deepEqual(h.runtime.runningUnits(), ["stubborn"]);
  await h.clock.advance(1);
  await stop;
  assert.deepEqual(h.sent.at(-1), { type: "applied", id: 2 });
  assert.deepEqual(h.runtime.runningUnits(), []);

  await h.clock.advance(AGENT_HEARTBEAT_MS);
  h.agent.disconnected();
  h.agent.connected();
  const after = h.sent.slice(from);
  const applied = after.findIndex((m) => m.type === "applied");
  const statuses = after.flatMap((m, i) => m.type === "status" ? [{ at: i, status: m }] : []);
  assert.ok(statuses.every(({ status }) => status.podUid === "uid-1"), "the stopped pod's uid");
  const ends = ({ status }: { status: StatusMessage }) =>
    status.unitStatuses.map((u) => u.state.terminated?.reason ?? Object.keys(u.state)[0]);
  assert.ok(
    statuses.some((s) => s.at < applied && ends(s).join() === "Killed by SIGTERM,running"),
    "during the grace period",
  );
  const final = ["Killed by SIGTERM", "Killed by SIGKILL"];
  assert.deepEqual(ends(statuses.findLast(({ at }) => at < applied)!), final, "before applied");
  const later = statuses.filter(({ at }) => at > applied);
  assert.ok(later.length >= 2, "a heartbeat and one on reconnect");
  for (const s of later) assert.deepEqual(ends(s), final);
  assert.equal(after.find((m) => m.type === "hello")?.podUid, undefined);
});

Deno.test("NodeAgent answers logs of the stopped pod until another pod is applied", async () => {
  await using h = await harness();
  h.agent.connected();
  await h.agent.handle({ type: "apply", id: 1, pod: desired([unit("web")]) });
  h.runtime.write("web", "one\ntwo\n");
  await h.agent.handle({ type: "apply", id: 2, pod: null });
  const from = h.sent.length;
  await h.agent.handle({ type: "logs", id: 3, unit: "web", lines: 1 });
  await h.agent.handle({ type: "logs", id: 4, unit: "" });
  await h.agent.handle({ type: "logs", id: 5, unit: "web", follow: true });
  await h.agent.handle({ type: "apply", id: 6, pod: desired([unit("side")], "uid-2") });
  await h.agent.handle({ type: "logs", id: 7, unit: "web" });
  assert.deepEqual(h.sent.slice(from).filter((m) => m.type.startsWith("logs")), [
    { type: "logs.result", id: 3, text: "two\n" },
    { type: "logs.result", id: 4, text: "one\ntwo\n" },
    { type: "logs.result", id: 5, text: "one\ntwo\n" },
    { type: "logs.end", id: 5 },
    { type: "logs.result", id: 7, error: 'unit "web" not found in pod "hello"' },
  ]);
});
