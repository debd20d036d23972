import assert from "node:assert/strict";
import { readSse, type SseMessage } from "./sse.ts";

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<SseMessage[]> {
  const out: SseMessage[] = [];
  for await (const m of readSse(stream)) out.push(m);
  return out;
}

Deno.test("readSse() yields event and data of each frame, skipping comments", async () => {
  const messages = await collect(streamOf(
    'event: ADDED\ndata: {"a":1}\n\n',
    ": keepalive\n\n",
    'event: DELETED\r\ndata: {"b":2}\r\n\r\n',
  ));
  assert.deepEqual(messages, [
    { event: "ADDED", data: '{"a":1}' },
    { event: "DELETED", data: '{"b":2}' },
  ]);
});

Deno.test("readSse() joins frames split across chunks and multi-line data", async () => {
  const messages = await collect(streamOf("eve", "nt: MODIFIED\nda", "ta: x\ndata:y\r", "\n\n"));
  assert.deepEqual(messages, [{ event: "MODIFIED", data: "x\ny" }]);
});

Deno.test("readSse() drops a frame the stream ended in", async () => {
  assert.deepEqual(await collect(streamOf("data: a\n\ndata: b\n")), [
    { event: "message", data: "a" },
  ]);
});

Deno.test("readSse() reads a watch's last ERROR event, as the controller writes it", async () => {
  const status = '{"kind":"Status","code":410,"reason":"Expired","message":"too slow"}';
  assert.deepEqual(await collect(streamOf(`event: ERROR\ndata: ${status}\n\n`)), [
    { event: "ERROR", data: status },
  ]);
});
