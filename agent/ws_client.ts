/**
 * The agent's connection to the controller: a WebSocket to `/agent/v1/connect`, redialled
 * forever with jittered backoff. Units keep running while it is down.
 */
import {
  type AgentMessage,
  type ControllerMessage,
  frameTooBig,
  MAX_AGENT_MESSAGE_BYTES,
} from "../model/agent_protocol.ts";
import { type Clock, systemClock, type TimerId } from "../model/clock.ts";

/** What the connection drives; {@linkcode NodeAgent} is one. */
export interface AgentEndpoint {
  connected(): void;
  disconnected(): void;
  handle(msg: ControllerMessage): Promise<void> | void;
}

/** Options of {@linkcode ControllerLink}. */
export interface ControllerLinkOptions {
  /** Base URL of the controller API (http or https). */
  controllerURL: string;
  nodeName: string;
  token: string;
  /** PEM CA certificate to trust for an https controller. */
  caCertificate?: string;
  /** The agent's own log. */
  log?: (message: string) => void;
  /** @default systemClock */
  clock?: Clock;
  /** Random numbers in [0, 1) for jitter. @default Math.random */
  random?: () => number;
  /** First redial delay. @default 500 */
  minDelayMs?: number;
  /** Largest redial delay. @default 5000 */
  maxDelayMs?: number;
}

/**
 * The code the agent closes with on a message over the limit: 1009 "message too big" is not
 * one a WebSocket client may send (only 1000 and 3000-4999), so 4000 + 9.
 */
export const CLOSE_MESSAGE_TOO_BIG = 4009;

/** The agent connection URL for a controller base URL: http→ws, https→wss, plus the path. */
export function agentConnectURL(controllerURL: string): string {
  const url = new URL(controllerURL);
  url.protocol = url.protocol === "https:"
    ? "wss:"
    : url.protocol === "http:"
    ? "ws:"
    : url.protocol;
  url.pathname = url.pathname.replace(/\/+$/, "") + "/agent/v1/connect";
  url.search = "";
  url.hash = "";
  return url.href;
}

/**
 * Delay before redial number `attempt` (0 for the first): min doubling to max, then jittered
 * to between half and all of that.
 */
export function redialDelay(
  attempt: number,
  random: () => number,
  minMs = 500,
  maxMs = 5000,
): number {
  const base = Math.min(minMs * 2 ** Math.min(attempt, 30), maxMs);
  return Math.round(base / 2 + random() * base / 2);
}

const MESSAGE_TYPES = new Set(["apply", "logs", "logs.cancel", "stream.open", "package"]);

/** Parses a controller frame; throws with a short reason when it is not a controller message. */
export function parseControllerMessage(data: unknown): ControllerMessage {
  if (typeof data !== "string") throw new Error("not a text frame");
  let msg;
  try {
    msg = JSON.parse(data);
  } catch {
    // Not JSON.parse's message: it quotes the frame, which may hold the pod's Secret values.
    throw new SyntaxError(`not JSON (${data.length} characters)`);
  }
  if (typeof msg !== "object" || msg === null || !MESSAGE_TYPES.has(msg.type)) {
    throw new Error(`unknown message type ${JSON.stringify(msg?.type)}`);
  }
  if (typeof msg.id !== "number") throw new Error(`${msg.type} message without a numeric id`);
  return msg as ControllerMessage;
}

/** The first line of a log text that had to be cut to fit one message. */
export const LOG_CUT_NOTE = "[earlier log text cut: one message to the controller holds at most";

const encoder = new TextEncoder();

/**
 * The frame for a message: its JSON, when that fits in `limit` bytes. A log answer or log
 * data (`logs.result`, `logs.data`) that does not keeps the end of its text, from the start
 * of a line, after a line saying text was cut; any other message that does not gives
 * undefined.
 */
export function agentFrame(msg: AgentMessage, limit = MAX_AGENT_MESSAGE_BYTES): string | undefined {
  let frame = JSON.stringify(msg);
  if (!frameTooBig(frame, limit)) return frame;
  if ((msg.type !== "logs.result" && msg.type !== "logs.data") || !msg.text) return undefined;
  const text = msg.text;
  let keep = text.length;
  while (frameTooBig(frame, limit)) {
    // The text is most of the message: keep a share of it a little under what fits.
    keep = Math.floor(keep * 0.9 * limit / encoder.encode(frame).length);
    if (keep <= 0) return undefined;
    let start = text.length - keep;
    const newline = text.indexOf("\n", start - 1);
    if (newline >= 0 && newline + 1 < text.length) start = newline + 1;
    frame = JSON.stringify({
      ...msg,
      text: `${LOG_CUT_NOTE} ${limit} bytes]\n${text.slice(start)}`,
    });
  }
  return frame;
}

/** Keeps one WebSocket to the controller open and wires it to an endpoint. */
export class ControllerLink {
  #o: ControllerLinkOptions;
  #clock: Clock;
  #log: (message: string) => void;
  #endpoint?: AgentEndpoint;
  #ws?: WebSocket;
  #open = false;
  #attempt = 0;
  #timer?: TimerId;
  #closed = false;
  #client?: Deno.HttpClient;
  /** Last connection error logged; the same error is logged once per outage. */
  #lastError?: string;

  constructor(options: ControllerLinkOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => {});
  }

  /**
   * Sends a message if connected; drops it otherwise (the next connect resends status). Log
   * text is cut to fit the message limit; any other message over it is dropped and logged.
   */
  readonly send = (msg: AgentMessage): void => {
    if (!this.#open || this.#ws?.readyState !== WebSocket.OPEN) return;
    const frame = agentFrame(msg);
    if (frame === undefined) {
      this.#log(`not sending a ${msg.type} message: it is over ${MAX_AGENT_MESSAGE_BYTES} bytes`);
      return;
    }
    this.#ws.send(frame);
  };

  /**
   * Fetches a deployed package's tarball from `GET /agent/v1/packages/{podUid}/{name}` with the
   * node's credentials (and the controller's CA); throws with the controller's answer when it
   * is not 200.
   */
  readonly fetchPackage = async (
    podUid: string,
    name: string,
    signal?: AbortSignal,
  ): Promise<ReadableStream<Uint8Array>> => {
    const base = new URL(this.#o.controllerURL);
    base.pathname = base.pathname.replace(/\/+$/, "") +
      `/agent/v1/packages/${encodeURIComponent(podUid)}/${encodeURIComponent(name)}`;
    if (this.#o.caCertificate && !this.#client) {
      this.#client = Deno.createHttpClient({ caCerts: [this.#o.caCertificate] });
    }
    const res = await fetch(base, {
      headers: { "Authorization": `Bearer ${this.#o.token}`, "X-Milpa-Node": this.#o.nodeName },
      signal,
      ...(this.#client ? { client: this.#client } : {}),
    });
    if (!res.ok || !res.body) {
      const text = (await res.text().catch(() => "")).slice(0, 300);
      throw new Error(`cannot fetch package "${name}": ${res.status} ${text}`);
    }
    return res.body;
  };

  /** Starts dialling; the endpoint hears connected()/disconnected() and every message. */
  start(endpoint: AgentEndpoint): void {
    this.#endpoint = endpoint;
    if (this.#o.caCertificate && !this.#client) {
      this.#client = Deno.createHttpClient({ caCerts: [this.#o.caCertificate] });
    }
    this.#dial();
  }

  /**
   * Opens the WebSocket of a stream the controller asked for (`stream.open`): to
   * `/agent/v1/streams/{id}` with the node's credentials, binary frames as ArrayBuffers.
   */
  dialStream(id: string): WebSocket {
    const url = agentConnectURL(this.#o.controllerURL).replace(
      /\/agent\/v1\/connect$/,
      `/agent/v1/streams/${encodeURIComponent(id)}`,
    );
    const ws = new WebSocket(url, {
      headers: { "Authorization": `Bearer ${this.#o.token}`, "X-Milpa-Node": this.#o.nodeName },
      client: this.#client,
    });
    ws.binaryType = "arraybuffer";
    return ws;
  }

  /** Stops redialling and closes the socket; resolves once it is closed. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const ws = this.#ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
      ws.close(1000, "agent stopping");
      await closed;
    }
    this.#client?.close();
    this.#client = undefined;
  }

  #dial(): void {
    if (this.#closed) return;
    const url = agentConnectURL(this.#o.controllerURL);
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, {
        headers: { "Authorization": `Bearer ${this.#o.token}`, "X-Milpa-Node": this.#o.nodeName },
        client: this.#client,
      });
    } catch (err) {
      this.#log(`cannot connect to ${url}: ${err instanceof Error ? err.message : err}`);
      this.#redial();
      return;
    }
    this.#ws = ws;
    ws.onopen = () => {
      this.#open = true;
      this.#attempt = 0;
      this.#lastError = undefined;
      this.#log(`connected to ${url}`);
      this.#endpoint?.connected();
    };
    ws.onmessage = (event) => this.#receive(ws, event.data);
    ws.onerror = (event) => {
      const message = (event as ErrorEvent).message;
      if (message && message !== this.#lastError) this.#log(`connection to ${url}: ${message}`);
      this.#lastError = message;
    };
    ws.onclose = (event) => {
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      const wasOpen = this.#open;
      this.#open = false;
      if (wasOpen) {
        this.#log(
          `disconnected from ${url} (code ${event.code}${event.reason ? `: ${event.reason}` : ""})`,
        );
        this.#endpoint?.disconnected();
      }
      this.#redial();
    };
  }

  #receive(ws: WebSocket, data: unknown): void {
    if (frameTooBig(data)) {
      this.#log(
        `node ${this.#o.nodeName}: the controller sent a message over ${MAX_AGENT_MESSAGE_BYTES} bytes; ` +
          `closing the connection (${CLOSE_MESSAGE_TOO_BIG})`,
      );
      ws.close(CLOSE_MESSAGE_TOO_BIG, "message too big");
      return;
    }
    let msg: ControllerMessage;
    try {
      msg = parseControllerMessage(data);
    } catch (err) {
      this.#log(`ignoring a bad message: ${err instanceof Error ? err.message : err}`);
      return;
    }
    Promise.resolve(this.#endpoint?.handle(msg)).catch((err) =>
      this.#log(
        `handling ${msg.type} ${msg.id} failed: ${err instanceof Error ? err.message : err}`,
      )
    );
  }

  #redial(): void {
    if (this.#closed || this.#timer !== undefined) return;
    const { random = Math.random, minDelayMs = 500, maxDelayMs = 5000 } = this.#o;
    const delay = redialDelay(this.#attempt++, random, minDelayMs, maxDelayMs);
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#dial();
    }, delay);
  }
}
