import assert from "node:assert/strict";
import { settle } from "../model/fake_clock.ts";
import type { Status } from "../model/api_types.ts";
import { DEFAULT_LIMITS } from "./limits.ts";
import { fromAddress, readAll, TEST_TOKEN, withTestApi } from "./testing.ts";

const MiB = 1024 * 1024;

/** A body of `total` bytes made on demand, counting what was pulled from it. */
function countingBody(total: number, chunk = 64 * 1024) {
  const counter = { pulled: 0 };
  const stream = new ReadableStream<Uint8Array>({
    pull(c) {
      if (counter.pulled >= total) return c.close();
      const n = Math.min(chunk, total - counter.pulled);
      counter.pulled += n;
      c.enqueue(new Uint8Array(n).fill(0x61));
    },
  }, { highWaterMark: 0 });
  return { stream, counter };
}

async function expectStatus(res: Response, code: number, reason: string): Promise<Status> {
  const text = await res.text();
  assert.equal(res.status, code, text);
  const status = JSON.parse(text) as Status;
  assert.equal(status.kind, "Status");
  assert.equal(status.reason, reason);
  return status;
}

// --- body limits ---

Deno.test("a 10 MB streamed body to /ui/login or the API gets 413 after reading little more than the limit", async () => {
  await withTestApi(async ({ app }) => {
    for (
      const [path, limit] of [
        ["/ui/login", DEFAULT_LIMITS.openBodyBytes],
        ["/api/v1/batch", DEFAULT_LIMITS.apiBodyBytes],
        ["/api/v1/namespaces/default/pods", DEFAULT_LIMITS.apiBodyBytes],
      ] as const
    ) {
      const { stream, counter } = countingBody(10 * MiB);
      const res = await app.request(path, {
        method: "POST",
        headers: { Authorization: `Bearer ${TEST_TOKEN}` },
        body: stream,
      });
      const status = await expectStatus(res, 413, "RequestEntityTooLarge");
      assert.match(status.message, new RegExp(`larger than ${limit} bytes`));
      assert.ok(counter.pulled <= limit + 64 * 1024, `${path}: read ${counter.pulled} bytes`);
      await stream.cancel().catch(() => {});
    }
  });
});

Deno.test("a declared Content-Length over the limit gets 413 before any byte is read", async () => {
  await withTestApi(async ({ app }) => {
    for (const [path, length] of [["/ui/login", 10 * MiB], ["/api/v1/batch", 1e12]] as const) {
      const { stream, counter } = countingBody(10 * MiB);
      const res = await app.request(path, {
        method: "POST",
        headers: { Authorization: `Bearer ${TEST_TOKEN}`, "Content-Length": String(length) },
        body: stream,
      });
      await expectStatus(res, 413, "RequestEntityTooLarge");
      assert.equal(counter.pulled, 0, path);
      await stream.cancel().catch(() => {});
    }
  });
});

Deno.test("an API body under 4 MiB is read: a 3 MiB batch gets past the limit to the batch's own checks", async () => {
  await withTestApi(async ({ call }) => {
    const res = await call("POST", "/api/v1/batch", {
      operation: "create",
      items: [{ kind: "Pod", metadata: { name: "x", annotations: { a: "b".repeat(3 * MiB) } } }],
    });
    assert.notEqual(res.status, 413);
    assert.ok(res.status === 422 || res.status === 400, String(res.status));
    await res.body?.cancel();
  });
});

Deno.test("the body limit holds over a real connection: a lying Content-Length and a chunked 10 MB body get 413", async () => {
  await withTestApi(async ({ app }) => {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (req, info) => app.fetch(req, info),
    );
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      try {
        await conn.write(new TextEncoder().encode(
          "POST /ui/login HTTP/1.1\r\nHost: milpa\r\nContent-Length: 999999999999\r\n" +
            "Content-Type: application/x-www-form-urlencoded\r\n\r\ntoken=abc",
        ));
        const buf = new Uint8Array(4096);
        const n = await conn.read(buf);
        assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 413 /);
      } finally {
        conn.close();
      }
      const { stream } = countingBody(10 * MiB);
      const res = await fetch(`http://127.0.0.1:${server.addr.port}/ui/login`, {
        method: "POST",
        body: stream,
      });
      await expectStatus(res, 413, "RequestEntityTooLarge");
    } finally {
      await server.shutdown();
    }
  });
});

// --- failed authentications per address ---

Deno.test("after 20 failed token checks in a minute an address gets 429 with Retry-After until the window ends", async () => {
  await withTestApi(async ({ app, clock, callAs, call }) => {
    const PODS = "/api/v1/namespaces/default/pods";
    // Successes do not count.
    for (let i = 0; i < 30; i++) assert.equal((await callAs(TEST_TOKEN, "GET", PODS)).status, 200);
    for (let i = 0; i < 20; i++) {
      const res = await callAs(
        i % 2 ? "wrong" : `${TEST_TOKEN}x`,
        "GET",
        PODS,
        undefined,
        "192.0.2.7",
      );
      await expectStatus(res, 401, "Unauthorized");
    }
    // Refused even with the right token: telling 200 from 429 would let guessing go on.
    const refused = await callAs(TEST_TOKEN, "GET", PODS, undefined, "192.0.2.7");
    assert.equal(refused.headers.get("Retry-After"), "60");
    const status = await expectStatus(refused, 429, "TooManyRequests");
    assert.equal(status.details?.retryAfterSeconds, 60);
    assert.match(status.message, /too many failed authentications from 192\.0\.2\.7/);
    // Other addresses are not affected; /healthz stays open.
    assert.equal((await call("GET", PODS)).status, 200);
    const health = await app.request("/healthz", {}, fromAddress("192.0.2.7"));
    assert.equal(health.status, 200);

    await clock.advance(45_000);
    const later = await callAs(TEST_TOKEN, "GET", PODS, undefined, "192.0.2.7");
    assert.equal(later.status, 429);
    assert.equal(later.headers.get("Retry-After"), "15");
    await later.body?.cancel();
    await clock.advance(15_000);
    assert.equal((await callAs(TEST_TOKEN, "GET", PODS, undefined, "192.0.2.7")).status, 200);
  });
});

Deno.test("failed /ui/login attempts count toward the limit; 403s do not", async () => {
  await withTestApi(async ({ app, callAs, newToken }) => {
    const login = (token: string, from: string) =>
      app.request("/ui/login", {
        method: "POST",
        body: new URLSearchParams({ token }),
      }, fromAddress(from));
    for (let i = 0; i < 3; i++) assert.equal((await login("nope", "192.0.2.9")).status, 401);
    assert.equal((await login(TEST_TOKEN, "192.0.2.9")).status, 429);
    assert.equal((await login(TEST_TOKEN, "192.0.2.10")).status, 303);

    const team = await newToken({ role: "view", namespace: "team" });
    for (let i = 0; i < 5; i++) {
      const res = await callAs(team, "GET", "/api/v1/nodes", undefined, "192.0.2.11");
      assert.equal(res.status, 403);
      await res.body?.cancel();
    }
  }, { limits: { failuresPerWindow: 3 } });
});

// --- open streams ---

Deno.test("at most maxStreams watches are open at once; the next gets 429 until one ends", async () => {
  await withTestApi(async ({ call, store, recorder }) => {
    const pods = await call("GET", "/api/v1/namespaces/default/pods?watch=true");
    const actors = await call("GET", "/api/v1/actors?watch=true");
    assert.equal(pods.status, 200);
    assert.equal(actors.status, 200);
    const refused = await call("GET", "/api/v1/pods?watch=true");
    assert.equal(refused.headers.get("Retry-After"), "5");
    const status = await expectStatus(refused, 429, "TooManyRequests");
    assert.match(status.message, /already serves 2 watches and log follows, its limit/);

    // A watch the server ends gives its slot back.
    store.closeWatches();
    await readAll(pods.body!);
    const third = await call("GET", "/api/v1/pods?watch=true");
    assert.equal(third.status, 200);

    // So does one the client walks away from.
    await actors.body!.cancel();
    let fourth = await call("GET", "/api/v1/actors?watch=true");
    for (let i = 0; i < 50 && fourth.status === 429; i++) {
      await fourth.body?.cancel();
      await settle();
      fourth = await call("GET", "/api/v1/actors?watch=true");
    }
    assert.equal(fourth.status, 200);
    store.closeWatches();
    recorder.endSubscriptions();
    await readAll(third.body!);
    await readAll(fourth.body!);
  }, { limits: { maxStreams: 2 } });
});
