/** What the API's server-sent-event streams (object and actor watches) share. */
import type { SSEStreamingApi } from "hono/streaming";
import { toStatus, WatchExpiredError } from "./errors.ts";

/** Milliseconds of quiet after which a watch sends a comment line, so proxies keep it open. */
const KEEPALIVE_MS = 15_000;

/**
 * Most bytes of events one watch holds for a client that reads slower than they come. Past
 * it the waiting events are dropped, the client is sent a last `ERROR` event (a Status,
 * reason Expired) and the stream ends: the client lists again and watches from there.
 */
export const SSE_MAX_PENDING_BYTES = 8 * 1024 * 1024;

/** One SSE message: the `event:` name and the `data:` text. */
export interface SseFrame {
  event: string;
  data: string;
}

/** Most bytes of waiting events a watch sends in one write. */
export const SSE_CHUNK_BYTES = 64 * 1024;

/** `parts` (of `size` bytes in all) as one array. */
export function concatBytes(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const encoder = new TextEncoder();

/** The bytes of one SSE message; each line of `data` gets a `data:` field of its own. */
export function encodeFrame(frame: SseFrame): Uint8Array {
  // JSON text has no line breaks: one data field.
  const data = /[\r\n]/.test(frame.data)
    ? frame.data.split(/\r\n|\r|\n/).map((line) => `data: ${line}\n`).join("")
    : `data: ${frame.data}\n`;
  return encoder.encode(`event: ${frame.event}\n${data}\n`);
}

/**
 * Events waiting to go out on one SSE stream, and the loop that sends them. Events are
 * encoded as they are queued; at most `maxPendingBytes` of them wait (one event always fits
 * an empty queue). One more ends the queue as too slow: what waited is dropped at once and
 * the pump sends the `ERROR` event after the write it is blocked in, if the client ever
 * reads it.
 */
export class SseQueue<T> {
  #items: { event: T; bytes: Uint8Array }[] = [];
  #pendingBytes = 0;
  #open = true;
  #tooSlow = false;
  #wake?: () => void;
  #onEnd: (() => void)[] = [];

  /**
   * @param frame how an event is written: its frame, or the frame's bytes (encodeFrame).
   * @param maxPendingBytes most bytes waiting. @default SSE_MAX_PENDING_BYTES
   */
  constructor(
    private readonly frame: (event: T) => SseFrame | Uint8Array,
    readonly maxPendingBytes: number = SSE_MAX_PENDING_BYTES,
  ) {}

  /** False once the queue ended (`end()`, or the client fell too far behind). */
  get open(): boolean {
    return this.#open;
  }

  /** Bytes of the events waiting. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Queues an event and wakes the pump; ends the queue when the client is too far behind. */
  push(event: T): void {
    if (!this.#open) return;
    const frame = this.frame(event);
    const bytes = frame instanceof Uint8Array ? frame : encodeFrame(frame);
    if (this.#items.length && this.#pendingBytes + bytes.length > this.maxPendingBytes) {
      this.#tooSlow = true;
      this.end();
      return;
    }
    this.#items.push({ event, bytes });
    this.#pendingBytes += bytes.length;
    this.#wake?.();
  }

  /**
   * The waiting events' bytes, as one chunk of at most SSE_CHUNK_BYTES (or the first event,
   * when it alone is larger). One write per event cost a TLS record, a socket write and a trip
   * through the response stream each: in a burst of 10,000 pods, ~40,000 of each for one watch.
   */
  #take(): Uint8Array {
    const items = this.#items;
    let n = 1;
    let size = items[0].bytes.length;
    while (n < items.length && size + items[n].bytes.length <= SSE_CHUNK_BYTES) {
      size += items[n++].bytes.length;
    }
    this.#pendingBytes -= size;
    return concatBytes(items.splice(0, n).map((item) => item.bytes), size);
  }

  /** Drops the waiting events `drop` picks. */
  discard(drop: (event: T) => boolean): void {
    this.#items = this.#items.filter((item) => {
      if (!drop(item.event)) return true;
      this.#pendingBytes -= item.bytes.length;
      return false;
    });
  }

  /** Calls `fn` once when the queue ends (unsubscribe the source here); at once if it has. */
  onEnd(fn: () => void): void {
    if (this.#open) this.#onEnd.push(fn);
    else fn();
  }

  /** Ends the queue (the client went away, or the source closed); waiting events are dropped. */
  end(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#items = [];
    this.#pendingBytes = 0;
    this.#wake?.();
    for (const fn of this.#onEnd.splice(0)) fn();
  }

  /**
   * Sends events as they come until the queue ends, with a keepalive comment after each
   * quiet spell; then, if the client fell too far behind, the `ERROR` event.
   */
  async pump(stream: SSEStreamingApi): Promise<void> {
    while (this.#open) {
      if (this.#items.length) {
        await stream.write(this.#take());
        continue;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, KEEPALIVE_MS);
      });
      clearTimeout(timer);
      this.#wake = undefined;
      if (!this.#items.length && this.#open) await stream.write(": keepalive\n\n");
    }
    if (this.#tooSlow) await stream.write(tooSlowFrame(this.maxPendingBytes));
  }
}

/** The last event of a watch whose client fell too far behind. */
function tooSlowFrame(maxPendingBytes: number): Uint8Array {
  const status = toStatus(
    new WatchExpiredError(
      `watch ended: this client fell more than ${maxPendingBytes} bytes of events behind; ` +
        "list again and watch from there",
    ),
  );
  return encodeFrame({ event: "ERROR", data: JSON.stringify(status) });
}
