/**
 * The web view at `/ui`. `POST /ui/login` takes a token from a form (the admin token or a
 * cluster-wide one: the view shows every namespace) and starts a server-side session
 * (`api/ui_sessions.ts`) whose random id goes in an HttpOnly, SameSite=Strict cookie
 * (`Secure` on https). The cookie is accepted for the view and for the read-only routes it
 * calls (`GET /api/v1/actors*`, `GET /api/v1/statecharts*`); every other route still needs
 * `Authorization: Bearer`. `POST /ui/logout` deletes the session, so the cookie stops working
 * at once. Pages carry a CSP of `'self'` only.
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { describePrincipal, permits, type Principal } from "./access.ts";
import { type Authenticator, bearerOf, sessionPrincipal } from "./auth.ts";
import { UI_JS } from "./ui/app_js.ts";
import { FAVICON_SVG, loginPage, UI_CSS, UI_HTML } from "./ui/page.ts";
import { UI_COOKIE, type UiSessions } from "./ui_sessions.ts";

export { UI_COOKIE };

const SECURITY_HEADERS: Record<string, string> = {
  "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; " +
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; " +
    "form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cache-Control": "no-store",
};

/** Whether a principal may use the view: it reads every namespace's actors. */
const mayView = (p: Principal) => permits(p, { need: "cluster", verb: "read" });

function page(c: Context, body: string, type: string, status = 200) {
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.header(k, v);
  c.header("Content-Type", type);
  return c.body(body, status as 200);
}

/** The `/ui` routes; they check the session cookie (or a bearer token) themselves. */
export function uiRoutes(deps: { auth: Authenticator; sessions: UiSessions }): Hono {
  const { auth, sessions } = deps;
  const app = new Hono();
  const viewer = async (c: Context): Promise<Principal | undefined> => {
    const bearer = bearerOf(c);
    const p = bearer !== undefined
      ? await auth.verify(bearer)
      : await sessionPrincipal(c, sessions, auth);
    return p && mayView(p) ? p : undefined;
  };
  const html = "text/html; charset=utf-8";

  app.get("/ui/login", async (c) => {
    if (await sessionPrincipal(c, sessions, auth)) return c.redirect("/ui", 303);
    return page(c, loginPage(), html);
  });
  app.post("/ui/login", async (c) => {
    const form = await c.req.parseBody().catch(() => ({} as Record<string, unknown>));
    const token = typeof form.token === "string" ? form.token.trim() : "";
    const p = token ? await auth.verify(token) : undefined;
    // A 401 here counts as a failed authentication of the client's address (api/limits.ts).
    if (!p) return page(c, loginPage("That token is not one of this controller's."), html, 401);
    if (!mayView(p)) {
      const why = `The view shows every namespace, and ${describePrincipal(p)} is limited to ` +
        "one. Log in with the admin token or a cluster-wide token " +
        "(milpactl token create --role view).";
      return page(c, loginPage(why), html, 403);
    }
    const old = getCookie(c, UI_COOKIE);
    if (old) sessions.delete(old);
    const session = sessions.create(p);
    setCookie(c, UI_COOKIE, session.id, {
      httpOnly: true,
      sameSite: "Strict",
      path: "/",
      maxAge: session.seconds,
      secure: new URL(c.req.url).protocol === "https:",
    });
    return c.redirect("/ui", 303);
  });
  app.post("/ui/logout", (c) => {
    const id = getCookie(c, UI_COOKIE);
    if (id) sessions.delete(id);
    deleteCookie(c, UI_COOKIE, { path: "/", secure: new URL(c.req.url).protocol === "https:" });
    return c.redirect("/ui/login", 303);
  });
  app.get("/ui/app.css", (c) => page(c, UI_CSS, "text/css; charset=utf-8"));
  app.get("/ui/favicon.svg", (c) => page(c, FAVICON_SVG, "image/svg+xml"));
  app.get("/ui", async (c) => {
    if (!(await viewer(c))) return c.redirect("/ui/login", 303);
    return page(c, UI_HTML, html);
  });
  app.get("/ui/", (c) => c.redirect("/ui", 301));
  app.get("/ui/app.js", async (c) => {
    if (!(await viewer(c))) {
      return page(c, "// log in at /ui/login\n", "text/javascript; charset=utf-8", 401);
    }
    return page(c, UI_JS, "text/javascript; charset=utf-8");
  });
  return app;
}
