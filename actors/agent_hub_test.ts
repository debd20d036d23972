import assert from "node:assert/strict";
import type { ControllerMessage, StatusMessage } from "../model/agent_protocol.ts";
import { AGENT_PROTOCOL_VERSION } from "../model/agent_protocol.ts";
import { UnavailableError } from "../model/errors.ts";
import { type AgentConnection, AgentHub, type HubEvent } from "./agent_hub.ts";

/** A connection that records what the hub sends and whether it closed it. */
class FakeConnection implements AgentConnection {
  readonly sent: ControllerMessage[] = [];
  closedWith: string[] = [];
  failSend = false;
  send(msg: ControllerMessage): void {
    if (this.failSend) throw new Error("socket closed");
    this.sent.push(msg);
  }
  close(reason?: string): void {
    this.closedWith.push(reason ?? "");
  }
  /** The last message sent, as the type the test expects. */
  last<T extends ControllerMessage>(): T {
    return this.sent[this.sent.length - 1] as T;
  }
}

function hello(node: string, podUid?: string) {
  return { type: "hello", node, protocolVersion: AGENT_PROTOCOL_VERSION, podUid } as const;
}

function status(podUid: string): StatusMessage {
  return { type: "status", podUid, unitStatuses: [], initUnitStatuses: [] };
}

function recordEvents(hub: AgentHub): { events: HubEvent[]; stop: () => void } {
  const events: HubEvent[] = [];
  const stop = hub.subscribe((e) => events.push(e));
  return { events, stop };
}

/** Whether a promise settled by now (after queued microtasks ran). */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => done = true, () => done = true);
  await new Promise((r) => setTimeout(r, 0));
  return done;
}

Deno.test("AgentHub reports connected on hello, status on status, disconnected on close", () => {
  const hub = new AgentHub();
  const { events, stop } = recordEvents(hub);
  const conn = new FakeConnection();
  const agent = hub.attach("n1", conn);
  assert.ok(hub.isConnected("n1"));
  assert.deepEqual(hub.connectedNodes(), ["n1"]);
  agent.receive(hello("n1", "uid-1"));
  agent.receive(status("uid-1"));
  assert.deepEqual(hub.lastStatus("n1"), status("uid-1"));
  agent.closed();
  assert.deepEqual(events, [
    { type: "connected", node: "n1", podUid: "uid-1" },
    { type: "status", node: "n1", status: status("uid-1") },
    { type: "disconnected", node: "n1" },
  ]);
  assert.ok(!hub.isConnected("n1"));
  assert.deepEqual(hub.connectedNodes(), []);
  assert.deepEqual(conn.closedWith, [], "a connection the agent closed is not closed again");
  // A second closed() is not a second disconnect.
  agent.closed();
  assert.equal(events.length, 3);
  stop();
});

Deno.test("AgentHub.subscribe() returns a function that stops the events", () => {
  const hub = new AgentHub();
  const { events, stop } = recordEvents(hub);
  stop();
  hub.attach("n1", new FakeConnection()).receive(hello("n1"));
  assert.deepEqual(events, []);
});

Deno.test("AgentHub.apply() sends the desired pod and resolves when the agent applied it", async () => {
  const hub = new AgentHub();
  const conn = new FakeConnection();
  const agent = hub.attach("n1", conn);
  const done = hub.apply("n1", null);
  const msg = conn.last<Extract<ControllerMessage, { type: "apply" }>>();
  assert.equal(msg.type, "apply");
  assert.equal(msg.pod, null);
  assert.ok(!(await settled(done)));
  agent.receive({ type: "applied", id: msg.id + 1000 }); // another request's answer
  assert.ok(!(await settled(done)));
  agent.receive({ type: "applied", id: msg.id });
  await done;
});

Deno.test("AgentHub.apply() rejects with UnavailableError when the agent reports an error", async () => {
  const hub = new AgentHub();
  const conn = new FakeConnection();
  const agent = hub.attach("n1", conn);
  const done = hub.apply("n1", null);
  agent.receive({ type: "applied", id: conn.last().id, error: "bad pod" });
  await assert.rejects(done, (e) => e instanceof UnavailableError && e.message === "bad pod");
});

Deno.test("AgentHub.apply() rejects when the agent disconnects before answering", async () => {
  const hub = new AgentHub();
  const agent = hub.attach("n1", new FakeConnection());
  const done = hub.apply("n1", null);
  agent.closed();
  await assert.rejects(done, UnavailableError);
});

Deno.test("AgentHub.apply() rejects at once when the node is not connected or sending fails", async () => {
  const hub = new AgentHub();
  await assert.rejects(hub.apply("n1", null), /node n1 is not connected/);
  const conn = new FakeConnection();
  conn.failSend = true;
  hub.attach("n1", conn);
  await assert.rejects(hub.apply("n1", null), /node n1: cannot send: socket closed/);
});

Deno.test("AgentHub.waitConnected() resolves on the agent's hello", async () => {
  const hub = new AgentHub();
  const waiting = hub.waitConnected("n1", 10_000);
  const agent = hub.attach("n1", new FakeConnection());
  assert.ok(!(await settled(waiting)), "attaching alone is not connecting");
  agent.receive(hello("n1"));
  await waiting;
  // Already connected: resolves at once.
  await hub.waitConnected("n1", 10_000);
});

Deno.test("AgentHub.waitConnected() rejects with UnavailableError after its timeout", async () => {
  const hub = new AgentHub();
  await assert.rejects(
    hub.waitConnected("n1", 5),
    (e) => e instanceof UnavailableError && /agent did not connect within/.test(e.message),
  );
  // Another node's hello does not count.
  const other = hub.waitConnected("n2", 5);
  hub.attach("n3", new FakeConnection()).receive(hello("n3"));
  await assert.rejects(other, UnavailableError);
});

Deno.test("AgentHub.attach() of a newer connection replaces and closes the older one", async () => {
  const hub = new AgentHub();
  const { events, stop } = recordEvents(hub);
  const oldConn = new FakeConnection();
  const oldAgent = hub.attach("n1", oldConn);
  const pending = hub.apply("n1", null);
  let ended: string | undefined;
  hub.followLogs("n1", "main", undefined, () => {}, (e) => ended = e);

  const newConn = new FakeConnection();
  const newAgent = hub.attach("n1", newConn);
  assert.deepEqual(oldConn.closedWith, ["replaced by a newer connection"]);
  await assert.rejects(pending, UnavailableError);
  assert.equal(ended, "node n1 disconnected");

  // The old connection closing later does not disconnect the new one.
  oldAgent.closed();
  assert.ok(hub.isConnected("n1"));
  assert.deepEqual(events, []);

  const done = hub.apply("n1", null);
  assert.equal(oldConn.sent.filter((m) => m.type === "apply").length, 1);
  newAgent.receive({ type: "applied", id: newConn.last().id });
  await done;
  stop();
});

Deno.test("AgentHub.logs() asks for a unit's last lines and resolves with the text", async () => {
  const hub = new AgentHub();
  const conn = new FakeConnection();
  const agent = hub.attach("n1", conn);
  const text = hub.logs("n1", "main", 20);
  const req = conn.last<Extract<ControllerMessage, { type: "logs" }>>();
  assert.deepEqual(req, { type: "logs", id: req.id, unit: "main", lines: 20 });
  agent.receive({ type: "logs.result", id: req.id, text: "a\nb\n" });
  assert.equal(await text, "a\nb\n");

  const empty = hub.logs("n1", "main");
  agent.receive({ type: "logs.result", id: conn.last().id });
  assert.equal(await empty, "");

  const failed = hub.logs("n1", "nope");
  agent.receive({ type: "logs.result", id: conn.last().id, error: "no unit nope" });
  await assert.rejects(failed, /no unit nope/);
});

Deno.test("AgentHub.followLogs() delivers the tail and new text, and ends once on logs.end", () => {
  const hub = new AgentHub();
  const conn = new FakeConnection();
  const agent = hub.attach("n1", conn);
  const texts: string[] = [];
  const ends: (string | undefined)[] = [];
  const cancel = hub.followLogs("n1", "main", 5, (t) => texts.push(t), (e) => ends.push(e));
  const req = conn.last<Extract<ControllerMessage, { type: "logs" }>>();
  assert.deepEqual(req, { type: "logs", id: req.id, unit: "main", lines: 5, follow: true });

  agent.receive({ type: "logs.result", id: req.id, text: "old\n" });
  agent.receive({ type: "logs.data", id: req.id, text: "new\n" });
  agent.receive({ type: "logs.data", id: req.id + 1, text: "someone else's\n" });
  agent.receive({ type: "logs.end", id: req.id });
  agent.receive({ type: "logs.data", id: req.id, text: "late\n" });
  agent.receive({ type: "logs.end", id: req.id });
  assert.deepEqual(texts, ["old\n", "new\n"]);
  assert.deepEqual(ends, [undefined]);

  cancel();
  assert.ok(!conn.sent.some((m) => m.type === "logs.cancel"), "an ended stream needs no cancel");
});

Deno.test("AgentHub.followLogs() cancel sends logs.cancel once and stops the text", () => {
  const hub = new AgentHub();
  const conn = new FakeConnection();
  const agent = hub.attach("n1", conn);
  const texts: string[] = [];
  const ends: (string | undefined)[] = [];
  const cancel = hub.followLogs("n1", "main", undefined, (t) => texts.push(t), (e) => ends.push(e));
  const id = conn.last().id;
  cancel();
  cancel();
  assert.deepEqual(conn.sent.filter((m) => m.type === "logs.cancel"), [
    { type: "logs.cancel", id },
  ]);
  agent.receive({ type: "logs.data", id, text: "after cancel\n" });
  assert.deepEqual(texts, []);
  assert.deepEqual(ends, []);
});

Deno.test("AgentHub.followLogs() ends with an error when the node is not connected, the unit has no log or the agent goes", () => {
  const hub = new AgentHub();
  const ends: (string | undefined)[] = [];
  const onEnd = (e?: string) => void ends.push(e);
  hub.followLogs("n1", "main", undefined, () => {}, onEnd);
  assert.deepEqual([...ends], ["node n1 is not connected"]);

  const conn = new FakeConnection();
  const agent = hub.attach("n1", conn);
  hub.followLogs("n1", "nope", undefined, () => {}, onEnd);
  agent.receive({ type: "logs.result", id: conn.last().id, error: "no unit nope" });
  hub.followLogs("n1", "main", undefined, () => {}, onEnd);
  agent.closed();
  assert.deepEqual(ends, ["node n1 is not connected", "no unit nope", "node n1 disconnected"]);
});

Deno.test("AgentHub.closeAll() closes every connection and fails what was pending", async () => {
  const hub = new AgentHub();
  const a = new FakeConnection();
  const b = new FakeConnection();
  hub.attach("a", a);
  hub.attach("b", b);
  const pending = hub.apply("a", null);
  hub.closeAll();
  await assert.rejects(pending, UnavailableError);
  assert.deepEqual(a.closedWith, ["controller stopping"]);
  assert.deepEqual(b.closedWith, ["controller stopping"]);
  assert.deepEqual(hub.connectedNodes(), []);
});

Deno.test({
  name: "AgentHub ignores what a replaced connection still delivers",
  fn: () => {
    const hub = new AgentHub();
    const oldAgent = hub.attach("n1", new FakeConnection());
    const newAgent = hub.attach("n1", new FakeConnection());
    newAgent.receive(status("uid-new"));
    const { events, stop } = recordEvents(hub);
    oldAgent.receive(status("uid-old"));
    oldAgent.receive(hello("n1", "uid-old"));
    stop();
    assert.deepEqual(events, []);
    assert.equal(hub.lastStatus("n1")?.podUid, "uid-new");
  },
});
