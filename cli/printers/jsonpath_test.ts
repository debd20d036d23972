import assert from "node:assert/strict";
import { applyTemplate, loadJsonPath, parseTemplate, TemplateError } from "./jsonpath.ts";

await loadJsonPath();

const web = {
  kind: "Pod",
  metadata: {
    name: "web",
    labels: { "app.kubernetes.io/name": "web", tier: "front" },
  },
  spec: { units: [{ name: "web", image: "nginx:1" }, { name: "log", image: "busybox" }] },
  status: {
    phase: "Running",
    conditions: [{ type: "Ready", status: "True" }],
    restarts: 2,
    ready: true,
  },
};
const db = {
  kind: "Pod",
  metadata: { name: "db" },
  spec: { units: [{ name: "db", image: "redis:7" }] },
  status: { phase: "Waiting" },
};
const list = { kind: "PodList", apiVersion: "v1", metadata: {}, items: [web, db] };

const run = (template: string, value: unknown = list) =>
  applyTemplate(parseTemplate(template), value);

Deno.test("applyTemplate() prints one field of an object", () => {
  assert.equal(run("{.status.phase}", web), "Running");
  assert.equal(run("{.status.restarts} {.status.ready}", web), "2 true");
});

Deno.test("applyTemplate() joins several results by spaces, as kubectl does", () => {
  assert.equal(run("{.items[*].metadata.name}"), "web db");
  assert.equal(run("{.items[*].spec.units[*].image}"), "nginx:1 busybox redis:7");
});

Deno.test("applyTemplate() prints objects and arrays as compact JSON with sorted keys", () => {
  assert.equal(
    run("{.metadata.labels}", web),
    '{"app.kubernetes.io/name":"web","tier":"front"}',
  );
  assert.equal(run("{.status.conditions}", web), '[{"status":"True","type":"Ready"}]');
});

Deno.test("applyTemplate() repeats a range for each result, with quoted escapes", () => {
  assert.equal(
    run('{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}'),
    "web\tRunning\ndb\tWaiting\n",
  );
  assert.equal(run("{range .items[*]}[{.metadata.name}]{end}"), "[web][db]");
  assert.equal(run("{range .items[*]}{@.metadata.name}{'\\n'}{end}"), "web\ndb\n");
});

Deno.test("applyTemplate() nests ranges and reads the root with $ inside one", () => {
  assert.equal(
    run("{range .items[*]}{.metadata.name}:{range .spec.units[*]} {.name}{end};{end}"),
    "web: web log;db: db;",
  );
  assert.equal(run("{range .items[*]}{$.kind}/{.metadata.name} {end}"), "PodList/web PodList/db ");
});

Deno.test("applyTemplate() keeps text outside actions as it is", () => {
  assert.equal(run("name: {.metadata.name}\\n", web), "name: web\\n");
  assert.equal(run("no actions at all", web), "no actions at all");
});

Deno.test("applyTemplate() prints nothing for a missing field, as kubectl does by default", () => {
  assert.equal(run("[{.status.nope}]", web), "[]");
  assert.equal(run("{range .nope[*]}x{end}done", web), "done");
});

Deno.test("applyTemplate() evaluates filters and reads escaped dots as part of a name", () => {
  assert.equal(
    run('{.items[?(@.status.phase=="Running")].metadata.name}'),
    "web",
  );
  assert.equal(run("{.status.conditions[?(@.type=='Ready')].status}", web), "True");
  assert.equal(run("{.metadata.labels.app\\.kubernetes\\.io/name}", web), "web");
});

Deno.test("applyTemplate() prints the whole value for {@} and {$}", () => {
  assert.equal(run("{@}", { a: 1 }), '{"a":1}');
  assert.equal(run("{range .items[*].metadata.name}{@},{end}"), "web,db,");
});

Deno.test("parseTemplate() names the template and the problem", () => {
  const cases: [string, RegExp][] = [
    ["", /jsonpath template is empty/],
    ["{.items[*]", /"\{\.items\[\*\]": "\{" at character 1 is never closed/],
    ["{range .items[*]}{.metadata.name}", /\{range\} at character 1 has no \{end\}/],
    ["x{end}", /\{end\} at character 2 closes no \{range\}/],
    ["{}", /empty \{\} at character 1/],
    ["{range}", /needs an expression/],
    ["{metadata.name}", /\{metadata\.name\} is not a JSONPath: start it with "\."/],
    ["{.items[0}", /unclosed "\[" in \{\.items\[0\}/],
    ["{.a)}", /unexpected "\)" in \{\.a\)\}/],
    ['{"\\q"}', /unknown escape "\\q"/],
  ];
  for (const [template, message] of cases) {
    assert.throws(() => parseTemplate(template), (err: Error) => {
      assert.ok(err instanceof TemplateError, template);
      assert.match(err.message, message);
      if (template) assert.ok(err.message.includes(`"${template}"`), err.message);
      return true;
    });
  }
});

Deno.test("applyTemplate() names the template when an expression cannot be evaluated", () => {
  assert.throws(
    () => run("{.items[?(@.a=)]}"),
    (err: Error) =>
      err instanceof TemplateError &&
      /cannot evaluate \{\.items\[\?\(@\.a=\)\]\} of jsonpath template "\{\.items\[\?\(@\.a=\)\]\}"/
        .test(err.message),
  );
});
