/**
 * The controller's side of node agent connections. Transports (the WebSocket endpoint,
 * or the simulator in-process) attach a connection per node; actors use the hub to send
 * desired pods and ask for logs, and subscribe to what agents report.
 */
import type {
  AgentMessage,
  ControllerMessage,
  DesiredPod,
  StatusMessage,
  StreamOpenMessage,
} from "../model/agent_protocol.ts";
import { type Clock, systemClock, type TimerId } from "../model/clock.ts";
import { UnavailableError, ValidationError } from "../model/errors.ts";
import { StreamPipes } from "./stream_pipes.ts";
import { log } from "../model/log.ts";

/** Something that carries controller messages to one agent. */
export interface AgentConnection {
  send(msg: ControllerMessage): void;
  close(reason?: string): void;
}

/** What the hub tells its subscribers. */
export type HubEvent =
  | { type: "connected"; node: string; podUid?: string }
  | { type: "disconnected"; node: string }
  | { type: "status"; node: string; status: StatusMessage };

/** The transport's handle on an attached connection. */
export interface AttachedAgent {
  /** Feed every message the agent sent. */
  receive(msg: AgentMessage): void;
  /** Call once when the connection closed. */
  closed(): void;
}

interface Pending {
  resolve: (v: string) => void;
  reject: (e: Error) => void;
  timer: TimerId;
}

interface Follow {
  onText: (text: string) => void;
  onEnd: (error?: string) => void;
}

interface Link {
  conn: AgentConnection;
  pending: Map<number, Pending>;
  follows: Map<number, Follow>;
}

/** How long the hub waits for an agent's answer, in milliseconds. */
export const AGENT_REPLY_TIMEOUT_MS = 30_000;

/** Registry of connected agents. */
export class AgentHub {
  #links = new Map<string, Link>();
  #last = new Map<string, StatusMessage>();
  #subs = new Set<(e: HubEvent) => void>();
  #waiters = new Map<string, Set<() => void>>();
  #nextId = 1;
  /** Exec, attach and port-forward streams waiting for or joined to their agent's dial-back. */
  readonly streams: StreamPipes;

  /** @param clock times agent answers and connection waits. @default systemClock */
  constructor(private readonly clock: Clock = systemClock) {
    this.streams = new StreamPipes(clock);
  }

  /** Registers a new connection for a node, replacing (and closing) an older one. */
  attach(node: string, conn: AgentConnection): AttachedAgent {
    const old = this.#links.get(node);
    if (old) this.#drop(node, old, "replaced by a newer connection");
    const link: Link = { conn, pending: new Map(), follows: new Map() };
    this.#links.set(node, link);
    return {
      receive: (msg) => this.#receive(node, link, msg),
      closed: () => {
        if (this.#links.get(node) === link) {
          this.#drop(node, link);
          this.#emit({ type: "disconnected", node });
        }
      },
    };
  }

  /** Whether a node's agent is connected now. */
  isConnected(node: string): boolean {
    return this.#links.has(node);
  }

  /** The last status a node's agent reported, if any. */
  lastStatus(node: string): StatusMessage | undefined {
    return this.#last.get(node);
  }

  /** Resolves once the node's agent is connected; UnavailableError after `timeoutMs`. */
  waitConnected(node: string, timeoutMs: number): Promise<void> {
    if (this.#links.has(node)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const set = this.#waiters.get(node) ?? new Set();
      this.#waiters.set(node, set);
      const forget = () => {
        set.delete(done);
        if (set.size === 0 && this.#waiters.get(node) === set) this.#waiters.delete(node);
      };
      const done = () => {
        this.clock.clearTimeout(timer);
        forget();
        resolve();
      };
      const timer = this.clock.setTimeout(() => {
        forget();
        reject(
          new UnavailableError(`node ${node}: agent did not connect within ${timeoutMs / 1000}s`),
        );
      }, timeoutMs);
      set.add(done);
    });
  }

  /**
   * Sends the desired pod (null: run nothing) and waits for the agent to apply it, at most
   * `timeoutMs` (stopping units can take their whole grace period).
   */
  async apply(
    node: string,
    pod: DesiredPod | null,
    timeoutMs = AGENT_REPLY_TIMEOUT_MS,
  ): Promise<void> {
    await this.#request(node, (id) => ({ type: "apply", id, pod }), timeoutMs);
  }

  /**
   * Tells a node's agent to fetch, check and install a package of its pod; resolves once it
   * did. Rejects with ValidationError when the agent refused the package (the reason as
   * message), UnavailableError when the node is not connected or did not answer in `timeoutMs`.
   */
  async deployPackage(
    node: string,
    pkg: { podUid: string; name: string; sha256: string; size: number },
    timeoutMs = AGENT_REPLY_TIMEOUT_MS,
  ): Promise<void> {
    await this.#request(node, (id) => ({ type: "package", id, ...pkg }), timeoutMs);
  }

  /** The last `lines` lines (all kept lines when absent) of a unit's log. */
  logs(node: string, unit: string, lines?: number): Promise<string> {
    return this.#request(node, (id) => ({ type: "logs", id, unit, lines }));
  }

  /**
   * Streams a unit's log: `onText` gets the last `lines` lines, then new text;
   * `onEnd` fires once when the stream ends. Returns a function that cancels it.
   */
  followLogs(
    node: string,
    unit: string,
    lines: number | undefined,
    onText: (text: string) => void,
    onEnd: (error?: string) => void,
  ): () => void {
    const link = this.#links.get(node);
    if (!link) {
      onEnd(`node ${node} is not connected`);
      return () => {};
    }
    const id = this.#nextId++;
    link.follows.set(id, { onText, onEnd });
    link.conn.send({ type: "logs", id, unit, lines, follow: true });
    return () => {
      if (link.follows.delete(id)) {
        try {
          link.conn.send({ type: "logs.cancel", id });
        } catch { /* connection already gone */ }
      }
    };
  }

  /**
   * Asks a node's agent to dial back a stream (`stream.open`); UnavailableError when the node
   * is not connected or the message cannot be sent.
   */
  openStream(node: string, open: Omit<StreamOpenMessage, "type" | "id">): void {
    const link = this.#links.get(node);
    if (!link) throw new UnavailableError(`node ${node} is not connected`);
    try {
      link.conn.send({ type: "stream.open", id: this.#nextId++, ...open });
    } catch (e) {
      throw new UnavailableError(`node ${node}: cannot send: ${(e as Error).message}`);
    }
  }

  /** Calls `fn` for every hub event; returns the function that stops it. */
  subscribe(fn: (e: HubEvent) => void): () => void {
    this.#subs.add(fn);
    return () => this.#subs.delete(fn);
  }

  /** Nodes with a connected agent. */
  connectedNodes(): string[] {
    return [...this.#links.keys()];
  }

  /** Closes every connection. */
  closeAll(): void {
    for (const [node, link] of this.#links) this.#drop(node, link, "controller stopping");
  }

  #request(
    node: string,
    make: (id: number) => ControllerMessage,
    timeoutMs = AGENT_REPLY_TIMEOUT_MS,
  ): Promise<string> {
    const link = this.#links.get(node);
    if (!link) return Promise.reject(new UnavailableError(`node ${node} is not connected`));
    const id = this.#nextId++;
    return new Promise<string>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        link.pending.delete(id);
        reject(new UnavailableError(`node ${node} did not answer within ${timeoutMs / 1000}s`));
      }, timeoutMs);
      link.pending.set(id, { resolve, reject, timer });
      try {
        link.conn.send(make(id));
      } catch (e) {
        this.clock.clearTimeout(timer);
        link.pending.delete(id);
        reject(new UnavailableError(`node ${node}: cannot send: ${(e as Error).message}`));
      }
    });
  }

  #receive(node: string, link: Link, msg: AgentMessage): void {
    if (this.#links.get(node) !== link) return; // from a connection that was replaced
    switch (msg.type) {
      case "hello":
        for (const w of [...this.#waiters.get(node) ?? []]) w();
        this.#emit({ type: "connected", node, podUid: msg.podUid });
        return;
      case "status":
        this.#last.set(node, msg);
        this.#emit({ type: "status", node, status: msg });
        return;
      case "applied":
      case "logs.result": {
        const f = link.follows.get(msg.id);
        if (f && msg.type === "logs.result") {
          // The first answer of a followed log: the tail so far, or why there is none.
          if (msg.error) {
            link.follows.delete(msg.id);
            f.onEnd(msg.error);
          } else if (msg.text) f.onText(msg.text);
          return;
        }
        const p = link.pending.get(msg.id);
        if (!p) return;
        link.pending.delete(msg.id);
        this.clock.clearTimeout(p.timer);
        if (msg.error) p.reject(new UnavailableError(msg.error));
        else p.resolve(msg.type === "logs.result" ? msg.text ?? "" : "");
        return;
      }
      case "package.result": {
        const p = link.pending.get(msg.id);
        if (!p) return;
        link.pending.delete(msg.id);
        this.clock.clearTimeout(p.timer);
        if (msg.error) p.reject(new ValidationError(msg.error));
        else p.resolve("");
        return;
      }
      case "logs.data":
        link.follows.get(msg.id)?.onText(msg.text);
        return;
      case "logs.end": {
        const f = link.follows.get(msg.id);
        link.follows.delete(msg.id);
        f?.onEnd();
        return;
      }
    }
  }

  #drop(node: string, link: Link, reason?: string): void {
    this.#links.delete(node);
    this.#last.delete(node);
    for (const p of link.pending.values()) {
      this.clock.clearTimeout(p.timer);
      p.reject(new UnavailableError(`node ${node} disconnected`));
    }
    link.pending.clear();
    for (const f of link.follows.values()) f.onEnd(`node ${node} disconnected`);
    link.follows.clear();
    this.streams.failWaiting(node, `node ${node} disconnected`);
    if (reason) {
      try {
        link.conn.close(reason);
      } catch { /* already closed */ }
    }
  }

  #emit(e: HubEvent): void {
    for (const fn of this.#subs) {
      try {
        fn(e);
      } catch (err) {
        log.error("hub subscriber failed", { error: err });
      }
    }
  }
}
