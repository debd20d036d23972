import assert from "node:assert/strict";
import dgram from "node:dgram";
import { hostPort, ListenError, listenError } from "./listen_error.ts";

const target = (port: number, hostname = "127.0.0.1") => ({
  what: "the API",
  hostname,
  port,
  fix: "Set MILPA_LISTEN.",
});

function listenFails(hostname: string, port: number): unknown {
  try {
    Deno.listen({ hostname, port }).close();
  } catch (e) {
    return e;
  }
  throw new Error(`listening on ${hostname}:${port} worked`);
}

Deno.test("listenError() names the address in use, what wanted it and the fix", () => {
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = held.addr.port;
    const e = listenError(listenFails("127.0.0.1", port), target(port));
    assert.ok(e instanceof ListenError);
    assert.equal(e.address, `127.0.0.1:${port}`);
    assert.equal(
      e.message,
      `Cannot listen on 127.0.0.1:${port} for the API: the address is in use, by another Milpa ` +
        `controller or another program (\`ss -ltnup 'sport = :${port}'\` shows which). ` +
        "Set MILPA_LISTEN.",
    );
    assert.ok(e.cause instanceof Deno.errors.AddrInUse);
  } finally {
    held.close();
  }
});

Deno.test("listenError() knows a UDP socket's EADDRINUSE (node:dgram)", async () => {
  const first = dgram.createSocket("udp4");
  await new Promise<void>((resolve) => first.bind(0, "127.0.0.1", resolve));
  const port = first.address().port;
  const second = dgram.createSocket("udp4");
  try {
    const error = await new Promise<unknown>((resolve) => {
      second.once("error", resolve);
      second.bind(port, "127.0.0.1", () => resolve(undefined));
    });
    const e = listenError(error, target(port));
    assert.ok(e instanceof ListenError, String(error));
    assert.match(e.message, /the address is in use/);
  } finally {
    await new Promise<void>((resolve) => first.close(() => resolve()));
    await new Promise<void>((resolve) => second.close(() => resolve()));
  }
});

Deno.test("listenError() says when the address is not this machine's, and passes other errors", () => {
  // 192.0.2.1 (TEST-NET-1) is no address of this machine: the bind fails, nothing is sent.
  const e = listenError(listenFails("192.0.2.1", 54555), target(54555, "192.0.2.1"));
  assert.ok(e instanceof ListenError);
  assert.match(e.message, /^Cannot listen on 192\.0\.2\.1:54555 for the API: 192\.0\.2\.1 is not/);
  const other = new TypeError("x");
  assert.equal(listenError(other, target(1)), other);
});

Deno.test("hostPort() brackets IPv6 hosts", () => {
  assert.equal(hostPort("::1", 53), "[::1]:53");
  assert.equal(hostPort("10.0.0.1", 53), "10.0.0.1:53");
});
