import assert from "node:assert/strict";
import type { BackendHealth, Probe } from "./health_check.ts";
import type { HealthCheckConfig } from "../lb_annotations.ts";
import { FakeClock } from "../../model/fake_clock.ts";
import { type LoadBalancerOptions, TcpLoadBalancer } from "./load_balancer.ts";

const HOST = "127.0.0.1";
/**
 * Short real-time checks for the socket tests: out within 200 ms (+90), in within 200 ms. The
 * timeout, also the connect timeout, leaves room for a busy machine.
 */
const FAST: HealthCheckConfig = {
  intervalMs: 100,
  timeoutMs: 90,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
};

/**
 * An HTTP server answering every request with its name. Like pods on their own nodes, backends
 * share one port (the nodePort) on addresses of their own: 127.0.0.2, 127.0.0.3, ...
 */
class HttpBackend {
  #server?: Deno.HttpServer<Deno.NetAddr>;
  constructor(readonly name: string, readonly address: string, public port = 0) {}
  get ref(): { id: string; address: string } {
    return { id: this.name, address: this.address };
  }
  start(): this {
    this.#server = Deno.serve(
      { hostname: this.address, port: this.port, onListen: () => {} },
      () => new Response(this.name),
    );
    this.port = this.#server.addr.port;
    return this;
  }
  /** Kills it: nothing listens on its address any more. */
  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }
}

/** Starts backends on 127.0.0.2, .3, ... all on one port, and stops them after `fn`. */
async function withBackends(
  names: string[],
  fn: (backends: HttpBackend[], port: number) => Promise<void>,
): Promise<void> {
  const backends: HttpBackend[] = [];
  try {
    for (const [i, name] of names.entries()) {
      backends.push(new HttpBackend(name, `127.0.0.${i + 2}`, backends[0]?.port).start());
    }
    await fn(backends, backends[0].port);
  } finally {
    await Promise.all(backends.map((b) => b.stop()));
  }
}

/** Health changes reported by a balancer, to wait on instead of sleeping. */
class HealthWatch {
  lb?: TcpLoadBalancer;
  #waiters: { id: string; healthy: boolean; resolve: () => void }[] = [];
  readonly record = (b: BackendHealth): void => {
    const ready = this.#waiters.filter((w) => w.id === b.id && w.healthy === b.healthy);
    this.#waiters = this.#waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  };
  /** Resolves when backend `id` is (or becomes) `healthy`; fails after `limitMs`. */
  until(id: string, healthy: boolean, limitMs = 3000): Promise<void> {
    if (this.lb?.status().backends.find((b) => b.id === id)?.healthy === healthy) {
      return Promise.resolve();
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ id, healthy, resolve });
    const state = healthy ? "healthy" : "unhealthy";
    return within(promise, limitMs, `${id} not ${state} in time`);
  }
}

/** Runs `fn` with a one-listener balancer on 127.0.0.1 forwarding to `targetPort`. */
async function withBalancer(
  options: Partial<LoadBalancerOptions> & { targetPort: number },
  fn: (lb: TcpLoadBalancer, port: number, watch: HealthWatch) => Promise<void>,
): Promise<void> {
  const watch = new HealthWatch();
  const lb = await TcpLoadBalancer.start({
    hostname: HOST,
    listeners: [{ port: 0, targetPort: options.targetPort }],
    healthCheck: FAST,
    onHealthChange: watch.record,
    ...options,
  });
  watch.lb = lb;
  try {
    await fn(lb, lb.listeners[0].port, watch);
  } finally {
    await lb.close();
  }
}

/** One GET on a fresh connection: the body; throws unless the answer is a 200. */
async function get(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: HOST, port });
  try {
    const request = "GET / HTTP/1.1\r\nHost: lb\r\nConnection: close\r\n\r\n";
    await conn.write(new TextEncoder().encode(request));
    const response = new TextDecoder().decode(await readAllWithin(conn));
    const body = response.split("\r\n\r\n")[1];
    if (!response.startsWith("HTTP/1.1 200") || body === undefined) {
      throw new Error(`bad response ${JSON.stringify(response)}`);
    }
    return body;
  } finally {
    closeQuietly(conn);
  }
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(64 * 1024);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    chunks.push(buf.slice(0, n));
  }
  const out = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/** {@linkcode readAll} that closes the connection and fails after `ms`: a stuck proxy fails. */
async function readAllWithin(conn: Deno.Conn, ms = 2000): Promise<Uint8Array> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, ms);
  try {
    return await readAll(conn);
  } catch (error) {
    throw timedOut ? new Error(`no end of stream within ${ms} ms`) : error;
  } finally {
    clearTimeout(timer);
  }
}

/** `promise`, or a failure after `ms`. */
async function within<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // closed on a timeout
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let written = 0; written < data.length;) {
    written += await conn.write(data.subarray(written));
  }
}

/** Sends `n` requests one after another and counts the answers by backend. */
async function spread(port: number, n = 30): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const name = await get(port);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/**
 * Asserts that all `n` requests were answered, by exactly the backends `names`, each at least
 * `n / names.length / 2` times. (Round-robin gives equal shares, but a connection that times
 * out on a busy machine moves on to the next backend.)
 */
function assertSpread(counts: Record<string, number>, names: string[], n = 30): void {
  assert.deepEqual(Object.keys(counts).sort(), names, JSON.stringify(counts));
  assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), n);
  for (const name of names) {
    assert.ok(counts[name] >= n / names.length / 2, JSON.stringify(counts));
  }
}

/** Whether the balancer closes a new client connection (EOF or reset) without an answer. */
async function refused(port: number): Promise<boolean> {
  const conn = await Deno.connect({ hostname: HOST, port });
  try {
    await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: lb\r\n\r\n"));
    return (await readAllWithin(conn)).length === 0;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionReset) return true;
    throw error;
  } finally {
    closeQuietly(conn);
  }
}

Deno.test("TcpLoadBalancer spreads 30 requests over 3 backends, round-robin", async () => {
  await withBackends(["a", "b", "c"], async (backends, targetPort) => {
    const options = { targetPort, backends: backends.map((b) => b.ref) };
    await withBalancer(options, async (lb, port, watch) => {
      for (const b of backends) await watch.until(b.name, true);
      assertSpread(await spread(port), ["a", "b", "c"]);
      const status = lb.status();
      assert.equal(status.hostname, HOST);
      assert.deepEqual(status.listeners, [{ port, targetPort }]);
      assert.deepEqual(status.backends.map((b) => [b.id, b.healthy]), [
        ["a", true],
        ["b", true],
        ["c", true],
      ]);
    });
  });
});

Deno.test("TcpLoadBalancer takes a killed backend out within interval × unhealthyThreshold, and back in when it returns", async () => {
  await withBackends(["a", "b", "c"], async (backends, targetPort) => {
    const options = { targetPort, backends: backends.map((b) => b.ref) };
    await withBalancer(options, async (lb, port, watch) => {
      for (const b of backends) await watch.until(b.name, true);
      const [, b] = backends;

      let start = performance.now();
      await b.stop();
      await watch.until("b", false);
      const outMs = performance.now() - start;
      const limit = FAST.intervalMs * FAST.unhealthyThreshold + FAST.timeoutMs;
      assert.ok(outMs <= limit + 100, `out after ${outMs} ms`);
      assert.equal(lb.status().backends[1].consecutiveFailures, FAST.unhealthyThreshold);
      assertSpread(await spread(port), ["a", "c"]);

      start = performance.now();
      b.start();
      await watch.until("b", true);
      const inMs = performance.now() - start;
      const soonest = FAST.intervalMs * (FAST.healthyThreshold - 1);
      assert.ok(inMs >= soonest - 10, `in after ${inMs} ms`);
      assert.ok(inMs <= FAST.intervalMs * FAST.healthyThreshold + 100, `in after ${inMs} ms`);
      assertSpread(await spread(port), ["a", "b", "c"]);
    });
  });
});

Deno.test("TcpLoadBalancer retries a failed backend connection on the next backend", async () => {
  await withBackends(["a", "b", "c"], async (backends, targetPort) => {
    // Checks a second apart: only the failed connections can notice b before the requests end.
    const healthCheck = { ...FAST, intervalMs: 1000, timeoutMs: 500 };
    const options = { targetPort, healthCheck, backends: backends.map((b) => b.ref) };
    await withBalancer(options, async (lb, port, watch) => {
      for (const b of backends) await watch.until(b.name, true);
      await backends[1].stop();
      assertSpread(await spread(port), ["a", "c"]);
      const b = lb.status().backends[1];
      assert.ok(b.connectFailures >= FAST.unhealthyThreshold, `${b.connectFailures} failures`);
      assert.equal(b.healthy, false);
      assert.match(b.lastError ?? "", /refused/i);
    });
  });
});

Deno.test("TcpLoadBalancer.setBackends() stops routing to a removed backend at once", async () => {
  await withBackends(["a", "b", "c"], async (backends, targetPort) => {
    const options = { targetPort, backends: backends.map((b) => b.ref) };
    await withBalancer(options, async (lb, port, watch) => {
      for (const b of backends) await watch.until(b.name, true);
      lb.setBackends([backends[0].ref, backends[2].ref]);
      assertSpread(await spread(port), ["a", "c"]);
      assert.deepEqual(lb.status().backends.map((b) => b.id), ["a", "c"]);
      assert.throws(() => lb.setBackends([backends[0].ref, backends[0].ref]), TypeError);
    });
  });
});

Deno.test("TcpLoadBalancer closes a client connection at once when no backend is healthy", async () => {
  await withBackends(["a"], async ([a], targetPort) => {
    await a.stop();
    await withBalancer({ targetPort }, async (lb, port) => {
      let start = performance.now();
      assert.ok(await refused(port), "no backend at all");
      assert.ok(performance.now() - start < 500);

      lb.setBackends([a.ref]); // nothing listens there: it never becomes healthy
      start = performance.now();
      assert.ok(await refused(port), "no healthy backend");
      assert.ok(performance.now() - start < 500);
      assert.equal(lb.status().backends[0].healthy, false);
    });
  });
});

Deno.test("TcpLoadBalancer passes a client's half-close on and returns the whole response", async () => {
  // The backend answers only after the request's end of stream: reversed, 512 KiB.
  const server = Deno.listen({ hostname: "127.0.0.2", port: 0 });
  const serving = (async () => {
    const handlers: Promise<void>[] = [];
    for await (const conn of server) {
      handlers.push((async () => {
        try {
          await writeAll(conn, (await readAll(conn)).reverse());
        } catch {
          // a health check connection, closed at once
        } finally {
          conn.close();
        }
      })());
    }
    await Promise.all(handlers);
  })();
  try {
    const backends = [{ id: "echo", address: "127.0.0.2" }];
    await withBalancer({ targetPort: server.addr.port, backends }, async (_lb, port, watch) => {
      await watch.until("echo", true);
      const big = new Uint8Array(512 * 1024).map((_, i) => (i * 7 + (i >> 9)) & 255);
      const conn = await Deno.connect({ hostname: HOST, port });
      try {
        await writeAll(conn, big);
        await conn.closeWrite();
        const response = await readAllWithin(conn);
        assert.equal(response.length, big.length);
        assert.deepEqual(response, big.slice().reverse());
      } finally {
        closeQuietly(conn);
      }
    });
  } finally {
    server.close();
    await serving;
  }
});

Deno.test("TcpLoadBalancer.close() ends open connections and frees its port", async () => {
  // A backend that reads but never answers: the connection stays open until close().
  const server = Deno.listen({ hostname: "127.0.0.2", port: 0 });
  const heard = Promise.withResolvers<void>();
  const handlers: Promise<void>[] = [];
  const serving = (async () => {
    for await (const conn of server) {
      handlers.push((async () => {
        try {
          if (await conn.read(new Uint8Array(16)) !== null) heard.resolve();
          await readAll(conn); // until the balancer closes its end
        } catch {
          // closed by the balancer
        } finally {
          conn.close();
        }
      })());
    }
  })();
  try {
    const backends = [{ id: "mute", address: "127.0.0.2" }];
    await withBalancer({ targetPort: server.addr.port, backends }, async (lb, port, watch) => {
      await watch.until("mute", true);
      const conn = await Deno.connect({ hostname: HOST, port });
      try {
        await conn.write(new TextEncoder().encode("hello"));
        await within(heard.promise, 2000, "the backend got nothing");
        assert.equal(lb.status().backends[0].activeConnections, 1);
        await lb.close();
        const rest = await readAllWithin(conn).catch((e) => {
          if (e instanceof Deno.errors.ConnectionReset) return new Uint8Array();
          throw e;
        });
        assert.equal(rest.length, 0);
        await assert.rejects(() => Deno.connect({ hostname: HOST, port }));
      } finally {
        closeQuietly(conn);
      }
    });
  } finally {
    server.close();
    await serving;
    await Promise.all(handlers);
  }
});

Deno.test("TcpLoadBalancer.start() fails without a listener, and leaves nothing bound when a port is taken", async () => {
  const base = { hostname: HOST, healthCheck: FAST };
  await assert.rejects(() => TcpLoadBalancer.start({ ...base, listeners: [] }), TypeError);
  const taken = Deno.listen({ hostname: HOST, port: 0 });
  try {
    const listeners = [{ port: 0, targetPort: 80 }, { port: taken.addr.port, targetPort: 80 }];
    await assert.rejects(
      () => TcpLoadBalancer.start({ ...base, listeners }),
      Deno.errors.AddrInUse,
    );
  } finally {
    taken.close();
  }
});

/** Scripted health check results by address: "up", "down" (refused) or "hang". */
function scriptedProbe(state: Record<string, "up" | "down" | "hang">): Probe {
  return (address, signal) => {
    if (state[address] === "up") return Promise.resolve();
    if (state[address] === "down") return Promise.reject(new Error("connection refused"));
    return new Promise((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason))
    );
  };
}

/** Runs `fn` on a balancer whose checks use fake time and `state`; notes when health changes. */
async function withFakeTime(
  state: Record<string, "up" | "down" | "hang">,
  fn: (lb: TcpLoadBalancer, clock: FakeClock, changes: string[]) => Promise<void>,
): Promise<void> {
  const clock = new FakeClock(0);
  const changes: string[] = [];
  const lb = await TcpLoadBalancer.start({
    hostname: HOST,
    listeners: [{ port: 0, targetPort: 8080 }],
    healthCheck: {
      intervalMs: 10_000,
      timeoutMs: 5_000,
      healthyThreshold: 3,
      unhealthyThreshold: 2,
    },
    clock,
    probe: scriptedProbe(state),
    onHealthChange: (b) => changes.push(`${clock.now()} ${b.id} ${b.healthy ? "in" : "out"}`),
  });
  try {
    await fn(lb, clock, changes);
  } finally {
    await lb.close();
  }
}

Deno.test("TcpLoadBalancer health: new backends join after healthyThreshold checks, at once on a cold start", async () => {
  const state = { "127.0.0.2": "up", "127.0.0.3": "up", "127.0.0.4": "up" } as const;
  await withFakeTime({ ...state }, async (lb, clock, changes) => {
    lb.setBackends([{ id: "a", address: "127.0.0.2" }]);
    await clock.advance(0);
    assert.deepEqual(changes, ["0 a in"], "cold start: in on the first check");

    lb.setBackends([{ id: "a", address: "127.0.0.2" }, { id: "b", address: "127.0.0.3" }]);
    await clock.advance(19_999);
    assert.equal(lb.status().backends[1].consecutiveSuccesses, 2);
    assert.deepEqual(lb.inService(), ["a"]);
    await clock.advance(1);
    assert.deepEqual(changes, ["0 a in", "20000 b in"], "checks at 0, 10 s and 20 s");
    assert.deepEqual(lb.inService(), ["a", "b"]);

    // The same id at a new address is a new backend.
    lb.setBackends([{ id: "a", address: "127.0.0.2" }, { id: "b", address: "127.0.0.4" }]);
    assert.equal(lb.status().backends[1].healthy, false);
    await clock.advance(20_000);
    assert.deepEqual(changes.at(-1), "40000 b in");
  });
});

Deno.test("TcpLoadBalancer health: failing checks take a backend out after unhealthyThreshold intervals", async () => {
  const state: Record<string, "up" | "down" | "hang"> = { "127.0.0.2": "up", "127.0.0.3": "up" };
  await withFakeTime(state, async (lb, clock, changes) => {
    lb.setBackends([{ id: "a", address: "127.0.0.2" }, { id: "b", address: "127.0.0.3" }]);
    await clock.advance(0);
    assert.deepEqual(changes, ["0 a in", "0 b in"]);

    state["127.0.0.2"] = "down"; // checks at 10 s and 20 s fail
    await clock.advance(19_999);
    assert.equal(lb.status().backends[0].healthy, true);
    await clock.advance(1);
    assert.deepEqual(changes.slice(2), ["20000 a out"]);
    assert.equal(lb.status().backends[0].lastError, "connection refused");

    state["127.0.0.3"] = "hang"; // checks at 30 s and 40 s time out 5 s later
    await clock.advance(24_999);
    assert.equal(lb.status().backends[1].healthy, true);
    await clock.advance(1);
    assert.deepEqual(changes.slice(3), ["45000 b out"]);
    assert.equal(lb.status().backends[1].lastError, "timed out after 5000 ms");

    // Known backends need healthyThreshold passes even when nothing else is healthy.
    state["127.0.0.2"] = "up"; // checks at 50, 60 and 70 s pass
    await clock.advance(24_999);
    assert.equal(lb.status().backends[0].healthy, false);
    await clock.advance(1);
    assert.deepEqual(changes.slice(4), ["70000 a in"]);
  });
});

Deno.test("TcpLoadBalancer health: a backend whose checks alternate keeps its state", async () => {
  const state: Record<string, "up" | "down" | "hang"> = { "127.0.0.2": "up" };
  await withFakeTime(state, async (lb, clock, changes) => {
    lb.setBackends([{ id: "a", address: "127.0.0.2" }]);
    for (let i = 0; i < 10; i++) {
      await clock.advance(i === 0 ? 0 : 10_000);
      state["127.0.0.2"] = state["127.0.0.2"] === "up" ? "down" : "up";
    }
    assert.deepEqual(changes, ["0 a in"]);
  });
});
