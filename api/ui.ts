/**
 * The web view at `/ui`, behind the API token: `POST /ui/login` takes the token from a form
 * and sets an HttpOnly, SameSite=Strict cookie holding a value derived from it (an HMAC, so
 * the cookie is not the token itself). The cookie is accepted for the view and for the
 * read-only routes it calls (`GET /api/v1/actors*`, `GET /api/v1/statecharts*`); every
 * other route still needs `Authorization: Bearer`. Pages carry a CSP of `'self'` only.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { UI_JS } from "./ui/app_js.ts";
import { FAVICON_SVG, loginPage, UI_CSS, UI_HTML } from "./ui/page.ts";

/** Name of the view's session cookie. */
export const UI_COOKIE = "milpa_ui";

/** How long a login lasts, in seconds. */
const SESSION_SECONDS = 12 * 60 * 60;

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; " +
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; " +
    "form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

/** Compares two strings in time that depends only on their lengths. */
function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** The cookie value a login with `token` sets: HMAC-SHA256(token, "milpa-ui-session"), hex. */
export async function uiSessionValue(token: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(token),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const sig = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("milpa-ui-session"));
  return Array.from(new Uint8Array(sig), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether the session cookie may stand in for the bearer token on this request. */
export function cookieAuthAllowed(method: string, path: string): boolean {
  if (method !== "GET") return false;
  return /^\/api\/v1\/(actors|statecharts)(\/|$)/.test(path);
}

/** A checker of a request's session cookie against `token`. */
export function uiSessionChecker(token: string): (c: Context) => Promise<boolean> {
  const expected = uiSessionValue(token);
  return async (c) => {
    const value = getCookie(c, UI_COOKIE);
    return value !== undefined && sameText(value, await expected);
  };
}

function page(c: Context, body: string, type: string, status = 200) {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  c.header("Content-Type", type);
  return c.body(body, status as 200);
}

/** The `/ui` routes; they check the cookie (or bearer token) themselves. */
export function uiRoutes(deps: { token: string }): Hono {
  const app = new Hono();
  const hasSession = uiSessionChecker(deps.token);
  const allowed = async (c: Context) => {
    const auth = c.req.header("Authorization") ?? "";
    return (auth.startsWith("Bearer ") && sameText(auth.slice(7), deps.token)) ||
      await hasSession(c);
  };
  const html = "text/html; charset=utf-8";

  app.get("/ui/login", async (c) => {
    if (await hasSession(c)) return c.redirect("/ui", 303);
    return page(c, loginPage(), html);
  });
  app.post("/ui/login", async (c) => {
    const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
    const token = typeof form.token === "string" ? form.token.trim() : "";
    if (!sameText(token, deps.token)) {
      return page(c, loginPage("That token is not this controller's."), html, 401);
    }
    setCookie(c, UI_COOKIE, await uiSessionValue(deps.token), {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      maxAge: SESSION_SECONDS,
      secure: new URL(c.req.url).protocol === "https:",
    });
    return c.redirect("/ui", 303);
  });
  app.post("/ui/logout", (c) => {
    deleteCookie(c, UI_COOKIE, { path: "/" });
    return c.redirect("/ui/login", 303);
  });
  app.get("/ui/app.css", (c) => page(c, UI_CSS, "text/css; charset=utf-8"));
  app.get("/ui/favicon.svg", (c) => page(c, FAVICON_SVG, "image/svg+xml"));
  app.get("/ui", async (c) => {
    if (!(await allowed(c))) return c.redirect("/ui/login", 303);
    return page(c, UI_HTML, html);
  });
  app.get("/ui/", (c) => c.redirect("/ui", 301));
  app.get("/ui/app.js", async (c) => {
    if (!(await allowed(c))) {
      return page(c, "// log in at /ui/login\n", "text/javascript; charset=utf-8", 401);
    }
    return page(c, UI_JS, "text/javascript; charset=utf-8");
  });
  return app;
}
