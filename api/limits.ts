/**
 * The API's limits: request body sizes, failed authentications per client address, and
 * open streams (watches and followed logs). Each refusal is an error class that the one
 * error handler turns into a Status (413, 429 with `Retry-After`).
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Clock } from "../model/clock.ts";
import { PayloadTooLargeError, TooManyRequestsError } from "../model/errors.ts";

/** The limits, as numbers; `createApp` takes overrides (tests use small ones). */
export interface ApiLimits {
  /**
   * Largest body of an authenticated API request. A batch is one KV transaction (at most
   * 800 KB written), so a bigger body could never succeed anyway.
   * @default 4 MiB
   */
  apiBodyBytes: number;
  /** Largest body of any route that needs no API token (`/ui/login`, agents, ...). @default 16 KiB */
  openBodyBytes: number;
  /** Failed authentications one client address may have per window. @default 20 */
  failuresPerWindow: number;
  /** The failure window, in milliseconds. @default 60 s */
  failureWindowMs: number;
  /** Watches and log follows open at once, all clients together. @default 256 */
  maxStreams: number;
}

/** The limits a controller runs with. */
export const DEFAULT_LIMITS: ApiLimits = {
  apiBodyBytes: 4 * 1024 * 1024,
  openBodyBytes: 16 * 1024,
  failuresPerWindow: 20,
  failureWindowMs: 60_000,
  maxStreams: 256,
};

/**
 * Refuses a body over `maxBytes` with 413 without reading it: a declared Content-Length is
 * judged before any byte is read; a body without one (chunked) is read only until it passes
 * the limit. GET and HEAD requests, and those `exempt` says yes to, pass untouched (they must
 * enforce a limit of their own).
 */
export function limitBody(
  maxBytes: number,
  exempt?: (c: Context) => boolean,
): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new PayloadTooLargeError(`request body is larger than ${maxBytes} bytes`);
    },
  });
  // No handler reads the body of a GET or HEAD: they pass without a look (Hono's check costs
  // 3 % of the main thread under `wrk` on GET of one pod).
  return (c, next) => {
    const m = c.req.method;
    if (m === "GET" || m === "HEAD" || exempt?.(c)) return next();
    return limit(c, next);
  };
}

/**
 * The client's address: Deno.serve's handler info, which the server passes to `app.fetch`
 * as Hono's `env` (what `getConnInfo` of `hono/deno` reads). Proxy headers are not trusted.
 * Requests made without one (in-process tests) share the address "unknown".
 */
export function clientAddress(c: Context): string {
  const info = c.env as Partial<Deno.ServeHandlerInfo<Deno.NetAddr>> | undefined;
  return info?.remoteAddr?.hostname ?? "unknown";
}

/** Most client addresses whose failures are remembered (the oldest are forgotten first). */
const MAX_TRACKED_ADDRESSES = 10_000;

/**
 * Failed authentications per client address, in fixed windows: the first failure opens a
 * window of `windowMs`; once `maxFailures` failed in it, the address is refused (429) until
 * the window ends, valid credentials included, so that guessing cannot go on by telling a
 * 200 from a 429.
 */
export class FailureLimiter {
  #windows = new Map<string, { start: number; failures: number }>();

  constructor(
    private readonly clock: Clock,
    readonly maxFailures: number = DEFAULT_LIMITS.failuresPerWindow,
    readonly windowMs: number = DEFAULT_LIMITS.failureWindowMs,
  ) {}

  /** Seconds until `address` may try again, or undefined when it may now. */
  retryAfter(address: string): number | undefined {
    const w = this.#current(address);
    if (!w || w.failures < this.maxFailures) return undefined;
    return Math.max(1, Math.ceil((w.start + this.windowMs - this.clock.now()) / 1000));
  }

  /** Counts one failure of `address`. */
  fail(address: string): void {
    const w = this.#current(address);
    if (w) {
      w.failures++;
      return;
    }
    if (this.#windows.size >= MAX_TRACKED_ADDRESSES) this.#forgetOld();
    this.#windows.set(address, { start: this.clock.now(), failures: 1 });
  }

  #current(address: string) {
    const w = this.#windows.get(address);
    if (w && this.clock.now() - w.start >= this.windowMs) {
      this.#windows.delete(address);
      return undefined;
    }
    return w;
  }

  #forgetOld(): void {
    const now = this.clock.now();
    for (const [address, w] of this.#windows) {
      if (now - w.start >= this.windowMs) this.#windows.delete(address);
    }
    // Still full of open windows: forget the oldest (Maps iterate in insertion order).
    for (const address of this.#windows.keys()) {
      if (this.#windows.size < MAX_TRACKED_ADDRESSES) break;
      this.#windows.delete(address);
    }
  }
}

/**
 * A middleware that answers 429 to an address over its failures (every route behind it) and
 * counts every 401 answer as a failure of the request's address: a wrong token, a failed
 * `/ui/login`, a refused agent. 403s (a known token lacking permission) are not failures.
 */
export function failureLimit(limiter: FailureLimiter): MiddlewareHandler {
  return async (c, next) => {
    const address = clientAddress(c);
    const wait = limiter.retryAfter(address);
    if (wait !== undefined) {
      throw new TooManyRequestsError(
        `too many failed authentications from ${address}; try again in ${wait} s`,
        wait,
      );
    }
    await next();
    if (c.res.status === 401) limiter.fail(address);
  };
}

/**
 * Open streams (watches, log follows), all clients together. A route takes a slot before it
 * starts streaming and gives it back when the stream ends; with every slot taken it refuses.
 */
export class StreamSlots {
  #open = 0;

  constructor(readonly max: number = DEFAULT_LIMITS.maxStreams) {}

  /** Takes a slot; returns its release (safe to call twice), or throws TooManyRequestsError. */
  acquire(): () => void {
    if (this.#open >= this.max) {
      throw new TooManyRequestsError(
        `the controller already serves ${this.max} watches and log follows, its limit; ` +
          "close some (or retry later)",
        5,
      );
    }
    this.#open++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#open--;
    };
  }
}
