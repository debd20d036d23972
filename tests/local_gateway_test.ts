/**
 * On the local cloud as root, nodes reach the controller on their bridge's gateway address.
 * That listener serves the agents (a pod runs, so its agent got through) and the user API to
 * namespace-scoped tokens only: the admin token and the web view get 404 there. Ignored without root (no bridge, no gateway).
 */
import assert from "node:assert/strict";
import type { Pod } from "../model/pod.ts";
import { LocalCloud } from "./support/local_cloud.ts";

const isRoot = Deno.uid() === 0;
const NAME =
  "the nodes' gateway listener serves agents and namespace tokens, 404 for the admin token and /ui";

Deno.test({
  name: isRoot ? NAME : `${NAME} [ignored: needs root for the nodes' bridge]`,
  ignore: !isRoot,
  async fn() {
    const cloud = await LocalCloud.start();
    const { endpoint, token, certificateAuthority: ca } = await cloud.clientConfig();
    const client = ca ? Deno.createHttpClient({ caCerts: [ca] }) : undefined;
    try {
      assert.ok(cloud.gateway, "nodes have their own network here");
      const file = `${cloud.home}/web.json`;
      await Deno.writeTextFile(
        file,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "web" },
          spec: { units: [{ name: "main", command: ["sleep", "600"] }] },
        }),
      );
      await cloud.ok("create", "-f", file);
      await cloud.eventually(
        async () =>
          (await cloud.api<Pod>("/api/v1/namespaces/default/pods/web")).status?.phase === "Running",
        "the pod runs: its agent connected through the gateway",
      );

      const url = new URL(endpoint);
      url.hostname = cloud.gateway;
      const status = async (path: string, bearer?: string) => {
        const res = await fetch(`${url.origin}${path}`, {
          headers: bearer ? { Authorization: `Bearer ${bearer}` } : {},
          ...(client ? { client } : {}),
        });
        await res.body?.cancel();
        return res.status;
      };
      for (const path of ["/api/v1/namespaces/default/pods", "/api/v1/nodes", "/version", "/ui"]) {
        assert.equal(await status(path, token), 404, path);
      }
      assert.equal(await status("/healthz"), 200);
      const team = (await cloud.ok("token", "create", "-n", "default", "--role", "view")).trim();
      assert.equal(await status("/api/v1/namespaces/default/pods", team), 200);
      assert.equal(await status("/api/v1/nodes", team), 403);
      assert.equal(await status("/ui", team), 404);
      assert.equal(await status("/agent/v1/connect"), 401);
      // The same requests on the API's own listener are served.
      const login = await cloud.fetch("/ui"); // redirected to the login page
      assert.equal(login.status, 200);
      assert.match(await login.text(), /<form method="post" action="\/ui\/login">/);
      await cloud.ok("delete", "pod", "web");
    } finally {
      client?.close();
      await cloud.close();
    }
  },
});
