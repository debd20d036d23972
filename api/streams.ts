/**
 * Exec, attach and port-forward: `GET /api/v1/namespaces/{ns}/pods/{name}/{exec,attach,
 * portforward}` are WebSocket upgrades (they need write access: see api/access.ts). The route
 * checks the pod runs on a connected node, upgrades, asks the node's agent to dial back
 * (`stream.open`), and the agent's `GET /agent/v1/streams/{id}` is piped to the client's
 * socket (actors/stream_pipes.ts). Frames: model/stream_frames.ts.
 *
 * The same request without `Upgrade: websocket` makes the same checks and answers their error,
 * else 400: a client whose upgrade was refused asks again this way to learn why (WebSocket
 * clients do not show a refused upgrade's body).
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import type { AgentHub } from "../actors/agent_hub.ts";
import { type StreamEnd, StreamPipe } from "../actors/stream_pipes.ts";
import type { StreamOpenMessage } from "../model/agent_protocol.ts";
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  UnavailableError,
} from "../model/errors.ts";
import { allUnits, type Pod } from "../model/pod.ts";
import { statusFrame, type StreamKind } from "../model/stream_frames.ts";
import type { ObjectStore } from "../store/object_store.ts";
import type { StreamSlots } from "./limits.ts";

const TRUE = new Set(["1", "true"]);

/** What the client asked for, checked against the pod. */
type StreamRequest = Omit<StreamOpenMessage, "type" | "id" | "stream"> & { node: string };

/** Works out and checks a stream request; throws the error the client should see. */
export async function streamRequest(
  store: ObjectStore,
  hub: AgentHub,
  c: Context,
  kind: StreamKind,
): Promise<StreamRequest> {
  const name = c.req.param("name")!;
  const pod = await store.mustGet<Pod>("pods", c.req.param("ns")!, name);
  const phase = pod.status?.phase ?? "Waiting";
  if (phase !== "Running") {
    throw new ConflictError(`pod "${name}" is not running (Pod ${phase}); try again when it runs`);
  }
  const node = pod.status?.boundNodeName;
  if (!node || !hub.isConnected(node)) {
    throw new UnavailableError(
      `the node of pod "${name}"${node ? ` (${node})` : ""} is not connected; try again shortly`,
    );
  }
  if (kind === "portforward") {
    const text = c.req.query("port") ?? "";
    const port = Number(text);
    if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
      throw new BadRequestError(`port must be a TCP port (1-65535), not "${text}"`);
    }
    return { node, kind, port };
  }
  const units = allUnits(pod.spec).map((u) => u.name);
  const unit = c.req.query("unit") || pod.spec.units[0].name;
  if (!units.includes(unit)) {
    throw new NotFoundError(
      `unit "${unit}" not found in pod "${name}"; its units: ${units.join(", ")}`,
    );
  }
  const req: StreamRequest = {
    node,
    kind,
    unit,
    stdin: TRUE.has(c.req.query("stdin") ?? ""),
    tty: TRUE.has(c.req.query("tty") ?? ""),
  };
  if (kind === "exec") {
    const command = c.req.queries("command") ?? [];
    if (command.length === 0 || command[0] === "") {
      throw new BadRequestError("exec needs a command: ?command=sh&command=-c&command=...");
    }
    req.command = command;
  }
  for (const dim of ["cols", "rows"] as const) {
    const n = Number(c.req.query(dim));
    if (Number.isInteger(n) && n > 0 && n < 65536) req[dim] = n;
  }
  return req;
}

/** A server-side WebSocket as a pipe end. */
function endOf(socket: WebSocket): StreamEnd {
  return {
    send: (data) => socket.send(data),
    close: (code, reason) => socket.close(code, reason),
  };
}

/** The three client routes. */
export function streamRoutes(
  deps: { store: ObjectStore; hub: AgentHub; streams?: StreamSlots },
): Hono {
  const app = new Hono();
  const route = (kind: StreamKind) => async (c: Context) => {
    const req = await streamRequest(deps.store, deps.hub, c, kind);
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new BadRequestError(
        `${kind} is a WebSocket: send the request with Upgrade: websocket (milpactl ${
          kind === "portforward" ? "port-forward" : kind
        } does)`,
      );
    }
    const release = deps.streams?.acquire() ?? (() => {});
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    socket.binaryType = "arraybuffer";
    const { node, ...open } = req;
    const pipe = new StreamPipe(
      crypto.randomUUID(),
      node,
      endOf(socket),
      (message) =>
        kind === "portforward"
          ? JSON.stringify({ error: message })
          : statusFrame({ error: message }),
    );
    socket.onopen = () => {
      deps.hub.streams.add(pipe);
      try {
        deps.hub.openStream(node, { stream: pipe.id, ...open });
      } catch (e) {
        pipe.failWith((e as Error).message);
      }
    };
    socket.onmessage = (e) => pipe.fromClient(e.data);
    socket.onclose = (e) => {
      release();
      pipe.clientClosed(e.code, e.reason);
    };
    socket.onerror = () => {};
    return response;
  };
  app.get("/api/v1/namespaces/:ns/pods/:name/exec", route("exec"));
  app.get("/api/v1/namespaces/:ns/pods/:name/attach", route("attach"));
  app.get("/api/v1/namespaces/:ns/pods/:name/portforward", route("portforward"));
  return app;
}

/**
 * Adds `GET /agent/v1/streams/{id}`, where agents dial back the streams they were asked to
 * open, behind the node authentication `nodeAuth` (the node must be the stream's).
 */
export function addAgentStreamRoute(app: Hono, hub: AgentHub, nodeAuth: MiddlewareHandler): void {
  app.get("/agent/v1/streams/:id", nodeAuth, (c) => {
    const node = c.req.header("X-Milpa-Node")!;
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new BadRequestError("streams are WebSockets");
    }
    const pipe = hub.streams.claim(node, c.req.param("id"));
    if (!pipe) {
      throw new NotFoundError(`no stream ${c.req.param("id")} is waiting for node ${node}`);
    }
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => pipe.agentJoined(endOf(socket));
    socket.onmessage = (e) => pipe.fromAgent(e.data);
    socket.onclose = (e) => pipe.agentClosed(e.code, e.reason);
    socket.onerror = () => {};
    return response;
  });
}
