import assert from "node:assert/strict";
import { ValidationError } from "./errors.ts";
import {
  isEmptySelector,
  matchesSelector,
  normalizeSelector,
  parseSelectorString,
  selectorToString,
  validateSelector,
} from "./selector.ts";

Deno.test("normalizeSelector() reads the short map form as matchLabels", () => {
  assert.deepEqual(normalizeSelector({ app: "web" }), {
    matchLabels: { app: "web" },
    matchExpressions: [],
  });
});

Deno.test("normalizeSelector() fills the missing half of the long form", () => {
  assert.deepEqual(normalizeSelector({ matchLabels: { app: "web" } }), {
    matchLabels: { app: "web" },
    matchExpressions: [],
  });
  const expr = { key: "env", operator: "In" as const, values: ["a"] };
  assert.deepEqual(normalizeSelector({ matchExpressions: [expr] }), {
    matchLabels: {},
    matchExpressions: [expr],
  });
  assert.deepEqual(normalizeSelector(undefined), { matchLabels: {}, matchExpressions: [] });
});

Deno.test("normalizeSelector() returns a copy", () => {
  const sel = {
    matchLabels: { app: "web" },
    matchExpressions: [{ key: "x", operator: "In" as const, values: ["a"] }],
  };
  const out = normalizeSelector(sel);
  out.matchLabels.app = "changed";
  out.matchExpressions[0].values!.push("b");
  assert.equal(sel.matchLabels.app, "web");
  assert.deepEqual(sel.matchExpressions[0].values, ["a"]);
});

Deno.test("matchesSelector() requires every matchLabels pair", () => {
  assert.equal(matchesSelector({ app: "helloworld" }, { app: "helloworld", tier: "x" }), true);
  assert.equal(matchesSelector({ app: "helloworld" }, { app: "other" }), false);
  assert.equal(matchesSelector({ app: "web", tier: "fe" }, { app: "web" }), false);
  assert.equal(matchesSelector({ matchLabels: { app: "web" } }, undefined), false);
});

Deno.test("matchesSelector() applies each operator", () => {
  const labels = { env: "prod", app: "web" };
  const sel = (operator: "In" | "NotIn" | "Exists" | "DoesNotExist", values?: string[]) => ({
    matchExpressions: [{ key: "env", operator, values }],
  });
  assert.equal(matchesSelector(sel("In", ["prod", "dev"]), labels), true);
  assert.equal(matchesSelector(sel("In", ["dev"]), labels), false);
  assert.equal(matchesSelector(sel("In", ["dev"]), {}), false);
  assert.equal(matchesSelector(sel("NotIn", ["dev"]), labels), true);
  assert.equal(matchesSelector(sel("NotIn", ["prod"]), labels), false);
  assert.equal(matchesSelector(sel("NotIn", ["prod"]), {}), true);
  assert.equal(matchesSelector(sel("Exists"), labels), true);
  assert.equal(matchesSelector(sel("Exists"), {}), false);
  assert.equal(matchesSelector(sel("DoesNotExist"), labels), false);
  assert.equal(matchesSelector(sel("DoesNotExist"), {}), true);
});

Deno.test("matchesSelector() combines matchLabels and expressions with AND", () => {
  const sel = {
    matchLabels: { app: "web" },
    matchExpressions: [{ key: "env", operator: "NotIn" as const, values: ["dev"] }],
  };
  assert.equal(matchesSelector(sel, { app: "web", env: "prod" }), true);
  assert.equal(matchesSelector(sel, { app: "web", env: "dev" }), false);
  assert.equal(matchesSelector(sel, { app: "api", env: "prod" }), false);
});

Deno.test("matchesSelector() matches everything with an empty or absent selector", () => {
  assert.equal(matchesSelector({}, { app: "web" }), true);
  assert.equal(matchesSelector({ matchLabels: {} }, {}), true);
  assert.equal(matchesSelector(undefined, undefined), true);
  assert.equal(isEmptySelector({}), true);
  assert.equal(isEmptySelector({ app: "web" }), false);
});

Deno.test("parseSelectorString() reads every requirement form", () => {
  assert.deepEqual(parseSelectorString("app=web,tier!=db,env in (a,b),env notin (c),x,!y"), {
    matchLabels: { app: "web" },
    matchExpressions: [
      { key: "tier", operator: "NotIn", values: ["db"] },
      { key: "env", operator: "In", values: ["a", "b"] },
      { key: "env", operator: "NotIn", values: ["c"] },
      { key: "x", operator: "Exists" },
      { key: "y", operator: "DoesNotExist" },
    ],
  });
});

Deno.test("parseSelectorString() takes ==, spaces and empty values", () => {
  assert.deepEqual(parseSelectorString(" app == web , env in ( a , b ) , tier= "), {
    matchLabels: { app: "web", tier: "" },
    matchExpressions: [{ key: "env", operator: "In", values: ["a", "b"] }],
  });
  assert.deepEqual(parseSelectorString("app.example.com/tier=fe"), {
    matchLabels: { "app.example.com/tier": "fe" },
    matchExpressions: [],
  });
});

Deno.test("parseSelectorString() keeps a repeated key as an In requirement", () => {
  const sel = parseSelectorString("app=web,app=api");
  assert.deepEqual(sel.matchLabels, { app: "web" });
  assert.deepEqual(sel.matchExpressions, [{ key: "app", operator: "In", values: ["api"] }]);
  assert.equal(matchesSelector(sel, { app: "web" }), false);
});

Deno.test("parseSelectorString() returns the empty selector for an empty string", () => {
  assert.deepEqual(parseSelectorString(""), { matchLabels: {}, matchExpressions: [] });
  assert.deepEqual(parseSelectorString("  "), { matchLabels: {}, matchExpressions: [] });
});

Deno.test("parseSelectorString() throws ValidationError naming the bad part", () => {
  const cases: [string, string][] = [
    ["app=web,x y", '"x y"'],
    ["app=web,,b", '""'],
    ["env in ()", '"env in ()"'],
    ["Bad Key=x", '"Bad Key=x"'],
    ["app=bad value!", '"app=bad value!"'],
    ["app=a=b", '"app=a=b"'],
    ["env in (a", '"env in (a"'],
  ];
  for (const [input, part] of cases) {
    assert.throws(() => parseSelectorString(input), (e) => {
      assert.ok(e instanceof ValidationError, input);
      assert.ok(
        e.message.startsWith(`invalid label selector ${JSON.stringify(input)}: ${part}`),
        e.message,
      );
      assert.equal(e.fields[0].field, "labelSelector");
      return true;
    });
  }
});

Deno.test("selectorToString() prints the -l form that parses back", () => {
  const text = "app=web,tier!=db,env in (a,b),env notin (c,d),x,!y";
  assert.equal(selectorToString(parseSelectorString(text)), text);
  assert.equal(selectorToString({ app: "helloworld" }), "app=helloworld");
  assert.equal(selectorToString(undefined), "");
});

Deno.test("validateSelector() accepts both manifest forms", () => {
  assert.deepEqual(validateSelector({ app: "helloworld" }, "spec.selector"), []);
  assert.deepEqual(
    validateSelector({
      matchLabels: { app: "kibana" },
      matchExpressions: [{ key: "env", operator: "Exists" }],
    }, "spec.selector"),
    [],
  );
});

Deno.test("validateSelector() reports every bad part with its full path", () => {
  const errors = validateSelector({
    matchLabels: { "Bad Key": "x", app: "bad value!" },
    matchExpressions: [
      { key: "env", operator: "In" },
      { key: "x", operator: "Exists", values: ["a"] },
      { key: "y", operator: "Near" },
    ],
    app: "web",
  }, "spec.selector");
  assert.deepEqual(errors.map((e) => e.field), [
    "spec.selector.matchLabels.app",
    "spec.selector.matchLabels[Bad Key]",
    "spec.selector.matchExpressions[0].values",
    "spec.selector.matchExpressions[1].values",
    "spec.selector.matchExpressions[2].operator",
    "spec.selector.app",
  ]);
  assert.equal(errors[4].message, 'must be one of "In", "NotIn", "Exists", "DoesNotExist"');
  assert.equal(errors[5].message, "unknown field");
});

Deno.test("validateSelector() checks the short form's keys and values", () => {
  const errors = validateSelector({ app: 5, "-bad": "x" }, "spec.selector");
  assert.deepEqual(errors.map((e) => [e.field, e.message.split(":")[0]]), [
    ["spec.selector.app", 'must be a string; put quotes around "5"'],
    ["spec.selector[-bad]", 'invalid key "-bad"'],
  ]);
  assert.deepEqual(validateSelector("app=web", "spec.selector").map((e) => e.message), [
    "must be a map",
  ]);
});
