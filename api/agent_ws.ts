/**
 * `GET /agent/v1/connect`: where node agents dial in. The agent authenticates with its
 * per-node token (`Authorization: Bearer`, `X-Milpa-Node`) before the upgrade; after
 * that every frame is one JSON message of `model/agent_protocol.ts`, of at most
 * MAX_AGENT_MESSAGE_BYTES each way: a bigger frame from the agent is not parsed but closes
 * the connection (1009), and a bigger message for it is refused to the sender.
 */
import { type Context, Hono, type Next } from "hono";
import type { AgentHub, AttachedAgent } from "../actors/agent_hub.ts";
import { BadRequestError, NotFoundError, UnauthorizedError } from "../model/errors.ts";
import type { PackageStore } from "./packages.ts";
import { addAgentStreamRoute } from "./streams.ts";
import { agentBundle, milpactlBundle } from "./agent_bundle.ts";
import {
  type AgentMessage,
  frameTooBig,
  MAX_AGENT_MESSAGE_BYTES,
} from "../model/agent_protocol.ts";
import { log } from "../model/log.ts";

/** WebSocket close code "message too big". */
const CLOSE_MESSAGE_TOO_BIG = 1009;

/** The agent connection route. */
export function agentRoutes(deps: {
  hub: AgentHub;
  verifyNodeToken: (node: string, token: string) => Promise<boolean>;
  /** Uploaded packages, which their pod's node fetches here. */
  packages?: PackageStore;
}): Hono {
  const app = new Hono();
  const nodeAuth = async (c: Context, next: Next) => {
    const node = c.req.header("X-Milpa-Node") ?? "";
    const auth = c.req.header("Authorization") ?? "";
    const token = auth.startsWith("Bearer ") ? auth.slice(7) : "";
    if (!node || !token || !(await deps.verifyNodeToken(node, token))) {
      throw new UnauthorizedError("agent connection refused: unknown node or wrong token");
    }
    await next();
  };
  // The agent program, for cloud nodes to fetch at boot (their user-data says how).
  app.get("/agent/v1/agent.js", nodeAuth, async (c) => {
    c.header("Content-Type", "text/javascript; charset=utf-8");
    return c.body(await agentBundle());
  });
  // milpactl, for the pods of this node that drive Milpa (model/pod_milpactl.ts).
  app.get("/agent/v1/milpactl.js", nodeAuth, async (c) => {
    c.header("Content-Type", "text/javascript; charset=utf-8");
    return c.body(await milpactlBundle());
  });
  addAgentStreamRoute(app, deps.hub, nodeAuth);
  // A package uploaded for the pod this node runs (api/packages.ts): only that node gets it.
  app.get("/agent/v1/packages/:uid/:name", nodeAuth, async (c) => {
    const node = c.req.header("X-Milpa-Node")!;
    const { uid, name } = c.req.param();
    const offer = deps.packages?.find(node, uid, name);
    const missing = () =>
      new NotFoundError(`no package "${name}" of pod uid ${uid} is waiting for node ${node}`);
    if (!offer) throw missing();
    let file: Deno.FsFile;
    try {
      file = await Deno.open(offer.path);
    } catch {
      throw missing();
    }
    c.header("Content-Type", "application/octet-stream");
    c.header("Content-Length", String(offer.size));
    return c.body(file.readable);
  });
  app.get(
    "/agent/v1/connect",
    nodeAuth,
    // Deno's own upgrade: hono/deno's helper is deprecated, and importing it loaded Hono's
    // static-site generator and file server too (40 ms of a bare `import`).
    (c) => {
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        throw new BadRequestError(
          "/agent/v1/connect takes a WebSocket: the request needs Upgrade: websocket",
        );
      }
      const node = c.req.header("X-Milpa-Node")!;
      const { response, socket: ws } = Deno.upgradeWebSocket(c.req.raw);
      let attached: AttachedAgent | undefined;
      ws.onopen = () => {
        attached = deps.hub.attach(node, {
          send: (msg) => {
            const frame = JSON.stringify(msg);
            if (frameTooBig(frame)) {
              // The hub turns this into an error of the request (a pod's apply fails).
              throw new Error(`the ${msg.type} message is over ${MAX_AGENT_MESSAGE_BYTES} bytes`);
            }
            ws.send(frame);
          },
          close: (reason) => ws.close(1000, reason?.slice(0, 120)),
        });
      };
      ws.onmessage = (evt) => {
        if (!attached) return; // closed for a message too big; the rest is not read
        if (frameTooBig(evt.data)) {
          log.warn(
            `node ${node}: the agent sent a message over ${MAX_AGENT_MESSAGE_BYTES} bytes; closing the connection`,
          );
          ws.close(CLOSE_MESSAGE_TOO_BIG, "message too big");
          attached.closed();
          attached = undefined;
          return;
        }
        const text = String(evt.data);
        let msg: AgentMessage;
        try {
          msg = JSON.parse(text);
        } catch {
          // Not JSON.parse's error: it quotes the frame, whose unit output may hold secrets.
          log.warn(`node ${node}: bad message: not JSON (${text.length} characters)`);
          return;
        }
        try {
          attached.receive(msg);
        } catch (e) {
          log.warn(`node ${node}: bad message`, { error: e });
        }
      };
      ws.onclose = () => attached?.closed();
      ws.onerror = () => attached?.closed();
      return response;
    },
  );
  return app;
}
