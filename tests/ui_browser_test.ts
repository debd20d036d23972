/**
 * The web view in real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * log in, see the pod machine drawn, create a pod and watch its actor go from Waiting to
 * Running without a reload, and check that no request leaves the controller's origin.
 * Ignored, with a name saying why, when /usr/bin/chromium is not installed.
 */
import assert from "node:assert/strict";
import { podManifest, startSimCluster } from "./support/sim_cluster.ts";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = await Deno.stat(CHROMIUM).then((s) => s.isFile, () => false);
const NAME = "web view: after login it draws the pod machine and shows a pod's actor go " +
  "Waiting → Running live, with every request to the controller's origin";

/** Runs in the page: remembers every state the pod's line shows, and marks the page. */
const RECORD_STATES = `(() => {
  window.seen = [];
  window.marker = "same page";
  const list = document.getElementById("actors");
  new MutationObserver(() => {
    const li = list.querySelector('li.actor[data-id="pod/default/web"]');
    const state = li && li.dataset.state;
    if (state && window.seen[window.seen.length - 1] !== state) window.seen.push(state);
  }).observe(list, { subtree: true, childList: true, attributes: true, characterData: true });
})()`;

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

Deno.test({
  name: hasChromium ? NAME : `${NAME} [ignored: ${CHROMIUM} missing; apt-get install chromium]`,
  ignore: !hasChromium,
  // Chromium is a child process whose pipes playwright keeps open until it exits.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Not in deno.json's imports yet (to be pinned there).
    const { chromium } = await import("playwright-core");
    // A slow launch keeps the pod Waiting long enough to be seen there.
    const cluster = await startSimCluster({ launchLatencyMs: 1500 });
    const origin = new URL(cluster.controller.url).origin;
    const profile = await Deno.makeTempDir({ prefix: "milpa-chromium-" });
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1400, height: 1000 },
    });
    try {
      const page = browser.pages()[0] ?? await browser.newPage();
      const requests: string[] = [];
      const errors: string[] = [];
      page.on("request", (r) => requests.push(r.url()));
      page.on("pageerror", (e) => errors.push(e.message));

      await page.goto(`${origin}/ui`);
      assert.equal(new URL(page.url()).pathname, "/ui/login", "not logged in: the login form");
      await page.fill("#token", cluster.controller.token);
      await Promise.all([page.waitForURL(`${origin}/ui`), page.click("button[type=submit]")]);

      // The pod machine is drawn, nested states and arrows included.
      await page.waitForSelector('svg.statechart[data-machine="pod"]');
      for (const id of ["Waiting", "Dispatching", "Running", "Running.Applied", "Terminated"]) {
        assert.equal(await page.locator(`g.state[data-id="${id}"]`).count(), 1, `state ${id}`);
      }
      assert.ok(await page.locator("g.arrow").count() >= 10, "arrows drawn");
      await page.waitForSelector("#connection.live");

      // Every state the pod's line shows, in order, seen from inside the page.
      await page.evaluate(RECORD_STATES);
      const created = await cluster.api(
        "POST",
        "/api/v1/namespaces/default/pods",
        podManifest("web"),
      );
      assert.equal(created.status, 201);
      await created.body?.cancel();

      const line = page.locator('li.actor[data-id="pod/default/web"]');
      await line.locator(".state", { hasText: "Waiting" }).waitFor({ timeout: 10_000 });
      await line.locator(".state", { hasText: "Running" }).waitFor({ timeout: 15_000 });
      const seen = await page.evaluate(() => (globalThis as unknown as { seen: string[] }).seen);
      assert.equal(seen[0], "Waiting.Requesting", `states seen: ${seen.join(" → ")}`);
      assert.equal(seen.at(-1), "Running.Applied", `states seen: ${seen.join(" → ")}`);
      assert.equal(
        await page.evaluate("window.marker"),
        "same page",
        "the page was not reloaded",
      );

      // The selected actor's current state is highlighted; its transitions are listed.
      await line.locator("button").click();
      await page.waitForSelector('g.state.active[data-id="Running.Applied"]');
      assert.equal(await page.locator('g.state.active[data-id="Waiting"]').count(), 0);
      const transitions = await page.locator("#transitions tbody").innerText();
      assert.match(transitions, /NODE_BOUND/);
      assert.match(transitions, /Waiting/);

      assert.deepEqual(errors, [], "no script errors");
      for (const path of ["/ui/app.js", "/ui/app.css", "/api/v1/actors?watch=true"]) {
        assert.ok(requests.includes(`${origin}${path}`), `${path} was requested`);
      }
      const elsewhere = requests.filter((u) => new URL(u).origin !== origin);
      assert.deepEqual(elsewhere, [], "every request goes to the controller");
    } finally {
      await browser.close();
      await cluster.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    }
  },
});
