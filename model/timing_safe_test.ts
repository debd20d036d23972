import assert from "node:assert/strict";
import { timingSafeEqual } from "./timing_safe.ts";

Deno.test("timingSafeEqual agrees with === on equal, different, prefix, empty and non-ASCII strings", () => {
  const cases: [string, string][] = [
    ["", ""],
    ["", "a"],
    ["token", "token"],
    ["token", "tokem"],
    ["token", "token2"],
    ["abc\0", "abc"],
    ["\0", ""],
    ["é", "e\u0301"],
    ["😀", "😀"],
    ["😀", "😁"],
    ["\ud83d", "\ud83d\ude00"],
  ];
  for (const [a, b] of cases) {
    assert.equal(timingSafeEqual(a, b), a === b, JSON.stringify([a, b]));
    assert.equal(timingSafeEqual(b, a), a === b, JSON.stringify([b, a]));
  }
  for (let i = 0; i < 500; i++) {
    const a = crypto.randomUUID().slice(0, i % 37);
    const b = i % 3 ? a : crypto.randomUUID().slice(0, i % 41);
    assert.equal(timingSafeEqual(a, b), a === b);
  }
});
