import assert from "node:assert/strict";
import { InvalidArgumentError } from "commander";
import { parseDuration, parseGetOutput } from "./flags.ts";

Deno.test("parseDuration() reads Go-style durations in milliseconds", () => {
  assert.equal(parseDuration("90s"), 90_000);
  assert.equal(parseDuration("5m"), 300_000);
  assert.equal(parseDuration("1h30m"), 5_400_000);
  assert.equal(parseDuration("1m30s"), 90_000);
  assert.equal(parseDuration("500ms"), 500);
  assert.equal(parseDuration("1.5s"), 1500);
  assert.equal(parseDuration("0"), 0);
  assert.equal(parseDuration("0s"), 0);
});

Deno.test("parseDuration() refuses a number without unit and other text", () => {
  for (const bad of ["90", "5 m", "m", "", "1d", "-1s", "1s2", "soon"]) {
    assert.throws(() => parseDuration(bad), InvalidArgumentError, bad);
  }
});

Deno.test("parseGetOutput() takes the formats, jsonpath=TEMPLATE and kubectl's -o=FORMAT", () => {
  for (const format of ["json", "yaml", "wide", "name"]) {
    assert.equal(parseGetOutput(format), format);
  }
  assert.equal(parseGetOutput("jsonpath={.kind}"), "jsonpath={.kind}");
  assert.equal(parseGetOutput("=json"), "json");
});

Deno.test("parseGetOutput() refuses other formats, naming the value", () => {
  assert.throws(() => parseGetOutput("xml"), /unknown output format "xml": use json, yaml, wide/);
  assert.throws(() => parseGetOutput("jsonpath"), /"jsonpath" \(give the template/);
  assert.throws(() => parseGetOutput("custom-columns=NAME:.metadata.name"), InvalidArgumentError);
});
