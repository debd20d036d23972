/**
 * The controller's listeners over real HTTP: the one on the nodes' network (the cloud's
 * `agentAddress`; 127.0.0.2 here, standing in for the local cloud's bridge gateway) serves
 * what agents need and the user API to namespace-scoped tokens only, and the client address reaches the failure limit through the server.
 */
import assert from "node:assert/strict";
import { type Controller, startController } from "../controller.ts";
import { SimProvider } from "../cloud/sim/sim_provider.ts";
import { resolveConfig } from "../model/config.ts";

/** The sim cloud, with nodes that reach the controller at 127.0.0.2. */
class GatewaySim extends SimProvider {
  readonly agentAddress = "127.0.0.2";
}

async function withController(fn: (c: Controller, gateway: string) => Promise<void>) {
  const home = await Deno.makeTempDir({ prefix: "milpa-listeners-" });
  const controller = await startController({
    config: resolveConfig({}),
    kv: await Deno.openKv(":memory:"),
    home,
    listen: "127.0.0.1:0",
    cloud: () => new GatewaySim(),
  });
  try {
    await fn(controller, `http://127.0.0.2:${new URL(controller.url).port}`);
  } finally {
    await controller.close();
    await Deno.remove(home, { recursive: true });
  }
}

async function statusOf(url: string, token?: string): Promise<number> {
  const res = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  await res.body?.cancel();
  return res.status;
}

Deno.test("the nodes' listener answers 404 for the admin token and the web view, and serves agents and /healthz", async () => {
  await withController(async (c, gateway) => {
    const pods = "/api/v1/namespaces/default/pods";
    assert.equal(await statusOf(`${c.url}${pods}`, c.token), 200);
    for (const path of [pods, "/api/v1/nodes", "/version", "/ui", "/ui/login", "/api/v1/tokens"]) {
      assert.equal(await statusOf(`${gateway}${path}`, c.token), 404, path);
    }
    assert.equal(await statusOf(`${gateway}/healthz`), 200);
    // The agent routes are there (and want a node's token).
    assert.equal(await statusOf(`${gateway}/agent/v1/connect`), 401);
    assert.equal(await statusOf(`${gateway}/agent/v1/agent.js`, c.token), 401);
  });
});

Deno.test("the nodes' listener serves the user API to a namespace token and nothing else", async () => {
  await withController(async (c, gateway) => {
    const made = await fetch(`${c.url}/api/v1/tokens`, {
      method: "POST",
      headers: { Authorization: `Bearer ${c.token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ role: "edit", namespace: "team" }),
    });
    const { token } = await made.json();
    assert.equal(await statusOf(`${gateway}/api/v1/namespaces/team/pods`, token), 200);
    assert.equal(await statusOf(`${gateway}/version`, token), 200);
    assert.equal(await statusOf(`${gateway}/api/v1/namespaces/default/pods`, token), 403);
    assert.equal(await statusOf(`${gateway}/ui`, token), 404);
    assert.equal(await statusOf(`${gateway}/api/v1/namespaces/team/pods`), 404);
  });
});

Deno.test("the controller passes each client's address to the API: 20 failed tokens, then 429", async () => {
  await withController(async (c) => {
    const url = `${c.url}/api/v1/namespaces/default/pods`;
    for (let i = 0; i < 20; i++) assert.equal(await statusOf(url, "wrong"), 401);
    const res = await fetch(url, { headers: { Authorization: `Bearer ${c.token}` } });
    assert.equal(res.status, 429);
    assert.ok(Number(res.headers.get("Retry-After")) > 0);
    assert.match((await res.json()).message, /failed authentications from 127\.0\.0\.1/);
  });
});
