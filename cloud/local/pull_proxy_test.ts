/**
 * PullProxy: CONNECT tunnels, absolute-form requests, node credentials, refused destinations
 * (node range, link-local and metadata, the controller's ports, loopback), shutdown.
 */
import assert from "node:assert/strict";
import { PullProxy, type PullProxyOptions } from "./pull_proxy.ts";

const NODE = { username: "node-a", password: "secret-a" };
const AUTH = `Proxy-Authorization: Basic ${btoa(`${NODE.username}:${NODE.password}`)}\r\n`;
/** The node range of these tests: loopback addresses the tests never serve on but to check. */
const RANGE = "127.98.0.0/16";

interface Fixture {
  proxy: PullProxy;
  /** Lines the proxy logged. */
  logs: string[];
  /** Every (node, token) the proxy asked about. */
  asked: [string, string][];
}

/** Runs `fn` with a proxy on 127.0.0.1 that accepts NODE; closes it after. */
async function withProxy(
  fn: (f: Fixture) => Promise<void>,
  options: Partial<PullProxyOptions> = {},
): Promise<void> {
  const logs: string[] = [];
  const asked: [string, string][] = [];
  const proxy = PullProxy.start({
    hostname: "127.0.0.1",
    nodeRange: RANGE,
    authorize: (node, token) => {
      asked.push([node, token]);
      return Promise.resolve(node === NODE.username && token === NODE.password);
    },
    log: (m) => logs.push(m),
    ...options,
  });
  try {
    await fn({ proxy, logs, asked });
  } finally {
    await proxy.close();
  }
}

/** A TCP server on `hostname` that echoes what it gets and closes when the client does. */
function startEcho(hostname = "127.0.0.1") {
  const listener = Deno.listen({ hostname, port: 0 });
  const accepted: Deno.Conn[] = [];
  const served = (async () => {
    const copies: Promise<void>[] = [];
    for await (const conn of listener) {
      accepted.push(conn);
      copies.push(conn.readable.pipeTo(conn.writable).catch(() => {}));
    }
    await Promise.all(copies);
  })().catch(() => {});
  return {
    port: listener.addr.port,
    accepted,
    async close() {
      listener.close();
      for (const c of accepted) {
        try {
          c.close();
        } catch { /* closed by its copy */ }
      }
      await served;
    },
  };
}

/** An HTTP server on 127.0.0.1 that answers with what it received. */
function startHttp() {
  const seen: { url: string; headers: Headers; body: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    seen.push({ url: req.url, headers: req.headers, body: await req.text() });
    return new Response(`hello ${new URL(req.url).pathname}`, { headers: { "x-from": "origin" } });
  });
  return { port: server.addr.port, seen, close: () => server.shutdown() };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const deadlines = new Map<Deno.Conn, ReturnType<typeof setTimeout>>();

/**
 * A connection to the proxy that is closed after 5 s, so that an answer that never comes fails
 * the test (its read throws) instead of hanging it. Release it with hangUp().
 */
async function dial(proxy: PullProxy): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
  deadlines.set(conn, setTimeout(() => hangUp(conn), 5_000));
  return conn;
}

function hangUp(conn: Deno.Conn): void {
  clearTimeout(deadlines.get(conn));
  deadlines.delete(conn);
  try {
    conn.close();
  } catch { /* closed already */ }
}

/** Reads until the connection ends. */
async function readAll(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    text += decoder.decode(buf.subarray(0, n));
  }
  return text;
}

/** Reads until the end of a head (the CONNECT answer). */
async function readHeadText(conn: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(1);
  while (!text.endsWith("\r\n\r\n")) {
    const n = await conn.read(buf);
    if (n === null) throw new Error(`connection ended after ${JSON.stringify(text)}`);
    text += decoder.decode(buf.subarray(0, n));
  }
  return text;
}

/** Reads exactly `length` bytes. */
async function readText(conn: Deno.Conn, length: number): Promise<string> {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await conn.read(buf.subarray(got));
    if (n === null) throw new Error(`connection ended after ${got} of ${length} bytes`);
    got += n;
  }
  return decoder.decode(buf);
}

/** Sends `request` on a fresh connection and reads the answer until the proxy ends it. */
async function exchange(proxy: PullProxy, request: string): Promise<string> {
  const conn = await dial(proxy);
  try {
    await conn.write(encoder.encode(request));
    return await readAll(conn);
  } finally {
    hangUp(conn);
  }
}

/**
 * Sends `request` on a fresh connection and reads the answer's head only, so that a tunnel
 * opened where a refusal was expected fails the test instead of hanging it.
 */
async function ask(proxy: PullProxy, request: string): Promise<string> {
  const conn = await dial(proxy);
  try {
    await conn.write(encoder.encode(request));
    return await readHeadText(conn);
  } finally {
    hangUp(conn);
  }
}

function connectRequest(target: string, auth = AUTH): string {
  return `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n${auth}\r\n`;
}

Deno.test("PullProxy tunnels CONNECT to an allowed loopback port, bytes sent early included", async () => {
  const echo = startEcho();
  await withProxy(async ({ proxy, logs, asked }) => {
    const conn = await dial(proxy);
    try {
      const target = `127.0.0.1:${echo.port}`;
      await conn.write(encoder.encode(`${connectRequest(target)}early`));
      assert.match(await readHeadText(conn), /^HTTP\/1\.1 200 /);
      assert.equal(await readText(conn, 5), "early");
      await conn.write(encoder.encode("ping"));
      assert.equal(await readText(conn, 4), "ping");
      await conn.closeWrite();
      assert.equal(await readAll(conn), "", "the tunnel ends when both sides did");
      assert.deepEqual(asked, [[NODE.username, NODE.password]]);
      assert.deepEqual(logs, [], "nothing is logged for a served request");
    } finally {
      hangUp(conn);
    }
  }, { loopbackPorts: [echo.port] }).finally(() => echo.close());
});

Deno.test("PullProxy forwards an absolute-form GET in origin-form, without proxy headers", async () => {
  const http = startHttp();
  await withProxy(async ({ proxy, logs }) => {
    const origin = `127.0.0.1:${http.port}`;
    const answer = await exchange(
      proxy,
      `GET http://${origin}/v2/x?y=1 HTTP/1.1\r\nHost: ${origin}\r\n${AUTH}` +
        "Proxy-Connection: keep-alive\r\nConnection: keep-alive\r\nAccept: a/b\r\n\r\n",
    );
    const [head, body] = answer.split("\r\n\r\n");
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\nx-from: origin/i);
    assert.match(head, /\r\nConnection: close$/, "the client is told not to reuse it");
    assert.equal(body, "hello /v2/x");
    assert.equal(http.seen.length, 1);
    assert.equal(http.seen[0].url, `http://${origin}/v2/x?y=1`);
    assert.equal(http.seen[0].headers.get("accept"), "a/b");
    assert.equal(http.seen[0].headers.get("proxy-authorization"), null);
    assert.equal(http.seen[0].headers.get("proxy-connection"), null);
    assert.deepEqual(logs, []);
  }, { loopbackPorts: [http.port] }).finally(() => http.close());
});

Deno.test("PullProxy answers 407 without credentials and with a wrong token, and logs both", async () => {
  await withProxy(async ({ proxy, logs, asked }) => {
    const echo = startEcho();
    try {
      const target = `127.0.0.1:${echo.port}`;
      const wrong = `Proxy-Authorization: Basic ${btoa("node-a:wrong")}\r\n`;
      for (const auth of ["", wrong, "Proxy-Authorization: Bearer x\r\n"]) {
        const answer = await ask(proxy, connectRequest(target, auth));
        assert.match(answer, /^HTTP\/1\.1 407 Proxy Authentication Required\r\n/);
        assert.match(answer, /\r\nProxy-Authenticate: Basic realm="milpa"\r\n/);
        assert.match(answer, /\r\nProxy-Status: milpa; error=proxy_auth_required;/);
      }
      assert.deepEqual(asked, [["node-a", "wrong"]]);
      assert.equal(echo.accepted.length, 0, "nothing was connected to");
      assert.equal(logs.length, 3);
      assert.match(logs[0], /^refused CONNECT 127\.0\.0\.1:\d+ from 127\.0\.0\.1: no node cred/);
      assert.match(
        logs[1],
        /^refused CONNECT .* from 127\.0\.0\.1: wrong token for node "node-a"$/,
      );
    } finally {
      await echo.close();
    }
  });
});

Deno.test("PullProxy refuses destinations in the node range with 403, names too, before connecting", async () => {
  const node = startEcho("127.98.0.5");
  try {
    await withProxy(async ({ proxy, logs }) => {
      const direct = `127.98.0.5:${node.port}`;
      const named = `node.example:${node.port}`;
      for (const request of [connectRequest(direct), connectRequest(named)]) {
        const answer = await ask(proxy, request);
        assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n/);
        assert.match(answer, /Proxy-Status: milpa; error=destination_ip_prohibited;/);
      }
      const viaGet = await ask(
        proxy,
        `GET http://${direct}/v2/ HTTP/1.1\r\nHost: ${direct}\r\n${AUTH}\r\n`,
      );
      assert.match(viaGet, /^HTTP\/1\.1 403 /);
      assert.deepEqual(logs, [
        `refused CONNECT ${direct} from node "node-a" (127.0.0.1): 127.98.0.5 is in the node ` +
        `range ${RANGE}; nodes reach it directly`,
        `refused CONNECT ${named} from node "node-a" (127.0.0.1): node.example (127.98.0.5) is ` +
        `in the node range ${RANGE}; nodes reach it directly`,
        `refused GET http://${direct}/v2/ from node "node-a" (127.0.0.1): 127.98.0.5 is in the ` +
        `node range ${RANGE}; nodes reach it directly`,
      ]);
      // Had the proxy connected before refusing, its connection would be accepted first.
      const mine = await Deno.connect({ hostname: "127.98.0.5", port: node.port });
      try {
        await mine.write(encoder.encode("x"));
        assert.equal(await readText(mine, 1), "x");
        assert.equal(node.accepted.length, 1, "only the test's own connection arrived");
      } finally {
        mine.close();
      }
    }, { lookup: (host) => Promise.resolve(host === "node.example" ? ["127.98.0.5"] : []) });
  } finally {
    await node.close();
  }
});

/** Asks for each target by CONNECT and expects 403 destination_ip_prohibited for all. */
async function assertForbidden(proxy: PullProxy, targets: string[]): Promise<void> {
  for (const target of targets) {
    const answer = await ask(proxy, connectRequest(target));
    assert.match(answer, /^HTTP\/1\.1 403 Forbidden\r\n/, target);
    assert.match(answer, /\r\nProxy-Status: milpa; error=destination_ip_prohibited;/, target);
  }
}

Deno.test("PullProxy refuses link-local and metadata addresses, also behind a name, before connecting", async () => {
  const echo = startEcho();
  const names: Record<string, string[]> = {
    "metadata.google.internal": ["169.254.169.254"],
    // One good address does not make up for a bad one.
    "mixed.example": ["127.0.0.1", "169.254.170.2"],
  };
  await withProxy(async ({ proxy, logs }) => {
    await assertForbidden(proxy, [
      "169.254.169.254:80",
      "[fe80::1]:80",
      "[fd00:ec2::254]:80",
      "[::ffff:169.254.169.254]:80",
      "metadata.google.internal:80",
      `mixed.example:${echo.port}`,
    ]);
    const viaGet = await ask(
      proxy,
      `GET http://169.254.169.254/latest/meta-data/ HTTP/1.1\r\nHost: 169.254.169.254\r\n${AUTH}\r\n`,
    );
    assert.match(viaGet, /^HTTP\/1\.1 403 /);
    assert.equal(echo.accepted.length, 0, "nothing was connected to");
    const from = `from node "node-a" (127.0.0.1)`;
    const linkLocal = "is link-local (where cloud metadata services answer)";
    assert.deepEqual(logs, [
      `refused CONNECT 169.254.169.254:80 ${from}: 169.254.169.254 ${linkLocal}`,
      `refused CONNECT [fe80::1]:80 ${from}: fe80::1 ${linkLocal}`,
      `refused CONNECT [fd00:ec2::254]:80 ${from}: fd00:ec2::254 is the cloud metadata service`,
      `refused CONNECT [::ffff:169.254.169.254]:80 ${from}: ::ffff:169.254.169.254 ${linkLocal}`,
      `refused CONNECT metadata.google.internal:80 ${from}: metadata.google.internal ` +
      `(169.254.169.254) ${linkLocal}`,
      `refused CONNECT mixed.example:${echo.port} ${from}: mixed.example (169.254.170.2) ${linkLocal}`,
      `refused GET http://169.254.169.254/latest/meta-data/ ${from}: 169.254.169.254 ${linkLocal}`,
    ]);
  }, {
    loopbackPorts: [echo.port],
    lookup: (host) => Promise.resolve(names[host] ?? []),
  }).finally(() => echo.close());
});

Deno.test("PullProxy refuses the controller's API port and its own, on any address", async () => {
  const api = startHttp();
  await withProxy(async ({ proxy, logs }) => {
    await assertForbidden(proxy, [
      `127.0.0.1:${api.port}`,
      `localhost:${api.port}`,
      `192.0.2.10:${api.port}`,
      `127.0.0.1:${proxy.port}`,
    ]);
    const viaGet = await ask(
      proxy,
      `GET http://127.0.0.1:${api.port}/api/v1/namespaces/default/secrets HTTP/1.1\r\n${AUTH}\r\n`,
    );
    assert.match(viaGet, /^HTTP\/1\.1 403 /);
    assert.equal(api.seen.length, 0, "the API never saw a request");
    assert.equal(logs.length, 5);
    assert.equal(
      logs[0],
      `refused CONNECT 127.0.0.1:${api.port} from node "node-a" (127.0.0.1): 127.0.0.1 is ` +
        `refused on port ${api.port}, the controller's own (its API or this proxy)`,
    );
    assert.match(logs[3], new RegExp(`is refused on port ${proxy.port}, the controller's own`));
    // The API port is refused even where the configuration allows it as a registry port.
  }, { reservedPorts: [api.port], loopbackPorts: [api.port] }).finally(() => api.close());
});

Deno.test("PullProxy refuses loopback ports other than the registry ports, by address or by name", async () => {
  const echo = startEcho();
  try {
    await withProxy(async ({ proxy, logs }) => {
      await assertForbidden(proxy, [
        `127.0.0.1:${echo.port}`,
        `localhost:${echo.port}`,
        `[::1]:${echo.port}`,
        `0.0.0.0:${echo.port}`,
        `[::]:${echo.port}`,
        `127.0.0.2:${echo.port}`,
        `[::ffff:127.0.0.1]:${echo.port}`,
      ]);
      assert.equal(echo.accepted.length, 0, "nothing was connected to");
      assert.equal(logs.length, 7);
      assert.equal(
        logs[0],
        `refused CONNECT 127.0.0.1:${echo.port} from node "node-a" (127.0.0.1): 127.0.0.1 is ` +
          "this host's loopback, where nodes may reach only registry ports 5000 " +
          "(cloud.local.registryProxy.loopbackPorts)",
      );
      assert.match(
        logs[1],
        /^refused CONNECT localhost:\d+ .*: localhost \((127\.0\.0\.1|::1)\) is this host's loopback/,
      );
    });
    // Once it is a registry port, the same destination is served.
    await withProxy(async ({ proxy, logs }) => {
      const conn = await dial(proxy);
      try {
        await conn.write(encoder.encode(connectRequest(`127.0.0.1:${echo.port}`)));
        assert.match(await readHeadText(conn), /^HTTP\/1\.1 200 /);
      } finally {
        hangUp(conn);
      }
      assert.deepEqual(logs, []);
    }, { loopbackPorts: [5000, echo.port] });
  } finally {
    await echo.close();
  }
});

Deno.test("PullProxy.close() ends open tunnels and stops listening", async () => {
  const echo = startEcho();
  try {
    const proxy = PullProxy.start({
      hostname: "127.0.0.1",
      nodeRange: RANGE,
      authorize: () => Promise.resolve(true),
      loopbackPorts: [echo.port],
    });
    const conn = await dial(proxy);
    try {
      await conn.write(encoder.encode(connectRequest(`127.0.0.1:${echo.port}`)));
      assert.match(await readHeadText(conn), /^HTTP\/1\.1 200 /);
      await proxy.close();
      // Ended by the proxy, not by dial()'s deadline (reading a closed conn would throw).
      const ended = await readAll(conn).catch((e) => {
        if (e instanceof Deno.errors.ConnectionReset) return "";
        throw e;
      });
      assert.equal(ended, "", "the client's end is closed");
      await assert.rejects(dial(proxy), Deno.errors.ConnectionRefused);
    } finally {
      hangUp(conn);
    }
  } finally {
    await echo.close();
  }
});

Deno.test("PullProxy serves fetch() through Deno.createHttpClient({ proxy }) for http://127.0.0.1", async () => {
  const http = startHttp();
  await withProxy(async ({ proxy, asked, logs }) => {
    const client = Deno.createHttpClient({ proxy: { url: proxy.url, basicAuth: NODE } });
    try {
      const base = `http://127.0.0.1:${http.port}`;
      const first = await fetch(`${base}/v2/`, { client });
      assert.equal(await first.text(), "hello /v2/");
      const second = await fetch(`${base}/token`, { client, method: "POST", body: "grant=x" });
      assert.equal(await second.text(), "hello /token");
      assert.equal(http.seen[1].body, "grant=x");
      // localhost is resolved by the proxy, on its host.
      const named = await fetch(`http://localhost:${http.port}/v2/named`, { client });
      assert.equal(await named.text(), "hello /v2/named");
      assert.equal(asked.length, 3, "every request went through the proxy");
      const wrong = Deno.createHttpClient({
        proxy: { url: proxy.url, basicAuth: { username: "node-a", password: "nope" } },
      });
      try {
        const denied = await fetch(`${base}/v2/`, { client: wrong });
        await denied.body?.cancel();
        assert.equal(denied.status, 407);
      } finally {
        wrong.close();
      }
      assert.equal(http.seen.length, 3);
      assert.equal(logs.length, 1);
    } finally {
      client.close();
    }
  }, { loopbackPorts: [http.port] }).finally(() => http.close());
});

Deno.test("PullProxy bounds request heads: too large is 431, too slow is closed", async () => {
  await withProxy(async ({ proxy, logs }) => {
    const big = await ask(
      proxy,
      `GET http://127.0.0.1:1/ HTTP/1.1\r\nX-Big: ${"a".repeat(2000)}\r\n\r\n`,
    );
    assert.match(big, /^HTTP\/1\.1 431 /);
    const slow = await dial(proxy);
    try {
      await slow.write(encoder.encode("GET http://127.0.0.1:1/ HT"));
      assert.equal(await readAll(slow).catch(() => ""), "");
    } finally {
      hangUp(slow);
    }
    assert.equal(logs.length, 2);
    assert.match(logs[0], /head is over 1024 bytes$/);
    assert.match(logs[1], /^refused a request from 127\.0\.0\.1: no request head in 100 ms$/);
  }, { maxHeadBytes: 1024, headTimeoutMs: 100 });
});

Deno.test("PullProxy answers 400 to non-proxy requests and 502 when the destination is down", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = l.addr.port;
  l.close();
  await withProxy(async ({ proxy, logs }) => {
    assert.match(await ask(proxy, `GET /v2/ HTTP/1.1\r\n${AUTH}\r\n`), /^HTTP\/1\.1 400 /);
    const down = await ask(proxy, connectRequest(`127.0.0.1:${closed}`));
    assert.match(down, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.match(down, /Proxy-Status: milpa; error=connection_refused;/);
    assert.match(logs[0], /not an absolute http:\/\/ URL/);
    assert.match(logs[1], new RegExp(`cannot connect to 127\\.0\\.0\\.1:${closed}: `));
  }, { loopbackPorts: [closed] });
});
