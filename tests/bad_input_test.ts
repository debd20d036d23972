/**
 * Bad manifests through milpactl against a real controller (simulated cloud): a clear
 * error naming the document and field, a non-zero exit, and nothing created.
 */
import assert from "node:assert/strict";
import { runMilpactl } from "./support/milpactl.ts";
import { startSimCluster } from "./support/sim_cluster.ts";

const ROOT = new URL("../", import.meta.url).pathname;

function milpactl(url: string, token: string, cwd: string, ...args: string[]) {
  return runMilpactl({ env: { MILPA_ENDPOINT: url, MILPA_TOKEN: token }, cwd }, ...args);
}

const GOOD = `apiVersion: v1
kind: Pod
metadata: {name: good}
spec:
  units: [{name: main, command: [serve]}]
`;

const CASES: { name: string; doc: string; expect: RegExp[] }[] = [
  {
    name: "memory: lots",
    doc: `apiVersion: v1
kind: Pod
metadata: {name: lots}
spec:
  resources: {memory: lots}
  units: [{name: main, command: [serve]}]
`,
    expect: [/document 2/, /Pod "lots"/, /spec\.resources\.memory/, /lots/],
  },
  {
    name: "an unknown kind",
    doc: `apiVersion: v1
kind: Potato
metadata: {name: spud}
`,
    expect: [/document 2/, /Potato/],
  },
  {
    name: "a unit with neither image nor command",
    doc: `apiVersion: v1
kind: Pod
metadata: {name: empty}
spec:
  units: [{name: main}]
`,
    expect: [/document 2/, /spec\.units\[0\]/, /image or a command/],
  },
  {
    name: "memory no instance type can hold",
    doc: `apiVersion: v1
kind: Pod
metadata: {name: huge}
spec:
  resources: {memory: 64Ti}
  units: [{name: main, command: [serve]}]
`,
    expect: [/document 2/, /64Ti/, /fits no instance type/],
  },
  {
    name: "an unknown field",
    doc: `apiVersion: v1
kind: Pod
metadata: {name: typo}
spec:
  containers: [{name: main, image: nginx}]
`,
    expect: [/document 2/, /spec\.containers/],
  },
  {
    name: "broken YAML",
    doc: `apiVersion: v1
kind: Pod
metadata: {name: broken
spec: [
`,
    expect: [/document 2/],
  },
];

Deno.test("create -f with a bad document exits non-zero, names it, and creates nothing", async (t) => {
  const c = await startSimCluster();
  const dir = await Deno.makeTempDir();
  try {
    for (const k of CASES) {
      await t.step(k.name, async () => {
        const file = `${dir}/m.yml`;
        await Deno.writeTextFile(file, `${GOOD}---\n${k.doc}`);
        const r = await milpactl(c.controller.url, c.controller.token, dir, "create", "-f", file);
        assert.notEqual(r.code, 0, r.stdout);
        for (const re of k.expect) assert.match(r.stderr, re);
        assert.equal((await c.controller.store.list("pods")).length, 0, "nothing was created");
      });
    }
  } finally {
    await c.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the API refuses requests without the token", async () => {
  const c = await startSimCluster();
  try {
    for (const path of ["/api/v1/namespaces/default/pods", "/api/v1/nodes", "/version"]) {
      const r = await fetch(`${c.controller.url}${path}`);
      assert.equal(r.status, 401, path);
      const body = await r.json();
      assert.equal(body.reason, "Unauthorized");
    }
    const wrong = await fetch(`${c.controller.url}/api/v1/namespaces/default/pods`, {
      headers: { Authorization: "Bearer nope" },
    });
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const r = await milpactl(c.controller.url, "wrong-token", ROOT, "get", "pods");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /token/i);
  } finally {
    await c.close();
  }
});
