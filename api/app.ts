/** The controller's HTTP API: one Hono app, one auth check, one error handler. */
import { Hono } from "hono";
import type { AgentHub } from "../actors/agent_hub.ts";
import type { TransitionRecorder } from "../actors/inspection.ts";
import { UnauthorizedError } from "../model/errors.ts";
import { agentRoutes } from "./agent_ws.ts";
import { toStatus } from "./errors.ts";
import { logRoutes } from "./logs.ts";
import type { RegistryDeps } from "./registry.ts";
import { resourceRoutes } from "./resources.ts";
import { statechartRoutes } from "./statecharts.ts";
import { cookieAuthAllowed, uiRoutes, uiSessionChecker } from "./ui.ts";
import { workloadRoutes } from "./workloads.ts";

/** Milpa's version. */
export const VERSION = "0.1.0";

/** What the API serves from. */
export interface ApiDeps extends RegistryDeps {
  hub: AgentHub;
  /** Bearer token of API clients. */
  token: string;
  verifyNodeToken: (node: string, token: string) => Promise<boolean>;
  cloudName: string;
  /** Recent transitions of every actor, for `/api/v1/actors` and the web view. */
  recorder?: TransitionRecorder;
}

function sameToken(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Builds the API app. */
export function createApp(deps: ApiDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    const status = toStatus(err);
    return c.json(status, status.code as 400);
  });
  app.notFound((c) => {
    const status = toStatus(new UnauthorizedError(""));
    return c.json({
      ...status,
      code: 404,
      reason: "NotFound",
      message: `no route for ${c.req.method} ${c.req.path}`,
    }, 404);
  });
  app.get("/healthz", (c) => c.text("ok"));
  app.route("/", agentRoutes(deps));
  app.route("/", uiRoutes(deps));
  const uiSession = uiSessionChecker(deps.token);
  app.use("*", async (c, next) => {
    const auth = c.req.header("Authorization") ?? "";
    const bearer = auth.startsWith("Bearer ") && sameToken(auth.slice(7), deps.token);
    // The web view's cookie opens only the read-only routes the view calls.
    if (!bearer && !(cookieAuthAllowed(c.req.method, c.req.path) && await uiSession(c))) {
      throw new UnauthorizedError(
        "missing or wrong token: use the token in $MILPA_HOME/client.yaml (Authorization: Bearer <token>)",
      );
    }
    await next();
  });
  app.get("/version", (c) =>
    c.json({
      gitVersion: VERSION,
      major: VERSION.split(".")[0],
      minor: VERSION.split(".")[1],
      platform: `deno ${Deno.version.deno} ${Deno.build.os}/${Deno.build.arch}`,
      cloud: deps.cloudName,
    }));
  app.route("/", statechartRoutes(deps));
  app.route("/", logRoutes(deps));
  app.route("/", workloadRoutes(deps));
  app.route("/", resourceRoutes(deps));
  return app;
}
