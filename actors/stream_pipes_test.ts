import assert from "node:assert/strict";
import { FakeClock } from "../model/fake_clock.ts";
import { passableCode, type StreamEnd, StreamPipe, StreamPipes } from "./stream_pipes.ts";

class End implements StreamEnd {
  sent: unknown[] = [];
  closedWith?: [number | undefined, string | undefined];
  send(data: string | ArrayBuffer | Uint8Array) {
    this.sent.push(data);
  }
  close(code?: number, reason?: string) {
    this.closedWith = [code, reason];
  }
}

const failFrame = (m: string) => `failed: ${m}`;

Deno.test("StreamPipe keeps client frames until the agent joins, then pipes both ways", () => {
  const client = new End();
  const agent = new End();
  const pipe = new StreamPipe("s1", "node-a", client, failFrame);
  pipe.fromClient("early");
  pipe.agentJoined(agent);
  assert.deepEqual(agent.sent, ["early"]);
  pipe.fromClient("later");
  pipe.fromAgent("out");
  assert.deepEqual(agent.sent, ["early", "later"]);
  assert.deepEqual(client.sent, ["out"]);
  pipe.agentClosed(1000, "done");
  assert.deepEqual(client.closedWith, [1000, "done"]);
  assert.ok(pipe.closed);
});

Deno.test("StreamPipe closes the agent's end when the client goes (ending the command)", () => {
  const client = new End();
  const agent = new End();
  const pipe = new StreamPipe("s1", "node-a", client, failFrame);
  pipe.agentJoined(agent);
  pipe.clientClosed(1006);
  assert.deepEqual(agent.closedWith, [1000, undefined], "1006 is not a code one may send");
});

Deno.test("StreamPipes fails a pipe whose agent does not dial back in time", async () => {
  const clock = new FakeClock();
  const pipes = new StreamPipes(clock);
  const client = new End();
  pipes.add(new StreamPipe("s1", "node-a", client, failFrame), 10_000);
  await clock.advance(9_999);
  assert.equal(client.closedWith, undefined);
  await clock.advance(1);
  assert.match(String(client.sent[0]), /failed: node node-a did not open the stream within 10s/);
  assert.equal(pipes.size, 0);
});

Deno.test("StreamPipes.claim() gives a pipe only to its node, and only once", () => {
  const pipes = new StreamPipes(new FakeClock());
  const pipe = new StreamPipe("s1", "node-a", new End(), failFrame);
  pipes.add(pipe);
  assert.equal(pipes.claim("node-b", "s1"), undefined);
  assert.equal(pipes.claim("node-a", "s1"), pipe);
  assert.equal(pipes.claim("node-a", "s1"), undefined);
  pipe.clientClosed(1000);
  assert.equal(pipes.size, 0);
});

Deno.test("passableCode() keeps codes a WebSocket endpoint may send", () => {
  assert.equal(passableCode(4500), 4500);
  assert.equal(passableCode(1006), 1000);
  assert.equal(passableCode(undefined), 1000);
});
