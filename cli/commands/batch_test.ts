import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { parseManifest } from "../manifest.ts";
import { formatBatchItem, withNamespace } from "./batch.ts";

Deno.test("formatBatchItem() prints kubectl's words for each action", () => {
  const item = { kind: "Pod", namespace: "default", name: "helloworld" };
  assert.equal(formatBatchItem({ ...item, action: "created" }), "pod/helloworld created");
  assert.equal(formatBatchItem({ ...item, action: "updated" }), "pod/helloworld configured");
  assert.equal(formatBatchItem({ ...item, action: "unchanged" }), "pod/helloworld unchanged");
  assert.equal(
    formatBatchItem({ kind: "Deployment", name: "x", action: "deleted" }),
    "deployment/x deleted",
  );
});

Deno.test("withNamespace() fills in an explicit -n and rejects a different one", () => {
  const docs = parseManifest(
    "kind: Pod\nmetadata: {name: a}\n---\nkind: Node\nmetadata: {name: n}\n",
    "f.yml",
  );
  const placed = withNamespace(docs, "web");
  assert.deepEqual(placed[0].object.metadata, { name: "a", namespace: "web" });
  assert.deepEqual(placed[1].object.metadata, { name: "n" });
  assert.equal(withNamespace(docs, undefined), docs);
  const other = parseManifest("kind: Pod\nmetadata: {name: a, namespace: db}\n", "f.yml");
  assert.throws(() => withNamespace(other, "web"), UsageError);
});
