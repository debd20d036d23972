import assert from "node:assert/strict";
import { z } from "zod";
import { formatPath, issuesToFieldErrors, rule } from "./issues.ts";

function fieldErrors(schema: z.ZodType, value: unknown) {
  const result = schema.safeParse(value, { reportInput: true });
  return result.success ? [] : issuesToFieldErrors(result.error.issues, "spec");
}

Deno.test("formatPath() writes fields with dots, indexes and odd keys in brackets", () => {
  assert.equal(formatPath(["spec", "units", 0, "command"]), "spec.units[0].command");
  assert.equal(
    formatPath(["labels", "app.example.com/tier"], "metadata"),
    "metadata.labels[app.example.com/tier]",
  );
  assert.equal(formatPath([0, "x"]), "[0].x");
  assert.equal(formatPath([], "spec"), "spec");
});

Deno.test("issuesToFieldErrors() words zod's issues our way, with the bad value", () => {
  const schema = z.strictObject({
    name: z.string(),
    image: z.string(),
    policy: z.enum(["Always", "Never"]),
    version: z.literal("v1"),
    count: z.number().int().min(1).max(3),
    tags: z.array(z.string()).min(1),
    flag: z.boolean(),
    map: z.record(z.string(), z.string()),
    empty: z.string(),
    text: z.string().min(1),
  });
  const errors = fieldErrors(schema, {
    image: 5,
    policy: "Sometimes",
    version: "v2",
    count: 7,
    tags: [],
    flag: "yes",
    map: [],
    empty: null,
    text: "",
    extra: 1,
  });
  assert.deepEqual(errors, [
    { field: "spec.name", message: "required" },
    { field: "spec.image", message: 'must be a string; put quotes around "5"', value: 5 },
    { field: "spec.policy", message: 'must be one of "Always", "Never"', value: "Sometimes" },
    { field: "spec.version", message: 'must be "v1"', value: "v2" },
    { field: "spec.count", message: "must be at most 3", value: 7 },
    { field: "spec.tags", message: "must have at least 1 item", value: [] },
    { field: "spec.flag", message: "must be true or false", value: "yes" },
    { field: "spec.map", message: "must be a map", value: [] },
    { field: "spec.empty", message: "must not be empty", value: null },
    { field: "spec.text", message: "must not be empty", value: "" },
    { field: "spec.extra", message: "unknown field", value: 1 },
  ]);
});

Deno.test("issuesToFieldErrors() adds a hint to unknown Kubernetes fields", () => {
  const errors = fieldErrors(z.strictObject({}), { targetPort: 80, requests: {} });
  assert.deepEqual(errors.map((e) => e.message), [
    'unknown field; Milpa service ports have "nodePort" (the port on the pod\'s node), not "targetPort"',
    'unknown field; Milpa resources are flat ("memory: 1Gi"), with no "requests" or "limits"',
  ]);
});

Deno.test("rule() reports at paths relative to the checked object", () => {
  const schema = z.strictObject({ a: z.number(), b: z.number() }).check(
    rule(["a", "b"], (v, report) => {
      if (v.a > v.b) report(["b"], "must be at least a", v.b);
    }),
  );
  assert.deepEqual(fieldErrors(schema, { a: 2, b: 1 }), [
    { field: "spec.b", message: "must be at least a", value: 1 },
  ]);
});

Deno.test("rule() runs despite type errors elsewhere but not in what it reads", () => {
  let runs = 0;
  const schema = z.strictObject({
    items: z.array(z.strictObject({ name: z.string(), size: z.number() })),
    other: z.number(),
  }).check(rule(["items.*.name"], () => void runs++));
  fieldErrors(schema, { items: [{ name: "a", size: "big" }], other: "x", extra: true });
  assert.equal(runs, 1);
  fieldErrors(schema, { items: [{ name: 1, size: 1 }], other: 1 });
  assert.equal(runs, 1);
  fieldErrors(schema, { items: [5], other: 1 });
  assert.equal(runs, 1);
  fieldErrors(schema, "not an object");
  assert.equal(runs, 1);
});

Deno.test('rule() with "all" is skipped by any type error inside the value', () => {
  let runs = 0;
  const schema = z.array(z.string()).check(rule("all", () => void runs++));
  fieldErrors(schema, ["a", "b"]);
  fieldErrors(schema, ["a", 1]);
  assert.equal(runs, 1);
});
