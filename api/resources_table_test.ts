import assert from "node:assert/strict";
import { type Table, TABLE_ACCEPT } from "../model/api_types.ts";
import type { MilpaObject, ObjectList } from "../model/meta.ts";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import { tableHeader, tableRow } from "./table/rows.ts";
import { fromAddress, TEST_TOKEN, type TestApi, withTestApi } from "./testing.ts";

const PODS = "/api/v1/namespaces/default/pods";

/** A GET with `accept` (kubectl's Table one by default) and a token (the admin's by default). */
async function get(
  api: TestApi,
  path: string,
  opts: { accept?: string; token?: string } = {},
): Promise<Response> {
  return await api.app.request(path, {
    headers: {
      Authorization: `Bearer ${opts.token ?? TEST_TOKEN}`,
      Accept: opts.accept ?? TABLE_ACCEPT,
    },
  }, fromAddress("192.0.2.1"));
}

async function json<T>(res: Response): Promise<T> {
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text) as T;
}

/** Pods p0..p4 (p1 bound to node n1, which is a t3.nano; p3's deletion finished) and node n1. */
async function seed(api: TestApi): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const res = await api.call("POST", PODS, {
      kind: "Pod",
      apiVersion: "v1",
      metadata: { name: `p${i}`, labels: { app: "web", i: String(i) } },
      spec: { units: [{ name: "main", image: "nginx:1" }] },
    });
    assert.equal(res.status, 201, await res.text());
  }
  await api.store.create({
    kind: "Node",
    apiVersion: "v1",
    metadata: { name: "n1" },
    spec: { instanceType: "t3.nano" },
    status: { phase: "Claimed", boundPodName: "default/p1", addresses: [] },
  } as unknown as Node);
  await api.store.mutate<Pod>("pods", "default", "p1", (p) => ({
    ...p,
    status: { ...p.status!, phase: "Running", boundNodeName: "n1", boundInstanceID: "i-1" },
  }));
  await api.store.mutate<Pod>("pods", "default", "p3", (p) => ({
    ...p,
    metadata: { ...p.metadata, deletionTimestamp: new Date(api.clock.now()).toISOString() },
    spec: { ...p.spec, phase: "Terminated" },
    status: { ...p.status!, phase: "Terminated" },
  }));
}

Deno.test("API lists as a Table when asked as kubectl asks: milpactl's cells, at the controller's clock", async () => {
  await withTestApi(async (api) => {
    await seed(api);
    await api.clock.advance(45_000);
    const table = await json<Table>(await get(api, PODS));
    const pods = (await json<ObjectList<Pod>>(await get(api, PODS, { accept: "application/json" })))
      .items;
    assert.equal(table.kind, "Table");
    assert.equal(table.apiVersion, "meta.k8s.io/v1");
    const now = api.clock.now();
    assert.deepEqual(table.columnDefinitions.map((c) => c.name), tableHeader("Pod", { now }));
    assert.ok(table.columnDefinitions.every((c) => c.priority === 0 && c.type === "string"));
    assert.deepEqual(table.rows.map((r) => r.cells), pods.map((p) => tableRow("Pod", p, { now })));
    assert.equal(table.rows[0].cells.at(-1), "45s", "AGE at the controller's clock");
    assert.deepEqual(table.rows.map((r) => r.object.metadata.name), ["p0", "p1", "p2", "p3", "p4"]);
    assert.deepEqual(table.rows[2].object, {
      kind: "PartialObjectMetadata",
      apiVersion: "meta.k8s.io/v1",
      metadata: {
        name: "p2",
        namespace: "default",
        uid: pods[2].metadata.uid,
        resourceVersion: pods[2].metadata.resourceVersion,
        creationTimestamp: pods[2].metadata.creationTimestamp,
        labels: { app: "web", i: "2" },
      },
    });
    // Only the pod whose deletion finished is marked (milpactl leaves it out unless -a).
    assert.deepEqual(
      table.rows.map((r) => r.conditions),
      [undefined, undefined, undefined, [{ type: "DeletionFinished", status: "True" }], undefined],
    );
  });
});

Deno.test("API Table ?wide=true: the wide columns at priority 1, a pod's node read for its cells", async () => {
  await withTestApi(async (api) => {
    await seed(api);
    const table = await json<Table>(await get(api, `${PODS}?wide=true`));
    const now = api.clock.now();
    assert.deepEqual(
      table.columnDefinitions.map((c) => [c.name, c.priority]),
      tableHeader("Pod", { now, wide: true }).map((n, i) => [n, i < 8 ? 0 : 1]),
    );
    const p1 = table.rows[1].cells;
    assert.equal(p1[5], "n1", "the whole node name");
    assert.equal(p1[8], "t3.nano", "INSTANCE-TYPE, from the node");
    assert.match(p1[9], /^\$0\.\d+$/, "PRICE/HR");
    assert.equal(table.rows[0].cells[8], "<none>", "no node");
  });
});

Deno.test("API Table: a token that may not read nodes gets <unknown> for a pod's node cells", async () => {
  await withTestApi(async (api) => {
    await seed(api);
    const token = await api.newToken({ role: "view", namespace: "default" });
    const table = await json<Table>(await get(api, `${PODS}?wide=true`, { token }));
    assert.deepEqual(table.rows[1].cells.slice(8, 10), ["<unknown>", "<unknown>"]);
    const denied = await get(api, "/api/v1/nodes", { token });
    assert.equal(denied.status, 403, "it may not read them itself either");
  });
});

Deno.test("API Table pages as the list does, and a list without the Accept is still the objects", async () => {
  await withTestApi(async (api) => {
    await seed(api);
    const names: string[] = [];
    let cont = "";
    let pages = 0;
    do {
      const page = await json<Table>(
        await get(api, `${PODS}?limit=2${cont ? `&continue=${encodeURIComponent(cont)}` : ""}`),
      );
      assert.ok(page.rows.length <= 2);
      names.push(...page.rows.map((r) => r.object.metadata.name));
      if (page.metadata.continue) assert.equal(page.metadata.remainingItemCount, 5 - names.length);
      cont = page.metadata.continue ?? "";
      pages++;
    } while (cont);
    assert.equal(pages, 3);
    assert.deepEqual(names, ["p0", "p1", "p2", "p3", "p4"]);
    const list = await json<ObjectList>(
      await get(api, `${PODS}?labelSelector=i%3D2`, {
        accept: "application/json",
      }),
    );
    assert.equal(list.kind, "PodList");
    assert.deepEqual(list.items.map((o: MilpaObject) => o.metadata.name), ["p2"]);
    const selected = await json<Table>(await get(api, `${PODS}?labelSelector=i%3D2`));
    assert.deepEqual(selected.rows.map((r) => r.object.metadata.name), ["p2"], "-l applies");
  });
});
