/**
 * Authentication and authorization of API requests: a bearer token (the admin token or a user
 * token) or, on the web view's read-only routes, a session cookie, becomes a Principal; the
 * route's Access (`api/access.ts`) decides whether it may go on. 401 for a missing, unknown,
 * expired or revoked credential; 403 for a known one lacking the permission.
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import type { Clock } from "../model/clock.ts";
import { ForbiddenError, UnauthorizedError } from "../model/errors.ts";
import { timingSafeEqual } from "../model/timing_safe.ts";
import type { ApiTokenStore, PodRef, TokenGrant } from "../store/api_tokens.ts";
import { accessFor, batchItemAccess, permits, type Principal, refusal } from "./access.ts";
import { BatchItemError } from "./errors.ts";
import { identify } from "./write_plans.ts";
import { UI_COOKIE, type UiSessions } from "./ui_sessions.ts";

declare module "hono" {
  /** What the auth middleware sets: `c.get("principal")`. */
  interface ContextVariableMap {
    principal: Principal;
  }
}

/** Turns token strings into principals. */
export class Authenticator {
  constructor(
    private readonly adminToken: string,
    readonly tokens: ApiTokenStore,
    private readonly clock: Clock,
    /** Whether the pod of a pod token (`store/pod_credentials.ts`) lives; absent: none do. */
    private readonly podLive: (pod: PodRef) => Promise<boolean> = () => Promise.resolve(false),
  ) {}

  /** The principal of a token string, or undefined when it is none this controller knows. */
  async verify(token: string): Promise<Principal | undefined> {
    if (timingSafeEqual(token, this.adminToken)) return { kind: "admin" };
    const grant = await this.#live(await this.tokens.verify(token, this.clock.now()));
    return grant ? principalOf(grant) : undefined;
  }

  /** Whether a principal authenticated earlier (a session's) still holds: not revoked or expired. */
  async stillValid(p: Principal): Promise<boolean> {
    if (p.kind === "admin") return true;
    return (await this.#live(await this.tokens.grant(p.id, this.clock.now()))) !== undefined;
  }

  /** The grant, unless it is a pod's token and its pod is gone or ended. */
  async #live(grant: TokenGrant | undefined): Promise<TokenGrant | undefined> {
    if (grant?.pod && !(await this.podLive(grant.pod))) return undefined;
    return grant;
  }
}

function principalOf(grant: TokenGrant): Principal {
  const { pod: _pod, ...rest } = grant;
  return { kind: "token", ...rest };
}

/** The token of an `Authorization: Bearer` header, or undefined when there is none. */
export function bearerOf(c: Context): string | undefined {
  const auth = c.req.header("Authorization");
  return auth?.startsWith("Bearer ") ? auth.slice(7) : undefined;
}

/** Whether the session cookie may stand in for a bearer token: the view's read-only routes. */
export function cookieAuthAllowed(method: string, path: string): boolean {
  if (method !== "GET") return false;
  return /^\/api\/v1\/(actors|statecharts)(\/|$)/.test(path);
}

/** The principal of the request's live session cookie, if any. */
export async function sessionPrincipal(
  c: Context,
  sessions: UiSessions,
  auth: Authenticator,
): Promise<Principal | undefined> {
  const id = getCookie(c, UI_COOKIE);
  const p = id ? sessions.get(id) : undefined;
  if (!p) return undefined;
  if (await auth.stillValid(p)) return p;
  sessions.delete(id!);
  return undefined;
}

/** Sets `principal` from the bearer token (or the session cookie where allowed), or answers 401. */
export function authenticate(
  auth: Authenticator,
  sessions: UiSessions,
): MiddlewareHandler {
  return async (c, next) => {
    const bearer = bearerOf(c);
    let p: Principal | undefined;
    if (bearer !== undefined) {
      p = await auth.verify(bearer);
      if (!p) {
        throw new UnauthorizedError(
          "wrong, expired or revoked token: use the token in $MILPA_HOME/client.yaml " +
            "or one from `milpactl token create` (Authorization: Bearer <token>)",
        );
      }
    } else if (cookieAuthAllowed(c.req.method, c.req.path) && getCookie(c, UI_COOKIE)) {
      p = await sessionPrincipal(c, sessions, auth);
      if (!p) {
        throw new UnauthorizedError(
          "the web view's session ended (logged out, expired, its token revoked, or the " +
            "controller restarted): log in again at /ui/login",
        );
      }
    }
    if (!p) {
      throw new UnauthorizedError(
        "missing token: use the token in $MILPA_HOME/client.yaml (Authorization: Bearer <token>)",
      );
    }
    c.set("principal", p);
    await next();
  };
}

/** Answers 403 unless the principal has the access the route needs. */
export function authorize(): MiddlewareHandler {
  return async (c, next) => {
    const p = c.get("principal");
    const access = accessFor(c.req.method, c.req.path);
    if (!permits(p, access)) {
      throw new ForbiddenError(`${refusal(p, access)} (${c.req.method} ${c.req.path})`);
    }
    await next();
  };
}

/**
 * For `POST /api/v1/batch`: answers 403 naming the first item the principal may not write
 * (by its namespace, or cluster scope), before anything is planned. Bodies the batch route
 * itself refuses (not JSON, no items, an unknown kind) are left to it: it writes nothing then.
 */
export function authorizeBatch(): MiddlewareHandler {
  return async (c, next) => {
    const p = c.get("principal");
    const body = await c.req.json().catch(() => undefined) as { items?: unknown } | undefined;
    const items = Array.isArray(body?.items) ? body.items : [];
    for (const [index, item] of items.entries()) {
      let id: ReturnType<typeof identify>;
      try {
        id = identify(item);
      } catch {
        continue;
      }
      const access = batchItemAccess(id.namespace);
      if (!permits(p, access)) {
        throw new BatchItemError(index, id.kind, id.name, new ForbiddenError(refusal(p, access)));
      }
    }
    await next();
  };
}
