import assert from "node:assert/strict";
import { ControllerPki } from "./pki.ts";
import { setListenerNoDelay } from "./tcp_nodelay.ts";

const LINUX = Deno.build.os === "linux";

/** TCP_NODELAY of this process's sockets on local `port` in `state` ("0A" LISTEN, "01" ESTABLISHED). */
function noDelayOf(port: number, state: string): number[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of Deno.readTextFileSync(table).split("\n").slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 9 && c[1].endsWith(`:${hexPort}`) && c[3] === state) inodes.add(c[9]);
    }
  }
  const libc = Deno.dlopen("libc.so.6", {
    getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  });
  try {
    const values: number[] = [];
    for (const e of Deno.readDirSync("/proc/self/fd")) {
      const inode = /^socket:\[(\d+)\]$/.exec(
        (() => {
          try {
            return Deno.readLinkSync(`/proc/self/fd/${e.name}`);
          } catch {
            return "";
          }
        })(),
      )?.[1];
      if (!inode || !inodes.has(inode)) continue;
      const value = new Int32Array(1);
      const len = new Uint32Array([4]);
      const rc = libc.symbols.getsockopt(
        Number(e.name),
        6,
        1,
        new Uint8Array(value.buffer),
        new Uint8Array(len.buffer),
      );
      assert.equal(rc, 0);
      values.push(value[0] ? 1 : 0);
    }
    return values;
  } finally {
    libc.close();
  }
}

Deno.test({
  name: "setListenerNoDelay() gives the connections a TLS listener accepts TCP_NODELAY",
  ignore: !LINUX,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "milpa-nodelay-" });
    const pki = await ControllerPki.open({ home, subjectAltNames: [] });
    const cert = await pki.serverCertificate(["127.0.0.1"]);
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {}, ...cert },
      () => new Response("x".repeat(4000)),
    );
    const client = Deno.createHttpClient({ caCerts: [pki.caCertificate] });
    try {
      const port = server.addr.port;
      assert.equal(setListenerNoDelay(port), 1, "the one listening socket");
      assert.deepEqual(noDelayOf(port, "0A"), [1]);
      const res = await fetch(`https://127.0.0.1:${port}/`, { client });
      assert.equal((await res.text()).length, 4000);
      // The server's end of the connection the client keeps open: it inherited the option.
      assert.deepEqual(noDelayOf(port, "01"), [1]);
    } finally {
      client.close();
      await server.shutdown();
      await Deno.remove(home, { recursive: true });
    }
  },
});
