import assert from "node:assert/strict";
import { age, shortHumanDuration } from "./age.ts";

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

Deno.test("shortHumanDuration() picks the largest whole unit", () => {
  assert.equal(shortHumanDuration(0), "0s");
  assert.equal(shortHumanDuration(59.9 * S), "59s");
  assert.equal(shortHumanDuration(60 * S), "1m");
  assert.equal(shortHumanDuration(59 * M + 59 * S), "59m");
  assert.equal(shortHumanDuration(H), "1h");
  assert.equal(shortHumanDuration(23 * H + 59 * M), "23h");
  assert.equal(shortHumanDuration(D), "1d");
  assert.equal(shortHumanDuration(363 * D), "363d");
  assert.equal(shortHumanDuration(365 * D), "1y");
  assert.equal(shortHumanDuration(3 * 365 * D + 5 * D), "3y");
});

Deno.test("shortHumanDuration() tolerates under 2 s of clock skew", () => {
  assert.equal(shortHumanDuration(-1.9 * S), "0s");
  assert.equal(shortHumanDuration(-2 * S), "<invalid>");
  assert.equal(shortHumanDuration(-H), "<invalid>");
});

Deno.test("age() measures from an RFC 3339 timestamp", () => {
  const now = Date.parse("2024-05-01T12:00:00Z");
  assert.equal(age("2024-05-01T11:57:00Z", now), "3m");
  assert.equal(age("2024-05-01T12:00:00.000-00:00", now), "0s");
  assert.equal(age("2024-04-28T12:00:00+00:00", now), "3d");
});

Deno.test("age() is <unknown> for a missing, zero or unparseable time", () => {
  assert.equal(age(undefined, 0), "<unknown>");
  assert.equal(age("", 0), "<unknown>");
  assert.equal(age("0001-01-01T00:00:00Z", Date.now()), "<unknown>");
  assert.equal(age("yesterday", Date.now()), "<unknown>");
});
