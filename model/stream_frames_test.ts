import assert from "node:assert/strict";
import {
  CHANNEL,
  decodeFrame,
  encodeFrame,
  parseResize,
  parseStatus,
  resizeFrame,
  statusFrame,
} from "./stream_frames.ts";

Deno.test("encodeFrame() puts the channel byte before the payload; decodeFrame() splits it", () => {
  const frame = encodeFrame(CHANNEL.stdout, "hé");
  assert.deepEqual([...frame], [1, 0x68, 0xc3, 0xa9]);
  const back = decodeFrame(frame.buffer);
  assert.equal(back?.channel, 1);
  assert.equal(new TextDecoder().decode(back?.payload), "hé");
  assert.deepEqual([...encodeFrame(CHANNEL.stdinEnd)], [5]);
});

Deno.test("decodeFrame() ignores empty and text frames", () => {
  assert.equal(decodeFrame(new ArrayBuffer(0)), undefined);
  assert.equal(decodeFrame("1abc"), undefined);
});

Deno.test("statusFrame() and parseStatus() carry the exit code or the error", () => {
  const f = decodeFrame(statusFrame({ exitCode: 137 }))!;
  assert.equal(f.channel, CHANNEL.status);
  assert.deepEqual(parseStatus(f.payload), { exitCode: 137 });
  assert.deepEqual(parseStatus('{"error":"no unit"}'), { error: "no unit" });
  assert.match(parseStatus("nope").error!, /bad status frame/);
  assert.match(parseStatus('{"exitCode":"3"}').error!, /bad status frame/);
});

Deno.test("parseResize() takes two positive integers below 65536 and nothing else", () => {
  const f = decodeFrame(resizeFrame({ cols: 132, rows: 50 }))!;
  assert.equal(f.channel, CHANNEL.resize);
  assert.deepEqual(parseResize(f.payload), { cols: 132, rows: 50 });
  const bad = (s: string) => parseResize(new TextEncoder().encode(s));
  assert.equal(bad('{"cols":0,"rows":5}'), undefined);
  assert.equal(bad('{"cols":70000,"rows":5}'), undefined);
  assert.equal(bad("{"), undefined);
});
