/**
 * A stand-in controller for tests that run the real agent program: it accepts the agent's
 * WebSocket on 127.0.0.1, records what the agent sends (and the headers it dialled with) and
 * sends what the test says.
 */
import type { AgentMessage, ControllerMessage } from "../../model/agent_protocol.ts";

/** A running stand-in controller. */
export interface StubController {
  url: string;
  /** `Authorization` and `X-Milpa-Node` of every connection, in order. */
  headers: (string | null)[];
  /** Resolves with the first message so far or later that matches (20 s at most). */
  next<T extends AgentMessage>(what: string, pred: (m: AgentMessage) => boolean): Promise<T>;
  send(msg: ControllerMessage): void;
  close(): Promise<void>;
}

/** Starts a stand-in controller on a free port of 127.0.0.1. */
export function startStubController(): StubController {
  const received: AgentMessage[] = [];
  const waiters = new Set<() => void>();
  const headers: (string | null)[] = [];
  let socket: WebSocket | undefined;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    headers.push(req.headers.get("authorization"), req.headers.get("x-milpa-node"));
    const upgrade = Deno.upgradeWebSocket(req);
    socket = upgrade.socket;
    socket.onmessage = (event) => {
      received.push(JSON.parse(event.data));
      for (const w of [...waiters]) w();
    };
    return upgrade.response;
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    headers,
    next: <T extends AgentMessage>(what: string, pred: (m: AgentMessage) => boolean) =>
      new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`timed out waiting for ${what}; last: ${JSON.stringify(received.at(-1))}`),
          );
        }, 20_000);
        const check = () => {
          const found = received.find(pred) as T | undefined;
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        check();
      }),
    send: (msg) => socket!.send(JSON.stringify(msg)),
    async close() {
      socket?.close();
      await server.shutdown();
    },
  };
}
