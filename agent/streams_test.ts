import assert from "node:assert/strict";
import type { StreamOpenMessage } from "../model/agent_protocol.ts";
import type { Unit } from "../model/pod.ts";
import { CHANNEL, decodeFrame, encodeFrame, parseStatus } from "../model/stream_frames.ts";
import { HostRuntime } from "./host_runtime.ts";
import { PodRunner } from "./pod_runner.ts";
import { desired } from "./pod_runner_harness.ts";
import { serveStream } from "./streams.ts";

const READ_LOOP = ["sh", "-c", "echo ready; while read l; do echo got:$l; done; echo eof"];

/**
 * A PodRunner on host processes, and a loopback WebSocket server standing in for the
 * controller: `attach()` serves one attach stream and hands back the controller's end.
 */
async function streamHarness() {
  const dataDir = await Deno.makeTempDir();
  const runner = new PodRunner({ dataDir, runtime: new HostRuntime(), stopGraceMs: 2_000 });
  const sockets = new Map<string, (ws: WebSocket) => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    sockets.get(new URL(req.url).pathname.slice(1))?.(socket);
    return response;
  });
  const serving = new Set<Promise<void>>();
  const attach = async (opts: Partial<StreamOpenMessage> = {}) => {
    const stream = crypto.randomUUID();
    const controller = new Promise<WebSocket>((resolve) => sockets.set(stream, resolve));
    const msg: StreamOpenMessage = { type: "stream.open", id: 1, stream, kind: "attach", ...opts };
    const done = serveStream(msg, {
      runner,
      dial: (id) => {
        const ws = new WebSocket(`ws://127.0.0.1:${server.addr.port}/${id}`);
        ws.binaryType = "arraybuffer";
        return ws;
      },
      log: () => {},
    });
    serving.add(done);
    const ws = await controller;
    await new Promise((r) => ws.readyState === WebSocket.OPEN ? r(0) : ws.onopen = r);
    let out = "";
    let status: ReturnType<typeof parseStatus> | undefined;
    const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
    ws.onmessage = (e) => {
      const frame = decodeFrame(e.data);
      if (frame?.channel === CHANNEL.stdout) out += new TextDecoder().decode(frame.payload);
      if (frame?.channel === CHANNEL.status) status = parseStatus(frame.payload);
    };
    return {
      send: (text: string) => ws.send(encodeFrame(CHANNEL.stdin, text)),
      endInput: () => ws.send(encodeFrame(CHANNEL.stdinEnd)),
      output: () => out,
      status: async () => {
        await closed;
        await done;
        return status;
      },
      async until(pattern: RegExp) {
        for (let i = 0; i < 200 && !pattern.test(out); i++) await sleep(25);
        assert.match(out, pattern);
      },
      async close() {
        ws.close(1000);
        await closed;
        await done;
      },
    };
  };
  const running = async (name: string) => {
    for (let i = 0; i < 200 && !runner.unit(name)?.run; i++) await sleep(25);
    assert.ok(runner.unit(name)?.run, `unit ${name} runs`);
  };
  return {
    runner,
    attach,
    running,
    async [Symbol.asyncDispose]() {
      await runner.stop(0);
      await Promise.all(serving);
      await server.shutdown();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const repl = (extra: Partial<Unit> = {}): Unit => ({ name: "repl", command: READ_LOOP, ...extra });

Deno.test("attach -i writes to a stdin: true unit's stdin, which stays open across attaches", async () => {
  await using h = await streamHarness();
  await h.runner.apply(desired([repl({ stdin: true })]));
  await h.running("repl");
  for (let i = 0; i < 200 && !h.runner.logs("repl")?.tail().includes("ready"); i++) await sleep(25);

  const first = await h.attach({ unit: "repl", stdin: true });
  first.send("a\n");
  first.send("b\n");
  first.endInput();
  await first.until(/got:b/);
  assert.equal(first.output(), "got:a\ngot:b\n");
  // The end of this attach's input did not close the unit's stdin.
  first.send("ignored\n");
  await first.close();

  const second = await h.attach({ unit: "repl", stdin: true });
  second.send("c\n");
  await second.until(/got:c/);
  assert.doesNotMatch(second.output(), /eof|ignored/);
  await second.close();

  const log = h.runner.logs("repl")!.tail();
  assert.match(log, /ready\ngot:a\ngot:b\ngot:c\n/);
  assert.equal(h.runner.unit("repl")?.status.restartCount, 0);
});

Deno.test("attach refuses -i for a unit without stdin: true, and -t for every unit", async () => {
  await using h = await streamHarness();
  // Without stdin: true the unit's stdin is closed: its read loop ends at once.
  const closedStdin = ["sh", "-c", "echo ready; while read l; do :; done; echo eof; exec sleep 30"];
  await h.runner.apply(
    desired([repl({ command: closedStdin }), repl({ name: "in", stdin: true })]),
  );
  await h.running("repl");
  await h.running("in");
  const noStdin = await h.attach({ unit: "repl", stdin: true });
  assert.match((await noStdin.status())?.error ?? "", /unit "repl" runs with its stdin closed/);
  for (const unit of ["repl", "in"]) {
    const tty = await h.attach({ unit, stdin: true, tty: true });
    assert.equal(
      (await tty.status())?.error,
      `unit "${unit}" has no terminal (tty is not supported for units); attach without -t`,
    );
  }
  for (let i = 0; i < 200 && !h.runner.logs("repl")?.tail().includes("eof"); i++) await sleep(25);
  assert.match(h.runner.logs("repl")!.tail(), /ready\neof\n/);
});

Deno.test("changing a unit's stdin restarts it with the new setting", async () => {
  await using h = await streamHarness();
  await h.runner.apply(desired([repl()], { restartPolicy: "Never" }));
  await h.running("repl");
  const before = h.runner.unit("repl")!.run!;
  assert.equal(before.stdin, undefined);
  await h.runner.apply(desired([repl({ stdin: true })], { restartPolicy: "Never" }));
  await h.running("repl");
  const after = h.runner.unit("repl")!.run!;
  assert.notEqual(after.pid, before.pid);
  assert.ok(after.stdin, "the new run has a stdin pipe");
});
