import assert from "node:assert/strict";
import { AgentHub, type HubEvent } from "../actors/agent_hub.ts";
import {
  type AgentMessage,
  type DesiredPod,
  MAX_AGENT_MESSAGE_BYTES,
} from "../model/agent_protocol.ts";
import { UnavailableError } from "../model/errors.ts";
import { agentRoutes } from "./agent_ws.ts";
import { createNodeApp } from "./app.ts";
import { fromAddress } from "./testing.ts";
import { FakeClock } from "../model/fake_clock.ts";

const HELLO: AgentMessage = { type: "hello", node: "node-1", protocolVersion: 1 };

/** `p`, or a failure naming `what` when it has not settled after `ms`. */
async function within<T>(p: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** What a test drives: the agent's socket, the hub, its events and the controller's log. */
interface Conn {
  ws: WebSocket;
  hub: AgentHub;
  /** Resolves with the next hub event of the given type. */
  next(type: HubEvent["type"]): Promise<HubEvent>;
  /** Hub events no `next()` took yet. */
  events: HubEvent[];
  /** The close code the agent's socket saw. */
  closed: Promise<number>;
  errors: string[];
}

/** Serves the agent route on a free port and dials it as node-1. */
async function withAgent(fn: (c: Conn) => Promise<void>): Promise<void> {
  const hub = new AgentHub();
  const events: HubEvent[] = [];
  const waiting: [HubEvent["type"], (e: HubEvent) => void][] = [];
  hub.subscribe((e) => {
    const i = waiting.findIndex(([type]) => type === e.type);
    if (i >= 0) waiting.splice(i, 1)[0][1](e);
    else events.push(e);
  });
  const next = (type: HubEvent["type"]) => {
    const i = events.findIndex((e) => e.type === type);
    if (i >= 0) return Promise.resolve(events.splice(i, 1)[0]);
    return new Promise<HubEvent>((resolve) => waiting.push([type, resolve]));
  };
  const app = agentRoutes({
    hub,
    verifyNodeToken: (_node, token) => Promise.resolve(token === "t"),
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, app.fetch);
  const errors: string[] = [];
  const consoleError = console.error;
  console.error = (...args: unknown[]) => void errors.push(args.map(String).join(" "));
  const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/agent/v1/connect`, {
    headers: { Authorization: "Bearer t", "X-Milpa-Node": "node-1" },
  });
  const closed = new Promise<number>((resolve) => ws.onclose = (e) => resolve(e.code));
  try {
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    ws.send(JSON.stringify(HELLO));
    await next("connected");
    await fn({ ws, hub, next, events, closed, errors });
  } finally {
    console.error = consoleError;
    if (ws.readyState !== WebSocket.CLOSED) ws.close();
    await closed;
    hub.closeAll();
    await server.shutdown();
  }
}

Deno.test("agent WebSocket takes a message of exactly MAX_AGENT_MESSAGE_BYTES", async () => {
  await withAgent(async ({ ws, hub, next }) => {
    const status = JSON.stringify({ type: "status", unitStatuses: [], initUnitStatuses: [] });
    ws.send(status + " ".repeat(MAX_AGENT_MESSAGE_BYTES - status.length));
    await within(next("status"), "the status");
    assert.ok(hub.isConnected("node-1"));
  });
});

Deno.test("agent WebSocket closes with 1009 on a bigger message, unparsed, and the hub sees the node go", async () => {
  await withAgent(async ({ ws, hub, next, events, closed, errors }) => {
    ws.send(JSON.stringify(HELLO) + " ".repeat(MAX_AGENT_MESSAGE_BYTES));
    assert.equal(await within(closed, "the close"), 1009);
    assert.deepEqual(await within(next("disconnected"), "the disconnect"), {
      type: "disconnected",
      node: "node-1",
    });
    assert.deepEqual(events, [], "the hello in it was never read");
    assert.ok(!hub.isConnected("node-1"));
    assert.ok(
      errors.some((e) =>
        /Z WARN {2}node node-1: the agent sent a message over 4194304 bytes/.test(e)
      ),
      `logged: ${errors}`,
    );
  });
});

Deno.test("agent WebSocket logs a frame that is not JSON without quoting it", async () => {
  await withAgent(async ({ ws, hub, next, errors }) => {
    // A unit's log output may hold its secrets; JSON.parse's own error would quote it.
    const frame = 'x{"type":"logs.data","id":1,"text":"s3cret"}';
    ws.send(frame);
    ws.send(JSON.stringify({ type: "status", unitStatuses: [], initUnitStatuses: [] }));
    await within(next("status"), "the status after it");
    // The log line: a timestamp, the level, then the message.
    assert.deepEqual(errors.map((e) => e.replace(/^\S+Z /, "")), [
      `WARN  node node-1: bad message: not JSON (${frame.length} characters)`,
    ]);
    assert.ok(hub.isConnected("node-1"), "the link stays");
  });
});

Deno.test("agent WebSocket counts a message's UTF-8 bytes, not its characters", async () => {
  await withAgent(async ({ ws, next, closed }) => {
    // Half as many characters as the limit, each two bytes: just over it.
    ws.send("é".repeat(MAX_AGENT_MESSAGE_BYTES / 2 + 1));
    assert.equal(await within(closed, "the close"), 1009);
    await within(next("disconnected"), "the disconnect");
  });
});

Deno.test("agent WebSocket refuses to send an apply over the limit: the apply fails, the link stays", async () => {
  await withAgent(async ({ hub }) => {
    const pod: DesiredPod = {
      namespace: "default",
      name: "web",
      uid: "u1",
      spec: { resources: { memory: "1Gi" }, units: [{ name: "main", command: ["serve"] }] },
      env: { HUGE: "x".repeat(MAX_AGENT_MESSAGE_BYTES) },
    } as DesiredPod;
    await assert.rejects(
      hub.apply("node-1", pod),
      (e: unknown) => e instanceof UnavailableError && /over 4194304 bytes/.test(e.message),
    );
    assert.ok(hub.isConnected("node-1"));
  });
});

Deno.test("a request to /agent/v1/connect that is not a WebSocket upgrade is refused with 400", async () => {
  const hub = new AgentHub();
  const app = createNodeApp({
    hub,
    clock: new FakeClock(),
    verifyNodeToken: (_node, token) => Promise.resolve(token === "t"),
  });
  try {
    const res = await app.request("/agent/v1/connect", {
      headers: { Authorization: "Bearer t", "X-Milpa-Node": "node-1" },
    }, fromAddress("10.0.0.2"));
    assert.equal(res.status, 400);
    const status = await res.json() as { message: string };
    assert.match(status.message, /needs Upgrade: websocket/);
    // Without the node's token it is the token that is refused, as before.
    const anonymous = await app.request("/agent/v1/connect", {}, fromAddress("10.0.0.2"));
    assert.equal(anonymous.status, 401);
    await anonymous.body?.cancel();
  } finally {
    hub.closeAll();
  }
});
