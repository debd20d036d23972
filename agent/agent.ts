/**
 * The node agent without its transport: it turns controller messages into pod runner calls and
 * sends hello, statuses, heartbeats and logs through `send`. ws_client.ts connects it to a
 * real controller; the controller's in-process simulator can drive it directly.
 */
import type { MilpactlSource } from "./milpactl_volume.ts";
import {
  AGENT_HEARTBEAT_MS,
  AGENT_PROTOCOL_VERSION,
  type AgentMessage,
  type ApplyMessage,
  type ControllerMessage,
  type LogsRequestMessage,
  type PackageMessage,
  type StatusMessage,
} from "../model/agent_protocol.ts";
import { type Clock, systemClock, type TimerId } from "../model/clock.ts";
import { PodRunner } from "./pod_runner.ts";
import { downloadPackage, type PackageFetcher } from "./packages.ts";
import type { Prober } from "./probe.ts";
import { serveStream } from "./streams.ts";
import type { UnitRuntime } from "./unit_runtime.ts";

/** Options of {@linkcode NodeAgent}. */
export interface NodeAgentOptions {
  nodeName: string;
  /** Holds unit working directories and logs. */
  dataDir: string;
  /** Reported in every status when known; readiness probes target it (else 127.0.0.1). */
  podIP?: string;
  runtime: UnitRuntime;
  /** Carries out readiness probe checks. @default new HostProber() */
  prober?: Prober;
  /** @default systemClock */
  clock?: Clock;
  /** Delivers a message to the controller; only called between connected() and disconnected(). */
  send: (msg: AgentMessage) => void;
  /** The agent's own log. */
  log?: (message: string) => void;
  /**
   * Opens the WebSocket of an exec/attach/port-forward stream back to the controller
   * (ControllerLink.dialStream); without it `stream.open` is ignored (and the stream times out).
   */
  dialStream?: (id: string) => WebSocket;
  /** How the node runs image units, reported in `hello`; absent when it cannot. */
  containerRuntime?: "runc" | "unshare";
  /** Where milpactl comes from, for pods that drive Milpa (`agent/milpactl_volume.ts`). */
  milpactl?: MilpactlSource;
  /** Fetches deployed packages from the controller; without it, `package` is refused. */
  fetchPackage?: PackageFetcher;
}

/** Runs the node's pod as the controller says, over any transport. */
export class NodeAgent {
  /** The runner of the node's pod. */
  readonly runner: PodRunner;
  #o: NodeAgentOptions;
  #clock: Clock;
  #log: (message: string) => void;
  #connected = false;
  #stopping = false;
  #statusQueued = false;
  #heartbeat?: TimerId;
  #follows = new Map<number, () => void>();

  constructor(options: NodeAgentOptions) {
    this.#o = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? (() => {});
    this.runner = new PodRunner({
      dataDir: options.dataDir,
      runtime: options.runtime,
      prober: options.prober,
      podIP: options.podIP,
      clock: this.#clock,
      log: this.#log,
      onChange: () => this.#queueStatus(),
      milpactl: options.milpactl,
    });
  }

  /** The transport is up: sends `hello` and the current status, and starts heartbeats. */
  connected(): void {
    this.#connected = true;
    const hello: AgentMessage = {
      type: "hello",
      node: this.#o.nodeName,
      protocolVersion: AGENT_PROTOCOL_VERSION,
      pid: Deno.pid,
    };
    const podUid = this.runner.pod?.uid;
    if (podUid) hello.podUid = podUid;
    if (this.#o.containerRuntime) hello.containerRuntime = this.#o.containerRuntime;
    this.#send(hello);
    this.#send(this.statusMessage());
    this.#armHeartbeat();
  }

  /** The transport is down: stops heartbeats and log streams; units keep running. */
  disconnected(): void {
    this.#connected = false;
    this.#disarmHeartbeat();
    for (const cancel of this.#follows.values()) cancel();
    this.#follows.clear();
  }

  /** Handles one controller message; resolves once it was answered. */
  async handle(msg: ControllerMessage): Promise<void> {
    switch (msg.type) {
      case "apply":
        return await this.#apply(msg);
      case "logs":
        return this.#logs(msg);
      case "logs.cancel":
        this.#follows.get(msg.id)?.();
        this.#follows.delete(msg.id);
        return;
      case "stream.open": {
        const dial = this.#o.dialStream;
        if (!dial) return this.#log(`stream ${msg.id}: this agent cannot open streams`);
        serveStream(msg, { runner: this.runner, dial, podIP: this.#o.podIP, log: this.#log })
          .catch((err) => this.#log(`stream ${msg.id} failed: ${err}`));
        return;
      }
      case "package":
        return await this.#package(msg);
      default:
        this.#log(
          `ignoring unknown message type ${JSON.stringify((msg as { type?: unknown }).type)}`,
        );
    }
  }

  /** The status message for the pod as it is now. */
  statusMessage(): StatusMessage {
    const msg: StatusMessage = { type: "status", ...this.runner.status() };
    if (this.#o.podIP) msg.podIP = this.#o.podIP;
    return msg;
  }

  /**
   * Stops heartbeats and every unit (SIGKILL after `graceMs`, by default the pod's grace
   * period); later applies are refused.
   */
  async stop(graceMs?: number): Promise<void> {
    this.#stopping = true;
    this.#disarmHeartbeat();
    await this.runner.stop(graceMs);
    this.#disarmHeartbeat();
  }

  async #apply(msg: ApplyMessage): Promise<void> {
    if (this.#stopping) {
      this.#send({ type: "applied", id: msg.id, error: "the agent is stopping" });
      return;
    }
    try {
      await this.runner.apply(msg.pod);
      // The controller may act on `applied` at once: the status it caused goes first.
      if (this.#statusQueued) this.#sendStatus();
      this.#send({ type: "applied", id: msg.id });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.#log(`apply ${msg.id} failed: ${error}`);
      this.#send({ type: "applied", id: msg.id, error });
    }
  }

  /** Fetches, checks, unpacks and swaps in a deployed package; answers `package.result`. */
  async #package(msg: PackageMessage): Promise<void> {
    const answer = (error?: string) =>
      this.#send(
        error ? { type: "package.result", id: msg.id, error } : {
          type: "package.result",
          id: msg.id,
        },
      );
    const run = this.runner.run;
    const fetchPackage = this.#o.fetchPackage;
    if (!run || run.pod.uid !== msg.podUid) {
      return answer(`node "${this.#o.nodeName}" does not run pod uid ${msg.podUid}`);
    }
    if (!fetchPackage) return answer(`node "${this.#o.nodeName}" cannot fetch packages`);
    try {
      await run.deployPackage(msg.name, async (file) => {
        const body = await fetchPackage(msg.podUid, msg.name);
        await downloadPackage(body, file, msg);
      });
      answer();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.#log(`package "${msg.name}" refused: ${error}`);
      answer(error);
    }
  }

  /** Answers from the pod being run, else from the pod stopped last (whose logs have ended). */
  #logs(msg: LogsRequestMessage): void {
    const pod = this.runner.pod ?? this.runner.stoppedPod;
    const fail = (error: string) => this.#send({ type: "logs.result", id: msg.id, error });
    if (!pod) {
      return fail(
        msg.unit
          ? `unit "${msg.unit}" not found: node "${this.#o.nodeName}" runs no pod`
          : `node "${this.#o.nodeName}" runs no pod`,
      );
    }
    let unit = msg.unit;
    if (!unit) {
      const names = pod.spec.units.map((u) => u.name);
      if (names.length !== 1) {
        return fail(`pod "${pod.name}" has ${names.length} units (${names.join(", ")}); name one`);
      }
      unit = names[0];
    }
    const log = this.runner.logs(unit);
    if (!log) return fail(`unit "${unit}" not found in pod "${pod.name}"`);
    this.#send({ type: "logs.result", id: msg.id, text: log.tail(msg.lines) });
    if (!msg.follow) return;
    this.#follows.get(msg.id)?.();
    this.#follows.delete(msg.id);
    let ended = false;
    const cancel = log.follow(
      (text) => this.#send({ type: "logs.data", id: msg.id, text }),
      () => {
        ended = true;
        this.#follows.delete(msg.id);
        this.#send({ type: "logs.end", id: msg.id });
      },
    );
    if (!ended) this.#follows.set(msg.id, cancel);
  }

  #queueStatus(): void {
    if (this.#statusQueued) return;
    this.#statusQueued = true;
    queueMicrotask(() => {
      if (this.#statusQueued) this.#sendStatus();
    });
  }

  #sendStatus(): void {
    this.#statusQueued = false;
    this.#send(this.statusMessage());
  }

  #armHeartbeat(): void {
    this.#disarmHeartbeat();
    if (this.#stopping) return;
    this.#heartbeat = this.#clock.setTimeout(() => {
      this.#heartbeat = undefined;
      this.#send(this.statusMessage());
      this.#armHeartbeat();
    }, AGENT_HEARTBEAT_MS);
  }

  #disarmHeartbeat(): void {
    if (this.#heartbeat !== undefined) this.#clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = undefined;
  }

  #send(msg: AgentMessage): void {
    if (!this.#connected) return;
    try {
      this.#o.send(msg);
    } catch (err) {
      this.#log(`cannot send ${msg.type}: ${err instanceof Error ? err.message : err}`);
    }
  }
}
