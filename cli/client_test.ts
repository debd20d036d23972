import assert from "node:assert/strict";
import { findKind } from "../model/kinds.ts";
import { MilpaClient, MODIFY_ATTEMPTS, objectPath } from "./client.ts";
import { ControllerPki } from "../api/pki.ts";
import { ApiError, TlsError, UnreachableError } from "./errors.ts";

const pods = findKind("po")!;
const nodes = findKind("no")!;

interface Seen {
  method: string;
  url: URL;
  auth: string | null;
  body?: unknown;
}

function clientWith(answer: (seen: Seen) => Response | Promise<Response>) {
  const seen: Seen[] = [];
  const fakeFetch = async (input: URL | RequestInfo, init?: RequestInit) => {
    const s: Seen = {
      method: init?.method ?? "GET",
      url: new URL(String(input)),
      auth: new Headers(init?.headers).get("authorization"),
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
    };
    seen.push(s);
    return await answer(s);
  };
  const client = new MilpaClient(
    { endpoint: "http://milpa:1", token: "tok", tokenSource: "/mh/client.yaml" },
    fakeFetch as typeof fetch,
  );
  return { client, seen };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  });

Deno.test("objectPath() builds namespaced, all-namespace and cluster paths", () => {
  assert.equal(objectPath(pods, "default"), "/api/v1/namespaces/default/pods");
  assert.equal(objectPath(pods, "default", "a b"), "/api/v1/namespaces/default/pods/a%20b");
  assert.equal(objectPath(pods, undefined), "/api/v1/pods");
  assert.equal(objectPath(nodes, "default", "n1"), "/api/v1/nodes/n1");
});

Deno.test("MilpaClient.list() sends the token and the label selector", async () => {
  const { client, seen } = clientWith(() => json({ kind: "PodList", items: [] }));
  await client.list(pods, { namespace: "web", labelSelector: "app=web,tier!=db" });
  assert.equal(seen[0].url.pathname, "/api/v1/namespaces/web/pods");
  assert.equal(seen[0].url.searchParams.get("labelSelector"), "app=web,tier!=db");
  assert.equal(seen[0].auth, "Bearer tok");
});

Deno.test("MilpaClient.list() reads a long list in chunks of 500, following continue", async () => {
  const all = Array.from({ length: 1_200 }, (_, i) => ({ metadata: { name: `p${i}` } }));
  const { client, seen } = clientWith(({ url }) => {
    const limit = Number(url.searchParams.get("limit") ?? all.length);
    const from = Number(url.searchParams.get("continue") ?? 0);
    const items = all.slice(from, from + limit);
    const next = from + limit < all.length ? String(from + limit) : undefined;
    return json({
      kind: "PodList",
      metadata: next ? { continue: next, remainingItemCount: all.length - from - limit } : {},
      items,
    });
  });
  const list = await client.list(pods, { namespace: "default" });
  assert.deepEqual(seen.map((s) => s.url.searchParams.get("limit")), ["500", "500", "500"]);
  assert.deepEqual(seen.map((s) => s.url.searchParams.get("continue")), [null, "500", "1000"]);
  assert.equal(list.items.length, 1_200);
  assert.equal(list.metadata.continue, undefined);
  await client.list(pods, { chunkSize: 0 });
  assert.equal(seen.at(-1)!.url.searchParams.get("limit"), null);
});

Deno.test("MilpaClient.get() turns a 404 into kubectl's not-found message", async () => {
  const { client } = clientWith(() =>
    json({ kind: "Status", code: 404, reason: "NotFound", message: "no such pod" }, 404)
  );
  await assert.rejects(client.get(pods, "default", "x"), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.message, 'pods "x" not found');
    assert.equal(err.code, 404);
    return true;
  });
});

Deno.test("MilpaClient turns a non-Status error body into a Status", async () => {
  const { client } = clientWith(() => new Response("<html>bad gateway</html>", { status: 502 }));
  await assert.rejects(client.list(pods), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 502);
    assert.equal(err.message, "<html>bad gateway</html>");
    return true;
  });
});

Deno.test("MilpaClient explains a 401 with where the token came from", async () => {
  const { client } = clientWith(() =>
    json({ kind: "Status", code: 401, reason: "Unauthorized", message: "bad token" }, 401)
  );
  await assert.rejects(client.list(pods), (err: unknown) => {
    assert.ok(err instanceof ApiError);
    assert.equal(err.message, "Unauthorized: bad token");
    assert.match(err.hint!, /http:\/\/milpa:1 did not accept the token from \/mh\/client\.yaml/);
    return true;
  });
});

Deno.test("MilpaClient throws UnreachableError when fetch fails", async () => {
  const { client } = clientWith(() => {
    throw new TypeError("error sending request: Connection refused");
  });
  await assert.rejects(client.version(), UnreachableError);
});

Deno.test("MilpaClient.delete() passes cascade", async () => {
  const { client, seen } = clientWith(() => json({ kind: "Pod" }));
  await client.delete(pods, "default", "web", false);
  assert.equal(seen[0].method, "DELETE");
  assert.equal(seen[0].url.pathname, "/api/v1/namespaces/default/pods/web");
  assert.equal(seen[0].url.searchParams.get("cascade"), "false");
});

Deno.test("MilpaClient.batch() posts operation, items and cascade in one request", async () => {
  const { client, seen } = clientWith(() =>
    json({ items: [{ kind: "Pod", namespace: "default", name: "a", action: "created" }] })
  );
  const items = await client.batch("create", [{ kind: "Pod" }]);
  assert.deepEqual(seen[0].body, { operation: "create", items: [{ kind: "Pod" }], cascade: true });
  assert.equal(seen[0].url.pathname, "/api/v1/batch");
  assert.equal(items[0].action, "created");
});

Deno.test("MilpaClient.logs() passes unit, lines and follow", async () => {
  const { client, seen } = clientWith(() => new Response("line 1\n"));
  const body = await client.logs("default", "web", { unit: "u", lines: 5, follow: true });
  assert.equal(await new Response(body).text(), "line 1\n");
  assert.equal(seen[0].url.pathname, "/api/v1/namespaces/default/pods/web/log");
  assert.equal(seen[0].url.search, "?unit=u&lines=5&follow=true");
});

Deno.test("MilpaClient.watch() yields typed events from the SSE stream", async () => {
  const { client, seen } = clientWith(() =>
    new Response(
      'event: ADDED\ndata: {"kind":"Pod","metadata":{"name":"a"}}\n\n: keepalive\n\n' +
        'event: DELETED\ndata: {"kind":"Pod","metadata":{"name":"a"}}\n\n',
      { headers: { "content-type": "text/event-stream" } },
    )
  );
  const events = [];
  for await (const e of client.watch(pods, { namespace: "default" })) events.push(e.type);
  assert.deepEqual(events, ["ADDED", "DELETED"]);
  assert.equal(seen[0].url.searchParams.get("watch"), "true");
});

const deployments = findKind("deploy")!;
const conflict = () =>
  json({ kind: "Status", code: 409, reason: "Conflict", message: "changed; retry" }, 409);

Deno.test("MilpaClient.modify() PUTs the change with the resourceVersion it read", async () => {
  const { client, seen } = clientWith((s) =>
    s.method === "GET"
      ? json({ kind: "Deployment", metadata: { name: "web", resourceVersion: "7" }, spec: {} })
      : json(s.body)
  );
  const out = await client.modify(deployments, "default", "web", (d) => ({
    ...d,
    spec: { replicas: 3 },
  }));
  assert.deepEqual(seen.map((s) => s.method), ["GET", "PUT"]);
  assert.equal(seen[1].url.pathname, "/api/v1/namespaces/default/deployments/web");
  assert.deepEqual(seen[1].body, {
    kind: "Deployment",
    metadata: { name: "web", resourceVersion: "7" },
    spec: { replicas: 3 },
  });
  assert.deepEqual(out.spec, { replicas: 3 });
});

Deno.test("MilpaClient.modify() reads again and retries after a 409 Conflict", async () => {
  let version = 0;
  let puts = 0;
  const { client, seen } = clientWith((s) => {
    if (s.method === "GET") {
      return json({
        kind: "Deployment",
        metadata: { name: "web", resourceVersion: `${++version}` },
      });
    }
    return ++puts < 3 ? conflict() : json(s.body);
  });
  await client.modify(deployments, "default", "web", (d) => ({ ...d, spec: { paused: true } }));
  assert.deepEqual(seen.map((s) => s.method), ["GET", "PUT", "GET", "PUT", "GET", "PUT"]);
  assert.deepEqual(
    seen.filter((s) => s.method === "PUT").map((s) =>
      (s.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion
    ),
    ["1", "2", "3"],
  );
});

Deno.test("MilpaClient.modify() gives up after MODIFY_ATTEMPTS conflicts, and at once on others", async () => {
  const always = clientWith((s) =>
    s.method === "GET" ? json({ kind: "Deployment", metadata: { name: "web" } }) : conflict()
  );
  await assert.rejects(
    always.client.modify(deployments, "default", "web", (d) => d),
    (err: unknown) => err instanceof ApiError && err.code === 409,
  );
  assert.equal(always.seen.filter((s) => s.method === "PUT").length, MODIFY_ATTEMPTS);
  const invalid = clientWith((s) =>
    s.method === "GET"
      ? json({ kind: "Deployment", metadata: { name: "web" } })
      : json({ kind: "Status", code: 422, reason: "Invalid", message: "bad" }, 422)
  );
  await assert.rejects(invalid.client.modify(deployments, "default", "web", (d) => d), ApiError);
  assert.equal(invalid.seen.length, 2);
  const refused = clientWith(() => json({ kind: "Deployment", metadata: { name: "web" } }));
  await assert.rejects(
    refused.client.modify(deployments, "default", "web", () => {
      throw new Error("no");
    }),
    /no/,
  );
  assert.deepEqual(refused.seen.map((s) => s.method), ["GET"]);
});

Deno.test("MilpaClient.rollback() posts toRevision, or an empty body for the previous one", async () => {
  const { client, seen } = clientWith(() => json({ kind: "Deployment", metadata: { name: "w" } }));
  await client.rollback("web", "backend", 2);
  await client.rollback("web", "backend");
  assert.equal(seen[0].method, "POST");
  assert.equal(seen[0].url.pathname, "/api/v1/namespaces/web/deployments/backend/rollback");
  assert.deepEqual(seen[0].body, { toRevision: 2 });
  assert.deepEqual(seen[1].body, {});
});

/** An https server with a certificate of a new CA in a temp home; the CA's PEM. */
async function tlsServer(
  handler: (req: Request) => Response,
): Promise<{ url: string; ca: string; close(): Promise<void> }> {
  const home = await Deno.makeTempDir({ prefix: "milpa-cli-tls-" });
  const pki = await ControllerPki.open({ home });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {}, ...await pki.serverCertificate([]) },
    handler,
  );
  return {
    url: `https://127.0.0.1:${server.addr.port}`,
    ca: pki.caCertificate,
    async close() {
      await server.shutdown();
      await Deno.remove(home, { recursive: true });
    },
  };
}

const sse = () =>
  new Response(
    "event: ADDED\ndata: " + JSON.stringify({ kind: "Pod", metadata: { name: "a" } }) + "\n\n",
    { headers: { "content-type": "text/event-stream" } },
  );

Deno.test("MilpaClient talks to an https controller with the config's CA, streams included", async () => {
  const server = await tlsServer((req) =>
    new URL(req.url).searchParams.get("watch") ? sse() : json({ gitVersion: "v1" })
  );
  const client = new MilpaClient({
    endpoint: server.url,
    token: "tok",
    tokenSource: "--token",
    caCertificate: server.ca,
    caSource: "/mh/client.yaml",
  });
  try {
    assert.deepEqual(await client.version(), { gitVersion: "v1" });
    const events = [];
    for await (const e of client.watch(pods, { namespace: "default" })) events.push(e);
    assert.deepEqual(events.map((e) => [e.type, e.object.metadata.name]), [["ADDED", "a"]]);
  } finally {
    client.close();
    await server.close();
  }
});

Deno.test("MilpaClient refuses an https controller no given CA vouches for, naming the endpoint and the CA's source", async () => {
  const server = await tlsServer(() => json({}));
  const stranger = await tlsServer(() => json({}));
  const wrong = new MilpaClient({
    endpoint: server.url,
    token: "tok",
    tokenSource: "--token",
    caCertificate: stranger.ca,
    caSource: "MILPA_CA_FILE (/tmp/other.crt)",
  });
  const none = new MilpaClient({ endpoint: server.url, token: "tok", tokenSource: "--token" });
  try {
    await assert.rejects(wrong.version(), (e: unknown) => {
      assert.ok(e instanceof TlsError, String(e));
      assert.equal(
        e.message,
        `cannot verify the Milpa controller at ${server.url}: invalid peer certificate: UnknownIssuer`,
      );
      assert.match(e.hint!, /the CA from MILPA_CA_FILE \(\/tmp\/other\.crt\)/);
      return true;
    });
    await assert.rejects(none.version(), (e: unknown) => {
      assert.ok(e instanceof TlsError, String(e));
      assert.match(e.hint!, /no CA was given for it .*MILPA_CA_FILE/);
      return true;
    });
  } finally {
    wrong.close();
    none.close();
    await server.close();
    await stranger.close();
  }
});

Deno.test("MilpaClient says when the endpoint's scheme is not the one the controller serves", async () => {
  const server = await tlsServer(() => json({}));
  const plain = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => json({}));
  const httpToTls = new MilpaClient({
    endpoint: server.url.replace("https:", "http:"),
    token: "tok",
    tokenSource: "--token",
  });
  const httpsToPlain = new MilpaClient({
    endpoint: `https://127.0.0.1:${plain.addr.port}`,
    token: "tok",
    tokenSource: "--token",
    caCertificate: server.ca,
    caSource: "/mh/client.yaml",
  });
  try {
    await assert.rejects(httpToTls.version(), (e: unknown) => {
      assert.ok(e instanceof TlsError, String(e));
      assert.match(e.message, /does not answer plain http/);
      assert.match(e.hint!, /use an https:\/\/ endpoint/);
      return true;
    });
    await assert.rejects(httpsToPlain.version(), (e: unknown) => {
      assert.ok(e instanceof TlsError, String(e));
      assert.match(e.message, /does not answer TLS/);
      assert.match(e.hint!, /use an http:\/\/ endpoint/);
      return true;
    });
  } finally {
    httpsToPlain.close();
    await plain.shutdown();
    await server.close();
  }
});

Deno.test("MilpaClient speaks HTTP/1.1 to an https controller that offers HTTP/2 too", async () => {
  const home = await Deno.makeTempDir({ prefix: "milpa-cli-alpn-" });
  const pki = await ControllerPki.open({ home });
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    alpnProtocols: ["h2", "http/1.1"],
    ...await pki.serverCertificate([]),
  });
  // One connection: what the client chose, then an HTTP/1.1 answer whatever it chose.
  const served = (async () => {
    const conn = await listener.accept();
    try {
      const { alpnProtocol } = await conn.handshake();
      await conn.read(new Uint8Array(4096));
      const body = JSON.stringify({ gitVersion: "v1" });
      await conn.write(new TextEncoder().encode(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" +
          `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
      ));
      return alpnProtocol;
    } finally {
      conn.close();
    }
  })();
  const client = new MilpaClient({
    endpoint: `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    token: "tok",
    tokenSource: "--token",
    caCertificate: pki.caCertificate,
    caSource: "/mh/client.yaml",
  });
  try {
    await client.version().catch(() => {}); // an h2 client cannot read the answer
    assert.equal(await served, "http/1.1");
  } finally {
    client.close();
    listener.close();
    await Deno.remove(home, { recursive: true });
  }
});
