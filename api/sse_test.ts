import assert from "node:assert/strict";
import { SSEStreamingApi } from "hono/streaming";
import type { TransitionRecorder } from "../actors/inspection.ts";
import type { MilpaObject } from "../model/meta.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { encodeFrame, SSE_CHUNK_BYTES, SSE_MAX_PENDING_BYTES, SseQueue } from "./sse.ts";
import { readAll, withTestApi } from "./testing.ts";

/** The messages of an SSE text: comments as `:text`, events as `event data`. */
function messages(text: string): string[] {
  return text.split("\n\n").filter(Boolean).map((block) => {
    if (block.startsWith(":")) return block;
    const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
    const data = [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join("\n");
    return `${event} ${data}`;
  });
}

/** The last message must be the too-slow Status, and it must be the last. */
function assertEndedTooSlow(all: string[]): void {
  const last = all.at(-1) ?? "";
  assert.ok(last.startsWith("ERROR "), `the stream ends with an ERROR event, not ${last}`);
  const status = JSON.parse(last.slice("ERROR ".length));
  assert.equal(status.kind, "Status");
  assert.equal(status.code, 410);
  assert.equal(status.reason, "Expired");
  assert.match(status.message, /fell more than \d+ bytes of events behind; list again/);
}

Deno.test("encodeFrame() writes the event and one data field per line", () => {
  const text = new TextDecoder().decode(encodeFrame({ event: "ADDED", data: "a\nb" }));
  assert.equal(text, "event: ADDED\ndata: a\ndata: b\n\n");
});

Deno.test("SseQueue.push() past maxPendingBytes drops what waits, ends the queue and calls onEnd once", () => {
  const queue = new SseQueue<string>((s) => ({ event: "E", data: s }), 1_000);
  let ended = 0;
  queue.onEnd(() => ended++);
  let pushed = 0;
  while (queue.open && pushed < 1_000) {
    queue.push("x".repeat(100));
    pushed++;
    assert.ok(queue.pendingBytes <= 1_000, `${queue.pendingBytes} bytes wait`);
  }
  assert.equal(queue.open, false, "the queue ended");
  assert.ok(pushed < 12, `ended after ${pushed} events`);
  assert.equal(queue.pendingBytes, 0, "what waited was dropped");
  assert.equal(ended, 1);
  queue.push("late");
  assert.equal(queue.pendingBytes, 0, "a closed queue takes nothing");
  queue.onEnd(() => ended++);
  assert.equal(ended, 2, "onEnd after the end runs at once");
});

Deno.test("SseQueue.pump() to a client that stopped reading sends ERROR after the write it is blocked in", async () => {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const stream = new SSEStreamingApi(writable, readable);
  const queue = new SseQueue<number>((n) => ({ event: "N", data: String(n) }), 1_000);
  const pumped = queue.pump(stream);
  for (let n = 0; queue.open; n++) queue.push(n);
  await pumped.then(() => stream.close());
  const all = messages(await readAll(stream.responseReadable));
  assert.ok(all.length <= 3, `only what was in flight came before the error: ${all}`);
  assertEndedTooSlow(all);
});

/** An SSE stream that records each write's bytes (as text) and never blocks. */
function recordingStream(): { stream: SSEStreamingApi; writes: string[] } {
  const writes: string[] = [];
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => void writes.push(new TextDecoder().decode(chunk)),
  });
  return { stream: new SSEStreamingApi(writable, new ReadableStream()), writes };
}

Deno.test("SseQueue.pump() sends the events waiting at once in one write, in order", async () => {
  const { stream, writes } = recordingStream();
  const queue = new SseQueue<number>((n) => ({ event: "N", data: String(n) }));
  for (let n = 0; n < 5; n++) queue.push(n);
  const pumped = queue.pump(stream);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(writes.length, 1, `one write for five waiting events, not ${writes.length}`);
  assert.deepEqual(messages(writes[0]), ["N 0", "N 1", "N 2", "N 3", "N 4"]);
  assert.equal(queue.pendingBytes, 0);
  queue.push(5);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepEqual(writes.slice(1).flatMap(messages), ["N 5"], "a later event goes on its own");
  queue.end();
  await pumped;
});

Deno.test("SseQueue.pump() writes at most SSE_CHUNK_BYTES (64 KiB) of waiting events at once; a larger event goes alone", async () => {
  const { stream, writes } = recordingStream();
  const queue = new SseQueue<string>((s) => ({ event: "E", data: s }));
  const big = "b".repeat(100_000);
  for (let n = 0; n < 40; n++) queue.push("x".repeat(10_000));
  queue.push(big);
  queue.push("last");
  const pumped = queue.pump(stream);
  while (queue.pendingBytes > 0) await new Promise((r) => setTimeout(r, 0));
  queue.end();
  await pumped;
  const events = writes.flatMap(messages);
  assert.equal(events.length, 42, "every event was sent once");
  assert.deepEqual(events.slice(-2), [`E ${big}`, "E last"], "in order");
  const sizes = writes.map((w) => new TextEncoder().encode(w).length);
  assert.ok(writes.length < 42, `${writes.length} writes for 42 events`);
  for (const [i, size] of sizes.entries()) {
    const alone = messages(writes[i]).length === 1;
    assert.ok(
      size <= SSE_CHUNK_BYTES || alone,
      `write ${i}: ${size} bytes of ${messages(writes[i]).length} events`,
    );
  }
});

/** An API on an in-memory KV with a transition recorder; `call` GETs a path. */
function withApi(
  fn: (api: {
    call: (path: string) => Promise<Response>;
    store: ObjectStore;
    recorder: TransitionRecorder;
  }) => Promise<void>,
): Promise<void> {
  return withTestApi(({ call, store, recorder }) =>
    fn({ call: (path) => call("GET", path), store, recorder })
  );
}

/** A pod of about `bytes` bytes of JSON. */
function bigPod(n: number, bytes: number): MilpaObject {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name: `web-${n}`,
      namespace: "default",
      resourceVersion: String(n),
      annotations: { filler: "x".repeat(bytes) },
    },
  } as MilpaObject;
}

Deno.test("API object watch ends with an ERROR event when its client reads nothing while changes pile up", async () => {
  await withApi(async ({ call, store }) => {
    const res = await call("/api/v1/namespaces/default/pods?watch=true");
    assert.equal(res.status, 200);
    // 12 MB of changes while the client reads nothing.
    for (let n = 0; n < 240; n++) store.emit({ type: "MODIFIED", object: bigPod(n, 50_000) });
    const text = await readAll(res.body!);
    assert.ok(
      text.length < SSE_MAX_PENDING_BYTES / 4,
      `the stream carried ${text.length} characters: the waiting changes were dropped`,
    );
    const all = messages(text);
    assert.equal(all[0], ": watching");
    assertEndedTooSlow(all);
  });
});

Deno.test("API actor watch ends with an ERROR event when its client reads nothing while changes pile up", async () => {
  await withApi(async ({ call, recorder }) => {
    const res = await call("/api/v1/actors?watch=true");
    assert.equal(res.status, 200);
    // Long ids make big summaries: 12 MB of changes while the client reads nothing.
    const id = `pod/default/${"x".repeat(50_000)}`;
    for (let n = 0; n < 240; n++) {
      recorder.record(id, "TICK", { status: "active", value: n % 2 ? "A" : "B" } as never);
    }
    const text = await readAll(res.body!);
    assert.ok(text.length < SSE_MAX_PENDING_BYTES / 4, `${text.length} characters`);
    assertEndedTooSlow(messages(text));
  });
});
