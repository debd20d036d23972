import assert from "node:assert/strict";
import { EXIT } from "../errors.ts";
import { run } from "../program.ts";
import { contextFor, FakeApi, object } from "./fake_api.ts";

Deno.test("milpactl describe TYPE/NAME... describes objects of several kinds, reporting missing ones", async () => {
  const api = new FakeApi()
    .with("services", object("svc", "web", { spec: { ports: [{ port: 80 }] } }))
    .with("pods", object("pod", "db", { spec: { units: [{ name: "db", command: ["x"] }] } }));
  const { ctx, stdout, stderr } = contextFor(api);
  assert.equal(await run(["describe", "svc/web", "pod/db", "pod/gone"], ctx), EXIT.api);
  const names = [...stdout.text.matchAll(/^Name:\s+(\S+)$/gm)].map((m) => m[1]);
  assert.deepEqual(names, ["web", "db"]);
  assert.equal(stderr.text, 'Error: pods "gone" not found\n');
});

Deno.test("milpactl describe with nothing found says so", async () => {
  const { ctx, stdout, stderr } = contextFor(new FakeApi());
  assert.equal(await run(["describe", "deploy,rs"], ctx), 0);
  assert.equal(stdout.text, "");
  assert.equal(stderr.text, "No resources found in default namespace.\n");
  const nodes = contextFor(new FakeApi());
  assert.equal(await run(["describe", "nodes"], nodes.ctx), 0);
  assert.equal(nodes.stderr.text, "No resources found.\n");
});
