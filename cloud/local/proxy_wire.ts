/**
 * The HTTP/1.1 wire work of the pull proxy (pull_proxy.ts): reading and parsing request heads,
 * the destination of CONNECT and absolute-form requests, forwarding headers and bodies, tunnels,
 * and the proxy's own error answers (with an RFC 9209 `Proxy-Status`).
 */
/** A refusal or failure answered to the client: status, RFC 9209 error type and why. */
export class ProxyError extends Error {
  override name = "ProxyError";
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
  }
}

export const REASONS: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  504: "Gateway Timeout",
};
/** Headers that belong to one connection and are never forwarded. */
export const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
]);
export const HEAD_END = new Uint8Array([13, 10, 13, 10]);
export const encoder = new TextEncoder();

/** A parsed HTTP/1 head: the start line split on spaces and the header fields in order. */
export interface Head {
  start: string[];
  headers: [string, string][];
}

/** Where a request goes. */
export interface Destination {
  host: string;
  port: number;
  /** Origin-form target of an absolute-form request; undefined for CONNECT. */
  path?: string;
}

/** Reads to the end of a head (CRLF CRLF): its text and the bytes after it. */
export async function readHead(
  conn: Deno.Conn,
  maxBytes: number,
  what: "request" | "response",
): Promise<{ text: string; rest: Uint8Array }> {
  let buf = new Uint8Array(0);
  const chunk = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(chunk);
    if (n === null && buf.length === 0) throw new Deno.errors.UnexpectedEof(`no ${what}`);
    if (n === null) {
      throw new ProxyError(400, "http_request_error", `the ${what} ended before its head did`);
    }
    const from = Math.max(0, buf.length - 3);
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
    const end = indexOf(buf, HEAD_END, from);
    if (end >= 0) {
      if (end > maxBytes) break;
      return { text: new TextDecoder().decode(buf.subarray(0, end)), rest: buf.slice(end + 4) };
    }
    if (buf.length > maxBytes) break;
  }
  throw new ProxyError(431, "http_request_error", `the ${what} head is over ${maxBytes} bytes`);
}

export function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Splits a head; the start line's first word must match `first` (method or HTTP version). */
export function parseHead(text: string, first: RegExp): Head {
  const [line, ...fields] = text.split("\r\n");
  const start = line.split(" ");
  const bad = (why: string) => new ProxyError(400, "http_request_error", why);
  if (start.length < 3 || !first.test(start[0])) throw bad(`bad start line "${line}"`);
  const headers = fields.map((f): [string, string] => {
    const colon = f.indexOf(":");
    const name = f.slice(0, colon);
    if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
      throw bad(`bad header line "${f}"`);
    }
    return [name, f.slice(colon + 1).trim()];
  });
  return { start, headers };
}

export function header(head: Head, name: string): string | undefined {
  return head.headers.find(([n]) => n.toLowerCase() === name)?.[1];
}

/** The destination of a CONNECT (`host:port`) or absolute-form (`http://...`) request. */
export function destinationOf(head: Head): Destination {
  const [method, target, version] = head.start;
  const bad = (why: string) => new ProxyError(400, "http_request_error", why);
  if (!/^HTTP\/1\.[01]$/.test(version) || head.start.length !== 3) {
    throw bad(`bad request line "${head.start.join(" ")}"`);
  }
  if (method === "CONNECT") {
    const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]/]+)):(\d{1,5})$/.exec(target);
    const port = Number(m?.[3]);
    if (!m || port < 1 || port > 65535) throw bad(`CONNECT needs host:port, not "${target}"`);
    return { host: m[1] ?? m[2], port };
  }
  let url: URL | undefined;
  try {
    url = /^http:\/\//i.test(target) ? new URL(target) : undefined;
  } catch {
    // reported below
  }
  if (!url || !url.hostname) {
    throw bad(`not a proxy request: "${target}" is not an absolute http:// URL`);
  }
  return {
    host: url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(url.port || 80),
    path: `${url.pathname}${url.search}`,
  };
}

/** Header fields minus the hop-by-hop ones (and those `Connection` names), plus `Connection: close`. */
export function forwardable(headers: [string, string][]): [string, string][] {
  const named = new Set(
    headers.filter(([n]) => n.toLowerCase() === "connection")
      .flatMap(([, v]) => v.split(",").map((s) => s.trim().toLowerCase())),
  );
  const kept = headers.filter(([n]) =>
    !HOP_BY_HOP.has(n.toLowerCase()) && !named.has(n.toLowerCase())
  );
  return [...kept, ["Connection", "close"]];
}

export function formatHead(start: string[], headers: [string, string][]): Uint8Array {
  return encoder.encode(
    `${start.join(" ")}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join("")}\r\n`,
  );
}

export function formatHost(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The proxy's own answer to a refused or failed request. */
export function errorResponse(e: ProxyError): Uint8Array {
  const body = encoder.encode(`${e.message}\n`);
  const details = e.message.replace(/[^\x20-\x7e]/g, "?").replace(/["\\]/g, "\\$&");
  const headers: [string, string][] = [
    ["Proxy-Status", `milpa; error=${e.type}; details="${details}"`],
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
    ["Connection", "close"],
  ];
  if (e.status === 407) headers.unshift(["Proxy-Authenticate", 'Basic realm="milpa"']);
  const head = formatHead(["HTTP/1.1", String(e.status), REASONS[e.status] ?? "Error"], headers);
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

/** The length of a request's body; chunked bodies are refused (registry pulls send none). */
export function bodyLength(head: Head): number {
  if (header(head, "transfer-encoding") !== undefined) {
    throw new ProxyError(501, "http_request_error", "chunked request bodies are not supported");
  }
  const text = header(head, "content-length") ?? "0";
  if (!/^\d{1,15}$/.test(text)) {
    throw new ProxyError(400, "http_request_error", `bad Content-Length "${text}"`);
  }
  return Number(text);
}

/** Copies `length` body bytes, the first of them already read into `rest`, to `to`. */
export async function copyBody(from: Deno.Conn, to: Deno.Conn, rest: Uint8Array, length: number) {
  let left = length;
  if (left && rest.length) {
    const first = rest.subarray(0, left);
    await writeAll(to, first);
    left -= first.length;
  }
  const buf = new Uint8Array(Math.min(left, 65_536));
  while (left > 0) {
    const n = await from.read(buf.subarray(0, Math.min(left, buf.length)));
    if (n === null) throw new ProxyError(400, "http_request_error", "the body ended early");
    await writeAll(to, buf.subarray(0, n));
    left -= n;
  }
}

/** Answers a CONNECT and pipes bytes both ways until both sides ended. */
export async function tunnel(
  client: Deno.Conn,
  upstream: Deno.Conn,
  rest: Uint8Array,
): Promise<void> {
  await writeAll(client, encoder.encode("HTTP/1.1 200 Connection Established\r\n\r\n"));
  if (rest.length) await writeAll(upstream, rest);
  // A failed direction ends the other one too: nobody is left to read what it sends.
  const fail = () => {
    safeClose(client);
    safeClose(upstream);
  };
  await Promise.all([pump(client, upstream).catch(fail), pump(upstream, client).catch(fail)]);
}

/** Copies `from` into `to` until `from` ends, then ends `to`'s writing side (half-close). */
export async function pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  await from.readable.pipeTo(to.writable, { preventClose: true });
  await to.closeWrite();
}

export async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

export function decodeBase64(text: string): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(
      Uint8Array.from(atob(text), (c) => c.charCodeAt(0)),
    );
  } catch {
    return undefined;
  }
}

/** `p`, or a rejection as soon as `signal` aborts. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

export function safeClose(c: { close(): void }): void {
  try {
    c.close();
  } catch {
    // already closed
  }
}
