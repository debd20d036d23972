import assert from "node:assert/strict";
import { frameTooBig, MAX_AGENT_MESSAGE_BYTES } from "./agent_protocol.ts";

Deno.test("frameTooBig() counts a string's UTF-8 bytes", () => {
  assert.equal(frameTooBig("abcd", 4), false);
  assert.equal(frameTooBig("abcde", 4), true);
  assert.equal(frameTooBig("éé", 4), false);
  assert.equal(frameTooBig("ééa", 4), true, "é takes two bytes");
  assert.equal(frameTooBig("€a", 4), false);
  assert.equal(frameTooBig("€€", 5), true, "€ takes three");
  assert.equal(frameTooBig("😀", 4), false, "a surrogate pair is one 4-byte character");
  assert.equal(frameTooBig("😀a", 4), true);
  assert.equal(frameTooBig("\ud800a", 4), false, "a lone surrogate is sent as U+FFFD, 3 bytes");
  assert.equal(frameTooBig("\ud800ab", 4), true);
});

Deno.test("frameTooBig() takes binary frames by their byte length", () => {
  assert.equal(frameTooBig(new Uint8Array(4), 4), false);
  assert.equal(frameTooBig(new ArrayBuffer(5), 4), true);
  assert.equal(frameTooBig(new Blob(["12345"]), 4), true);
});

Deno.test("frameTooBig() defaults to MAX_AGENT_MESSAGE_BYTES", () => {
  assert.equal(frameTooBig("x".repeat(MAX_AGENT_MESSAGE_BYTES)), false);
  assert.equal(frameTooBig("x".repeat(MAX_AGENT_MESSAGE_BYTES + 1)), true);
});
