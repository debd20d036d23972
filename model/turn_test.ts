import assert from "node:assert/strict";
import { nextTurn } from "./turn.ts";

Deno.test("nextTurn() lets timers and I/O run: a loop that yields with it starves neither", async () => {
  let fired = false;
  setTimeout(() => fired = true, 0);
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    () => new Response("ok"),
  );
  try {
    let answered = false;
    const reply = fetch(`http://127.0.0.1:${server.addr.port}/`).then(async (r) => {
      answered = (await r.text()) === "ok";
    });
    // Busy work that yields each turn, as the persister and long lists do.
    for (let turns = 0; !(fired && answered); turns++) {
      assert.ok(turns < 1_000_000, `after ${turns} turns: timer ${fired}, request ${answered}`);
      await nextTurn();
    }
    await reply;
  } finally {
    await server.shutdown();
  }
});

Deno.test("nextTurn() resolves after the microtasks queued before it", async () => {
  const seen: string[] = [];
  const turn = nextTurn().then(() => seen.push("turn"));
  queueMicrotask(() => seen.push("microtask"));
  void Promise.resolve().then(() => seen.push("then"));
  await turn;
  assert.deepEqual(seen, ["microtask", "then", "turn"]);
});
