import assert from "node:assert/strict";
import type { Hono } from "hono";
import { TEST_TOKEN, withTestApi } from "./testing.ts";
import { UI_COOKIE } from "./ui.ts";
import { UiSessions } from "./ui_sessions.ts";
import { rowsForTests } from "./ui/rows_js.ts";
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

const rows = rowsForTests();
const t = (at: string, event: string, from: string | null, to: string) => ({ at, event, from, to });

Deno.test("collapseRepeats() folds a repeating cycle of transitions into one row each with its count", () => {
  const list = [t("00:00", "xstate.init", null, "Reconciling")];
  for (let i = 1; i <= 12; i++) {
    list.push(t(`${i}:01`, "xstate.done.actor.0.service.Reconciling", "Reconciling", "Serving"));
    list.push(t(`${i}:02`, "CHANGED", "Serving", "Reconciling"));
  }
  list.push(t("13:00", "xstate.done.actor.0.service.Reconciling", "Reconciling", "Serving"));
  const out = rows.collapseRepeats(list);
  assert.deepEqual(
    out.map((r) => [r.event, r.count, r.at, r.firstAt]),
    [
      ["xstate.done.actor.0.service.Reconciling", 12, "13:00", "2:01"],
      ["CHANGED", 12, "12:02", "1:02"],
      ["xstate.done.actor.0.service.Reconciling", 1, "1:01", "1:01"],
      ["xstate.init", 1, "00:00", "00:00"],
    ],
  );
  const plain = [t("1", "GO", "A", "B"), t("2", "GO", "B", "C"), t("3", "BACK", "C", "A")];
  assert.deepEqual(rows.collapseRepeats(plain).map((r) => r.count), [1, 1, 1]);
  const same = [t("1", "TICK", "A", "B"), t("2", "TICK", "A", "B"), t("3", "TICK", "A", "B")];
  const folded = rows.collapseRepeats(same).map((r) => [r.count, r.at, r.firstAt]);
  assert.deepEqual(folded, [[3, "3", "1"]]);
});

Deno.test("splitName() keeps the part that tells sibling actors apart whole", () => {
  assert.deepEqual(rows.splitName("pod/default/backend-deployment-28b9bb5mj5-4s8l9"), {
    head: "backend-deployment-28b9bb5mj5-",
    tail: "4s8l9",
  });
  assert.deepEqual(rows.splitName("pod/team/web-x1"), { head: "team/web-", tail: "x1" });
  assert.deepEqual(rows.splitName("node/2924283d-6a45-4565-9b89-60aacd938548"), {
    head: "2924283d-6a45-4565-9b89-",
    tail: "60aacd938548",
  });
  assert.deepEqual(rows.splitName("nodepool"), { head: "nodepool", tail: "" });
});

Deno.test("eventLabel() names invoked actors' events as the chart does; sinkStates() finds the states actors rest in for good", async () => {
  await withTestApi(async ({ call }) => {
    const chart = await (await call("GET", "/api/v1/statecharts/pod?format=json")).json();
    const node = await (await call("GET", "/api/v1/statecharts/node?format=json")).json();
    assert.equal(
      rows.eventLabel(node, "xstate.done.actor.0.node.Terminating"),
      "done: terminate",
    );
    assert.equal(
      rows.eventLabel(chart, "xstate.error.actor.0.pod.Leaving.Draining"),
      "error: drain",
    );
    assert.equal(rows.eventLabel(chart, "xstate.done.actor.0.pod.Leaving.Draining"), "done: drain");
    assert.equal(rows.eventLabel(chart, "xstate.init"), "start");
    assert.equal(rows.eventLabel(chart, "NODE_BOUND"), "NODE_BOUND");
    assert.deepEqual(Object.keys(rows.sinkStates(chart)).sort(), [
      "Failed",
      "Succeeded",
      "Terminated",
    ]);
    const pool = await (await call("GET", "/api/v1/statecharts/nodepool?format=json")).json();
    assert.deepEqual(Object.keys(rows.sinkStates(pool)), [], "the pool waits in Ready for work");
  });
});

Deno.test("shortTime() gives the table's time of day, and with the date the subtitle's time", () => {
  assert.equal(rows.shortTime("2026-12-06T02:18:48.389Z"), "02:18:48.389");
  assert.equal(rows.shortTime("2026-12-06T02:18:48.389Z", true), "2026-12-06 02:18:48 UTC");
});

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
const BROWSER_TEST = "web view at 1400 and 800 px: sibling pods tell apart, finished actors " +
  "hidden until asked for, nodes link to their pod, no label covers another, nothing clipped";

/** In the page: label boxes of the chart that overlap each other or a (leaf) state box. */
const LABEL_OVERLAPS = `(() => {
  const rects = (sel) => [...document.querySelectorAll(sel)].map((e) => e.getBoundingClientRect());
  const labels = rects("g.label rect");
  const states = rects("g.state:not(.compound) > rect");
  const hit = (a, b) => a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 &&
    b.top < a.bottom - 1;
  const out = [];
  labels.forEach((a, i) => {
    labels.forEach((b, j) => { if (j > i && hit(a, b)) out.push("label " + i + " covers " + j); });
    states.forEach((b, j) => { if (hit(a, b)) out.push("label " + i + " covers state " + j); });
  });
  return { labels: labels.length, overlaps: out };
})()`;

Deno.test({
  name: hasChromium ? BROWSER_TEST : `${BROWSER_TEST} [ignored: ${CHROMIUM} missing]`,
  ignore: !hasChromium,
  // Chromium is a child process whose pipes playwright keeps open until it exits.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { chromium } = await import("playwright-core");
    const { podManifest, startSimCluster } = await import("../tests/support/sim_cluster.ts");
    const cluster = await startSimCluster({ config: { serviceDiscovery: { drainSeconds: 0 } } });
    const origin = new URL(cluster.controller.url).origin;
    const profile = await Deno.makeTempDir({ prefix: "milpa-chromium-" });
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
      viewport: { width: 1400, height: 1000 },
    });
    try {
      const prefix = "backend-deployment-28b9bb5mj5-";
      const names = ["aaaaa", "bbbbb", "ccccc"].map((s) => prefix + s);
      for (const name of names) {
        const res = await cluster.api("POST", "/api/v1/namespaces/default/pods", podManifest(name));
        assert.equal(res.status, 201);
        await res.body?.cancel();
      }
      const running = await Promise.all(names.map((n) => cluster.waitForPod(n, "Running")));
      const gone = await cluster.api("DELETE", `/api/v1/namespaces/default/pods/${names[2]}`);
      await gone.body?.cancel();
      await cluster.waitForPod(names[2], "Terminated");

      const page = browser.pages()[0] ?? await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${origin}/ui/login`);
      await page.fill("#token", cluster.controller.token);
      await Promise.all([page.waitForURL(`${origin}/ui`), page.click("button[type=submit]")]);
      await page.waitForSelector("#connection.live");

      for (const width of [1400, 800]) {
        await page.setViewportSize({ width, height: 900 });
        const line = (name: string) => page.locator(`li.actor[data-id="pod/default/${name}"]`);
        await line(names[0]).waitFor();
        // Each live pod shows its own suffix whole, and its full id on hover.
        for (const name of names.slice(0, 2)) {
          const tail = line(name).locator(".tail");
          assert.equal(await tail.innerText(), name.slice(prefix.length));
          assert.ok(await tail.isVisible(), `${name}'s suffix shows at ${width} px`);
          const box = (await tail.boundingBox())!;
          const li = (await line(name).boundingBox())!;
          assert.ok(box.x + box.width <= li.x + li.width + 0.5, `not cut off at ${width} px`);
          assert.equal(
            await line(name).locator("button").getAttribute("title"),
            `pod/default/${name}`,
          );
        }
        // The terminated pod is hidden until "show finished" is ticked.
        assert.equal(await line(names[2]).isVisible(), false, "finished pod hidden");
        assert.equal(await page.locator("#finished-count").innerText(), "2", "its pod and node");
        await page.check("#show-finished");
        assert.ok(await line(names[2]).isVisible(), "shown when asked for");
        await page.uncheck("#show-finished");

        // The page fits the window: nothing needs a horizontal scroll or is clipped.
        const fit = await page.evaluate("document.documentElement.scrollWidth") as number;
        assert.ok(fit <= width, `page is ${fit} px wide in a ${width} px window`);
      }

      // A node names the pod it runs, and that link leads to the pod's actor.
      const node = running[0].status!.boundNodeName!;
      const runs = page.locator(`li.actor[data-id="node/${node}"] .runs a`);
      assert.equal(await runs.getAttribute("href"), `#actor=pod/default/${names[0]}`);
      await runs.click();
      await page.waitForSelector('g.state.active[data-id="Running.Applied"]');
      assert.equal(await page.locator("#title").innerText(), `pod/default/${names[0]}`);
      assert.equal(await page.locator("#links a").getAttribute("href"), `#actor=node/${node}`);

      // No label covers another label or a state, at either width.
      for (const width of [1400, 800]) {
        await page.setViewportSize({ width, height: 900 });
        const { labels, overlaps } = await page.evaluate(LABEL_OVERLAPS) as {
          labels: number;
          overlaps: string[];
        };
        assert.ok(labels >= 20, `${labels} labels drawn`);
        assert.deepEqual(overlaps, [], `at ${width} px`);
      }
      assert.deepEqual(errors, [], "no script errors");
    } finally {
      await browser.close();
      await cluster.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
