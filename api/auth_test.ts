import assert from "node:assert/strict";
import { accessFor } from "./access.ts";
import type { Status } from "../model/api_types.ts";
import { TEST_TOKEN, type TestApi, withTestApi } from "./testing.ts";

/** How a route is protected. */
type Guard =
  /** Checks credentials of its own (node tokens, the view's session): tested elsewhere. */
  | "own"
  /** Any valid API token. */
  | "any"
  | "admin"
  | "cluster"
  | "namespace"
  /** The namespace, and a token that may write there, whatever the method. */
  | "namespace-write"
  | "batch";

/**
 * Every route the app has, with the guard it must have. A route missing here fails the test
 * below, so a new route cannot go unclassified.
 */
const GUARDS: Record<string, Guard> = {
  "GET /healthz": "own",
  "GET /agent/v1/agent.js": "own",
  "GET /agent/v1/milpactl.js": "own",
  "GET /agent/v1/connect": "own",
  "GET /agent/v1/streams/:id": "own",
  "GET /agent/v1/packages/:uid/:name": "own",
  "GET /ui/login": "own",
  "POST /ui/login": "own",
  "POST /ui/logout": "own",
  "GET /ui/app.css": "own",
  "GET /ui/favicon.svg": "own",
  "GET /ui": "own",
  "GET /ui/": "own",
  "GET /ui/app.js": "own",
  "GET /version": "any",
  "POST /api/v1/tokens": "admin",
  "GET /api/v1/tokens": "admin",
  "DELETE /api/v1/tokens/:id": "admin",
  "GET /api/v1/statecharts": "any",
  "GET /api/v1/statecharts/:kind": "any",
  "GET /api/v1/actors": "cluster",
  "GET /api/v1/actors/:id{.+}": "namespace",
  "GET /api/v1/namespaces/:ns/pods/:name/log": "namespace",
  // WebSocket upgrades that run something in the pod: writes, as Kubernetes' pods/exec.
  "GET /api/v1/namespaces/:ns/pods/:name/exec": "namespace-write",
  "GET /api/v1/namespaces/:ns/pods/:name/attach": "namespace-write",
  "GET /api/v1/namespaces/:ns/pods/:name/portforward": "namespace-write",
  "POST /api/v1/namespaces/:ns/pods/:name/deploy/:pkg": "namespace",
  "POST /api/v1/namespaces/:ns/deployments/:name/rollback": "namespace",
  "GET /api/v1/namespaces/:ns/:plural": "namespace",
  "GET /api/v1/namespaces/:ns/:plural/:name": "namespace",
  "POST /api/v1/namespaces/:ns/:plural": "namespace",
  "PUT /api/v1/namespaces/:ns/:plural/:name": "namespace",
  "DELETE /api/v1/namespaces/:ns/:plural/:name": "namespace",
  "POST /api/v1/batch": "batch",
  "GET /api/v1/:plural": "cluster",
  "GET /api/v1/:plural/:name": "cluster",
  "DELETE /api/v1/:plural/:name": "cluster",
};

/** A token's powers, as the test sees them. */
interface Who {
  name: string;
  token: string;
  admin?: boolean;
  role?: "edit" | "view";
  namespace?: string;
}

function pod(namespace: string, name = "web") {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name, namespace },
    spec: { resources: { memory: "0.4Gi" }, units: [{ name: "main", command: ["serve"] }] },
  };
}

/** What the test expects: may `who` use a route guarded by `guard`, in namespace `ns`? */
function allowed(who: Who, guard: Guard, write: boolean, ns: string): boolean {
  if (who.admin) return true;
  const mayWrite = who.role === "edit";
  switch (guard) {
    case "any":
      return true;
    case "admin":
    case "own":
      return false;
    case "cluster":
      return who.namespace === undefined && (!write || mayWrite);
    case "namespace":
      return (who.namespace === undefined || who.namespace === ns) && (!write || mayWrite);
    case "namespace-write":
      return (who.namespace === undefined || who.namespace === ns) && mayWrite;
    case "batch": // the batch below writes one pod in `ns`
      return (who.namespace === undefined || who.namespace === ns) && mayWrite;
  }
}

/** A request for a route pattern, with parameters filled in for namespace `ns`. */
function requestFor(method: string, pattern: string, ns: string): { path: string; body?: unknown } {
  const path = pattern
    .replace(":id{.+}", `pod/${ns}/web`)
    .replace(":ns", ns)
    .replace(":plural", "pods")
    .replace(":name", "web")
    .replace(":kind", "pod")
    .replace(":id", "0123456789ab");
  if (method === "GET" || method === "DELETE") return { path };
  if (pattern === "/api/v1/batch") return { path, body: { operation: "apply", items: [pod(ns)] } };
  if (pattern === "/api/v1/tokens") return { path, body: { role: "view" } };
  if (pattern.endsWith("/rollback")) return { path, body: {} };
  return { path, body: pod(ns) };
}

async function principals(api: TestApi): Promise<Who[]> {
  return [
    { name: "admin", token: TEST_TOKEN, admin: true },
    { name: "cluster view", token: await api.newToken({ role: "view" }), role: "view" },
    { name: "cluster edit", token: await api.newToken({ role: "edit" }), role: "edit" },
    {
      name: "team view",
      token: await api.newToken({ role: "view", namespace: "team" }),
      role: "view",
      namespace: "team",
    },
    {
      name: "team edit",
      token: await api.newToken({ role: "edit", namespace: "team" }),
      role: "edit",
      namespace: "team",
    },
  ];
}

/** Routes as `METHOD path`, middleware left out, each once. */
function routesOf(api: TestApi): string[] {
  return [
    ...new Set(
      api.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`),
    ),
  ];
}

const NO_FAILURE_LIMIT = { failuresPerWindow: 1_000_000 };

Deno.test("every route of the API has a guard: admin, cluster, namespace, batch, any token or its own check", async () => {
  await withTestApi((api) => {
    const routes = routesOf(api);
    const unclassified = routes.filter((r) => !(r in GUARDS));
    assert.deepEqual(unclassified, [], "routes missing from GUARDS: classify them");
    assert.deepEqual(routes.sort(), Object.keys(GUARDS).sort());
    return Promise.resolve();
  });
});

Deno.test("every API route answers each kind of token as its guard says: 403 when refused, never 401", async () => {
  await withTestApi(async (api) => {
    const who = await principals(api);
    for (const route of routesOf(api)) {
      const guard = GUARDS[route];
      if (guard === "own") continue;
      const [method, pattern] = route.split(" ");
      const write = method !== "GET";
      for (const ns of ["team", "other"]) {
        const { path, body } = requestFor(method, pattern, ns);
        for (const w of who) {
          const res = await api.callAs(w.token, method, path, body);
          const text = await res.text();
          const what = `${w.name}: ${method} ${path} → ${res.status} ${text.slice(0, 200)}`;
          if (allowed(w, guard, write, ns)) {
            assert.ok(![401, 403].includes(res.status), `allowed, but ${what}`);
          } else {
            assert.equal(res.status, 403, `refused, but ${what}`);
            const status = JSON.parse(text) as Status;
            assert.equal(status.reason, "Forbidden");
            assert.match(status.message, new RegExp(`^token [0-9a-f]{12} \\(${w.role}`));
          }
        }
        // Neither a token nobody made nor none at all gets anywhere.
        const unknown = `Bearer milpa_000000000000_${"0".repeat(64)}`;
        for (const headers of [{}, { Authorization: unknown }] as Record<string, string>[]) {
          const res = await api.app.request(path, { method, headers });
          assert.equal(res.status, 401, `${method} ${path} ${JSON.stringify(headers)}`);
          await res.body?.cancel();
        }
      }
    }
  }, { limits: NO_FAILURE_LIMIT });
});

Deno.test("routes with their own check refuse API tokens where they want node tokens", async () => {
  await withTestApi(async (api) => {
    for (
      const path of [
        "/agent/v1/agent.js",
        "/agent/v1/milpactl.js",
        "/agent/v1/connect",
        "/agent/v1/streams/x",
      ]
    ) {
      const res = await api.call("GET", path);
      assert.equal(res.status, 401, path);
      await res.body?.cancel();
    }
    assert.equal((await api.app.request("/healthz")).status, 200);
  });
});

Deno.test("403 messages name the token, its scope, the verb and the namespace", async () => {
  await withTestApi(async (api) => {
    const view = await api.newToken({ role: "view", namespace: "team" });
    const write = await api.callAs(view, "POST", "/api/v1/namespaces/team/pods", pod("team"));
    const status = await write.json() as Status;
    assert.equal(write.status, 403);
    assert.match(
      status.message,
      /^token [0-9a-f]{12} \(view, namespace "team"\) cannot write in namespace "team" \(POST \/api\/v1\/namespaces\/team\/pods\)$/,
    );
    const other = await (await api.callAs(view, "GET", "/api/v1/namespaces/prod/pods")).json();
    assert.match(other.message, /cannot read in namespace "prod"/);
    const nodes = await (await api.callAs(view, "GET", "/api/v1/nodes")).json();
    assert.match(nodes.message, /cannot read cluster-scoped resources/);
    const tokens = await (await api.callAs(view, "GET", "/api/v1/tokens")).json();
    assert.match(tokens.message, /cannot manage tokens: only the admin token/);
  });
});

Deno.test("a namespace token reads its namespace's actors but not other actors", async () => {
  await withTestApi(async (api) => {
    const team = await api.newToken({ role: "view", namespace: "team" });
    const cases: [string, number][] = [
      ["/api/v1/actors/pod/team/web", 404],
      ["/api/v1/actors/pod%2Fteam%2Fweb", 404],
      ["/api/v1/actors/pod/other/web", 403],
      ["/api/v1/actors/pod%2Fother%2Fweb", 403],
      ["/api/v1/actors/node/n1", 403],
      ["/api/v1/actors/nodepool", 403],
      ["/api/v1/actors", 403],
    ];
    for (const [path, code] of cases) {
      const res = await api.callAs(team, "GET", path);
      assert.equal(res.status, code, path);
      await res.body?.cancel();
    }
  });
});

Deno.test("HEAD reads: a view token may HEAD its namespace's list, not a cluster list", async () => {
  await withTestApi(async (api) => {
    const team = await api.newToken({ role: "view", namespace: "team" });
    assert.equal((await api.callAs(team, "HEAD", "/api/v1/namespaces/team/pods")).status, 200);
    assert.equal((await api.callAs(team, "HEAD", "/api/v1/pods")).status, 403);
  });
});

Deno.test("a batch is checked item by item: one item outside the token's namespace refuses all of it", async () => {
  await withTestApi(async (api) => {
    const team = await api.newToken({ role: "edit", namespace: "team" });
    const node = { kind: "Node", apiVersion: "v1", metadata: { name: "n1" }, spec: {} };
    for (
      const [items, index] of [[[pod("team", "a"), pod("other", "b")], 1], [[node], 0]] as const
    ) {
      const res = await api.callAs(team, "POST", "/api/v1/batch", { operation: "create", items });
      const status = await res.json() as Status;
      assert.equal(res.status, 403, JSON.stringify(status));
      assert.equal(status.details?.index, index);
    }
    assert.equal((await api.store.list("pods")).length, 0, "nothing was written");
    // A manifest without a namespace lands in "default", which this token may not write.
    const noNs = { ...pod("x"), metadata: { name: "c" } };
    const res = await api.callAs(team, "POST", "/api/v1/batch", {
      operation: "create",
      items: [noNs],
    });
    assert.match((await res.json()).message, /cannot write in namespace "default"/);
    const ok = await api.callAs(team, "POST", "/api/v1/batch", {
      operation: "create",
      items: [pod("team", "a")],
    });
    assert.equal(ok.status, 200, await ok.text());
  });
});

Deno.test("accessFor() reads the namespace the router will see, and grants nothing it cannot parse", () => {
  assert.deepEqual(accessFor("GET", "/api/v1/namespaces/team/pods"), {
    need: "namespace",
    namespace: "team",
    verb: "read",
  });
  assert.deepEqual(accessFor("POST", "/api/v1/namespaces/a%2Fb/pods"), {
    need: "namespace",
    namespace: "a/b",
    verb: "write",
  });
  assert.deepEqual(accessFor("DELETE", "/api/v1/namespaces/team"), {
    need: "cluster",
    verb: "write",
  });
  assert.deepEqual(accessFor("GET", "/api/v1/namespaces/%zz/pods"), {
    need: "cluster",
    verb: "read",
  });
  assert.deepEqual(accessFor("GET", "/api/v1/actors/pod%2Fother%2Fweb"), {
    need: "namespace",
    namespace: "other",
    verb: "read",
  });
  assert.deepEqual(accessFor("GET", "/version"), { need: "any" });
  assert.deepEqual(accessFor("POST", "/api/v1/statecharts"), { need: "cluster", verb: "write" });
  assert.deepEqual(accessFor("GET", "/api/v1/tokens"), { need: "admin" });
  assert.deepEqual(accessFor("GET", "/api/v1/batch"), { need: "cluster", verb: "read" });
  assert.deepEqual(accessFor("POST", "/somewhere/else"), { need: "cluster", verb: "write" });
});

Deno.test("view tokens read no Secrets (as Kubernetes' view role); edit tokens and the admin do", async () => {
  await withTestApi(async (api) => {
    const secret = {
      kind: "Secret",
      apiVersion: "v1",
      metadata: { name: "db", namespace: "team" },
      data: { password: btoa("hunter2") },
    };
    const created = await api.call("POST", "/api/v1/namespaces/team/secrets", secret);
    assert.equal(created.status, 201, await created.text());
    const tokens = {
      clusterView: await api.newToken({ role: "view" }),
      teamView: await api.newToken({ role: "view", namespace: "team" }),
      clusterEdit: await api.newToken({ role: "edit" }),
      teamEdit: await api.newToken({ role: "edit", namespace: "team" }),
    };
    const paths = [
      "/api/v1/namespaces/team/secrets",
      "/api/v1/namespaces/team/secrets/db",
      "/api/v1/secrets",
    ];
    for (const path of paths) {
      for (const token of [tokens.clusterView, tokens.teamView]) {
        const res = await api.callAs(token, "GET", path);
        const body = await res.text();
        assert.equal(res.status, 403, `${path}: ${body}`);
        assert.doesNotMatch(body, /aHVudGVyMg|hunter2/);
        if (token === tokens.clusterView || path !== "/api/v1/secrets") {
          assert.match(JSON.parse(body).message, /cannot read Secrets: view tokens see no Secret/);
        }
      }
    }
    for (const path of paths.slice(0, 2)) {
      for (const token of [tokens.clusterEdit, tokens.teamEdit, TEST_TOKEN]) {
        const res = await api.callAs(token, "GET", path);
        assert.equal(res.status, 200, path);
        await res.body?.cancel();
      }
    }
    // Other kinds stay readable with a view token.
    const pods = await api.callAs(tokens.teamView, "GET", "/api/v1/namespaces/team/pods");
    assert.equal(pods.status, 200);
    await pods.body?.cancel();
  });
});
