/**
 * Serves a `DnsZone` on one address and port, over UDP and TCP (RFC 1035, 7766), authoritative only.
 *
 * Queries are decoded with dns-packet; answers are encoded here, with name compression, which
 * dns-packet lacks: without it three SRV answers with their A records already pass 512 bytes, and
 * resolvers that only speak UDP (HAProxy's `resolvers`, which announce 512 by default) would get
 * nothing but truncated answers. UDP goes through `node:dgram` because `Deno.listenDatagram` still
 * needs `--unstable-net` in Deno 2.9.
 */
// @ts-types="@types/dns-packet"
import * as packet from "dns-packet";
import dgram from "node:dgram";
import { Buffer } from "node:buffer";
import { isTeardown, type LogLevel } from "../../model/log.ts";
import type { DnsRecord, DnsZone, Rcode } from "./dns_records.ts";

const RCODES: Record<Rcode, number> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
};
const TYPES: Record<DnsRecord["type"], number> = { A: 1, NS: 2, SOA: 6, SRV: 33 };
const QR = 0x8000, AA = 0x0400, TC = 0x0200, RD = 0x0100;
/** A UDP answer no client announced a buffer for (RFC 1035 §4.2.1). */
const CLASSIC_UDP_SIZE = 512;
const ASCII = new TextEncoder();

/** Options of `respond`. */
export interface RespondOptions {
  /** Answers over UDP are truncated to the client's buffer; over TCP only to 65535 bytes. */
  udp: boolean;
  /**
   * Largest UDP answer sent to EDNS clients, and announced in the OPT record. Above the 1232 bytes
   * advised for the Internet: clients sit on the same bridge, and some resolvers (HAProxy's) never
   * retry over TCP. @default 4096
   */
  maxUdpPayload?: number;
}

interface Header {
  id: number;
  opcode: number;
  rd: boolean;
}

interface Edns {
  udpPayloadSize: number;
  /** The upper 8 bits of a 12-bit rcode: 1 with rcode 0 is BADVERS. */
  extendedRcode: number;
}

interface Reply {
  rcode: number;
  aa: boolean;
  question?: Uint8Array;
  sections: DnsRecord[][];
  edns?: Edns;
}

/**
 * The answer to one query message, or undefined when nothing should be sent: shorter than a
 * header, or itself a response. Unreadable bodies get FORMERR, opcodes other than QUERY NOTIMP,
 * EDNS versions above 0 BADVERS; it never throws (an internal error becomes SERVFAIL).
 */
export function respond(
  zone: DnsZone,
  query: Uint8Array,
  options: RespondOptions,
): Uint8Array | undefined {
  if (query.length < 12) return undefined;
  const flags = (query[2] << 8) | query[3];
  if (flags & QR) return undefined;
  const header = {
    id: (query[0] << 8) | query[1],
    opcode: (flags >> 11) & 0xf,
    rd: (flags & RD) !== 0,
  };
  const maxUdp = Math.max(CLASSIC_UDP_SIZE, options.maxUdpPayload ?? 4096);
  if (header.opcode !== 0) return encode(header, { rcode: RCODES.NOTIMP, aa: false, sections: [] });
  let decoded: packet.DecodedPacket;
  try {
    decoded = packet.decode(Buffer.from(query.buffer, query.byteOffset, query.byteLength));
  } catch {
    return encode(header, { rcode: RCODES.FORMERR, aa: false, sections: [] });
  }
  const opts = (decoded.additionals ?? []).filter((r) => r.type === "OPT");
  const question = decoded.questions?.length === 1 ? rawQuestion(query) : undefined;
  if (question === undefined || opts.length > 1) {
    return encode(header, { rcode: RCODES.FORMERR, aa: false, sections: [] });
  }
  const opt = opts[0] as packet.OptAnswer | undefined;
  const edns = opt && { udpPayloadSize: maxUdp, extendedRcode: 0 };
  if (opt && opt.ednsVersion !== 0) {
    return encode(header, {
      rcode: 0,
      aa: false,
      question,
      sections: [],
      edns: { ...edns!, extendedRcode: 1 },
    });
  }
  let reply: Reply;
  try {
    const a = zone.answer(decoded.questions![0]);
    const sections = [a.answers, a.authorities, a.additionals];
    reply = { rcode: RCODES[a.rcode], aa: a.authoritative, question, sections, edns };
  } catch {
    reply = { rcode: RCODES.SERVFAIL, aa: false, question, sections: [], edns };
  }
  const limit = !options.udp
    ? 65535
    : opt
    ? clamp(opt.udpPayloadSize, CLASSIC_UDP_SIZE, maxUdp)
    : CLASSIC_UDP_SIZE;
  const full = encode(header, reply);
  if (full.length <= limit) return full;
  return encode(header, { ...reply, sections: [] }, true);
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

/** The question section's bytes, as asked (one question, already known to decode). */
function rawQuestion(query: Uint8Array): Uint8Array {
  let o = 12;
  while (query[o] !== 0 && (query[o] & 0xc0) === 0) o += query[o] + 1;
  return query.subarray(12, o + (query[o] === 0 ? 1 : 2) + 4);
}

function encode(header: Header, reply: Reply, truncated = false): Uint8Array {
  const w = new Writer();
  const flags = QR | (header.opcode << 11) | (reply.aa ? AA : 0) | (truncated ? TC : 0) |
    (header.rd ? RD : 0) | (reply.rcode & 0xf);
  const [an = [], ns = [], ar = []] = reply.sections;
  for (const n of [header.id, flags, reply.question ? 1 : 0, an.length, ns.length]) w.u16(n);
  w.u16(ar.length + (reply.edns ? 1 : 0));
  if (reply.question) w.question(reply.question);
  for (const r of [...an, ...ns, ...ar]) w.record(r);
  if (reply.edns) {
    w.u8(0); // the root name
    w.u16(41);
    w.u16(reply.edns.udpPayloadSize);
    w.u32(reply.edns.extendedRcode * 0x1000000); // extended rcode, version 0, no DO bit
    w.u16(0);
  }
  return w.bytes();
}

/** A growing message buffer that compresses names (RFC 1035 §4.1.4). */
class Writer {
  #buf = new Uint8Array(512);
  #len = 0;
  #names = new Map<string, number>();

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  u8(n: number): void {
    this.#room(1);
    this.#buf[this.#len++] = n & 0xff;
  }

  u16(n: number): void {
    this.u8(n >> 8);
    this.u8(n);
  }

  u32(n: number): void {
    this.u16(Math.floor(n / 0x10000));
    this.u16(n);
  }

  /** Copies a question as asked (case and type untouched) and remembers its name for pointers. */
  question(raw: Uint8Array): void {
    const labels: { at: number; text: string }[] = [];
    for (let o = 0; raw[o] !== 0 && (raw[o] & 0xc0) === 0; o += raw[o] + 1) {
      labels.push({
        at: this.#len + o,
        text: String.fromCharCode(...raw.subarray(o + 1, o + 1 + raw[o])),
      });
    }
    if (labels.every((l) => /^[\x21-\x2d\x2f-\x7e]+$/.test(l.text))) {
      labels.forEach((l, i) => this.#remember(labels.slice(i).map((x) => x.text).join("."), l.at));
    }
    this.#room(raw.length);
    this.#buf.set(raw, this.#len);
    this.#len += raw.length;
  }

  #remember(name: string, at: number): void {
    const key = name.toLowerCase();
    if (at < 0x4000 && !this.#names.has(key)) this.#names.set(key, at);
  }

  /** A name; `compress` false for SRV targets, which RFC 2782 says must not be compressed. */
  name(name: string, compress = true): void {
    const labels = name.split(".").filter((l) => l !== "");
    for (let i = 0; i < labels.length; i++) {
      const suffix = labels.slice(i).join(".");
      const at = compress ? this.#names.get(suffix.toLowerCase()) : undefined;
      if (at !== undefined) return this.u16(0xc000 | at);
      if (compress) this.#remember(suffix, this.#len);
      const bytes = ASCII.encode(labels[i]);
      this.u8(bytes.length);
      this.#room(bytes.length);
      this.#buf.set(bytes, this.#len);
      this.#len += bytes.length;
    }
    this.u8(0);
  }

  record(r: DnsRecord): void {
    this.name(r.name);
    this.u16(TYPES[r.type]);
    this.u16(1);
    this.u32(r.ttl);
    const lengthAt = this.#len;
    this.u16(0);
    if (r.type === "A") r.data.split(".").forEach((b) => this.u8(Number(b)));
    else if (r.type === "NS") this.name(r.data);
    else if (r.type === "SRV") {
      for (const n of [r.data.priority, r.data.weight, r.data.port]) this.u16(n);
      this.name(r.data.target, false);
    } else {
      const d = r.data;
      this.name(d.mname);
      this.name(d.rname);
      for (const n of [d.serial, d.refresh, d.retry, d.expire, d.minimum]) this.u32(n);
    }
    const length = this.#len - lengthAt - 2;
    this.#buf[lengthAt] = length >> 8;
    this.#buf[lengthAt + 1] = length & 0xff;
  }

  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

/** Options of `DnsServer.start`. */
export interface DnsServerOptions {
  hostname: string;
  /** 0 picks a port free for both UDP and TCP. */
  port: number;
  zone: DnsZone;
  /** Where socket and connection errors go (a client's own trouble at `debug`). */
  log?: (message: string, level?: LogLevel) => void;
  /** A TCP connection with no complete query for this long is closed. @default 10_000 */
  tcpIdleTimeoutMs?: number;
  /** Largest UDP answer sent to EDNS clients. @default 4096 */
  maxUdpPayload?: number;
}

/** A DNS server for one zone on one address, UDP and TCP on the same port. */
export class DnsServer {
  /** Where it listens; `port` is the real one when 0 was asked. */
  readonly addr: { hostname: string; port: number };
  #o: DnsServerOptions;
  #log: (message: string, level?: LogLevel) => void;
  #tcp: Deno.TcpListener;
  #udp: dgram.Socket;
  #conns = new Set<Deno.TcpConn>();
  #tasks = new Set<Promise<void>>();
  #closed = false;

  private constructor(options: DnsServerOptions, tcp: Deno.TcpListener, udp: dgram.Socket) {
    this.#o = options;
    this.#log = options.log ?? (() => {});
    this.#tcp = tcp;
    this.#udp = udp;
    this.addr = { hostname: options.hostname, port: tcp.addr.port };
    udp.on("message", (msg, rinfo) => this.#datagram(msg, rinfo));
    udp.on("error", (e) => this.#log(`DNS UDP socket error: ${e}`, "warn"));
    this.#track(this.#accept());
  }

  /** Binds both sockets; throws when the address or port cannot be had. */
  static async start(options: DnsServerOptions): Promise<DnsServer> {
    for (let attempt = 1;; attempt++) {
      const tcp = Deno.listen({ transport: "tcp", hostname: options.hostname, port: options.port });
      try {
        return new DnsServer(options, tcp, await bindUdp(options.hostname, tcp.addr.port));
      } catch (e) {
        tcp.close();
        const retry = options.port === 0 && attempt < 20 &&
          (e as { code?: string }).code === "EADDRINUSE";
        if (!retry) throw e;
      }
    }
  }

  /** Stops listening, ends open TCP connections, and resolves once every socket is released. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#tcp.close();
    for (const conn of this.#conns) closeQuietly(conn);
    await new Promise<void>((resolve) => this.#udp.close(() => resolve()));
    await Promise.allSettled([...this.#tasks]);
  }

  #respond(query: Uint8Array, udp: boolean): Uint8Array | undefined {
    try {
      return respond(this.#o.zone, query, { udp, maxUdpPayload: this.#o.maxUdpPayload });
    } catch (e) {
      this.#log(`DNS query failed: ${e}`, "debug");
      return undefined;
    }
  }

  #datagram(msg: Uint8Array, rinfo: dgram.RemoteInfo): void {
    const out = this.#respond(msg, true);
    if (out === undefined || this.#closed) return;
    this.#udp.send(out, rinfo.port, rinfo.address, (e) => {
      if (e) this.#log(`DNS UDP answer to ${rinfo.address}:${rinfo.port} failed: ${e}`, "debug");
    });
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  async #accept(): Promise<void> {
    while (!this.#closed) {
      try {
        const conn = await this.#tcp.accept();
        if (this.#closed) closeQuietly(conn);
        else this.#track(this.#serve(conn));
      } catch (e) {
        if (this.#closed) return;
        this.#log(`DNS TCP accept failed: ${e}`, "warn");
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  /** Length-prefixed queries, answered in order, until the client closes or idles out. */
  async #serve(conn: Deno.TcpConn): Promise<void> {
    this.#conns.add(conn);
    const idleMs = this.#o.tcpIdleTimeoutMs ?? 10_000;
    let idle = setTimeout(() => closeQuietly(conn), idleMs);
    let pending: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(16384);
    try {
      for (let n = await conn.read(chunk); n !== null; n = await conn.read(chunk)) {
        pending = concat(pending, chunk.subarray(0, n));
        while (pending.length >= 2 && pending.length >= 2 + ((pending[0] << 8) | pending[1])) {
          const end = 2 + ((pending[0] << 8) | pending[1]);
          const out = this.#respond(pending.subarray(2, end), false);
          pending = pending.slice(end);
          clearTimeout(idle);
          idle = setTimeout(() => closeQuietly(conn), idleMs);
          if (out !== undefined) {
            await writeAll(conn, concat(new Uint8Array([out.length >> 8, out.length & 0xff]), out));
          }
        }
      }
    } catch (e) {
      if (
        !this.#closed && !(e instanceof Deno.errors.BadResource) &&
        !(e instanceof Deno.errors.Interrupted)
      ) {
        this.#log(`DNS TCP connection failed: ${e}`, isTeardown(e) ? "debug" : "warn");
      }
    } finally {
      clearTimeout(idle);
      this.#conns.delete(conn);
      closeQuietly(conn);
    }
  }
}

function bindUdp(hostname: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(hostname.includes(":") ? "udp6" : "udp4");
    socket.once("error", (e) => {
      try {
        socket.close();
      } catch { /* never bound */ }
      reject(e);
    });
    socket.bind({ port, address: hostname }, () => {
      socket.removeAllListeners("error");
      resolve(socket);
    });
  });
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let o = 0; o < bytes.length;) o += await conn.write(bytes.subarray(o));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* already closed */ }
}
