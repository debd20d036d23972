import assert from "node:assert/strict";
import { isoTime } from "../model/clock.ts";
import type { MilpaObject, ObjectList } from "../model/meta.ts";
import type { Pod } from "../model/pod.ts";
import { ObjectStore } from "../store/object_store.ts";
import { controllerRef } from "../model/workload.ts";
import { VERSION } from "./app.ts";
import { TEST_TOKEN, type TestApi as Api, withTestApi } from "./testing.ts";
import type { Status } from "../model/api_types.ts";

const TOKEN = TEST_TOKEN;
const withApi = withTestApi;

/** The response's JSON body, after checking its status code. */
async function expectJson<T = Record<string, unknown>>(res: Response, code: number): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, code, `expected ${code}, got ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** The Status body of a failed request, after checking its code and reason. */
async function expectStatus(res: Response, code: number, reason: string): Promise<Status> {
  const status = await expectJson<Status>(res, code);
  assert.equal(status.kind, "Status");
  assert.equal(status.status, "Failure");
  assert.equal(status.code, code);
  assert.equal(status.reason, reason);
  return status;
}

function podManifest(
  name: string,
  opts: {
    namespace?: string;
    labels?: Record<string, string>;
    memory?: string;
    units?: string[];
  } = {},
): Pod {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name,
      ...(opts.namespace ? { namespace: opts.namespace } : {}),
      ...(opts.labels ? { labels: opts.labels } : {}),
    },
    spec: {
      resources: { memory: opts.memory ?? "0.4Gi" },
      units: (opts.units ?? ["main"]).map((u) => ({ name: u, command: ["serve"] })),
    },
  };
}

const PODS = "/api/v1/namespaces/default/pods";

async function createPod(api: Api, manifest: Pod): Promise<Pod> {
  const ns = manifest.metadata.namespace ?? "default";
  return await expectJson<Pod>(
    await api.call("POST", `/api/v1/namespaces/${ns}/pods`, manifest),
    201,
  );
}

/** Sets a pod's status through the store, as its actor would. */
async function setStatus(api: Api, name: string, status: Pod["status"]): Promise<Pod> {
  return await api.store.mutate<Pod>("pods", "default", name, (p) => ({ ...p, status }));
}

function names(list: { items: MilpaObject[] }): string[] {
  return list.items.map((o) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`);
}

// --- auth, health, version ---

Deno.test("API answers 401 Unauthorized without a token or with a wrong one", async () => {
  await withApi(async ({ app }) => {
    const cases: Record<string, string>[] = [
      {},
      { Authorization: "Bearer wrong" },
      { Authorization: `Bearer ${TOKEN}x` },
      { Authorization: TOKEN },
      { Authorization: `Basic ${TOKEN}` },
    ];
    for (const headers of cases) {
      for (const path of [PODS, "/version", "/api/v1/nodes", "/no/such/route"]) {
        const status = await expectStatus(
          await app.request(path, { headers }),
          401,
          "Unauthorized",
        );
        assert.match(status.message, /token/);
      }
    }
  });
});

Deno.test("API serves GET /healthz without a token", async () => {
  await withApi(async ({ app }) => {
    const res = await app.request("/healthz");
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok");
  });
});

Deno.test("API GET /version names the version and the cloud", async () => {
  await withApi(async ({ call }) => {
    const v = await expectJson(await call("GET", "/version"), 200);
    assert.equal(v.gitVersion, VERSION);
    assert.equal(v.major, "0");
    assert.equal(v.minor, "1");
    assert.equal(v.cloud, "sim");
    assert.match(String(v.platform), /^deno /);
  });
});

Deno.test("API answers 404 NotFound for a route it does not have", async () => {
  await withApi(async ({ call }) => {
    await expectStatus(await call("GET", "/api/v2/things"), 404, "NotFound");
  });
});

// --- create ---

Deno.test("API POST of a pod answers 201 with the stored pod, its instance type chosen and status Waiting", async () => {
  await withApi(async (api) => {
    const { store, clock } = api;
    const pod = await createPod(api, podManifest("web", { labels: { app: "web" } }));
    assert.equal(pod.metadata.name, "web");
    assert.equal(pod.metadata.namespace, "default");
    assert.ok(pod.metadata.uid);
    assert.ok(pod.metadata.resourceVersion);
    assert.equal(pod.metadata.generation, 1);
    assert.equal(pod.metadata.creationTimestamp, isoTime(clock.now()));
    assert.equal(pod.spec.instanceType, "t3.nano");
    assert.equal(pod.spec.phase, "Running");
    assert.equal(pod.spec.restartPolicy, "Always");
    assert.equal(pod.spec.resources?.memory, "0.4Gi");
    // As its actor will publish it when it starts: the actor's first write leaves the pod alone.
    assert.deepEqual(pod.status, {
      phase: "Waiting",
      lastPhaseChange: isoTime(clock.now()),
      startFailures: 0,
      unitStatuses: [],
      initUnitStatuses: [],
    });
    assert.deepEqual(await store.get("pods", "default", "web"), pod);
  });
});

Deno.test("API POST picks the cheapest type that fits: 3Gi gets t3.medium", async () => {
  await withApi(async (api) => {
    const pod = await createPod(api, podManifest("big", { memory: "3Gi" }));
    assert.equal(pod.spec.instanceType, "t3.medium");
  });
});

Deno.test("API POST drops server-owned fields and status from the body", async () => {
  await withApi(async (api) => {
    const manifest = podManifest("web");
    const pod = await createPod(api, {
      ...manifest,
      metadata: { ...manifest.metadata, uid: "forged", generation: 7 },
      status: { phase: "Succeeded" },
    });
    assert.notEqual(pod.metadata.uid, "forged");
    assert.equal(pod.metadata.generation, 1);
    assert.equal(pod.status?.phase, "Waiting");
  });
});

Deno.test("API POST of an invalid pod answers 422 Invalid listing every bad field", async () => {
  await withApi(async ({ call, store }) => {
    const manifest = podManifest("web", { memory: "lots" });
    manifest.spec.restartPolicy = "Sometimes" as Pod["spec"]["restartPolicy"];
    manifest.spec.units.push({ name: "empty" });
    const status = await expectStatus(await call("POST", PODS, manifest), 422, "Invalid");
    const fields = status.details?.causes?.map((c) => c.field).sort();
    assert.deepEqual(fields, ["spec.resources.memory", "spec.restartPolicy", "spec.units[1]"]);
    const memory = status.details!.causes!.find((c) => c.field === "spec.resources.memory")!;
    assert.equal(memory.value, "lots");
    assert.match(status.message, /Pod "web" is invalid/);
    assert.deepEqual(await store.list("pods"), []);
  });
});

Deno.test("API POST of a pod no instance type can hold answers 422 naming the request", async () => {
  await withApi(async ({ call }) => {
    const status = await expectStatus(
      await call("POST", PODS, podManifest("huge", { memory: "64Ti" })),
      422,
      "Invalid",
    );
    assert.match(status.message, /Cannot create pod "huge".*64Ti.*fits no instance type/);
    assert.deepEqual(status.details?.causes?.map((c) => c.field), ["spec.resources"]);
  });
});

Deno.test("API POST of an existing live pod answers 409 AlreadyExists", async () => {
  await withApi(async (api) => {
    const first = await createPod(api, podManifest("web"));
    await expectStatus(await api.call("POST", PODS, podManifest("web")), 409, "AlreadyExists");
    assert.deepEqual(await api.store.get("pods", "default", "web"), first);
  });
});

Deno.test("API POST of a pod whose old record has ended replaces it with a new pod", async () => {
  await withApi(async (api) => {
    const old = await createPod(api, podManifest("web"));
    await setStatus(api, "web", { phase: "Succeeded", lastPhaseChange: isoTime(api.clock.now()) });
    await api.clock.advance(1000);
    const fresh = await createPod(api, podManifest("web", { labels: { v: "2" } }));
    assert.notEqual(fresh.metadata.uid, old.metadata.uid);
    assert.equal(fresh.status?.phase, "Waiting");
    assert.equal(fresh.metadata.creationTimestamp, isoTime(api.clock.now()));
    assert.deepEqual(fresh.metadata.labels, { v: "2" });
  });
});

Deno.test("API POST to an unknown plural answers 404 NotFound", async () => {
  await withApi(async ({ call }) => {
    const status = await expectStatus(
      await call("POST", "/api/v1/namespaces/default/potatoes", podManifest("web")),
      404,
      "NotFound",
    );
    assert.match(status.message, /potatoes/);
    await expectStatus(await call("GET", "/api/v1/namespaces/default/potatoes"), 404, "NotFound");
    await expectStatus(await call("GET", "/api/v1/potatoes"), 404, "NotFound");
    // Aliases are for milpactl, not URLs.
    await expectStatus(await call("GET", "/api/v1/namespaces/default/po"), 404, "NotFound");
  });
});

Deno.test("API POST of a body whose kind or namespace differs from the URL answers 400 BadRequest", async () => {
  await withApi(async ({ call, store }) => {
    const service = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: { ports: [{ port: 80 }] },
    };
    const kind = await expectStatus(await call("POST", PODS, service), 400, "BadRequest");
    assert.match(kind.message, /Service.*Pod/);
    const ns = await expectStatus(
      await call("POST", PODS, podManifest("web", { namespace: "team-a" })),
      400,
      "BadRequest",
    );
    assert.match(ns.message, /team-a/);
    assert.deepEqual(await store.list("pods"), []);
    assert.deepEqual(await store.list("services"), []);
  });
});

Deno.test("API POST of a body that is not JSON answers 400 BadRequest", async () => {
  await withApi(async ({ call }) => {
    const status = await expectStatus(await call("POST", PODS, "{not json"), 400, "BadRequest");
    assert.match(status.message, /JSON/);
  });
});

Deno.test("API POST of a kind users cannot write answers 400 BadRequest", async () => {
  await withApi(async ({ call, store }) => {
    const event = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "e" },
      involvedObject: { kind: "Pod", name: "web" },
    };
    await expectStatus(
      await call("POST", "/api/v1/namespaces/default/events", event),
      400,
      "BadRequest",
    );
    assert.deepEqual(await store.list("events"), []);
  });
});

// --- get and list ---

Deno.test("API GET of one pod returns it and of a missing one answers 404 NotFound", async () => {
  await withApi(async (api) => {
    const pod = await createPod(api, podManifest("web"));
    assert.deepEqual(await expectJson(await api.call("GET", `${PODS}/web`), 200), pod);
    const status = await expectStatus(await api.call("GET", `${PODS}/nope`), 404, "NotFound");
    assert.match(status.message, /"nope"/);
    await expectStatus(
      await api.call("GET", "/api/v1/namespaces/other/pods/web"),
      404,
      "NotFound",
    );
  });
});

Deno.test("API GET of a namespaced kind without a namespace answers 404 with a hint", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web"));
    const status = await expectStatus(await api.call("GET", "/api/v1/pods/web"), 404, "NotFound");
    assert.match(status.message, /namespaced/);
  });
});

Deno.test("API GET of a namespace's pods lists them as a PodList sorted by name", async () => {
  await withApi(async (api) => {
    for (const n of ["c", "a", "b"]) await createPod(api, podManifest(n));
    await createPod(api, podManifest("z", { namespace: "team-a" }));
    const list = await expectJson<{ kind: string; apiVersion: string; items: Pod[] }>(
      await api.call("GET", PODS),
      200,
    );
    assert.equal(list.kind, "PodList");
    assert.equal(list.apiVersion, "v1");
    assert.deepEqual(names(list), ["default/a", "default/b", "default/c"]);
    const empty = await expectJson<{ items: Pod[] }>(
      await api.call("GET", "/api/v1/namespaces/none/pods"),
      200,
    );
    assert.deepEqual(empty.items, []);
  });
});

Deno.test("API GET /api/v1/pods lists pods across namespaces", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web"));
    await createPod(api, podManifest("api", { namespace: "team-a" }));
    await createPod(api, podManifest("db", { namespace: "team-b" }));
    const list = await expectJson<{ items: Pod[] }>(await api.call("GET", "/api/v1/pods"), 200);
    assert.deepEqual(names(list), ["default/web", "team-a/api", "team-b/db"]);
  });
});

Deno.test("API GET of a list with a labelSelector returns only matching objects", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web-1", { labels: { app: "web", env: "prod" } }));
    await createPod(api, podManifest("web-2", { labels: { app: "web", env: "dev" } }));
    await createPod(api, podManifest("api", { labels: { app: "api", env: "prod" } }));
    await createPod(api, podManifest("web-3", { namespace: "x", labels: { app: "web" } }));
    const q = async (path: string, selector: string) =>
      names(
        await expectJson<{ items: Pod[] }>(
          await api.call("GET", `${path}?labelSelector=${encodeURIComponent(selector)}`),
          200,
        ),
      );
    assert.deepEqual(await q(PODS, "app=web"), ["default/web-1", "default/web-2"]);
    assert.deepEqual(await q(PODS, "app=web,env!=dev"), ["default/web-1"]);
    assert.deepEqual(await q(PODS, "env in (prod,test)"), ["default/api", "default/web-1"]);
    assert.deepEqual(await q("/api/v1/pods", "app=web"), [
      "default/web-1",
      "default/web-2",
      "x/web-3",
    ]);
    assert.deepEqual(await q("/api/v1/pods", "!env"), ["x/web-3"]);
  });
});

Deno.test({
  name: "API GET with a malformed labelSelector answers 400 BadRequest",
  fn: async () => {
    await withApi(async ({ call }) => {
      const path = `${PODS}?labelSelector=${encodeURIComponent("app in (a")}`;
      const status = await expectStatus(await call("GET", path), 400, "BadRequest");
      assert.match(status.message, /app in \(a/);
    });
  },
});

Deno.test("API lists and gets cluster-scoped nodes without a namespace", async () => {
  await withApi(async ({ call, store }) => {
    await store.create({
      kind: "Node",
      apiVersion: "v1",
      metadata: { name: "node-1" },
      spec: { instanceType: "t3.nano" },
    });
    const list = await expectJson<{ kind: string; items: MilpaObject[] }>(
      await call("GET", "/api/v1/nodes"),
      200,
    );
    assert.equal(list.kind, "NodeList");
    assert.deepEqual(names(list), ["/node-1"]);
    const node = await expectJson<MilpaObject>(await call("GET", "/api/v1/nodes/node-1"), 200);
    assert.equal(node.spec.instanceType, "t3.nano");
  });
});

// --- update ---

Deno.test("API PUT changes labels and units, and increments generation only for spec changes", async () => {
  await withApi(async (api) => {
    const v1 = await createPod(api, podManifest("web", { labels: { app: "web" } }));
    await setStatus(api, "web", { phase: "Running", boundNodeName: "node-1" });

    const labelled = podManifest("web", { labels: { app: "web", tier: "fe" } });
    const v2 = await expectJson<Pod>(await api.call("PUT", `${PODS}/web`, labelled), 200);
    assert.deepEqual(v2.metadata.labels, { app: "web", tier: "fe" });
    assert.equal(v2.metadata.generation, 1);
    assert.equal(v2.metadata.uid, v1.metadata.uid);
    assert.deepEqual(v2.status, { phase: "Running", boundNodeName: "node-1" });

    const withUnits = podManifest("web", { labels: { app: "web" }, units: ["main", "side"] });
    const v3 = await expectJson<Pod>(await api.call("PUT", `${PODS}/web`, withUnits), 200);
    assert.deepEqual(v3.spec.units.map((u) => u.name), ["main", "side"]);
    assert.deepEqual(v3.metadata.labels, { app: "web" });
    assert.equal(v3.metadata.generation, 2);
    assert.equal(v3.spec.instanceType, v1.spec.instanceType);
    assert.deepEqual(v3.spec.resources, v1.spec.resources);
    assert.equal(v3.spec.phase, "Running");
    assert.deepEqual(await api.store.get("pods", "default", "web"), v3);
  });
});

Deno.test("API PUT of what GET returned, with a unit changed, is accepted", async () => {
  await withApi(async (api) => {
    const current = await createPod(api, podManifest("web"));
    current.spec.units[0].command = ["serve", "--verbose"];
    const next = await expectJson<Pod>(await api.call("PUT", `${PODS}/web`, current), 200);
    assert.deepEqual(next.spec.units[0].command, ["serve", "--verbose"]);
    assert.equal(next.metadata.generation, 2);
  });
});

Deno.test("API PUT changing immutable pod fields answers 422 naming each field", async () => {
  await withApi(async (api) => {
    const v1 = await createPod(api, podManifest("web"));
    const changed = podManifest("web", { memory: "2Gi" });
    changed.spec.instanceType = "t3.large";
    changed.spec.restartPolicy = "Never";
    const status = await expectStatus(
      await api.call("PUT", `${PODS}/web`, changed),
      422,
      "Invalid",
    );
    assert.deepEqual(status.details?.causes?.map((c) => c.field).sort(), [
      "spec.instanceType",
      "spec.resources",
      "spec.restartPolicy",
    ]);
    assert.deepEqual(await api.store.get("pods", "default", "web"), v1);
  });
});

Deno.test("API PUT with a stale resourceVersion answers 409 Conflict and changes nothing", async () => {
  await withApi(async (api) => {
    const v1 = await createPod(api, podManifest("web"));
    const v2 = await expectJson<Pod>(
      await api.call("PUT", `${PODS}/web`, podManifest("web", { labels: { a: "1" } })),
      200,
    );
    const stale = podManifest("web", { labels: { a: "2" } });
    stale.metadata.resourceVersion = v1.metadata.resourceVersion;
    await expectStatus(await api.call("PUT", `${PODS}/web`, stale), 409, "Conflict");
    assert.deepEqual(await api.store.get("pods", "default", "web"), v2);
    stale.metadata.resourceVersion = v2.metadata.resourceVersion;
    const v3 = await expectJson<Pod>(await api.call("PUT", `${PODS}/web`, stale), 200);
    assert.deepEqual(v3.metadata.labels, { a: "2" });
  });
});

Deno.test("API PUT of a missing pod answers 404 and of a name not in the URL answers 400", async () => {
  await withApi(async (api) => {
    await expectStatus(
      await api.call("PUT", `${PODS}/ghost`, podManifest("ghost")),
      404,
      "NotFound",
    );
    await createPod(api, podManifest("web"));
    await expectStatus(
      await api.call("PUT", `${PODS}/web`, podManifest("other")),
      400,
      "BadRequest",
    );
  });
});

Deno.test("API PUT of a pod that has ended answers 422", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web"));
    await setStatus(api, "web", { phase: "Failed" });
    await expectStatus(
      await api.call("PUT", `${PODS}/web`, podManifest("web", { labels: { a: "b" } })),
      422,
      "Invalid",
    );
  });
});

// --- delete ---

Deno.test("API DELETE of a live pod asks for termination: spec.phase Terminated and deletionTimestamp", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web"));
    await api.clock.advance(5000);
    const body = await expectJson<Pod>(await api.call("DELETE", `${PODS}/web`), 200);
    assert.equal(body.spec.phase, "Terminated");
    assert.equal(body.metadata.deletionTimestamp, isoTime(api.clock.now()));
    const stored = await api.store.mustGet<Pod>("pods", "default", "web");
    assert.equal(stored.spec.phase, "Terminated");
    assert.equal(stored.metadata.deletionTimestamp, isoTime(api.clock.now()));
    assert.equal(stored.status?.phase, "Waiting");
    // Asking again changes nothing.
    await api.clock.advance(5000);
    await expectJson(await api.call("DELETE", `${PODS}/web`), 200);
    assert.deepEqual(await api.store.get("pods", "default", "web"), stored);
  });
});

Deno.test("API DELETE of a pod that has ended removes it", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web"));
    await setStatus(api, "web", { phase: "Succeeded" });
    const body = await expectJson<Pod>(await api.call("DELETE", `${PODS}/web`), 200);
    assert.equal(body.metadata.name, "web");
    assert.equal(await api.store.get("pods", "default", "web"), null);
    await expectStatus(await api.call("DELETE", `${PODS}/web`), 404, "NotFound");
  });
});

Deno.test("API DELETE of a node sets spec.terminate and keeps the node", async () => {
  await withApi(async ({ call, store }) => {
    await store.create({
      kind: "Node",
      apiVersion: "v1",
      metadata: { name: "node-1" },
      spec: { instanceType: "t3.nano" },
    });
    const body = await expectJson<MilpaObject>(await call("DELETE", "/api/v1/nodes/node-1"), 200);
    assert.equal(body.spec.terminate, true);
    assert.equal((await store.mustGet("nodes", undefined, "node-1")).spec.terminate, true);
    await expectStatus(await call("DELETE", "/api/v1/nodes/node-2"), 404, "NotFound");
  });
});

Deno.test("API DELETE of an event answers 400: events are not the user's to delete", async () => {
  await withApi(async ({ call }) => {
    await expectStatus(
      await call("DELETE", "/api/v1/namespaces/default/events/e"),
      400,
      "BadRequest",
    );
  });
});

Deno.test({
  name: "API DELETE /api/v1/pods/{name} answers 404 like GET: pods are namespaced",
  fn: async () => {
    await withApi(async (api) => {
      await createPod(api, podManifest("x"));
      const status = await expectStatus(
        await api.call("DELETE", "/api/v1/pods/x"),
        404,
        "NotFound",
      );
      assert.match(status.message, /namespaced/);
      assert.equal((await api.store.mustGet<Pod>("pods", "default", "x")).spec.phase, "Running");
    });
  },
});

// --- batches ---

Deno.test("API POST /api/v1/batch create writes every item and reports each", async () => {
  await withApi(async ({ call, store }) => {
    const body = await expectJson(
      await call("POST", "/api/v1/batch", {
        operation: "create",
        items: [
          podManifest("a"),
          {
            apiVersion: "v1",
            kind: "Service",
            metadata: { name: "web", namespace: "team-a" },
            spec: { selector: { app: "web" }, ports: [{ port: 80 }] },
          },
        ],
      }),
      200,
    );
    assert.deepEqual(body, {
      items: [
        { kind: "Pod", namespace: "default", name: "a", action: "created" },
        { kind: "Service", namespace: "team-a", name: "web", action: "created" },
      ],
    });
    assert.equal((await store.mustGet<Pod>("pods", "default", "a")).spec.instanceType, "t3.nano");
    assert.ok(await store.get("services", "team-a", "web"));
  });
});

Deno.test("API POST /api/v1/batch with one invalid item creates nothing and names its index", async () => {
  await withApi(async ({ call, store }) => {
    const status = await expectStatus(
      await call("POST", "/api/v1/batch", {
        operation: "create",
        items: [podManifest("good"), podManifest("bad", { memory: "lots" }), podManifest("c")],
      }),
      422,
      "Invalid",
    );
    assert.equal(status.details?.index, 1);
    assert.equal(status.details?.name, "bad");
    assert.equal(status.details?.kind, "Pod");
    assert.deepEqual(status.details?.causes?.map((c) => c.field), ["spec.resources.memory"]);
    assert.deepEqual(await store.list("pods"), []);
  });
});

Deno.test("API POST /api/v1/batch create of an existing name creates nothing and names its index", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("taken"));
    const status = await expectStatus(
      await api.call("POST", "/api/v1/batch", {
        operation: "create",
        items: [podManifest("new"), podManifest("taken")],
      }),
      409,
      "AlreadyExists",
    );
    assert.equal(status.details?.index, 1);
    assert.equal(await api.store.get("pods", "default", "new"), null);
  });
});

Deno.test("API POST /api/v1/batch apply creates, then reports unchanged, then updates", async () => {
  await withApi(async ({ call, store }) => {
    const items = [podManifest("a", { labels: { app: "a" } }), podManifest("b")];
    const apply = async (its: Pod[]) =>
      (await expectJson<{ items: { name: string; action: string }[] }>(
        await call("POST", "/api/v1/batch", { operation: "apply", items: its }),
        200,
      )).items.map((i) => `${i.name}:${i.action}`);
    assert.deepEqual(await apply(items), ["a:created", "b:created"]);
    const before = await store.list("pods");
    assert.deepEqual(await apply(items), ["a:unchanged", "b:unchanged"]);
    assert.deepEqual(await store.list("pods"), before);
    const changed = [podManifest("a", { labels: { app: "a", v: "2" } }), podManifest("b")];
    assert.deepEqual(await apply(changed), ["a:updated", "b:unchanged"]);
    assert.deepEqual((await store.mustGet("pods", "default", "a")).metadata.labels, {
      app: "a",
      v: "2",
    });
    assert.deepEqual(await apply([...changed, podManifest("c")]), [
      "a:unchanged",
      "b:unchanged",
      "c:created",
    ]);
  });
});

Deno.test({
  name: "API POST /api/v1/batch apply of a pod that has ended re-creates it, as create does",
  fn: async () => {
    await withApi(async (api) => {
      const old = await createPod(api, podManifest("job"));
      await setStatus(api, "job", { phase: "Succeeded" });
      const body = await expectJson<{ items: { action: string }[] }>(
        await api.call("POST", "/api/v1/batch", {
          operation: "apply",
          items: [podManifest("job")],
        }),
        200,
      );
      assert.equal(body.items[0].action, "created");
      const fresh = await api.store.mustGet<Pod>("pods", "default", "job");
      assert.notEqual(fresh.metadata.uid, old.metadata.uid);
      assert.equal(fresh.status?.phase, "Waiting");
    });
  },
});

Deno.test("API POST /api/v1/batch update of a missing object answers 404 with its index", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("a"));
    const status = await expectStatus(
      await api.call("POST", "/api/v1/batch", {
        operation: "update",
        items: [podManifest("a", { labels: { x: "y" } }), podManifest("ghost")],
      }),
      404,
      "NotFound",
    );
    assert.equal(status.details?.index, 1);
    assert.deepEqual((await api.store.mustGet("pods", "default", "a")).metadata.labels, {});
  });
});

Deno.test("API POST /api/v1/batch delete terminates live pods and removes ended ones", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("live"));
    await createPod(api, podManifest("done"));
    await setStatus(api, "done", { phase: "Failed" });
    const body = await expectJson(
      await api.call("POST", "/api/v1/batch", {
        operation: "delete",
        items: [podManifest("live"), podManifest("done")],
      }),
      200,
    );
    assert.deepEqual(body, {
      items: [
        { kind: "Pod", namespace: "default", name: "live", action: "deleted" },
        { kind: "Pod", namespace: "default", name: "done", action: "deleted" },
      ],
    });
    assert.equal(
      (await api.store.mustGet<Pod>("pods", "default", "live")).spec.phase,
      "Terminated",
    );
    assert.equal(await api.store.get("pods", "default", "done"), null);
  });
});

Deno.test("API POST /api/v1/batch delete of a missing object deletes nothing and names its index", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("a"));
    const status = await expectStatus(
      await api.call("POST", "/api/v1/batch", {
        operation: "delete",
        items: [podManifest("a"), podManifest("ghost")],
      }),
      404,
      "NotFound",
    );
    assert.equal(status.details?.index, 1);
    assert.equal((await api.store.mustGet<Pod>("pods", "default", "a")).spec.phase, "Running");
  });
});

Deno.test("API POST /api/v1/batch with a bad operation or items answers 400 BadRequest", async () => {
  await withApi(async ({ call }) => {
    await expectStatus(
      await call("POST", "/api/v1/batch", { operation: "upsert", items: [] }),
      400,
      "BadRequest",
    );
    await expectStatus(
      await call("POST", "/api/v1/batch", { operation: "create", items: {} }),
      400,
      "BadRequest",
    );
    const status = await expectStatus(
      await call("POST", "/api/v1/batch", { operation: "create", items: [{ kind: "Potato" }] }),
      400,
      "BadRequest",
    );
    assert.equal(status.details?.index, 0);
  });
});

Deno.test({
  name:
    "API POST /api/v1/batch names the right index when the refused item shares its name with another",
  fn: async () => {
    await withApi(async (api) => {
      await createPod(api, podManifest("web"));
      const status = await expectStatus(
        await api.call("POST", "/api/v1/batch", {
          operation: "create",
          items: [podManifest("web", { namespace: "team-a" }), podManifest("web")],
        }),
        409,
        "AlreadyExists",
      );
      assert.equal(status.details?.index, 1);
    });
  },
});

Deno.test({
  name: "API POST /api/v1/batch with the same object twice names the second one's index",
  fn: async () => {
    await withApi(async ({ call, store }) => {
      const res = await call("POST", "/api/v1/batch", {
        operation: "create",
        items: [podManifest("web"), podManifest("web", { labels: { again: "yes" } })],
      });
      const status = await res.json() as Status;
      assert.equal(status.details?.index, 1);
      assert.deepEqual(await store.list("pods"), []);
    });
  },
});

// --- watch ---

/** Reads SSE frames from a streaming body one at a time. */
class SseReader {
  #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** The next event frame (comments skipped) as its type and parsed data. */
  async next(): Promise<{ event: string; data: MilpaObject }> {
    for (;;) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const frame = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const lines = frame.split("\n").filter((l) => !l.startsWith(":"));
        if (lines.length === 0) continue;
        const field = (name: string) =>
          lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).trim())
            .join("\n");
        return { event: field("event"), data: JSON.parse(field("data")) };
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new Error(`stream ended; unread: ${JSON.stringify(this.#buffer)}`);
      this.#buffer += value;
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel();
  }
}

Deno.test({
  name:
    "API GET ?watch=true streams ADDED for existing pods, then MODIFIED and DELETED as they happen",
  fn: async () => {
    await withApi(async (api) => {
      await createPod(api, podManifest("b"));
      await createPod(api, podManifest("a"));
      await createPod(api, podManifest("elsewhere", { namespace: "team-a" }));
      const res = await api.call("GET", `${PODS}?watch=true`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get("Content-Type") ?? "", /text\/event-stream/);
      const sse = new SseReader(res.body!);
      try {
        const first = [await sse.next(), await sse.next()];
        assert.deepEqual(first.map((f) => `${f.event} ${f.data.metadata.name}`), [
          "ADDED a",
          "ADDED b",
        ]);

        await createPod(api, podManifest("c"));
        await createPod(api, podManifest("ignored", { namespace: "team-a" }));
        const added = await sse.next();
        assert.equal(added.event, "ADDED");
        assert.equal(added.data.metadata.name, "c");

        await api.call("PUT", `${PODS}/a`, podManifest("a", { labels: { x: "y" } }));
        const modified = await sse.next();
        assert.equal(modified.event, "MODIFIED");
        assert.equal(modified.data.metadata.name, "a");
        assert.deepEqual(modified.data.metadata.labels, { x: "y" });

        await setStatus(api, "b", { phase: "Succeeded" });
        assert.equal((await sse.next()).event, "MODIFIED");
        await expectJson(await api.call("DELETE", `${PODS}/b`), 200);
        const deleted = await sse.next();
        assert.equal(deleted.event, "DELETED");
        assert.equal(deleted.data.metadata.name, "b");
      } finally {
        await sse.cancel();
      }
    });
  },
});

Deno.test({
  name: "API GET ?watch=true with a labelSelector streams only matching objects",
  fn: async () => {
    await withApi(async (api) => {
      await createPod(api, podManifest("web-1", { labels: { app: "web" } }));
      await createPod(api, podManifest("api-1", { labels: { app: "api" } }));
      const res = await api.call("GET", `/api/v1/pods?watch=true&labelSelector=app%3Dweb`);
      const sse = new SseReader(res.body!);
      try {
        assert.equal((await sse.next()).data.metadata.name, "web-1");
        await createPod(api, podManifest("api-2", { labels: { app: "api" } }));
        await createPod(api, podManifest("web-2", { namespace: "x", labels: { app: "web" } }));
        const next = await sse.next();
        assert.equal(
          `${next.event} ${next.data.metadata.namespace}/${next.data.metadata.name}`,
          "ADDED x/web-2",
        );
      } finally {
        await sse.cancel();
      }
    });
  },
});

Deno.test("API watches of one kind share each change's JSON: three watches, one JSON text of it", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("a"));
    const watches = await Promise.all([0, 1, 2].map(async () => {
      const sse = new SseReader((await api.call("GET", `${PODS}?watch=true`)).body!);
      assert.equal((await sse.next()).data.metadata.name, "a"); // listed: the watch is on
      return sse;
    }));
    try {
      const pod = await api.store.mustGet<MilpaObject>("pods", "default", "a");
      let made = 0;
      // JSON.stringify calls toJSON: it counts the JSON texts made of this change.
      const changed = {
        ...pod,
        toJSON: () => (made++, { ...pod, metadata: { ...pod.metadata, labels: { n: "1" } } }),
      };
      api.store.emit({ type: "MODIFIED", object: changed as MilpaObject });
      for (const sse of watches) {
        const f = await sse.next();
        assert.equal(f.event, "MODIFIED");
        assert.deepEqual(f.data.metadata.labels, { n: "1" });
      }
      assert.equal(made, 1, `${made} JSON texts of one change for three watches`);
    } finally {
      for (const sse of watches) await sse.cancel();
    }
  });
});

Deno.test({
  name:
    "API GET ?watch=true with a labelSelector: a relabelled object that leaves it is DELETED, one that joins it ADDED",
  fn: async () => {
    await withApi(async (api) => {
      await createPod(api, podManifest("web-1", { labels: { app: "web" } }));
      await createPod(api, podManifest("api-1", { labels: { app: "api" } }));
      const res = await api.call("GET", `${PODS}?watch=true&labelSelector=app%3Dweb`);
      const sse = new SseReader(res.body!);
      // A frame that never comes fails the test instead of hanging it.
      const frame = async () => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const late = new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no event within 5 s")), 5_000);
        });
        try {
          const f = await Promise.race([sse.next(), late]);
          return `${f.event} ${f.data.metadata.name} ${JSON.stringify(f.data.metadata.labels)}`;
        } finally {
          clearTimeout(timer);
        }
      };
      try {
        assert.equal(await frame(), `ADDED web-1 {"app":"web"}`);
        await api.call("PUT", `${PODS}/web-1`, podManifest("web-1", { labels: { app: "old" } }));
        assert.equal(await frame(), `DELETED web-1 {"app":"old"}`);
        await api.call("PUT", `${PODS}/api-1`, podManifest("api-1", { labels: { app: "web" } }));
        assert.equal(await frame(), `ADDED api-1 {"app":"web"}`);
        await api.call(
          "PUT",
          `${PODS}/api-1`,
          podManifest("api-1", { labels: { app: "web", tier: "1" } }),
        );
        assert.equal(await frame(), `MODIFIED api-1 {"app":"web","tier":"1"}`);
      } finally {
        await sse.cancel();
      }
    });
  },
});

Deno.test({
  name: "API watch keeps at most one keepalive timer pending, however many events it sends",
  fn: async () => {
    const realSetTimeout = globalThis.setTimeout;
    const realClearTimeout = globalThis.clearTimeout;
    const keepalives = new Set<ReturnType<typeof setTimeout>>();
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      const id = realSetTimeout(() => {
        keepalives.delete(id);
        fn();
      }, ms);
      if (ms === 15_000) keepalives.add(id);
      return id;
    }) as typeof setTimeout;
    globalThis.clearTimeout = ((id?: ReturnType<typeof setTimeout>) => {
      if (id !== undefined) keepalives.delete(id);
      realClearTimeout(id);
    }) as typeof clearTimeout;
    try {
      await withApi(async (api) => {
        const res = await api.call("GET", `${PODS}?watch=true`);
        const sse = new SseReader(res.body!);
        try {
          for (const name of ["a", "b", "c", "d", "e"]) {
            await createPod(api, podManifest(name));
            assert.equal((await sse.next()).data.metadata.name, name);
          }
          assert.ok(keepalives.size <= 1, `${keepalives.size} keepalive timers pending`);
        } finally {
          await sse.cancel();
        }
      });
    } finally {
      for (const id of keepalives) realClearTimeout(id);
      globalThis.setTimeout = realSetTimeout;
      globalThis.clearTimeout = realClearTimeout;
    }
  },
});

// --- logs ---

Deno.test("API GET of a pod's log before it has a node answers 503 saying so", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web"));
    const status = await expectStatus(
      await api.call("GET", `${PODS}/web/log`),
      503,
      "ServiceUnavailable",
    );
    assert.match(status.message, /pod "web" has no node yet \(Pod Waiting\)/);
  });
});

Deno.test("API GET of a pod's log when its node is not connected answers 503", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web"));
    await setStatus(api, "web", { phase: "Running", boundNodeName: "node-1" });
    const status = await expectStatus(
      await api.call("GET", `${PODS}/web/log`),
      503,
      "ServiceUnavailable",
    );
    assert.match(status.message, /node-1.*not connected/);
  });
});

Deno.test("API GET of a pod's log returns the agent's text for the one unit", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web"));
    await setStatus(api, "web", { phase: "Running", boundNodeName: "node-1" });
    const asked: unknown[] = [];
    const agent = api.hub.attach("node-1", {
      send: (msg) => {
        asked.push(msg);
        if (msg.type === "logs") {
          agent.receive({ type: "logs.result", id: msg.id, text: "line 1\nline 2\n" });
        }
      },
      close: () => {},
    });
    const res = await api.call("GET", `${PODS}/web/log?lines=2`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("Content-Type") ?? "", /^text\/plain/);
    assert.equal(await res.text(), "line 1\nline 2\n");
    assert.deepEqual(asked, [{ type: "logs", id: 1, unit: "main", lines: 2 }]);
    await expectStatus(
      await api.call("GET", `${PODS}/web/log?lines=-1`),
      400,
      "BadRequest",
    );
  });
});

Deno.test("API GET of the log of a unit the pod does not have answers 404", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web"));
    const status = await expectStatus(
      await api.call("GET", `${PODS}/web/log?unit=nope`),
      404,
      "NotFound",
    );
    assert.match(status.message, /unit "nope" not found in pod "web"; its units: main/);
    await expectStatus(await api.call("GET", `${PODS}/ghost/log`), 404, "NotFound");
  });
});

Deno.test("API GET of the log of a pod with several units and no unit answers 400 listing them", async () => {
  await withApi(async (api) => {
    await createPod(api, podManifest("web", { units: ["main", "side"] }));
    const status = await expectStatus(
      await api.call("GET", `${PODS}/web/log`),
      400,
      "BadRequest",
    );
    assert.match(status.message, /2 units \(main, side\)/);
    // Naming one gets past that check (to the missing node).
    await expectStatus(
      await api.call("GET", `${PODS}/web/log?unit=side`),
      503,
      "ServiceUnavailable",
    );
  });
});

Deno.test("ObjectStore.closeWatches() ends an open watch stream, so the controller can shut down", async () => {
  const { startSimCluster } = await import("../tests/support/sim_cluster.ts");
  const c = await startSimCluster();
  const r = await c.api("GET", "/api/v1/namespaces/default/pods?watch=true");
  const reader = r.body!.getReader();
  await reader.read(); // the stream is open
  const closed = c.close();
  for (;;) {
    const { done } = await reader.read();
    if (done) break;
  }
  await closed;
});

// --- delete --cascade=false: dependents released in the delete's transaction; object sizes ---

const DEPLOYMENTS = "/api/v1/namespaces/default/deployments";
const REPLICASETS = "/api/v1/namespaces/default/replicasets";

/**
 * Deployment `web` (created through the API) with ReplicaSets `web-1`..`web-<sets>` and, for
 * `web-1`, `pods` pods, stored as the actors would have written them.
 */
async function deploymentWeb(
  api: Api,
  sets: number,
  pods = 0,
): Promise<{ deployment: MilpaObject; rs: MilpaObject }> {
  const template = {
    metadata: { labels: { app: "web" } },
    spec: { resources: { memory: "0.4Gi" }, units: [{ name: "main", command: ["serve"] }] },
  };
  const deployment = await expectJson<MilpaObject>(
    await api.call("POST", DEPLOYMENTS, {
      kind: "Deployment",
      apiVersion: "v1",
      metadata: { name: "web" },
      spec: { replicas: pods, selector: { matchLabels: { app: "web" } }, template },
    }),
    201,
  );
  const replicaSets = [];
  for (let i = 1; i <= sets; i++) {
    replicaSets.push(
      await api.store.create({
        kind: "ReplicaSet",
        apiVersion: "v1",
        metadata: {
          name: `web-${i}`,
          namespace: "default",
          ownerReferences: [controllerRef(deployment)],
        },
        spec: { replicas: i === 1 ? pods : 0, template },
      }),
    );
  }
  const rs = replicaSets[0];
  for (let i = 0; i < pods; i += 50) {
    await api.store.commit(
      Array.from({ length: Math.min(50, pods - i) }, (_, j) => {
        const p = podManifest(`web-1-${i + j}`, { labels: { app: "web" } });
        p.metadata = { ...p.metadata, namespace: "default", ownerReferences: [controllerRef(rs)] };
        return { op: "create" as const, object: p };
      }),
    );
  }
  return { deployment, rs };
}

/** The uids of the objects' owners, by object name. */
async function ownersOf(store: ObjectStore, plural: string): Promise<Record<string, string[]>> {
  return Object.fromEntries(
    (await store.list(plural)).map((
      o,
    ) => [o.metadata.name, (o.metadata.ownerReferences ?? []).map((r) => r.uid)]),
  );
}

/** Records every commit the store makes. */
function recordCommits(store: ObjectStore): Parameters<ObjectStore["commit"]>[0][] {
  const commits: Parameters<ObjectStore["commit"]>[0][] = [];
  const commit = store.commit.bind(store);
  store.commit = (ops) => {
    commits.push(ops);
    return commit(ops);
  };
  return commits;
}

Deno.test({
  name:
    "API POST /api/v1/batch delete with cascade=false and a missing second item releases nothing",
  fn: async () => {
    await withApi(async (api) => {
      const { deployment } = await deploymentWeb(api, 2);
      const before = await api.store.list("replicasets");
      const status = await expectStatus(
        await api.call("POST", "/api/v1/batch", {
          operation: "delete",
          cascade: false,
          items: [deployment, podManifest("ghost")],
        }),
        404,
        "NotFound",
      );
      assert.equal(status.details?.index, 1);
      assert.ok(await api.store.get("deployments", "default", "web"));
      assert.deepEqual(await api.store.list("replicasets"), before);
    });
  },
});

Deno.test({
  name:
    "API POST /api/v1/batch delete with cascade=false releases the ReplicaSets and deletes the Deployment in one commit",
  fn: async () => {
    await withApi(async (api) => {
      const { deployment } = await deploymentWeb(api, 2);
      const commits = recordCommits(api.store);
      const body = await expectJson(
        await api.call("POST", "/api/v1/batch", {
          operation: "delete",
          cascade: false,
          items: [deployment],
        }),
        200,
      );
      assert.deepEqual(body, {
        items: [{ kind: "Deployment", namespace: "default", name: "web", action: "deleted" }],
      });
      assert.equal(await api.store.get("deployments", "default", "web"), null);
      assert.deepEqual(await ownersOf(api.store, "replicasets"), { "web-1": [], "web-2": [] });
      assert.deepEqual(
        commits.map((ops) => ops.map((o) => `${o.op} ${o.object.metadata.name}`).sort()),
        [["delete web", "update web-1", "update web-2"]],
      );
    });
  },
});

Deno.test("API DELETE ?cascade=false of a ReplicaSet releases its pods in the same commit", async () => {
  await withApi(async (api) => {
    const { rs } = await deploymentWeb(api, 1, 3);
    const commits = recordCommits(api.store);
    await expectJson(await api.call("DELETE", `${REPLICASETS}/web-1?cascade=false`), 200);
    assert.equal(await api.store.get("replicasets", "default", "web-1"), null);
    assert.deepEqual(await ownersOf(api.store, "pods"), {
      "web-1-0": [],
      "web-1-1": [],
      "web-1-2": [],
    });
    assert.equal(commits.length, 1);
    assert.equal(commits[0].length, 4);
    assert.ok(
      commits[0].some((o) => o.op === "delete" && o.object.metadata.uid === rs.metadata.uid),
    );
  });
});

Deno.test({
  name:
    "API delete with cascade=false of a ReplicaSet whose pods do not fit in one transaction answers 422 and writes nothing",
  fn: async () => {
    await withApi(async (api) => {
      const { rs } = await deploymentWeb(api, 1, 150);
      const pods = await api.store.list("pods");
      const commits = recordCommits(api.store);
      const single = await expectStatus(
        await api.call("DELETE", `${REPLICASETS}/web-1?cascade=false`),
        422,
        "Invalid",
      );
      assert.equal(
        single.message,
        'Cannot delete replicaset "web-1" with cascade=false: its 150 pods do not fit in one ' +
          "transaction (at most 99); delete it with cascade, or scale it down first",
      );
      const batch = await expectStatus(
        await api.call("POST", "/api/v1/batch", {
          operation: "delete",
          cascade: false,
          items: [podManifest("web-1-0"), rs],
        }),
        422,
        "Invalid",
      );
      assert.equal(batch.details?.index, 1);
      assert.match(batch.message, /its 149 pods do not fit in one transaction \(at most 98\)/);
      assert.deepEqual(commits, []);
      assert.ok(await api.store.get("replicasets", "default", "web-1"));
      assert.deepEqual(await api.store.list("pods"), pods);
    });
  },
});

Deno.test({
  name:
    "API delete with cascade=false plans again when a dependent changes or goes away before the commit",
  fn: async () => {
    const ways: [string, (api: Api, rs: MilpaObject) => Promise<Response>][] = [
      ["DELETE", (api) => api.call("DELETE", `${REPLICASETS}/web-1?cascade=false`)],
      // The item as read, resourceVersion and all: a delete ignores it, so it pins nothing.
      [
        "batch",
        (api, rs) =>
          api.call("POST", "/api/v1/batch", { operation: "delete", cascade: false, items: [rs] }),
      ],
    ];
    for (const [way, remove] of ways) {
      await withApi(async (api) => {
        const { rs } = await deploymentWeb(api, 1, 3);
        const commits = recordCommits(api.store);
        const commit = api.store.commit;
        // Others' writes, past the recorder: an actor's status write, a finished pod removed.
        const race = [
          async () => {
            const pod = await api.store.mustGet<Pod>("pods", "default", "web-1-0");
            const object = { ...pod, status: { phase: "Running" as const } };
            await ObjectStore.prototype.commit.call(api.store, [{ op: "update", object }]);
          },
          async () => {
            const object = await api.store.mustGet("pods", "default", "web-1-1");
            await ObjectStore.prototype.commit.call(api.store, [{ op: "delete", object }]);
          },
        ];
        api.store.commit = async (ops) => {
          await race.shift()?.();
          return await commit(ops);
        };
        await expectJson(await remove(api, rs), 200);
        assert.equal(commits.length, 3, way); // refused twice, then planned from fresh reads
        assert.equal(await api.store.get("replicasets", "default", "web-1"), null);
        assert.deepEqual(await ownersOf(api.store, "pods"), { "web-1-0": [], "web-1-2": [] });
        const pod = await api.store.mustGet<Pod>("pods", "default", "web-1-0");
        assert.equal(pod.status?.phase, "Running");
      });
    }
  },
});

Deno.test({
  name:
    "API POST /api/v1/batch delete with cascade=false of a Deployment and its ReplicaSet deletes both",
  fn: async () => {
    await withApi(async (api) => {
      const { deployment, rs } = await deploymentWeb(api, 1, 2);
      await expectJson(
        await api.call("POST", "/api/v1/batch", {
          operation: "delete",
          cascade: false,
          items: [deployment, rs],
        }),
        200,
      );
      assert.deepEqual(await api.store.list("deployments"), []);
      assert.deepEqual(await api.store.list("replicasets"), []);
      assert.deepEqual(await ownersOf(api.store, "pods"), { "web-1-0": [], "web-1-1": [] });
    });
  },
});

Deno.test({
  name:
    "API POST of a pod that Deno KV would store over the size limit answers 422 naming it, not 500",
  fn: async () => {
    await withApi(async (api) => {
      // 21,000 characters of 3 bytes each in UTF-8 (as KV stores it): 63 kB.
      const pod = podManifest("big");
      pod.metadata.annotations = { note: "€".repeat(21_000) };
      const status = await expectStatus(await api.call("POST", PODS, pod), 422, "Invalid");
      assert.match(status.message, /^Pod "big" is too large: 63\d{3} bytes \(max 60000\)$/);
      assert.equal(await api.store.get("pods", "default", "big"), null);
    });
  },
});

Deno.test("API lists a page at a time with ?limit= and ?continue=, and refuses a bad limit", async () => {
  await withApi(async (api) => {
    for (let i = 0; i < 7; i++) await createPod(api, podManifest(`p${i}`));
    const seen: string[] = [];
    let cont = "";
    let pages = 0;
    do {
      const list = await expectJson<ObjectList>(
        await api.call(
          "GET",
          `${PODS}?limit=3${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`,
        ),
        200,
      );
      assert.ok(list.items.length <= 3);
      seen.push(...names(list));
      if (list.metadata.continue) assert.equal(list.metadata.remainingItemCount, 7 - seen.length);
      cont = list.metadata.continue ?? "";
      pages++;
    } while (cont);
    assert.equal(pages, 3);
    assert.deepEqual(seen, names(await expectJson<ObjectList>(await api.call("GET", PODS), 200)));
    assert.equal(seen.length, 7);
    const bad = await expectStatus(await api.call("GET", `${PODS}?limit=many`), 422, "Invalid");
    assert.equal(bad.details?.causes?.[0].field, "limit");
    const badToken = await expectStatus(
      await api.call("GET", `${PODS}?continue=xyz`),
      422,
      "Invalid",
    );
    assert.equal(badToken.details?.causes?.[0].field, "continue");
  });
});
