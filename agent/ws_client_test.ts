import assert from "node:assert/strict";
import type { ControllerMessage } from "../model/agent_protocol.ts";
import {
  agentConnectURL,
  ControllerLink,
  parseControllerMessage,
  redialDelay,
} from "./ws_client.ts";

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
