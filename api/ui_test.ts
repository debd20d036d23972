import assert from "node:assert/strict";
import type { Hono } from "hono";
import { TEST_TOKEN, withTestApi } from "./testing.ts";
import { UI_COOKIE } from "./ui.ts";
import { UiSessions } from "./ui_sessions.ts";
import { FakeClock } from "../model/fake_clock.ts";

/** Logs in with `token`; returns the response and the `name=value` of the cookie set, if any. */
async function login(app: Hono, token: string, base = "http://milpa") {
  const res = await app.request(`${base}/ui/login`, {
    method: "POST",
    body: new URLSearchParams({ token }),
  });
  const setCookie = res.headers.get("set-cookie");
  return { res, setCookie, cookie: setCookie?.split(";")[0] };
}

Deno.test("/ui/logout ends the session on the server: the old cookie gets 401 and the login page", async () => {
  await withTestApi(async ({ app }) => {
    const { cookie } = await login(app, TEST_TOKEN);
    assert.match(cookie!, new RegExp(`^${UI_COOKIE}=[0-9a-f]{64}$`));
    const headers = { Cookie: cookie! };
    assert.equal((await app.request("/api/v1/actors", { headers })).status, 200);
    assert.equal((await app.request("/ui", { headers })).status, 200);

    const out = await app.request("/ui/logout", { method: "POST", headers });
    assert.equal(out.status, 303);
    assert.match(out.headers.get("set-cookie")!, new RegExp(`^${UI_COOKIE}=;`));

    // The browser may have kept the cookie (or someone copied it): it opens nothing now.
    const after = await app.request("/api/v1/actors", { headers });
    assert.equal(after.status, 401);
    assert.match((await after.json()).message, /^the web view's session ended .*\/ui\/login$/);
    assert.equal((await app.request("/ui/app.js", { headers })).status, 401);
    const page = await app.request("/ui", { headers });
    assert.equal(page.status, 303);
    assert.equal(page.headers.get("location"), "/ui/login");
  });
});

Deno.test("/ui/login takes a cluster-wide view token, and its session ends when the token is revoked", async () => {
  await withTestApi(async ({ app, newToken, tokens }) => {
    const view = await newToken({ role: "view", description: "dashboard" });
    const { res, cookie } = await login(app, view);
    assert.equal(res.status, 303);
    const headers = { Cookie: cookie! };
    assert.equal((await app.request("/api/v1/actors", { headers })).status, 200);
    // The cookie opens only the view's read-only routes, whatever the token could do.
    const pods = await app.request("/api/v1/pods", { headers });
    assert.equal(pods.status, 401);
    await pods.body?.cancel();

    await tokens.revoke(view.split("_")[1]);
    const revoked = await app.request("/api/v1/actors", { headers });
    assert.equal(revoked.status, 401);
    await revoked.body?.cancel();
  });
});

Deno.test("/ui/login refuses a namespace token with 403 saying which tokens open the view", async () => {
  await withTestApi(async ({ app, newToken }) => {
    const team = await newToken({ role: "edit", namespace: "team" });
    const { res, setCookie } = await login(app, team);
    assert.equal(res.status, 403);
    assert.equal(setCookie, null);
    const text = await res.text();
    assert.match(text, /namespace &quot;team&quot;/);
    assert.match(text, /milpactl token create --role view/);
  });
});

Deno.test("/ui/login sets a Secure cookie on https, and none on http", async () => {
  await withTestApi(async ({ app }) => {
    const https = await login(app, TEST_TOKEN, "https://milpa");
    assert.match(https.setCookie!, /; Secure/);
    assert.match(https.setCookie!, /; HttpOnly/);
    assert.match(https.setCookie!, /; SameSite=Strict/);
    const http = await login(app, TEST_TOKEN);
    assert.doesNotMatch(http.setCookie!, /Secure/);
  });
});

Deno.test("UiSessions ends sessions at their expiry (or their token's) and keeps at most `max`", async () => {
  const clock = new FakeClock();
  const sessions = new UiSessions(clock, 3);
  const admin = sessions.create({ kind: "admin" });
  assert.equal(admin.seconds, 12 * 60 * 60);
  const short = sessions.create({
    kind: "token",
    id: "0123456789ab",
    role: "view",
    expiresAt: clock.now() + 60_000,
  });
  assert.equal(short.seconds, 60);
  await clock.advance(60_000);
  assert.equal(sessions.get(short.id), undefined);
  assert.deepEqual(sessions.get(admin.id), { kind: "admin" });
  const ids = [1, 2, 3].map(() => sessions.create({ kind: "admin" }).id);
  assert.equal(sessions.size, 3);
  assert.equal(sessions.get(admin.id), undefined, "the oldest went first");
  assert.ok(ids.every((id) => sessions.get(id)));
  await clock.advance(12 * 60 * 60 * 1000);
  assert.equal(sessions.get(ids[0]), undefined);
});
