/**
 * The local cloud's load balancer: what a classic ELB does for a LoadBalancer Service on AWS,
 * done in the controller process. One TCP listener per Service port; each connection goes to
 * the next healthy backend (round-robin per listener) at the port's `nodePort`, and bytes are
 * copied both ways until both sides have closed, so half-closed connections work.
 *
 * Backends come and go with {@linkcode TcpLoadBalancer.setBackends}; health follows
 * {@linkcode HealthChecker}. A removed or unhealthy backend gets no new connections, but the
 * ones it already has are left to finish (there is no idle timeout). If opening a connection to
 * the chosen backend fails, the next healthy one is tried, so clients do not see it; with no
 * healthy backend left the client's connection is closed at once.
 */
import {
  type Backend,
  type BackendHealth,
  HealthChecker,
  type Probe,
  tcpProbe,
} from "./health_check.ts";
import type { HealthCheckConfig } from "../lb_annotations.ts";
import type { Clock } from "../../model/clock.ts";

/** A listener: the Service `port` it listens on and the `nodePort` it forwards to. */
export interface LoadBalancerListener {
  /** Listener port; 0 picks a free one (see {@linkcode TcpLoadBalancer.listeners}). */
  port: number;
  /** Port on the backends. The first listener's is the one health checks connect to. */
  targetPort: number;
}

/** How to start a load balancer. */
export interface LoadBalancerOptions {
  /** Address the listeners bind to; it is the Service's ingress address. */
  hostname: string;
  /** At least one. */
  listeners: LoadBalancerListener[];
  /** Any positive timing; `parseHealthCheck` gives the one a Service's annotations ask for. */
  healthCheck: HealthCheckConfig;
  /** The first backend set; see {@linkcode TcpLoadBalancer.setBackends}. @default [] */
  backends?: Backend[];
  /** Time of the health checks. @default systemClock */
  clock?: Clock;
  /** @default no logging */
  log?: (message: string) => void;
  /** Called after a backend enters or leaves rotation. */
  onHealthChange?: (backend: BackendHealth) => void;
  /** Replaces the TCP connect health check (for tests). */
  probe?: Probe;
  /** Which client addresses may connect (the Service's sourceRanges); others are closed at once. */
  allow?: (remoteAddress: string) => boolean;
}

/** A backend as the balancer reports it. */
export interface LoadBalancerBackendStatus extends BackendHealth {
  /** Client connections being served by it now. */
  activeConnections: number;
}

/** What a load balancer is doing. */
export interface LoadBalancerStatus {
  hostname: string;
  listeners: LoadBalancerListener[];
  backends: LoadBalancerBackendStatus[];
}

/** A TCP load balancer over a changing set of health-checked backends. */
export class TcpLoadBalancer {
  readonly hostname: string;
  readonly #listeners: { listener: Deno.TcpListener; targetPort: number; next: number }[];
  readonly #checker: HealthChecker;
  readonly #timeoutMs: number;
  readonly #log: (message: string) => void;
  readonly #closing = new AbortController();
  readonly #open = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #active = new Map<string, number>();
  readonly #allow?: (remoteAddress: string) => boolean;
  #closed?: Promise<void>;

  private constructor(
    options: LoadBalancerOptions,
    listeners: Deno.TcpListener[],
  ) {
    this.hostname = options.hostname;
    this.#listeners = listeners.map((listener, i) => ({
      listener,
      targetPort: options.listeners[i].targetPort,
      next: 0,
    }));
    this.#timeoutMs = options.healthCheck.timeoutMs;
    this.#allow = options.allow;
    this.#log = options.log ?? (() => {});
    const onHealthChange = options.onHealthChange ?? (() => {});
    this.#checker = new HealthChecker(options.healthCheck, {
      probe: options.probe ?? tcpProbe(options.listeners[0].targetPort),
      clock: options.clock,
      onChange: (backend) => {
        const why = backend.healthy ? "" : `: ${backend.lastError}`;
        const state = backend.healthy ? "healthy" : "unhealthy";
        this.#log(`backend ${backend.id} (${backend.address}) is ${state}${why}`);
        onHealthChange(backend);
      },
    });
  }

  /**
   * Binds every listener and starts serving and checking.
   * @throws {TypeError} when there is no listener or two backends share an id.
   * @throws {RangeError} for a timing the health checker refuses.
   * @throws {Deno.errors.AddrInUse} and other listen errors; nothing stays bound then.
   */
  static start(options: LoadBalancerOptions): Promise<TcpLoadBalancer> {
    try {
      return Promise.resolve(TcpLoadBalancer.#startNow(options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  static #startNow(options: LoadBalancerOptions): TcpLoadBalancer {
    if (options.listeners.length === 0) {
      throw new TypeError("a load balancer needs at least one listener");
    }
    const bound: Deno.TcpListener[] = [];
    let lb: TcpLoadBalancer;
    try {
      for (const { port } of options.listeners) {
        bound.push(Deno.listen({ hostname: options.hostname, port }));
      }
      lb = new TcpLoadBalancer(options, bound);
      lb.setBackends(options.backends ?? []);
    } catch (error) {
      for (const listener of bound) listener.close();
      throw error;
    }
    lb.#listeners.forEach((_, i) => lb.#track(lb.#serve(i)));
    return lb;
  }

  /** The listeners with the ports actually bound. */
  get listeners(): LoadBalancerListener[] {
    return this.#listeners.map(({ listener, targetPort }) => ({
      port: listener.addr.port,
      targetPort,
    }));
  }

  /**
   * Replaces the backend set; the order given is the rotation order. A removed backend gets no
   * new connection from this call on; kept ones keep their health; new ones are checked at once
   * and join after `healthyThreshold` passing checks (after one when nothing is healthy).
   * @throws {TypeError} when two backends share an id.
   */
  setBackends(backends: readonly Backend[]): void {
    this.#checker.setBackends(backends);
  }

  /** Ids of the backends in rotation now (their checks admitted them). */
  inService(): string[] {
    return this.#checker.healthy().map((b) => b.id);
  }

  /** Listeners and every backend with its health and open connections. */
  status(): LoadBalancerStatus {
    return {
      hostname: this.hostname,
      listeners: this.listeners,
      backends: this.#checker.status().map((b) => ({
        ...b,
        activeConnections: this.#active.get(b.id) ?? 0,
      })),
    };
  }

  /** Stops listening and checking, closes every open connection and waits for all of it. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#closing.abort();
      for (const { listener } of this.#listeners) closeQuietly(listener);
      for (const conn of this.#open) closeQuietly(conn);
      await this.#checker.close();
      while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks]);
    })();
    return this.#closed;
  }

  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.catch((error) => this.#log(`unexpected: ${error}`))
      .finally(() => this.#tasks.delete(task));
  }

  /** Accepts until closed; a failed accept (out of file descriptors, say) is retried. */
  async #serve(index: number): Promise<void> {
    const { listener } = this.#listeners[index];
    const closing = this.#closing.signal;
    while (!closing.aborted) {
      let client: Deno.Conn;
      try {
        client = await listener.accept();
      } catch (error) {
        if (closing.aborted) return;
        this.#log(`accepting on port ${listener.addr.port} failed: ${error}; retrying`);
        await pause(100, closing);
        continue;
      }
      const remote = (client.remoteAddr as Deno.NetAddr).hostname;
      if (closing.aborted) closeQuietly(client);
      else if (this.#allow && !this.#allow(remote)) {
        this.#log(`refused ${remote}: not in the service's sourceRanges`);
        closeQuietly(client);
      } else this.#track(this.#handle(index, client));
    }
  }

  async #handle(index: number, client: Deno.Conn): Promise<void> {
    this.#open.add(client);
    let upstream: { id: string; conn: Deno.Conn } | undefined;
    try {
      upstream = await this.#connect(index);
      if (!upstream) return;
      this.#open.add(upstream.conn);
      this.#active.set(upstream.id, (this.#active.get(upstream.id) ?? 0) + 1);
      await splice(client, upstream.conn);
    } finally {
      closeQuietly(client);
      this.#open.delete(client);
      if (upstream) {
        closeQuietly(upstream.conn);
        this.#open.delete(upstream.conn);
        const left = (this.#active.get(upstream.id) ?? 1) - 1;
        if (left > 0) this.#active.set(upstream.id, left);
        else this.#active.delete(upstream.id);
      }
    }
  }

  /** Opens a connection to the next healthy backend, trying the others if that fails. */
  async #connect(index: number): Promise<{ id: string; conn: Deno.Conn } | undefined> {
    const listener = this.#listeners[index];
    const healthy = this.#checker.healthy();
    const first = listener.next++ % Math.max(healthy.length, 1);
    for (let i = 0; i < healthy.length; i++) {
      const { id, address } = healthy[(first + i) % healthy.length];
      if (i > 0 && !this.#checker.isHealthy(id)) continue;
      try {
        const conn = await this.#dial(address, listener.targetPort);
        if (!this.#closing.signal.aborted) return { id, conn };
        closeQuietly(conn);
        return undefined;
      } catch (error) {
        if (this.#closing.signal.aborted) return undefined;
        const message = error instanceof Error ? error.message : String(error);
        this.#log(`connection to backend ${id} (${address}) failed: ${message}`);
        this.#checker.reportConnectFailure(id, message);
      }
    }
    if (!this.#closing.signal.aborted) {
      this.#log(`no healthy backend on port ${listener.listener.addr.port}; connection closed`);
    }
    return undefined;
  }

  /** Connects with the health check timeout; gives up when the balancer closes. */
  async #dial(hostname: string, port: number): Promise<Deno.Conn> {
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new Error(`timed out after ${this.#timeoutMs} ms`)),
      this.#timeoutMs,
    );
    const signal = AbortSignal.any([abort.signal, this.#closing.signal]);
    try {
      return await Deno.connect({ hostname, port, signal });
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * Copies bytes both ways until both directions reach end of stream, passing each end on as a
 * half-close.
 */
async function splice(a: Deno.Conn, b: Deno.Conn): Promise<void> {
  const abort = () => {
    closeQuietly(a);
    closeQuietly(b);
  };
  await Promise.all([copy(a, b, abort), copy(b, a, abort)]);
}

/**
 * Copies `from` to `to`, then half-closes `to`. When reading fails, `from` is gone and so is the
 * point of the other direction, which writes to it: both connections close. When writing fails,
 * only this direction stops, so that a response still coming the other way (from a backend that
 * answered early and closed) is delivered; that direction reads from the broken `to` and ends.
 */
async function copy(from: Deno.Conn, to: Deno.Conn, abort: () => void): Promise<void> {
  const buf = new Uint8Array(32 * 1024);
  for (;;) {
    let n: number | null;
    try {
      n = await from.read(buf);
    } catch {
      return abort();
    }
    if (n === null) break;
    try {
      for (let written = 0; written < n;) written += await to.write(buf.subarray(written, n));
    } catch {
      return;
    }
  }
  await to.closeWrite().catch(() => {});
}

/** Waits `ms`, or less if `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // already closed
  }
}
