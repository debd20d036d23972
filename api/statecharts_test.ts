import assert from "node:assert/strict";
import type { Hono } from "hono";
import type { TransitionRecorder } from "../actors/inspection.ts";
import { TEST_TOKEN, withTestApi } from "./testing.ts";
import { UI_COOKIE } from "./ui.ts";
import { UI_JS } from "./ui/app_js.ts";

const TOKEN = TEST_TOKEN;
const BEARER = { Authorization: `Bearer ${TOKEN}` };

function withApp(fn: (app: Hono, recorder: TransitionRecorder) => Promise<void>) {
  return withTestApi(({ app, recorder }) => fn(app, recorder));
}

/** Feeds the recorder the snapshots a pod actor would produce. */
function recordPod(recorder: TransitionRecorder, id: string, states: string[]) {
  const context = { name: id.split("/").at(-1), apiToken: "never-shown" };
  states.forEach((value, i) =>
    recorder.record(id, i ? `EVENT_${i}` : "xstate.init", {
      status: "active",
      value,
      context,
    } as never)
  );
}

async function login(app: Hono): Promise<string> {
  const res = await app.request("/ui/login", {
    method: "POST",
    body: new URLSearchParams({ token: TOKEN }),
  });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get("location"), "/ui");
  const cookie = res.headers.get("set-cookie")!;
  assert.match(cookie, new RegExp(`^${UI_COOKIE}=[0-9a-f]{64};`));
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  assert.ok(!cookie.includes(TOKEN), "the cookie is not the token itself");
  return cookie.split(";")[0];
}

Deno.test("GET /api/v1/statecharts lists every machine", async () => {
  await withApp(async (app) => {
    const res = await app.request("/api/v1/statecharts", { headers: BEARER });
    const body = await res.json();
    assert.deepEqual(body.items.map((i: { kind: string }) => i.kind), [
      "pod",
      "node",
      "nodepool",
      "replicaset",
      "deployment",
      "service",
      "supervisor",
    ]);
    assert.equal(body.items[0].initial, "Waiting");
  });
});

Deno.test("GET /api/v1/statecharts/{kind} draws each format and highlights ?current", async () => {
  await withApp(async (app) => {
    const get = (q: string) => app.request(`/api/v1/statecharts/pod${q}`, { headers: BEARER });
    const mermaid = await get("?format=mermaid&current=Running.Applied");
    assert.match(mermaid.headers.get("content-type")!, /text\/vnd\.mermaid/);
    const text = await mermaid.text();
    assert.ok(text.startsWith("stateDiagram-v2\n"));
    assert.match(text, /class Running,Running_Applied current/);
    const dot = await (await get("?format=dot")).text();
    assert.match(dot, /^digraph "pod"/);
    const json = await (await get("")).json();
    assert.equal(json.id, "pod");
    assert.equal((await get("?format=svg")).status, 400);
    assert.equal((await get("?current=Nowhere")).status, 400);
    const missing = await app.request("/api/v1/statecharts/event", { headers: BEARER });
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).message, /no state machine "event"/);
  });
});

Deno.test("GET /api/v1/actors lists recorded actors; /actors/{id} gives transitions, no secrets", async () => {
  await withApp(async (app, recorder) => {
    recordPod(recorder, "pod/default/web", ["Waiting", "Dispatching", "Running"]);
    recordPod(recorder, "node/n1", ["Creating"]);
    const list = await (await app.request("/api/v1/actors", { headers: BEARER })).json();
    assert.deepEqual(list.items.map((a: { id: string; state: string }) => `${a.id} ${a.state}`), [
      "node/n1 Creating",
      "pod/default/web Running",
    ]);
    const pods = await (await app.request("/api/v1/actors?kind=pod", { headers: BEARER })).json();
    assert.equal(pods.items.length, 1);
    const res = await app.request("/api/v1/actors/pod/default/web", { headers: BEARER });
    const text = await res.text();
    const detail = JSON.parse(text);
    assert.equal(detail.state, "Running");
    assert.deepEqual(detail.transitions.map((t: { to: string }) => t.to), [
      "Waiting",
      "Dispatching",
      "Running",
    ]);
    assert.ok(!text.includes("never-shown"));
    assert.equal(
      (await app.request("/api/v1/actors/pod/default/x", { headers: BEARER })).status,
      404,
    );
  });
});

Deno.test("GET /api/v1/actors?watch=true streams the known actors, then changes", async () => {
  await withApp(async (app, recorder) => {
    recordPod(recorder, "pod/default/web", ["Waiting"]);
    const res = await app.request("/api/v1/actors?watch=true", { headers: BEARER });
    assert.match(res.headers.get("content-type")!, /text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = "";
    const until = async (text: string) => {
      while (!seen.includes(text)) seen += (await reader.read()).value ?? "";
    };
    await until('"state":"Waiting"');
    assert.match(seen, /event: ADDED/);
    recorder.record("pod/default/web", "NODE_BOUND", {
      status: "active",
      value: "Dispatching",
      context: {},
    } as never);
    await until('"state":"Dispatching"');
    assert.match(seen, /event: MODIFIED\ndata: \{"id":"pod\/default\/web"/);
    // A controller shutting down ends the stream, or the server would wait for it forever.
    recorder.endSubscriptions();
    while (!(await reader.read()).done) { /* drain */ }
  });
});

Deno.test("/ui: login sets a cookie that opens the view and its read-only routes only", async () => {
  await withApp(async (app) => {
    const anonymous = await app.request("/ui");
    assert.equal(anonymous.status, 303);
    assert.equal(anonymous.headers.get("location"), "/ui/login");
    const form = await app.request("/ui/login");
    assert.match(await form.text(), /<form method="post" action="\/ui\/login">/);
    const wrong = await app.request("/ui/login", {
      method: "POST",
      body: new URLSearchParams({ token: "nope" }),
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers.get("set-cookie"), null);

    const cookie = await login(app);
    const headers = { Cookie: cookie };
    const page = await app.request("/ui", { headers });
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy")!, /default-src 'self'/);
    assert.match(await page.text(), /<script src="\/ui\/app.js"/);
    const js = await app.request("/ui/app.js", { headers });
    assert.equal(js.status, 200);
    assert.match(await js.text(), /new EventSource\("\/api\/v1\/actors\?watch=true"\)/);
    assert.equal((await app.request("/ui/app.js")).status, 401);
    assert.equal((await app.request("/api/v1/actors", { headers })).status, 200);
    assert.equal((await app.request("/api/v1/statecharts/pod", { headers })).status, 200);
    // Everything else still needs the bearer token.
    assert.equal((await app.request("/api/v1/pods", { headers })).status, 401);
    assert.equal((await app.request("/version", { headers })).status, 401);
    const forged = { Cookie: `${UI_COOKIE}=${"0".repeat(64)}` };
    assert.equal((await app.request("/api/v1/actors", { headers: forged })).status, 401);
    assert.equal((await app.request("/api/v1/actors", { headers: BEARER })).status, 200);

    const out = await app.request("/ui/logout", { method: "POST", headers });
    assert.equal(out.status, 303);
    assert.match(out.headers.get("set-cookie")!, new RegExp(`^${UI_COOKIE}=;`));
  });
});

Deno.test("the web view's script is valid JavaScript", () => {
  // Compiles without running: a syntax error here would break the page for every browser.
  new Function(UI_JS);
  assert.match(UI_JS, /^\(function \(\) \{\n"use strict";/);
});
