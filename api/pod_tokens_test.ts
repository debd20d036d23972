/**
 * Pods that drive Milpa (`pod.elotl.co/milpactl-volume-name`): their token works in their
 * namespace only, while the pod lives, on the API and on the nodes' listener; the nodes'
 * listener serves the API to namespace-scoped tokens only.
 */
import assert from "node:assert/strict";
import type { Pod } from "../model/pod.ts";
import { MILPACTL_VOLUME_ANNOTATION } from "../model/pod_milpactl.ts";
import { NODE_KEY_FILE } from "../store/node_credentials.ts";
import { PodCredentials } from "../store/pod_credentials.ts";
import { apiAuthenticator, createNodeApp } from "./app.ts";
import { fromAddress, TEST_TOKEN, type TestApi, withTestApi } from "./testing.ts";

const manifest = (name: string, volumes = [{ name: "milpactl", emptyDir: {} }]) => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name, annotations: { [MILPACTL_VOLUME_ANNOTATION]: "milpactl" } },
  spec: { units: [{ name: "main", command: ["sleep", "60"] }], volumes },
});

async function withPodToken(
  fn: (api: TestApi, token: string, creds: PodCredentials, pod: Pod) => Promise<void>,
) {
  const home = await Deno.makeTempDir({ prefix: "milpa-pod-tokens-" });
  try {
    await withTestApi(async (api) => {
      const res = await api.call("POST", "/api/v1/namespaces/ci/pods", manifest("builder"));
      assert.equal(res.status, 201, await res.clone().text());
      const pod = await res.json() as Pod;
      const creds = await PodCredentials.open({
        store: api.store,
        kv: api.kv,
        keyFile: `${home}/${NODE_KEY_FILE}`,
        clock: api.clock,
      });
      const token = await creds.issue({ namespace: "ci", name: "builder", uid: pod.metadata.uid! });
      await fn(api, token, creds, pod);
    });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

async function status(res: Promise<Response>): Promise<number> {
  const r = await res;
  await r.body?.cancel();
  return r.status;
}

Deno.test("PodCredentials.issue() gives the same token on every dispatch and keeps only hashes in KV", async () => {
  await withPodToken(async (api, token, creds, pod) => {
    const ref = { namespace: "ci", name: "builder", uid: pod.metadata.uid! };
    assert.match(token, /^milpa_[0-9a-f]{12}_[0-9a-f]{64}$/);
    assert.equal(await creds.issue(ref), token);
    const secret = token.split("_")[2];
    for await (const e of api.kv.list({ prefix: [] })) {
      assert.ok(!JSON.stringify(e.value).includes(secret), `KV ${String(e.key)} holds no secret`);
    }
    const listed = await api.tokens.list(api.clock.now());
    assert.equal(listed.find((t) => token.includes(t.id))?.description, "pod ci/builder");
    await creds.revoke(ref.uid);
    assert.equal(await status(api.callAs(token, "GET", "/api/v1/namespaces/ci/pods")), 401);
    const again = await creds.issue(ref);
    assert.notEqual(again, token);
    assert.equal(await status(api.callAs(again, "GET", "/api/v1/namespaces/ci/pods")), 200);
  });
});

Deno.test("a pod's token is an edit token of its namespace, refused once the pod is deleted", async () => {
  await withPodToken(async (api, token, creds) => {
    assert.equal(await status(api.callAs(token, "GET", "/api/v1/namespaces/ci/pods")), 200);
    const created = api.callAs(token, "POST", "/api/v1/namespaces/ci/pods", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "build-1" },
      spec: { units: [{ name: "main", command: ["true"] }] },
    });
    assert.equal(await status(created), 201);
    assert.equal(await status(api.callAs(token, "GET", "/api/v1/namespaces/default/pods")), 403);
    assert.equal(await status(api.callAs(token, "GET", "/api/v1/nodes")), 403);
    assert.equal(await status(api.callAs(token, "GET", "/api/v1/tokens")), 403);
    assert.equal(await status(api.call("DELETE", "/api/v1/namespaces/ci/pods/builder")), 200);
    assert.equal(await status(api.callAs(token, "GET", "/api/v1/namespaces/ci/pods")), 401);
    assert.equal(await creds.sweep(), 1, "the deleted pod's records go");
    assert.equal(await creds.sweep(), 0);
  });
});

Deno.test("the nodes' app serves the API to namespace tokens, 404 to the admin token, cluster tokens and /ui", async () => {
  await withPodToken(async (api, token) => {
    const node = createNodeApp({
      hub: api.hub,
      verifyNodeToken: () => Promise.resolve(false),
      clock: api.clock,
      userApi: {
        app: api.app,
        auth: apiAuthenticator({
          token: TEST_TOKEN,
          store: api.store,
          clock: api.clock,
          apiTokens: api.tokens,
        }),
      },
    });
    const get = (path: string, bearer?: string) =>
      status(Promise.resolve(node.request(path, {
        headers: bearer ? { Authorization: `Bearer ${bearer}` } : {},
      }, fromAddress("198.18.0.2"))));
    const team = await api.newToken({ role: "view", namespace: "team" });
    const cluster = await api.newToken({ role: "edit" });
    assert.equal(await get("/api/v1/namespaces/ci/pods", token), 200);
    assert.equal(await get("/version", token), 200);
    assert.equal(await get("/api/v1/namespaces/default/pods", token), 403);
    assert.equal(await get("/api/v1/namespaces/team/pods", team), 200);
    for (const bearer of [TEST_TOKEN, cluster, undefined, "milpa_wrong"]) {
      for (const path of ["/api/v1/namespaces/ci/pods", "/api/v1/nodes", "/version"]) {
        assert.equal(await get(path, bearer), 404, `${path} with ${bearer?.slice(0, 10)}`);
      }
    }
    for (const path of ["/ui", "/ui/login", "/api/v1x"]) assert.equal(await get(path, token), 404);
    assert.equal(await get("/healthz"), 200);
    assert.equal(await get("/agent/v1/milpactl.js", token), 401, "node routes want node tokens");
  });
});

Deno.test("a pod whose milpactl annotation names a volume it lacks is refused with 422 naming it", async () => {
  await withTestApi(async (api) => {
    const res = await api.call("POST", "/api/v1/namespaces/ci/pods", manifest("bad", []));
    assert.equal(res.status, 422);
    assert.match(
      (await res.json()).message,
      /names volume "milpactl", which the pod does not have/,
    );
  });
});
