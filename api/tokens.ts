/**
 * `POST /api/v1/tokens`, `GET /api/v1/tokens`, `DELETE /api/v1/tokens/{id}`: the user tokens
 * (`model/api_token.ts`). Only the admin token reaches these routes (`api/access.ts`).
 */
import { Hono } from "hono";
import { type ApiTokenRequest, isApiTokenRole, MAX_TOKEN_DESCRIPTION } from "../model/api_token.ts";
import type { Clock } from "../model/clock.ts";
import {
  BadRequestError,
  type FieldError,
  NotFoundError,
  ValidationError,
} from "../model/errors.ts";
import { API_VERSION } from "../model/meta.ts";
import { dns1123LabelProblem } from "../model/validation/formats.ts";
import type { ApiTokenStore, TokenSpec } from "../store/api_tokens.ts";

/** Longest lifetime a token may be given: ten years. */
const MAX_TTL_SECONDS = 10 * 366 * 24 * 60 * 60;

/** The token a create asks for, or ValidationError naming every bad field. */
export function tokenSpecOf(body: unknown): TokenSpec {
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new BadRequestError("request body must be an object");
  }
  const b = body as Partial<Record<keyof ApiTokenRequest, unknown>>;
  const bad: FieldError[] = [];
  if (!isApiTokenRole(b.role)) {
    bad.push({ field: "role", message: 'must be "edit" or "view"', value: b.role });
  }
  if (b.namespace !== undefined) {
    const problem = typeof b.namespace === "string"
      ? dns1123LabelProblem(b.namespace)
      : "must be a string";
    if (problem) bad.push({ field: "namespace", message: problem, value: b.namespace });
  }
  const ttl = b.ttlSeconds;
  if (
    ttl !== undefined &&
    (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL_SECONDS)
  ) {
    bad.push({
      field: "ttlSeconds",
      message: `must be a whole number of seconds from 0 (never expires) to ${MAX_TTL_SECONDS}`,
      value: ttl,
    });
  }
  const d = b.description;
  if (d !== undefined && (typeof d !== "string" || d.length > MAX_TOKEN_DESCRIPTION)) {
    bad.push({
      field: "description",
      message: `must be a text of at most ${MAX_TOKEN_DESCRIPTION} characters`,
    });
  }
  if (bad.length) {
    throw new ValidationError(
      `Token is invalid: ${bad.map((f) => `${f.field}: ${f.message}`).join("; ")}`,
      bad,
    );
  }
  return {
    role: b.role as TokenSpec["role"],
    ...(b.namespace !== undefined ? { namespace: b.namespace as string } : {}),
    ...(d ? { description: d as string } : {}),
    ...(ttl ? { ttlMs: (ttl as number) * 1000 } : {}),
  };
}

/** The token routes. */
export function tokenRoutes(deps: { tokens: ApiTokenStore; clock: Clock }): Hono {
  const app = new Hono();
  app.post("/api/v1/tokens", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch (e) {
      throw new BadRequestError(`request body is not valid JSON: ${(e as Error).message}`);
    }
    const created = await deps.tokens.create(tokenSpecOf(body), deps.clock.now());
    return c.json(created, 201);
  });
  app.get("/api/v1/tokens", async (c) =>
    c.json({
      kind: "TokenList",
      apiVersion: API_VERSION,
      items: await deps.tokens.list(deps.clock.now()),
    }));
  app.delete("/api/v1/tokens/:id", async (c) => {
    const id = c.req.param("id");
    const gone = await deps.tokens.revoke(id);
    if (!gone) throw new NotFoundError(`token "${id}" not found`);
    return c.json(gone);
  });
  return app;
}
