import assert from "node:assert/strict";
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
// @ts-types="@types/dns-packet"
import * as packet from "dns-packet";
import { serviceRecords } from "../service_records.ts";
import { DnsZone } from "./dns_records.ts";
import { DnsServer } from "./dns_server.ts";

const HOST = "127.0.0.1";

type Decoded = packet.DecodedPacket & { rcode: string; opcode: string };

function decode(bytes: Uint8Array): Decoded {
  return packet.decode(Buffer.from(bytes)) as Decoded;
}

function dataOf(a: packet.Answer): unknown {
  return "data" in a ? a.data : undefined;
}

function query(
  name: string,
  type: packet.RecordType,
  options: { id?: number; edns?: number; ednsVersion?: number } = {},
): Uint8Array {
  const opt: packet.OptAnswer = {
    type: "OPT",
    name: ".",
    udpPayloadSize: options.edns ?? 1232,
    extendedRcode: 0,
    ednsVersion: options.ednsVersion ?? 0,
    flags: 0,
    flag_do: false,
    options: [],
  };
  return packet.encode({
    type: "query",
    id: options.id ?? 1,
    flags: packet.RECURSION_DESIRED,
    questions: [{ name, type, class: "IN" }],
    additionals: options.edns === undefined && options.ednsVersion === undefined ? [] : [opt],
  });
}

/** A zone with `backend-svc` (n endpoints, port "hello") in namespace default. */
function zone(endpoints = 3): DnsZone {
  const z = new DnsZone({ name: "milpa.local" });
  z.setService(
    "default/backend-svc",
    serviceRecords({
      service: "backend-svc",
      namespace: "default",
      zone: "milpa.local",
      ports: [{ name: "hello", protocol: "TCP", port: 8080 }],
      endpoints: Array.from({ length: endpoints }, (_, i) => ({
        pod: `backend-${i}`,
        address: `10.0.${Math.floor(i / 200)}.${(i % 200) + 2}`,
      })),
    }),
  );
  return z;
}

/** A UDP client socket that queues the datagrams it receives. */
class UdpClient {
  #socket = dgram.createSocket("udp4");
  #received: Uint8Array[] = [];
  #wake?: () => void;

  constructor(readonly port: number) {
    this.#socket.on("message", (msg) => {
      this.#received.push(new Uint8Array(msg));
      this.#wake?.();
    });
  }

  send(bytes: Uint8Array): void {
    this.#socket.send(bytes, this.port, HOST);
  }

  /** The next datagram; rejects after `ms`. */
  async next(ms = 2000): Promise<Uint8Array> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      while (this.#received.length === 0) {
        await new Promise<void>((resolve, reject) => {
          this.#wake = resolve;
          timer = setTimeout(() => reject(new Error(`no UDP answer within ${ms} ms`)), ms);
        });
        clearTimeout(timer);
      }
      return this.#received.shift()!;
    } finally {
      clearTimeout(timer);
    }
  }

  async ask(bytes: Uint8Array): Promise<Decoded> {
    this.send(bytes);
    return decode(await this.next());
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}

/** Sends length-prefixed messages in one write and reads as many answers. */
async function tcpAsk(conn: Deno.Conn, ...messages: Uint8Array[]): Promise<Decoded[]> {
  const framed = messages.flatMap((m) => [m.length >> 8, m.length & 0xff, ...m]);
  await conn.write(new Uint8Array(framed));
  const out: Decoded[] = [];
  for (const _ of messages) {
    const [hi, lo] = await readExactly(conn, 2);
    out.push(decode(await readExactly(conn, (hi << 8) | lo)));
  }
  return out;
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  for (let o = 0; o < n;) {
    const read = await conn.read(buf.subarray(o));
    if (read === null) throw new Error("TCP connection closed early");
    o += read;
  }
  return buf;
}

/** Runs `fn` with a server on a free loopback port and a UDP client, closing both after. */
async function withServer(
  z: DnsZone,
  fn: (server: DnsServer, udp: UdpClient, logs: string[]) => Promise<void>,
  options: { tcpIdleTimeoutMs?: number } = {},
): Promise<void> {
  const logs: string[] = [];
  const server = await DnsServer.start({
    hostname: HOST,
    port: 0,
    zone: z,
    log: (m) => logs.push(m),
    ...options,
  });
  const udp = new UdpClient(server.addr.port);
  try {
    await fn(server, udp, logs);
  } finally {
    await udp.close();
    await server.close();
  }
}

Deno.test("DnsServer.start() listens on the port it reports, for UDP and TCP", async () => {
  await withServer(zone(), async (server, udp) => {
    assert.notEqual(server.addr.port, 0);
    assert.equal(server.addr.hostname, HOST);
    const reply = await udp.ask(query("backend-svc.default.milpa.local", "A", { id: 4242 }));
    assert.equal(reply.id, 4242);
    assert.equal(reply.flag_qr, true);
    assert.equal(reply.flag_aa, true);
    assert.equal(reply.flag_rd, true);
    assert.equal(reply.flag_ra, false);
    assert.equal(reply.rcode, "NOERROR");
    assert.deepEqual(reply.questions, [{
      name: "backend-svc.default.milpa.local",
      type: "A",
      class: "IN",
    }]);
    assert.deepEqual(reply.answers!.map((a) => [a.type, dataOf(a)]), [
      ["A", "10.0.0.2"],
      ["A", "10.0.0.3"],
      ["A", "10.0.0.4"],
    ]);
    const conn = await Deno.connect({ hostname: HOST, port: server.addr.port });
    try {
      const [tcp] = await tcpAsk(conn, query("backend-svc.default.milpa.local", "A"));
      assert.equal(tcp.answers!.length, 3);
    } finally {
      conn.close();
    }
  });
});

Deno.test("DnsServer answers SRV over UDP with the targets' A records as additionals", async () => {
  await withServer(zone(), async (_server, udp) => {
    const reply = await udp.ask(query("_hello._tcp.backend-svc.default.milpa.local", "SRV"));
    assert.equal(reply.flag_tc, false);
    assert.equal(reply.answers!.length, 3);
    assert.deepEqual(reply.answers![0], {
      name: "_hello._tcp.backend-svc.default.milpa.local",
      type: "SRV",
      class: "IN",
      flush: false,
      ttl: 30,
      data: {
        priority: 0,
        weight: 10,
        port: 8080,
        target: "backend-0.backend-svc.default.milpa.local",
      },
    });
    assert.deepEqual(
      reply.additionals!.map((a) => [a.name, dataOf(a)]),
      [0, 1, 2].map((i) => [
        `backend-${i}.backend-svc.default.milpa.local`,
        `10.0.0.${i + 2}`,
      ]),
    );
  });
});

Deno.test("DnsServer keeps the question's case and compresses names", async () => {
  await withServer(zone(), async (_server, udp) => {
    const bytes = query("_HELLO._tcp.Backend-Svc.default.milpa.local", "SRV");
    udp.send(bytes);
    const raw = await udp.next();
    const reply = decode(raw);
    assert.equal(reply.questions![0].name, "_HELLO._tcp.Backend-Svc.default.milpa.local");
    assert.equal(reply.answers![0].name, "_HELLO._tcp.Backend-Svc.default.milpa.local");
    assert.ok(raw.length < 330, `answer of ${raw.length} bytes is not compressed`);
  });
});

Deno.test("DnsServer truncates a large UDP answer, which comes whole over TCP", async () => {
  await withServer(zone(40), async (server, udp) => {
    const name = "_hello._tcp.backend-svc.default.milpa.local";
    const classic = await udp.ask(query(name, "SRV"));
    assert.equal(classic.flag_tc, true);
    assert.equal(classic.flag_aa, true);
    assert.deepEqual([classic.answers, classic.additionals], [[], []]);
    const edns = await udp.ask(query(name, "SRV", { edns: 1232 }));
    assert.equal(edns.flag_tc, true);
    assert.equal(edns.answers!.length, 0);
    assert.deepEqual(edns.additionals!.map((a) => a.type), ["OPT"]);
    assert.equal((edns.additionals![0] as packet.OptAnswer).udpPayloadSize, 4096);
    const big = await udp.ask(query(name, "SRV", { edns: 4096 }));
    assert.deepEqual([big.flag_tc, big.answers!.length, big.additionals!.length], [false, 40, 41]);
    const conn = await Deno.connect({ hostname: HOST, port: server.addr.port });
    try {
      const [whole, again] = await tcpAsk(
        conn,
        query(name, "SRV"),
        query(name, "SRV", { edns: 512 }),
      );
      for (const reply of [whole, again]) {
        assert.equal(reply.flag_tc, false);
        assert.equal(reply.answers!.length, 40);
        assert.equal(reply.additionals!.filter((a) => a.type === "A").length, 40);
      }
      assert.deepEqual(again.additionals!.map((a) => a.type).slice(-1), ["OPT"]);
    } finally {
      conn.close();
    }
  });
});

Deno.test("DnsServer echoes EDNS and answers a large enough buffer in full over UDP", async () => {
  await withServer(zone(12), async (_server, udp) => {
    const name = "_hello._tcp.backend-svc.default.milpa.local";
    assert.equal((await udp.ask(query(name, "SRV"))).flag_tc, true);
    const reply = await udp.ask(query(name, "SRV", { edns: 1232 }));
    assert.equal(reply.flag_tc, false);
    assert.equal(reply.answers!.length, 12);
    const opt = reply.additionals!.find((a) => a.type === "OPT") as packet.OptAnswer;
    assert.deepEqual([opt.ednsVersion, opt.extendedRcode, opt.flag_do], [0, 0, false]);
    const badvers = await udp.ask(query(name, "SRV", { ednsVersion: 1 }));
    assert.equal((badvers.additionals![0] as packet.OptAnswer).extendedRcode, 1);
    assert.equal(badvers.answers!.length, 0);
  });
});

Deno.test("DnsServer answers NXDOMAIN with the SOA, and REFUSED outside the zone at once", async () => {
  await withServer(zone(), async (_server, udp) => {
    const nx = await udp.ask(query("nope.default.milpa.local", "A"));
    assert.deepEqual([nx.rcode, nx.flag_aa, nx.answers!.length], ["NXDOMAIN", true, 0]);
    assert.deepEqual(nx.authorities!.map((a) => [a.type, a.name, "ttl" in a && a.ttl]), [[
      "SOA",
      "milpa.local",
      30,
    ]]);
    const started = performance.now();
    const refused = await udp.ask(query("example.com", "A"));
    assert.deepEqual([refused.rcode, refused.flag_aa, refused.answers!.length], [
      "REFUSED",
      false,
      0,
    ]);
    assert.ok(performance.now() - started < 1000);
    const nodata = await udp.ask(query("backend-svc.default.milpa.local", "AAAA"));
    assert.deepEqual([nodata.rcode, nodata.answers!.length, nodata.authorities!.length], [
      "NOERROR",
      0,
      1,
    ]);
  });
});

Deno.test("DnsServer survives garbage: FORMERR when the header reads, silence otherwise", async () => {
  await withServer(zone(), async (server, udp) => {
    udp.send(new Uint8Array([1, 2, 3]));
    const noQuestion = new Uint8Array(12);
    noQuestion.set([0x12, 0x34, 0x01, 0x00, 0x00, 0x01]); // says one question, has none
    udp.send(noQuestion);
    const formerr = decode(await udp.next());
    assert.deepEqual([formerr.id, formerr.rcode, formerr.flag_qr], [0x1234, "FORMERR", true]);
    const response = query("backend-svc.default.milpa.local", "A", { id: 9 });
    response[2] |= 0x80; // a response: never answered
    udp.send(response);
    const status = query("backend-svc.default.milpa.local", "A", { id: 10 });
    status[2] |= 2 << 3; // opcode STATUS
    const notimp = await udp.ask(status);
    assert.deepEqual([notimp.id, notimp.rcode, notimp.opcode], [10, "NOTIMP", "STATUS"]);
    const ok = await udp.ask(query("backend-svc.default.milpa.local", "A", { id: 11 }));
    assert.deepEqual([ok.id, ok.answers!.length], [11, 3]);
    const garbage = new Uint8Array(40).fill(0xff); // a pointer far past the end
    garbage.set([0x56, 0x78, 0x00, 0x00, 0x00, 0x01]);
    const conn = await Deno.connect({ hostname: HOST, port: server.addr.port });
    try {
      const [bad, good] = await tcpAsk(
        conn,
        garbage,
        query("backend-svc.default.milpa.local", "A"),
      );
      assert.deepEqual([bad.id, bad.rcode], [0x5678, "FORMERR"]);
      assert.equal(good.answers!.length, 3);
    } finally {
      conn.close();
    }
  });
});

Deno.test("DnsServer closes idle TCP connections, and close() ends open ones and frees the port", async () => {
  await withServer(zone(), async (server) => {
    const conn = await Deno.connect({ hostname: HOST, port: server.addr.port });
    try {
      assert.equal(await conn.read(new Uint8Array(1)), null);
    } finally {
      conn.close();
    }
  }, { tcpIdleTimeoutMs: 50 });
  const server = await DnsServer.start({ hostname: HOST, port: 0, zone: zone() });
  const conn = await Deno.connect({ hostname: HOST, port: server.addr.port });
  try {
    await tcpAsk(conn, query("backend-svc.default.milpa.local", "A"));
    await server.close();
    assert.equal(await conn.read(new Uint8Array(1)), null);
  } finally {
    conn.close();
    await server.close();
  }
  const again = await DnsServer.start({ hostname: HOST, port: server.addr.port, zone: zone() });
  await again.close(); // both sockets of the first server were released
});

function hasDig(): boolean {
  try {
    return new Deno.Command("dig", { args: ["-v"], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false; // not installed
  }
}

async function runDig(port: number, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("dig", {
    args: [`@${HOST}`, "-p", String(port), "+time=2", "+tries=1", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "DnsServer answers dig over UDP and TCP (needs dig, Debian bind9-dnsutils)",
  ignore: !hasDig(),
  fn: async () => {
    await withServer(zone(3), async (server) => {
      const port = server.addr.port;
      const srv = "_hello._tcp.backend-svc.default.milpa.local";
      const expected = [0, 1, 2].map((i) =>
        `0 10 8080 backend-${i}.backend-svc.default.milpa.local.`
      );
      for (const transport of ["+notcp", "+tcp"]) {
        const lines = (await runDig(port, "SRV", srv, "+short", transport)).trim().split("\n");
        assert.deepEqual(lines.sort(), expected);
        const a = await runDig(port, "A", "backend-svc.default.milpa.local", "+short", transport);
        assert.deepEqual(a.trim().split("\n").sort(), ["10.0.0.2", "10.0.0.3", "10.0.0.4"]);
      }
      const full = await runDig(port, "SRV", srv);
      assert.match(full, /status: NOERROR/);
      assert.match(full, /flags: qr aa rd;/);
      assert.match(full, /ADDITIONAL: 4/); // three A records and the OPT
      assert.match(await runDig(port, "A", "example.com"), /status: REFUSED/);
      assert.match(await runDig(port, "A", "nope.milpa.local"), /status: NXDOMAIN/);
    });
    await withServer(zone(40), async (server) => {
      const srv = "_hello._tcp.backend-svc.default.milpa.local";
      const udp = await runDig(server.addr.port, "SRV", srv, "+ignore", "+bufsize=512");
      assert.match(udp, /flags: qr aa tc rd;/);
      const fallback = await runDig(server.addr.port, "SRV", srv, "+short", "+bufsize=512");
      assert.equal(fallback.trim().split("\n").length, 40);
    });
  },
});
