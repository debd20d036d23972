import assert from "node:assert/strict";
import { MAX_LINE_CHARS, UnitLog } from "./logs.ts";

Deno.test("UnitLog.tail() returns the last N lines, or all kept lines", () => {
  const log = new UnitLog();
  log.write("stdout", "one\ntwo\nthree\n");
  assert.equal(log.tail(), "one\ntwo\nthree\n");
  assert.equal(log.tail(0), "one\ntwo\nthree\n");
  assert.equal(log.tail(2), "two\nthree\n");
  assert.equal(log.tail(10), "one\ntwo\nthree\n");
  assert.equal(new UnitLog().tail(), "");
});

Deno.test("UnitLog keeps partial lines until their newline, without duplicates", () => {
  const log = new UnitLog();
  const seen: string[] = [];
  log.follow((text) => seen.push(text));
  log.write("stdout", "hel");
  assert.equal(log.tail(), "");
  log.write("stdout", "lo\nwor");
  log.write("stderr", "oops\n");
  log.write("stdout", "ld\n");
  assert.equal(log.tail(), "hello\noops\nworld\n");
  assert.deepEqual(seen, ["hello\n", "oops\n", "world\n"]);
});

Deno.test("UnitLog.flush() keeps a final partial line when the stream ends", () => {
  const log = new UnitLog();
  log.write("stdout", "no newline");
  log.flush();
  log.flush();
  assert.equal(log.tail(), "no newline\n");
});

Deno.test("UnitLog cuts a partial line longer than MAX_LINE_CHARS", () => {
  const log = new UnitLog();
  log.write("stdout", "x".repeat(MAX_LINE_CHARS + 5));
  assert.equal(log.lineCount, 1);
  log.write("stdout", "\n");
  assert.equal(log.tail(), "x".repeat(MAX_LINE_CHARS) + "\nxxxxx\n");
});

Deno.test("UnitLog.sink() decodes UTF-8 split across chunks", () => {
  const log = new UnitLog();
  const bytes = new TextEncoder().encode("héllo\nwörld");
  const sink = log.sink("stdout");
  for (const byte of bytes) sink.write(Uint8Array.of(byte));
  sink.end();
  assert.equal(log.tail(), "héllo\nwörld\n");
});

Deno.test("UnitLog keeps only the last `capacity` lines", () => {
  const log = new UnitLog({ capacity: 3 });
  for (let i = 1; i <= 7; i++) log.write("stdout", `line ${i}\n`);
  assert.equal(log.lineCount, 3);
  assert.equal(log.tail(), "line 5\nline 6\nline 7\n");
  assert.equal(log.tail(2), "line 6\nline 7\n");
});

Deno.test("UnitLog keeps 4096 lines by default", () => {
  const log = new UnitLog();
  log.write("stdout", Array.from({ length: 5000 }, (_, i) => `${i}\n`).join(""));
  assert.equal(log.lineCount, 4096);
  assert.equal(log.tail(1), "4999\n");
  assert.equal(log.tail().split("\n")[0], "904");
});

Deno.test("UnitLog.follow() stops on cancel and ends on close", () => {
  const log = new UnitLog();
  const a: string[] = [];
  const b: string[] = [];
  let ended = 0;
  const cancelA = log.follow((t) => a.push(t));
  log.follow((t) => b.push(t), () => ended++);
  log.write("stdout", "1\n");
  cancelA();
  log.write("stdout", "2\npartial");
  log.close();
  log.write("stdout", "after close\n");
  assert.deepEqual(a, ["1\n"]);
  assert.deepEqual(b, ["1\n", "2\n", "partial\n"]);
  assert.equal(ended, 1);
  log.follow(() => {}, () => ended++);
  assert.equal(ended, 2);
});

Deno.test("UnitLog appends lines to its file across reopenings", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/web.log`;
    const first = new UnitLog({ file });
    first.write("stdout", "a\nb");
    first.close();
    const second = new UnitLog({ file });
    second.write("stderr", "c\n");
    second.close();
    assert.equal(await Deno.readTextFile(file), "a\nb\nc\n");
    assert.equal(second.tail(), "c\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
