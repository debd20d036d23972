import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { AgentHub } from "../actors/agent_hub.ts";
import { loadCatalog } from "../cloud/catalog.ts";
import type { ControllerMessage } from "../model/agent_protocol.ts";
import { resolveConfig } from "../model/config.ts";
import { FakeClock } from "../model/fake_clock.ts";
import type { Pod } from "../model/pod.ts";
import { ApiTokenStore } from "../store/api_tokens.ts";
import { SavedLogs } from "../store/log_store.ts";
import { ObjectStore } from "../store/object_store.ts";
import { createApp, createNodeApp } from "./app.ts";
import { PackageStore } from "./packages.ts";

const TOKEN = "test-token-0123456789";
const NODE_TOKEN = "node-token";

interface Harness {
  call(method: string, path: string, body?: BodyInit, headers?: HeadersInit): Promise<Response>;
  nodeApp: { request(path: string, init?: RequestInit): Response | Promise<Response> };
  store: ObjectStore;
  packages: PackageStore;
  /** What the fake agent of node "n1" does with a `package` message. */
  onPackage: (msg: Extract<ControllerMessage, { type: "package" }>) => Promise<string | undefined>;
}

async function withHarness(fn: (h: Harness) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "milpa-packages-" });
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  const store = new ObjectStore(kv, clock);
  const hub = new AgentHub(clock);
  const packages = await PackageStore.open(`${dir}/packages`, 64 * 1024);
  const verifyNodeToken = (node: string, token: string) =>
    Promise.resolve(token === NODE_TOKEN && (node === "n1" || node === "n2"));
  const deps = { store, clock, hub, verifyNodeToken, packages };
  const app = createApp({
    ...deps,
    config: resolveConfig({}),
    catalog: loadCatalog(),
    token: TOKEN,
    cloudName: "sim",
    apiTokens: new ApiTokenStore(kv),
    savedLogs: new SavedLogs(kv),
    limits: { apiBodyBytes: 1024 },
  });
  const nodeApp = createNodeApp(deps);
  const h: Harness = {
    call: (method, path, body, headers = {}) =>
      Promise.resolve(app.request(path, {
        method,
        body,
        headers: { Authorization: `Bearer ${TOKEN}`, ...headers },
      })),
    nodeApp,
    store,
    packages,
    onPackage: () => Promise.resolve(undefined),
  };
  const agent = hub.attach("n1", {
    send: (msg) => {
      if (msg.type !== "package") return;
      h.onPackage(msg).then((error) =>
        agent.receive(
          error ? { type: "package.result", id: msg.id, error } : {
            type: "package.result",
            id: msg.id,
          },
        )
      );
    },
    close: () => {},
  });
  agent.receive({ type: "hello", node: "n1", protocolVersion: 1 });
  try {
    await store.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web", namespace: "default" },
      spec: {
        units: [{ name: "u", command: ["true"] }],
        volumes: [{ name: "src", packagePath: {} }, { name: "tmp", emptyDir: {} }],
      },
    } as Pod);
    await store.mutate<Pod>("pods", "default", "web", (p) => ({
      ...p,
      status: { phase: "Running", boundNodeName: "n1" },
    }));
    await fn(h);
  } finally {
    hub.closeAll();
    kv.close();
    await Deno.remove(dir, { recursive: true });
  }
}

const DEPLOY = "/api/v1/namespaces/default/pods/web/deploy/src";

async function nodeFetch(h: Harness, node: string, path: string): Promise<Response> {
  return await h.nodeApp.request(path, {
    headers: { Authorization: `Bearer ${NODE_TOKEN}`, "X-Milpa-Node": node },
  });
}

Deno.test("deploy: the pod's node fetches the upload with its token, others get 404", async () => {
  await withHarness(async (h) => {
    const bytes = crypto.getRandomValues(new Uint8Array(20_000)); // over apiBodyBytes
    const want = createHash("sha256").update(bytes).digest("hex");
    let fetched = "";
    h.onPackage = async (msg) => {
      const path = `/agent/v1/packages/${msg.podUid}/${msg.name}`;
      assert.equal((await nodeFetch(h, "n2", path)).status, 404, "another node");
      const res = await nodeFetch(h, "n1", path);
      assert.equal(res.status, 200);
      fetched = createHash("sha256").update(new Uint8Array(await res.arrayBuffer())).digest("hex");
      return fetched === msg.sha256 && msg.size === bytes.length ? undefined : "mismatch";
    };
    const res = await h.call("POST", DEPLOY, bytes);
    const body = await res.json();
    assert.equal(res.status, 201, JSON.stringify(body));
    assert.deepEqual(body, {
      kind: "Package",
      namespace: "default",
      pod: "web",
      name: "src",
      size: 20_000,
      sha256: want,
    });
    assert.equal(fetched, want);
    assert.deepEqual([...Deno.readDirSync(h.packages.dir)], [], "the upload is gone");
    const pod = await h.store.get<Pod>("pods", "default", "web");
    const after = await nodeFetch(h, "n1", `/agent/v1/packages/${pod!.metadata.uid}/src`);
    assert.equal(after.status, 404, "nothing to fetch once the agent answered");
  });
});

Deno.test("deploy: clear errors for a missing pod, volume, node, and a refused package", async () => {
  await withHarness(async (h) => {
    const bytes = new Uint8Array(10);
    const status = async (path: string) => {
      const res = await h.call("POST", path, bytes);
      return [res.status, (await res.json()).message];
    };
    assert.deepEqual(await status("/api/v1/namespaces/default/pods/nope/deploy/src"), [
      404,
      'pods "nope" not found',
    ]);
    assert.deepEqual(await status("/api/v1/namespaces/default/pods/web/deploy/tmp"), [
      400,
      'pod "web" has no packagePath volume named "tmp" (a package deploys into the volume of ' +
      'its name); its packagePath volumes: "src"',
    ]);
    h.onPackage = () => Promise.resolve('entry "../x": path with ".."');
    assert.deepEqual(await status(DEPLOY), [422, 'entry "../x": path with ".."']);
    const empty = await h.call("POST", DEPLOY, new Uint8Array());
    assert.ok(empty.status === 400, `empty body: ${empty.status}`);
    await h.store.mutate<Pod>("pods", "default", "web", (p) => ({
      ...p,
      status: { phase: "Waiting" },
    }));
    const [code, message] = await status(DEPLOY);
    assert.equal(code, 409);
    assert.match(message, /pod "web" is Waiting, not Running/);
  });
});

Deno.test("deploy: its own size limit; the API's body limit still holds everywhere else", async () => {
  await withHarness(async (h) => {
    const big = new Uint8Array(64 * 1024 + 1);
    const declared = await h.call("POST", DEPLOY, big);
    assert.equal(declared.status, 413);
    assert.match((await declared.json()).message, /at most 65536 bytes/);
    const streamed = await h.call(
      "POST",
      DEPLOY,
      new ReadableStream({
        start(c) {
          for (let i = 0; i < 70; i++) c.enqueue(new Uint8Array(1024));
          c.close();
        },
      }),
    );
    assert.equal(streamed.status, 413);
    assert.deepEqual([...Deno.readDirSync(h.packages.dir)], [], "a refused upload leaves nothing");
    // 2 KiB is over the API's 1 KiB limit (this harness) everywhere but on the upload route.
    const body = new Uint8Array(2048);
    for (
      const [method, path] of [
        ["POST", "/api/v1/namespaces/default/pods"],
        ["PUT", DEPLOY],
        ["POST", `${DEPLOY}/more`],
        ["POST", "/api/v1/namespaces/default/pods/web/deploy"],
        ["POST", "/api/v1/namespaces/default/services/web/deploy/src"],
      ]
    ) {
      const res = await h.call(method, path, body);
      assert.equal(res.status, 413, `${method} ${path}`);
    }
  });
});
