/**
 * The controller's HTTP API: one Hono app with one authentication and authorization check,
 * the limits of `api/limits.ts` and one error handler; and the node app, which serves only
 * what node agents need (for the listener on the nodes' network).
 */
import { Hono } from "hono";
import type { AgentHub } from "../actors/agent_hub.ts";
import type { TransitionRecorder } from "../actors/inspection.ts";
import type { Clock } from "../model/clock.ts";
import { NotFoundError, TooManyRequestsError } from "../model/errors.ts";
import { ApiTokenStore } from "../store/api_tokens.ts";
import { agentRoutes } from "./agent_ws.ts";
import { authenticate, Authenticator, authorize, authorizeBatch } from "./auth.ts";
import { toStatus } from "./errors.ts";
import {
  type ApiLimits,
  DEFAULT_LIMITS,
  failureLimit,
  FailureLimiter,
  limitBody,
  StreamSlots,
} from "./limits.ts";
import { logRoutes } from "./logs.ts";
import type { RegistryDeps } from "./registry.ts";
import { resourceRoutes } from "./resources.ts";
import { statechartRoutes } from "./statecharts.ts";
import { tokenRoutes } from "./tokens.ts";
import { uiRoutes } from "./ui.ts";
import { UiSessions } from "./ui_sessions.ts";
import { workloadRoutes } from "./workloads.ts";

/** Milpa's version. */
export const VERSION = "0.1.0";

/** What the node app serves from. */
export interface NodeApiDeps {
  hub: AgentHub;
  verifyNodeToken: (node: string, token: string) => Promise<boolean>;
  clock: Clock;
  /** Limits other than DEFAULT_LIMITS. */
  limits?: Partial<ApiLimits>;
}

/** What the API serves from. */
export interface ApiDeps extends RegistryDeps, NodeApiDeps {
  /** The admin token (`client.yaml`); user tokens are in the store (`store/api_tokens.ts`). */
  token: string;
  cloudName: string;
  /** Recent transitions of every actor, for `/api/v1/actors` and the web view. */
  recorder?: TransitionRecorder;
}

/** An app with the one error handler (a Status for every error) and 404 for unknown routes. */
function baseApp(): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    const status = toStatus(err);
    if (err instanceof TooManyRequestsError && err.retryAfterSeconds !== undefined) {
      c.header("Retry-After", String(err.retryAfterSeconds));
    }
    return c.json(status, status.code as 400);
  });
  app.notFound((c) => {
    const status = toStatus(new NotFoundError(`no route for ${c.req.method} ${c.req.path}`));
    return c.json(status, 404);
  });
  app.get("/healthz", (c) => c.text("ok"));
  return app;
}

/** Builds the API app. */
export function createApp(deps: ApiDeps): Hono {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const tokens = new ApiTokenStore(deps.store.kv);
  const auth = new Authenticator(deps.token, tokens, deps.clock);
  const sessions = new UiSessions(deps.clock);
  const streams = new StreamSlots(limits.maxStreams);
  const failures = new FailureLimiter(deps.clock, limits.failuresPerWindow, limits.failureWindowMs);
  const app = baseApp();
  app.use("*", failureLimit(failures));
  // Routes that check credentials of their own (node tokens, the view's session).
  app.use("/agent/*", limitBody(limits.openBodyBytes));
  app.use("/ui/*", limitBody(limits.openBodyBytes));
  app.route("/", agentRoutes(deps));
  app.route("/", uiRoutes({ auth, sessions }));
  // Everything below needs an API token (a body is read only after it was checked).
  app.use("*", authenticate(auth, sessions), authorize(), limitBody(limits.apiBodyBytes));
  app.use("/api/v1/batch", authorizeBatch());
  app.get("/version", (c) =>
    c.json({
      gitVersion: VERSION,
      major: VERSION.split(".")[0],
      minor: VERSION.split(".")[1],
      platform: `deno ${Deno.version.deno} ${Deno.build.os}/${Deno.build.arch}`,
      cloud: deps.cloudName,
    }));
  app.route("/", tokenRoutes({ tokens, clock: deps.clock }));
  app.route("/", statechartRoutes({ ...deps, streams }));
  app.route("/", logRoutes({ ...deps, streams }));
  app.route("/", workloadRoutes(deps));
  app.route("/", resourceRoutes({ ...deps, streams }));
  return app;
}

/**
 * Builds the node app: `/agent/v1/connect`, `/agent/v1/agent.js` and `/healthz`, and 404 for
 * everything else. It is what the controller serves on the address nodes reach it at (the
 * local cloud's bridge gateway), so a pod cannot reach the user API or the web view there.
 */
export function createNodeApp(deps: NodeApiDeps): Hono {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const failures = new FailureLimiter(deps.clock, limits.failuresPerWindow, limits.failureWindowMs);
  const app = baseApp();
  app.use("*", failureLimit(failures), limitBody(limits.openBodyBytes));
  app.route("/", agentRoutes(deps));
  return app;
}
