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
import type { ApiTokenStore } from "../store/api_tokens.ts";
import type { SavedLogs } from "../store/log_store.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { podLive } from "../store/pod_credentials.ts";
import { agentRoutes } from "./agent_ws.ts";
import { authenticate, Authenticator, authorize, authorizeBatch, bearerOf } from "./auth.ts";
import { toStatus } from "./errors.ts";
import {
  type ApiLimits,
  clientAddress,
  DEFAULT_LIMITS,
  failureLimit,
  FailureLimiter,
  limitBody,
  StreamSlots,
} from "./limits.ts";
import { logRoutes } from "./logs.ts";
import { type ControllerMetrics, metricsRoutes } from "./metrics.ts";
import { isPackageUpload, packageRoutes, type PackageStore } from "./packages.ts";
import type { PlanDeps } from "./write_plans.ts";
import { resourceRoutes } from "./resources.ts";
import { statechartRoutes } from "./statecharts.ts";
import { streamRoutes } from "./streams.ts";
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
  /** Uploaded packages (`milpactl deploy`); without it uploads are refused (503). */
  packages?: PackageStore;
  /**
   * The user API (`createApp`) and its token check: the node app passes `/api/v1/...` and
   * `/version` on to it for namespace-scoped tokens (pods' tokens among them). Absent: 404.
   */
  userApi?: { app: Hono; auth: Authenticator };
}

/** What the API serves from. */
export interface ApiDeps extends PlanDeps, NodeApiDeps {
  /** The admin token (`client.yaml`); user tokens are in the store (`store/api_tokens.ts`). */
  token: string;
  cloudName: string;
  /** User tokens (`milpactl token`). */
  apiTokens: ApiTokenStore;
  /** Logs of pods whose nodes are gone. */
  savedLogs: SavedLogs;
  /** Recent transitions of every actor, for `/api/v1/actors` and the web view. */
  recorder?: TransitionRecorder;
  /** The controller's metrics: served at `/metrics` (cluster read access) when given. */
  metrics?: ControllerMetrics;
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

/** The API's token check: the admin token, user tokens, and pods' tokens while their pod lives. */
export function apiAuthenticator(
  deps: { token: string; store: ObjectStore; clock: Clock; apiTokens: ApiTokenStore },
): Authenticator {
  return new Authenticator(
    deps.token,
    deps.apiTokens,
    deps.clock,
    (pod) => podLive(deps.store, pod),
  );
}

/** Whether the node app may pass a request for `path` on to the user API. */
function userApiPath(path: string): boolean {
  return path === "/version" || path === "/api/v1" || path.startsWith("/api/v1/");
}

/** Builds the API app. */
export function createApp(deps: ApiDeps): Hono {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const auth = apiAuthenticator(deps);
  const tokens = auth.tokens;
  const sessions = new UiSessions(deps.clock);
  const streams = new StreamSlots(limits.maxStreams);
  const failures = new FailureLimiter(deps.clock, limits.failuresPerWindow, limits.failureWindowMs);
  const app = baseApp();
  if (deps.metrics) app.use("*", deps.metrics.requests());
  app.use("*", failureLimit(failures));
  // Routes that check credentials of their own (node tokens, the view's session).
  app.use("/agent/*", limitBody(limits.openBodyBytes));
  app.use("/ui/*", limitBody(limits.openBodyBytes));
  app.route("/", agentRoutes(deps));
  app.route("/", uiRoutes({ auth, sessions }));
  // Everything below needs an API token (a body is read only after it was checked).
  // Package uploads stream to a file under a limit of their own (api/packages.ts).
  app.use(
    "*",
    authenticate(auth, sessions),
    authorize(),
    limitBody(limits.apiBodyBytes, isPackageUpload),
  );
  app.use("/api/v1/batch", authorizeBatch());
  app.get("/version", (c) =>
    c.json({
      gitVersion: VERSION,
      major: VERSION.split(".")[0],
      minor: VERSION.split(".")[1],
      platform: `deno ${Deno.version.deno} ${Deno.build.os}/${Deno.build.arch}`,
      cloud: deps.cloudName,
    }));
  if (deps.metrics) app.route("/", metricsRoutes(deps.metrics));
  app.route("/", tokenRoutes({ tokens, clock: deps.clock }));
  app.route("/", statechartRoutes({ ...deps, streams }));
  app.route("/", logRoutes({ ...deps, streams }));
  app.route("/", packageRoutes(deps));
  app.route("/", streamRoutes({ ...deps, streams }));
  app.route("/", workloadRoutes(deps));
  app.route("/", resourceRoutes({ ...deps, streams }));
  return app;
}

/**
 * Builds the node app: `/agent/v1/connect`, `/agent/v1/agent.js`, `/agent/v1/milpactl.js` and
 * `/healthz`; the user API (`/api/v1/...`, `/version`) to namespace-scoped tokens only, when
 * `userApi` is given; and 404 for everything else. It is what the controller serves on the
 * address nodes reach it at (the local cloud's bridge gateway), so a pod reaches there only
 * what a namespace token opens, never the web view or anything cluster-scoped.
 */
export function createNodeApp(deps: NodeApiDeps): Hono {
  const limits = { ...DEFAULT_LIMITS, ...deps.limits };
  const failures = new FailureLimiter(deps.clock, limits.failuresPerWindow, limits.failureWindowMs);
  const app = baseApp();
  app.use("*", failureLimit(failures));
  const userApi = deps.userApi;
  if (userApi) {
    // Only namespace-scoped tokens: the admin token, cluster-wide tokens, anonymous requests
    // and /ui get the 404 below, as if the API were not there. A token that is none this
    // controller knows counts as a failed authentication all the same.
    app.use("*", async (c, next) => {
      if (!userApiPath(c.req.path)) return next();
      const bearer = bearerOf(c);
      const p = bearer === undefined ? undefined : await userApi.auth.verify(bearer);
      if (p?.kind === "token" && p.namespace !== undefined) {
        return userApi.app.fetch(c.req.raw, c.env);
      }
      if (bearer !== undefined && !p) failures.fail(clientAddress(c));
      await next();
    });
  }
  app.use("*", limitBody(limits.openBodyBytes));
  app.route("/", agentRoutes(deps));
  return app;
}
