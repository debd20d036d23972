/**
 * The pull proxy: an HTTP forward proxy the controller runs on the node network's gateway, so
 * that agents in network namespaces pull images from registries the bridge does not reach (the
 * host's loopback, the internet) without routing or NAT on the host. Host names are resolved
 * and connected to on the host, so `localhost:5000` is the host's own registry.
 *
 * It serves node agents only (`Proxy-Authorization: Basic base64(nodeName:token)`) and connects
 * only where registries are: not to the node range but for the gateway (nodes reach each other
 * directly), the controller's own ports, link-local and metadata addresses, nor this host's
 * loopback but for registry ports (destination_policy.ts). Host names are resolved first and
 * every address is judged, so a name cannot lead where an address may not.
 *
 * It speaks the two forms Deno's fetch sends through a proxy: `CONNECT host:port` for https
 * (then bytes are piped both ways) and absolute-form (`GET http://host:port/path HTTP/1.1`) for
 * plain http, forwarded as one request per connection with `Connection: close` on both sides.
 * Its own error answers carry a `Proxy-Status` header (RFC 9209) so clients can tell them from the
 * registry's.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { DEFAULT_LOOPBACK_REGISTRY_PORTS, DestinationPolicy } from "./destination_policy.ts";
import {
  bodyLength,
  copyBody,
  decodeBase64,
  type Destination,
  destinationOf,
  errorResponse,
  formatHead,
  formatHost,
  forwardable,
  type Head,
  header,
  parseHead,
  ProxyError,
  pump,
  raceAbort,
  readHead,
  safeClose,
  tunnel,
  writeAll,
} from "./proxy_wire.ts";

/** Options of {@linkcode PullProxy.start}. */
export interface PullProxyOptions {
  /** Address to listen on: the node network's gateway. */
  hostname: string;
  /** Port to listen on; 0 picks a free one. @default 0 */
  port?: number;
  /** The node address range (CIDR); destinations in it are refused, except `hostname`. */
  nodeRange: string;
  /** Ports refused on every address: the controller's (its API). Its own port is added. */
  reservedPorts?: number[];
  /**
   * Loopback ports (of registries on this host) it may connect to; any other port of 127.0.0.0/8,
   * ::1 or localhost is refused. @default [5000]
   */
  loopbackPorts?: number[];
  /** Whether `token` is node `nodeName`'s token. */
  authorize(nodeName: string, token: string): Promise<boolean>;
  /** Resolves a host name on the host. @default getaddrinfo (honours /etc/hosts) */
  lookup?: (hostname: string) => Promise<string[]>;
  /** Gets one line per refused request, naming the node, the destination and why. */
  log?: (message: string) => void;
  /** Largest request (and response) head. @default 16384 */
  maxHeadBytes?: number;
  /** Time a client has to send its request head. @default 10000 */
  headTimeoutMs?: number;
  /** Time a destination has to accept the connection and to answer with a head. @default 30000 */
  upstreamTimeoutMs?: number;
}

/** An HTTP forward proxy for node agents' registry traffic; see the module doc. */
export class PullProxy {
  readonly hostname: string;
  readonly port: number;
  readonly #o: PullProxyOptions;
  readonly #listener: Deno.TcpListener;
  readonly #policy: DestinationPolicy;
  readonly #conns = new Set<Deno.Conn>();
  readonly #handlers = new Set<Promise<void>>();
  readonly #shutdown = new AbortController();
  readonly #accepting: Promise<void>;

  private constructor(options: PullProxyOptions, listener: Deno.TcpListener) {
    this.#o = options;
    this.#listener = listener;
    this.hostname = listener.addr.hostname;
    this.port = listener.addr.port;
    this.#policy = new DestinationPolicy({
      nodeRange: options.nodeRange,
      gateway: this.hostname,
      reservedPorts: [...options.reservedPorts ?? [], this.port],
      loopbackPorts: options.loopbackPorts ?? DEFAULT_LOOPBACK_REGISTRY_PORTS,
    });
    this.#accepting = this.#accept();
  }

  /** Listens on `hostname:port`; throws when the address cannot be bound. */
  static start(options: PullProxyOptions): PullProxy {
    let listener: Deno.TcpListener;
    try {
      listener = Deno.listen({ hostname: options.hostname, port: options.port ?? 0 });
    } catch (e) {
      throw new Error(
        `Cannot start the registry proxy on ${options.hostname}:${options.port ?? 0}: ${
          (e as Error).message
        }`,
        { cause: e },
      );
    }
    return new PullProxy(options, listener);
  }

  /** The URL agents are given: `http://<hostname>:<port>`. */
  get url(): string {
    return `http://${formatHost(this.hostname, this.port)}`;
  }

  /** Stops listening and closes every open connection and tunnel; resolves once all ended. */
  async close(): Promise<void> {
    if (!this.#shutdown.signal.aborted) {
      this.#shutdown.abort();
      safeClose(this.#listener);
      for (const c of this.#conns) safeClose(c);
    }
    await this.#accepting;
    while (this.#handlers.size) await Promise.all(this.#handlers);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        if (this.#shutdown.signal.aborted) {
          safeClose(conn);
          continue;
        }
        this.#conns.add(conn);
        const handler = this.#serve(conn);
        this.#handlers.add(handler);
        handler.finally(() => this.#handlers.delete(handler));
      }
    } catch {
      // The listener was closed.
    }
  }

  /** Serves one client connection to the end and closes it. */
  async #serve(client: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn | undefined;
    let who = (client.remoteAddr as Deno.NetAddr).hostname;
    let what = "a request";
    try {
      const { head, rest } = await this.#readClientHead(client);
      what = head.start.slice(0, 2).join(" ");
      who = `node "${await this.#authenticate(head)}" (${who})`;
      const dest = destinationOf(head);
      upstream = await this.#open(dest);
      if (dest.path === undefined) await tunnel(client, upstream, rest);
      else await this.#forward(client, upstream, head, dest, rest);
    } catch (e) {
      if (e instanceof ProxyError && !this.#shutdown.signal.aborted) {
        this.#o.log?.(`refused ${what} from ${who}: ${e.message}`);
        await writeAll(client, errorResponse(e)).catch(() => {});
      }
    } finally {
      this.#untrack(client);
      if (upstream) this.#untrack(upstream);
    }
  }

  /** The request head, within the head timeout and size bound. */
  async #readClientHead(client: Deno.Conn): Promise<{ head: Head; rest: Uint8Array }> {
    const ms = this.#o.headTimeoutMs ?? 10_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      safeClose(client);
    }, ms);
    try {
      const { text, rest } = await readHead(client, this.#o.maxHeadBytes ?? 16_384, "request");
      return { head: parseHead(text, /^[A-Z]+$/), rest };
    } catch (e) {
      if (timedOut) throw new ProxyError(408, "http_request_error", `no request head in ${ms} ms`);
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The node name of valid credentials; a 407 error otherwise. */
  async #authenticate(head: Head): Promise<string> {
    const value = header(head, "proxy-authorization");
    const m = value && /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(value);
    const decoded = m ? decodeBase64(m[1]) : undefined;
    const colon = decoded?.indexOf(":") ?? -1;
    if (decoded === undefined || colon <= 0) {
      throw new ProxyError(407, "proxy_auth_required", "no node credentials (Basic auth)");
    }
    const node = decoded.slice(0, colon);
    let ok: boolean;
    try {
      ok = await this.#o.authorize(node, decoded.slice(colon + 1));
    } catch (e) {
      throw new ProxyError(500, "proxy_internal_error", `cannot check node credentials: ${e}`);
    }
    if (!ok) throw new ProxyError(407, "proxy_auth_required", `wrong token for node "${node}"`);
    return node;
  }

  /** Resolves the destination on the host, checks every address, and connects. */
  async #open(dest: Destination): Promise<Deno.Conn> {
    const addresses = await this.#resolve(dest.host);
    for (const address of addresses) {
      const why = this.#policy.refusal(address, dest.port);
      if (why === undefined) continue;
      throw new ProxyError(
        403,
        "destination_ip_prohibited",
        `${dest.host}${address === dest.host ? "" : ` (${address})`} ${why}`,
      );
    }
    // Deno documents connect's signal as one that closes the connection: this one never
    // aborts once connected (time-out and shutdown count only while connecting).
    const connecting = new AbortController();
    const abort = () => connecting.abort();
    const timer = setTimeout(abort, this.#o.upstreamTimeoutMs ?? 30_000);
    this.#shutdown.signal.addEventListener("abort", abort);
    let last: unknown;
    try {
      for (const hostname of addresses) {
        try {
          const conn = await Deno.connect({
            hostname,
            port: dest.port,
            signal: connecting.signal,
          });
          return this.#track(conn);
        } catch (e) {
          last = e;
          if (connecting.signal.aborted) break;
        }
      }
    } finally {
      clearTimeout(timer);
      this.#shutdown.signal.removeEventListener("abort", abort);
    }
    const timedOut = connecting.signal.aborted && !this.#shutdown.signal.aborted;
    throw new ProxyError(
      timedOut ? 504 : 502,
      timedOut ? "connection_timeout" : "connection_refused",
      `cannot connect to ${dest.host}:${dest.port}: ${
        timedOut ? "no answer" : (last as Error)?.message ?? last
      }`,
    );
  }

  /** The addresses of a host: itself when it is an address, else its names resolved on the host. */
  async #resolve(host: string): Promise<string[]> {
    if (isIP(host)) return [host];
    try {
      const found = await raceAbort(
        this.#o.lookup?.(host) ??
          lookup(host, { all: true }).then((all) => all.map((a) => a.address)),
        this.#shutdown.signal,
      );
      if (found.length) return found;
    } catch (e) {
      if (this.#shutdown.signal.aborted) throw e;
      throw new ProxyError(502, "dns_error", `cannot resolve ${host}: ${(e as Error).message}`);
    }
    throw new ProxyError(502, "dns_error", `cannot resolve ${host}: no addresses`);
  }

  /**
   * Sends an absolute-form request on in origin-form with `Connection: close`, then its body
   * (`Content-Length` bytes), and the answer back with `Connection: close`, so that each
   * connection carries one exchange and ends when the destination ends the answer.
   */
  async #forward(
    client: Deno.Conn,
    upstream: Deno.Conn,
    head: Head,
    dest: Destination,
    rest: Uint8Array,
  ): Promise<void> {
    const [method, , version] = head.start;
    const length = bodyLength(head);
    const headers = forwardable(head.headers);
    if (!headers.some(([n]) => n.toLowerCase() === "host")) {
      headers.unshift(["Host", formatHost(dest.host, dest.port)]);
    }
    await writeAll(upstream, formatHead([method, dest.path!, version], headers));
    await copyBody(client, upstream, rest, length);
    const answer = await this.#readResponseHead(upstream, dest);
    await writeAll(client, formatHead(answer.head.start, forwardable(answer.head.headers)));
    if (answer.rest.length) await writeAll(client, answer.rest);
    await pump(upstream, client);
  }

  async #readResponseHead(upstream: Deno.Conn, dest: Destination) {
    const ms = this.#o.upstreamTimeoutMs ?? 30_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      safeClose(upstream);
    }, ms);
    const where = `${dest.host}:${dest.port}`;
    try {
      const { text, rest } = await readHead(upstream, this.#o.maxHeadBytes ?? 16_384, "response");
      return { head: parseHead(text, /^HTTP\/1\.[01]$/), rest };
    } catch (e) {
      if (timedOut) throw new ProxyError(504, "http_response_timeout", `${where}: no answer`);
      if (e instanceof ProxyError && !this.#shutdown.signal.aborted) {
        throw new ProxyError(502, "http_response_incomplete", `${where}: ${e.message}`);
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  #track(conn: Deno.Conn): Deno.Conn {
    if (this.#shutdown.signal.aborted) {
      safeClose(conn);
      throw new Error("the registry proxy is closed");
    }
    this.#conns.add(conn);
    return conn;
  }

  #untrack(conn: Deno.Conn): void {
    this.#conns.delete(conn);
    safeClose(conn);
  }
}
