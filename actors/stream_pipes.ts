/**
 * Where a client's exec/attach/port-forward WebSocket meets the agent's dial-back WebSocket.
 * The API registers a pipe with the client's end and tells the agent to dial back; the agent
 * route claims the pipe by its id (only the node it was meant for can) and joins its end.
 * From then on frames go both ways unchanged, and when either end closes the other is closed
 * with the same code and reason. Client frames sent before the agent joined wait (up to
 * {@linkcode MAX_EARLY_BYTES}); an agent that does not join within the timeout fails the pipe.
 */
import { type Clock, systemClock, type TimerId } from "../model/clock.ts";

/** One end of a stream: a WebSocket as the pipe sees it. */
export interface StreamEnd {
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

/** How long an agent has to dial back, in milliseconds. */
export const STREAM_DIAL_BACK_MS = 10_000;
/** Most bytes the client may send before the agent joined. */
export const MAX_EARLY_BYTES = 1024 * 1024;

/** Close codes a WebSocket endpoint may send (1000, 3000-4999); anything else becomes 1000. */
export function passableCode(code: number | undefined): number {
  return code !== undefined && (code === 1000 || (code >= 3000 && code <= 4999)) ? code : 1000;
}

/** One client stream and, once it dialled back, its agent end. */
export class StreamPipe {
  #agent?: StreamEnd;
  #early: (string | ArrayBuffer | Uint8Array)[] = [];
  #earlyBytes = 0;
  #closed = false;
  #onEnd: () => void = () => {};

  /**
   * @param fail what the client gets when the stream fails before or without the agent (a
   *   status frame for exec and attach, a text frame for port-forward); then it is closed.
   */
  constructor(
    readonly id: string,
    readonly node: string,
    readonly client: StreamEnd,
    private readonly fail: (message: string) => string | Uint8Array,
  ) {}

  /** Whether the pipe has ended. */
  get closed(): boolean {
    return this.#closed;
  }

  /** A frame from the client: to the agent, or kept until it joins. */
  fromClient(data: string | ArrayBuffer | Uint8Array): void {
    if (this.#closed) return;
    if (this.#agent) return this.#agent.send(data);
    this.#earlyBytes += typeof data === "string" ? data.length : data.byteLength;
    if (this.#earlyBytes > MAX_EARLY_BYTES) {
      return this.failWith(
        `the client sent over ${MAX_EARLY_BYTES} bytes before the node answered`,
      );
    }
    this.#early.push(data);
  }

  /** The client's end closed: the agent's end is closed too (ending the remote command). */
  clientClosed(code?: number, reason?: string): void {
    if (this.#closed) return;
    this.#end();
    try {
      this.#agent?.close(passableCode(code), reason?.slice(0, 120));
    } catch { /* already closed */ }
  }

  /** The agent dialled back: sends what waited and joins the ends. */
  agentJoined(agent: StreamEnd): void {
    if (this.#closed) {
      agent.close(1000, "the client went away");
      return;
    }
    this.#agent = agent;
    for (const data of this.#early) agent.send(data);
    this.#early = [];
  }

  /** A frame from the agent, for the client. */
  fromAgent(data: string | ArrayBuffer | Uint8Array): void {
    if (this.#closed) return;
    try {
      this.client.send(data);
    } catch { /* the client is gone; its close event ends the pipe */ }
  }

  /** The agent's end closed: so is the client's, with the same code and reason. */
  agentClosed(code?: number, reason?: string): void {
    if (this.#closed) return;
    this.#end();
    try {
      this.client.close(passableCode(code), reason?.slice(0, 120));
    } catch { /* already closed */ }
  }

  /** Ends the stream with an error the client is told about. */
  failWith(message: string): void {
    if (this.#closed) return;
    this.#end();
    try {
      this.client.send(this.fail(message));
      this.client.close(1000, "stream failed");
    } catch { /* already closed */ }
    try {
      this.#agent?.close(1000, "stream failed");
    } catch { /* already closed */ }
  }

  /** Called once when the pipe ends (the registry forgets it). */
  set onEnd(fn: () => void) {
    this.#onEnd = fn;
  }

  #end(): void {
    this.#closed = true;
    this.#early = [];
    this.#onEnd();
  }
}

/** The open pipes, by stream id. */
export class StreamPipes {
  #pipes = new Map<string, { pipe: StreamPipe; timer?: TimerId }>();

  /** @param clock times dial-backs. @default systemClock */
  constructor(private readonly clock: Clock = systemClock) {}

  /** Keeps a pipe until it ends; fails it when no agent joined within `timeoutMs`. */
  add(pipe: StreamPipe, timeoutMs = STREAM_DIAL_BACK_MS): void {
    const entry: { pipe: StreamPipe; timer?: TimerId } = { pipe };
    entry.timer = this.clock.setTimeout(() => {
      entry.timer = undefined;
      pipe.failWith(
        `node ${pipe.node} did not open the stream within ${timeoutMs / 1000}s; try again`,
      );
    }, timeoutMs);
    pipe.onEnd = () => {
      if (entry.timer !== undefined) this.clock.clearTimeout(entry.timer);
      if (this.#pipes.get(pipe.id) === entry) this.#pipes.delete(pipe.id);
    };
    this.#pipes.set(pipe.id, entry);
  }

  /**
   * The waiting pipe with this id, for the agent of `node` to join; undefined when there is
   * none, it was claimed already, or it belongs to another node.
   */
  claim(node: string, id: string): StreamPipe | undefined {
    const entry = this.#pipes.get(id);
    if (!entry || entry.pipe.node !== node || entry.timer === undefined) return undefined;
    this.clock.clearTimeout(entry.timer);
    entry.timer = undefined;
    return entry.pipe;
  }

  /** Fails every pipe of a node still waiting for its agent (which disconnected). */
  failWaiting(node: string, message: string): void {
    for (const { pipe, timer } of [...this.#pipes.values()]) {
      if (pipe.node === node && timer !== undefined) pipe.failWith(message);
    }
  }

  /** Number of open pipes. */
  get size(): number {
    return this.#pipes.size;
  }
}
