import assert from "node:assert/strict";
import type { z } from "zod";
import {
  annotations,
  duplicates,
  intOrPercent,
  labels,
  objectMeta,
  portNumber,
  positiveQuantity,
} from "./common.ts";
import { dns1123SubdomainProblem } from "./formats.ts";
import { issuesToFieldErrors } from "./issues.ts";

function messages(schema: z.ZodType, value: unknown): string[] {
  const result = schema.safeParse(value, { reportInput: true });
  return result.success
    ? []
    : issuesToFieldErrors(result.error.issues).map((e) => `${e.field}: ${e.message}`);
}

Deno.test("positiveQuantity takes strings and numbers and returns strings", () => {
  assert.equal(positiveQuantity.parse("0.4Gi"), "0.4Gi");
  assert.equal(positiveQuantity.parse(2), "2");
  assert.deepEqual(messages(positiveQuantity, "lots"), [': invalid quantity "lots"']);
  assert.deepEqual(messages(positiveQuantity, 0), [": must be greater than 0"]);
  assert.deepEqual(messages(positiveQuantity, []), [
    ': must be a quantity such as "512Mi" or "0.5"',
  ]);
});

Deno.test("intOrPercent takes non-negative integers and integer percentages", () => {
  for (const ok of [0, 1, "0%", "25%", "100%"]) {
    assert.deepEqual(messages(intOrPercent, ok), [], String(ok));
  }
  for (const bad of [-1, 1.5, "25", "2.5%", "%", true]) {
    assert.deepEqual(
      messages(intOrPercent, bad),
      [': must be a non-negative integer or a percentage such as "25%"'],
      String(bad),
    );
  }
});

Deno.test("portNumber takes 1-65535", () => {
  assert.deepEqual(messages(portNumber, 8002), []);
  assert.deepEqual(messages(portNumber, 0), [": must be between 1 and 65535"]);
});

Deno.test("labels checks keys and values", () => {
  assert.deepEqual(messages(labels, { app: "helloworld", "svc.example.com/tier": "" }), []);
  assert.deepEqual(messages(labels, { "a b": "x" }).map((m) => m.split(":")[0]), ["[a b]"]);
});

Deno.test("annotations allow any value but at most 256 KiB in all", () => {
  assert.deepEqual(messages(annotations, { note: "any text: with spaces!" }), []);
  assert.deepEqual(messages(annotations, { a: "x".repeat(256 * 1024 - 1) }), []);
  assert.deepEqual(messages(annotations, { a: "x".repeat(256 * 1024) }), [
    ": take 262145 bytes; at most 262144 are allowed",
  ]);
});

Deno.test("objectMeta requires a name of the kind's format and knows server fields", () => {
  const meta = objectMeta(dns1123SubdomainProblem);
  assert.deepEqual(
    messages(meta, { name: "web", uid: "x", generation: 2, resourceVersion: "7" }),
    [],
  );
  assert.deepEqual(messages(meta, { labels: {} }), ["name: required"]);
  assert.deepEqual(messages(meta, { name: "web", namespace: "Team" }).map((m) => m.split(":")[0]), [
    "namespace",
  ]);
  assert.deepEqual(messages(meta, { name: "web", finalizers: [] }), ["finalizers: unknown field"]);
});

Deno.test("duplicates() lists repeats with the index of the first, skipping undefined keys", () => {
  const items = ["a", "b", "a", undefined, undefined, "a"];
  assert.deepEqual(duplicates(items, (s) => s), [
    { index: 2, first: 0, key: "a", item: "a" },
    { index: 5, first: 0, key: "a", item: "a" },
  ]);
});
