/** What the API's server-sent-event streams (object and actor watches) share. */
import type { SSEStreamingApi } from "hono/streaming";

/** Seconds of quiet after which a watch sends a comment line, so proxies keep it open. */
const KEEPALIVE_MS = 15_000;

/** Events waiting to go out on one SSE stream, and the loop that sends them. */
export class SseQueue<T> {
  /** Queued events, oldest first (callers may drop some before they are sent). */
  readonly items: T[] = [];
  #open = true;
  #wake?: () => void;

  /** False once `end()` was called. */
  get open(): boolean {
    return this.#open;
  }

  /** Queues an event and wakes the pump. */
  push(event: T): void {
    this.items.push(event);
    this.#wake?.();
  }

  /** Stops the pump (the client went away, or the source closed). */
  end(): void {
    this.#open = false;
    this.#wake?.();
  }

  /** Sends events as they come until `end()`, with a keepalive comment after each quiet spell. */
  async pump(stream: SSEStreamingApi, send: (event: T) => Promise<void>): Promise<void> {
    while (this.#open) {
      while (this.items.length && this.#open) await send(this.items.shift()!);
      if (!this.#open) break;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, KEEPALIVE_MS);
      });
      clearTimeout(timer);
      this.#wake = undefined;
      if (!this.items.length && this.#open) await stream.write(": keepalive\n\n");
    }
  }
}
