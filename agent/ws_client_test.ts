import assert from "node:assert/strict";
import { type ControllerMessage, MAX_AGENT_MESSAGE_BYTES } from "../model/agent_protocol.ts";
import {
  agentConnectURL,
  agentFrame,
  CLOSE_MESSAGE_TOO_BIG,
  ControllerLink,
  LOG_CUT_NOTE,
  parseControllerMessage,
  redialDelay,
} from "./ws_client.ts";

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

Deno.test("agentConnectURL() turns the controller URL into the agent WebSocket URL", () => {
  assert.equal(agentConnectURL("http://127.0.0.1:54555"), "ws://127.0.0.1:54555/agent/v1/connect");
  assert.equal(
    agentConnectURL("https://milpa.example.com/base/"),
    "wss://milpa.example.com/base/agent/v1/connect",
  );
});

Deno.test("redialDelay() doubles from 0.5 s to 5 s, jittered to half or more", () => {
  assert.deepEqual([0, 1, 2, 3, 4, 10].map((a) => redialDelay(a, () => 0.999999)), [
    500,
    1000,
    2000,
    4000,
    5000,
    5000,
  ]);
  assert.deepEqual([0, 1, 4].map((a) => redialDelay(a, () => 0)), [250, 500, 2500]);
});

Deno.test("parseControllerMessage() accepts controller messages only", () => {
  assert.deepEqual(parseControllerMessage('{"type":"logs.cancel","id":3}'), {
    type: "logs.cancel",
    id: 3,
  });
  assert.throws(() => parseControllerMessage("{"), SyntaxError);
  assert.throws(
    () => parseControllerMessage('x{"value":"s3cret"}'),
    (err) => err instanceof SyntaxError && !err.message.includes("s3cret"),
    "the error does not quote the frame",
  );
  assert.throws(() => parseControllerMessage('{"type":"hello"}'), /unknown message type "hello"/);
  assert.throws(() => parseControllerMessage('{"type":"apply"}'), /without a numeric id/);
  assert.throws(() => parseControllerMessage(new Uint8Array()), /not a text frame/);
});

Deno.test("ControllerLink authenticates, ignores bad frames and redials after a drop", async () => {
  const headers: [string | null, string | null][] = [];
  const sockets: WebSocket[] = [];
  const opened: PromiseWithResolvers<void>[] = [Promise.withResolvers(), Promise.withResolvers()];
  const serverOpened: PromiseWithResolvers<void>[] = [
    Promise.withResolvers(),
    Promise.withResolvers(),
  ];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname !== "/agent/v1/connect") {
      return new Response("no", { status: 404 });
    }
    headers.push([req.headers.get("authorization"), req.headers.get("x-milpa-node")]);
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => serverOpened[sockets.push(socket) - 1]?.resolve();
    return response;
  });
  const events: string[] = [];
  const handled: ControllerMessage[] = [];
  const gotMessage = Promise.withResolvers<void>();
  const logs: string[] = [];
  const link = new ControllerLink({
    controllerURL: `http://127.0.0.1:${server.addr.port}`,
    nodeName: "node-1",
    token: "t0ken",
    minDelayMs: 10,
    maxDelayMs: 20,
    log: (m) => logs.push(m),
  });
  try {
    link.start({
      connected: () => opened[events.push("connected") === 1 ? 0 : 1].resolve(),
      disconnected: () => events.push("disconnected"),
      handle: (msg) => {
        handled.push(msg);
        gotMessage.resolve();
      },
    });
    await Promise.all([opened[0].promise, serverOpened[0].promise]);
    sockets[0].send("not json");
    sockets[0].send(JSON.stringify({ type: "logs.cancel", id: 9 }));
    await gotMessage.promise;
    assert.deepEqual(handled, [{ type: "logs.cancel", id: 9 }]);
    assert.ok(logs.some((l) => l.startsWith("ignoring a bad message")));
    sockets[0].close();
    await opened[1].promise;
    assert.deepEqual(headers, [["Bearer t0ken", "node-1"], ["Bearer t0ken", "node-1"]]);
  } finally {
    await link.close();
    await server.shutdown();
  }
  assert.deepEqual(events, ["connected", "disconnected", "connected", "disconnected"]);
});

Deno.test("agentFrame() sends a message that fits as its JSON", () => {
  const msg = { type: "logs.data", id: 1, text: "a\nb\n" } as const;
  assert.equal(agentFrame(msg, 100), JSON.stringify(msg));
});

Deno.test("agentFrame() keeps the last whole lines of a log answer that does not fit, after a note", () => {
  const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${"é".repeat(20)}`);
  const frame = agentFrame({ type: "logs.result", id: 7, text: lines.join("\n") + "\n" }, 2_000)!;
  assert.ok(new TextEncoder().encode(frame).length <= 2_000, `${frame.length} characters`);
  const msg = JSON.parse(frame);
  assert.equal(msg.type, "logs.result");
  assert.equal(msg.id, 7);
  const kept: string[] = msg.text.split("\n");
  assert.equal(kept[0], `${LOG_CUT_NOTE} 2000 bytes]`);
  assert.equal(kept.at(-1), "", "ends with a newline");
  const tail = kept.slice(1, -1);
  assert.ok(tail.length > 10, `${tail.length} lines kept`);
  assert.deepEqual(tail, lines.slice(-tail.length), "the last lines, whole");
});

Deno.test("agentFrame() gives nothing for any other message over the limit", () => {
  const error = "x".repeat(200);
  assert.equal(agentFrame({ type: "applied", id: 1, error }, 100), undefined);
});

Deno.test("ControllerLink closes (4009) on a controller message over the limit without handling it, and redials", async () => {
  const closes: number[] = [];
  const sockets: WebSocket[] = [];
  const serverOpened = [Promise.withResolvers<void>(), Promise.withResolvers<void>()];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onopen = () => serverOpened[sockets.push(socket) - 1]?.resolve();
    socket.onclose = (e) => closes.push(e.code);
    return response;
  });
  const events: string[] = [];
  const handled: ControllerMessage[] = [];
  const logs: string[] = [];
  const disconnected = Promise.withResolvers<void>();
  const link = new ControllerLink({
    controllerURL: `http://127.0.0.1:${server.addr.port}`,
    nodeName: "node-1",
    token: "t0ken",
    minDelayMs: 10,
    maxDelayMs: 20,
    log: (m) => logs.push(m),
  });
  try {
    link.start({
      connected: () => events.push("connected"),
      disconnected: () => {
        events.push("disconnected");
        disconnected.resolve();
      },
      handle: (msg) => void handled.push(msg),
    });
    await serverOpened[0].promise;
    const cancel = JSON.stringify({ type: "logs.cancel", id: 1 });
    sockets[0].send(cancel + " ".repeat(MAX_AGENT_MESSAGE_BYTES));
    await within(disconnected.promise, "the disconnect");
    await within(serverOpened[1].promise, "a new dial");
    assert.deepEqual(handled, [], "the message was never parsed");
    assert.deepEqual(closes, [CLOSE_MESSAGE_TOO_BIG]);
    assert.ok(
      logs.some((l) =>
        l.startsWith("node node-1: the controller sent a message over 4194304 bytes")
      ),
      `logged: ${logs}`,
    );
  } finally {
    await link.close();
    await server.shutdown();
  }
});

Deno.test("ControllerLink.send() cuts a log answer over the limit to fit", async () => {
  const received = Promise.withResolvers<string>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => received.resolve(e.data);
    return response;
  });
  const connected = Promise.withResolvers<void>();
  const link = new ControllerLink({
    controllerURL: `http://127.0.0.1:${server.addr.port}`,
    nodeName: "node-1",
    token: "t0ken",
  });
  try {
    link.start({ connected: () => connected.resolve(), disconnected: () => {}, handle: () => {} });
    await connected.promise;
    const text = "0123456789abcdef\n".repeat(MAX_AGENT_MESSAGE_BYTES / 16);
    link.send({ type: "logs.result", id: 3, text });
    const frame = await received.promise;
    assert.ok(frame.length <= MAX_AGENT_MESSAGE_BYTES, `${frame.length} bytes`);
    const msg = JSON.parse(frame);
    assert.ok(msg.text.startsWith(LOG_CUT_NOTE));
    assert.ok(text.endsWith(msg.text.slice(msg.text.indexOf("\n") + 1)));
  } finally {
    await link.close();
    await server.shutdown();
  }
});
