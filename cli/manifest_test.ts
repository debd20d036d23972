import assert from "node:assert/strict";
import { ManifestError } from "./errors.ts";
import { describeDocument, manifestWarnings, parseManifest, readManifests } from "./manifest.ts";

const POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  units:\n  - name: u\n";
const SVC = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-svc\nspec:\n  ports: []\n";

Deno.test("parseManifest() reads every --- document in order", () => {
  const docs = parseManifest(`${POD}---\n${SVC}`, "app.yml");
  assert.deepEqual(docs.map((d) => [d.document, d.object.kind]), [[1, "Pod"], [2, "Service"]]);
  assert.equal(docs[0].source, "app.yml");
});

Deno.test("parseManifest() skips empty documents but keeps counting them", () => {
  const docs = parseManifest(`---\n${POD}---\n# nothing here\n---\n${SVC}---\n`, "app.yml");
  assert.deepEqual(docs.map((d) => d.document), [1, 3]);
  assert.deepEqual(parseManifest("", "empty.yml"), []);
  assert.deepEqual(parseManifest("# only a comment\n", "c.yml"), []);
});

Deno.test("parseManifest() reads a JSON object", () => {
  const docs = parseManifest('{"kind": "Pod", "metadata": {"name": "web"}}', "pod.json");
  assert.equal(docs.length, 1);
  assert.deepEqual(docs[0].object, { kind: "Pod", metadata: { name: "web" } });
});

Deno.test("parseManifest() expands a List into its items", () => {
  const text = JSON.stringify({
    kind: "List",
    apiVersion: "v1",
    items: [{ kind: "Pod", metadata: { name: "a" } }, { kind: "Service", metadata: { name: "b" } }],
  });
  const docs = parseManifest(text, "list.json");
  assert.deepEqual(docs.map((d) => [d.document, d.item, d.object.kind]), [
    [1, 1, "Pod"],
    [1, 2, "Service"],
  ]);
  assert.equal(describeDocument(docs[1]), 'list.json: document 1 item 2 (Service "b")');
});

Deno.test("parseManifest() names the document, line and column of a YAML syntax error", () => {
  assert.throws(
    () => parseManifest(`${POD}---\nkind: Service\nspec: [1,\n`, "app.yml"),
    (err: unknown) => {
      assert.ok(err instanceof ManifestError);
      assert.match(err.message, /^app\.yml: document 2: .*at line \d+, column \d+/);
      return true;
    },
  );
});

Deno.test("parseManifest() rejects a document that is not an object", () => {
  assert.throws(
    () => parseManifest(`${POD}---\n42\n`, "app.yml"),
    /app\.yml: document 2: expected an object with kind and metadata, got a number/,
  );
  assert.throws(
    () => parseManifest(`${POD}---\n- a\n- b\n`, "app.yml"),
    /app\.yml: document 2 item 1: expected an object, got a string/,
  );
  assert.throws(() => parseManifest("just a string\n", "s.yml"), /got a string/);
});

Deno.test("parseManifest() falls back to YAML errors for broken JSON", () => {
  assert.throws(() => parseManifest('{"kind": "Pod",', "bad.json"), /bad\.json: document 1: /);
});

Deno.test("readManifests() reads files and stdin, and fails before returning anything", async () => {
  const files: Record<string, string> = { "a.yml": POD, "b.yml": "kind: [" };
  const ctx = {
    readTextFile: (path: string) =>
      path in files ? Promise.resolve(files[path]) : Promise.reject(new Deno.errors.NotFound()),
    readStdin: () => Promise.resolve(SVC),
  };
  const docs = await readManifests(ctx, ["a.yml", "-"]);
  assert.deepEqual(docs.map((d) => d.source), ["a.yml", "stdin"]);
  await assert.rejects(readManifests(ctx, ["a.yml", "b.yml"]), /b\.yml: document 1/);
  await assert.rejects(readManifests(ctx, ["nope.yml"]), /nope\.yml: cannot read: no such file/);
  files["empty.yml"] = "---\n";
  await assert.rejects(readManifests(ctx, ["empty.yml"]), /no objects found in empty\.yml/);
});

Deno.test("manifestWarnings() warns about containers without units", () => {
  const [pod] = parseManifest("kind: Pod\nmetadata: {name: web}\nspec:\n  containers: []\n", "p");
  assert.deepEqual(manifestWarnings(pod), [
    'p: document 1 (Pod "web"): has "containers" but no "units": Milpa uses "units", not "containers"',
  ]);
  const [deploy] = parseManifest(
    "kind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      containers: []\n",
    "d",
  );
  assert.equal(manifestWarnings(deploy).length, 1);
  const [ok] = parseManifest(POD, "ok");
  assert.deepEqual(manifestWarnings(ok), []);
});
