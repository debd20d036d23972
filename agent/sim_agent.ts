/**
 * Simulated node agents, for the user-facing simulated cloud (`cloud: {sim: {}}`): each speaks
 * the agent protocol (`model/agent_protocol.ts`) to the controller's AgentHub in process, and
 * runs nothing. A pod it is given reports its units running (after `unitStartDelayMs`), its
 * init units completed, and `milpactl logs` one line; stopping it reports its units killed by
 * SIGTERM. It is what lets one controller rehearse 10,000 nodes: an agent is one small object
 * and its last status, with no files, processes or timers of its own.
 *
 * Tests that need units to behave (exit, write output, fail) use the real `NodeAgent` on a
 * `FakeRuntime` instead (`agent/in_process.ts`).
 *
 * What is not simulated: units never exit on their own (a pod runs until it is deleted);
 * readiness probes pass at once; a unit changed in place keeps running (only its image is
 * updated in its status); exec, attach and port-forward fail at once saying so; a deployed
 * package is acknowledged and dropped. After a controller restart the agents start afresh (as
 * their controller's process did): they report no pod until the controller applies it again,
 * and its units then run since that moment.
 */
import type { AgentConnection, AgentHub, AttachedAgent } from "../actors/agent_hub.ts";
import type { Instance } from "../cloud/provider.ts";
import {
  AGENT_HEARTBEAT_MS,
  AGENT_PROTOCOL_VERSION,
  type AgentMessage,
  type ControllerMessage,
  type DesiredPod,
  type LogsRequestMessage,
  type StatusMessage,
} from "../model/agent_protocol.ts";
import { type Clock, systemClock, type TimerId } from "../model/clock.ts";
import type { Unit, UnitStatus } from "../model/pod.ts";

/** Options of {@linkcode SimAgents}. */
export interface SimAgentsOptions {
  /** Milliseconds from the apply of a pod until its units report running. @default 0 */
  unitStartDelayMs?: number;
  /** @default systemClock */
  clock?: Clock;
  /** How often each agent sends a status heartbeat. @default AGENT_HEARTBEAT_MS */
  heartbeatMs?: number;
  /**
   * Period of the one timer that sends every agent's heartbeats, a share per tick: short, so that
   * each share is small, as real agents' heartbeats come apart (at 10,000 agents a 1 s tick sent
   * 1,000 at once, and the controller answered no request for ~35 ms). @default 100
   */
  tickMs?: number;
}

/** What the waiting status of a unit that has not started says (as the real agent's does). */
const UNIT_WAITING = "Unit waiting";

const NO_UNITS: UnitStatus[] = [];

/** The simulated agents of one controller, sharing one heartbeat timer and one start queue. */
export class SimAgents {
  readonly hub: AgentHub;
  readonly clock: Clock;
  readonly unitStartDelayMs: number;
  readonly #heartbeatMs: number;
  readonly #tickMs: number;
  #agents = new Map<string, SimAgent>();
  #cursor?: Iterator<SimAgent>;
  #heartbeat?: TimerId;
  #credit = 0;
  /** Pods whose units start later, in due order (one delay for all: a queue is enough). */
  #starts: { agent: SimAgent; uid: string; at: number }[] = [];
  #startHead = 0;
  #startTimer?: TimerId;
  #lastMs = NaN;
  #lastIso = "";

  constructor(hub: AgentHub, options: SimAgentsOptions = {}) {
    this.hub = hub;
    this.clock = options.clock ?? systemClock;
    this.unitStartDelayMs = options.unitStartDelayMs ?? 0;
    this.#heartbeatMs = options.heartbeatMs ?? AGENT_HEARTBEAT_MS;
    this.#tickMs = Math.min(options.tickMs ?? 100, this.#heartbeatMs);
  }

  /** Agents running now. */
  get size(): number {
    return this.#agents.size;
  }

  /** The agent of a node, if it runs. */
  agent(node: string): SimAgent | undefined {
    return this.#agents.get(node);
  }

  /**
   * Starts the agent of a simulated instance (a `SimProvider` `startAgent` hook): it connects
   * at once. Returns the function that stops it, when its instance ends.
   */
  start = (instance: Instance): () => void => {
    const node = instance.nodeName;
    this.#agents.get(node)?.stop();
    const agent = new SimAgent(this, node, instance.addresses[0]?.address);
    this.#agents.set(node, agent);
    agent.connect();
    this.#armHeartbeat();
    return () => {
      agent.stop();
      if (this.#agents.get(node) === agent) this.#agents.delete(node);
    };
  };

  /** Stops every agent and the timers (the controller is stopping). */
  close(): void {
    for (const agent of this.#agents.values()) agent.stop();
    this.#agents.clear();
    this.#cursor = undefined;
    if (this.#heartbeat !== undefined) this.clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = undefined;
    if (this.#startTimer !== undefined) this.clock.clearTimeout(this.#startTimer);
    this.#startTimer = undefined;
    this.#starts = [];
    this.#startHead = 0;
  }

  /** `new Date(ms).toISOString()`, made once for all the agents acting in the same ms. */
  iso(ms: number): string {
    if (ms !== this.#lastMs) {
      this.#lastMs = ms;
      this.#lastIso = new Date(ms).toISOString();
    }
    return this.#lastIso;
  }

  /** Starts the units of `agent`'s pod `uid` after the unit start delay. */
  startLater(agent: SimAgent, uid: string): void {
    this.#starts.push({ agent, uid, at: this.clock.now() + this.unitStartDelayMs });
    this.#armStarts();
  }

  #armStarts(): void {
    if (this.#startTimer !== undefined || this.#startHead >= this.#starts.length) return;
    const next = this.#starts[this.#startHead];
    this.#startTimer = this.clock.setTimeout(() => {
      this.#startTimer = undefined;
      const now = this.clock.now();
      while (this.#startHead < this.#starts.length && this.#starts[this.#startHead].at <= now) {
        const { agent, uid } = this.#starts[this.#startHead++];
        agent.startUnits(uid);
      }
      if (this.#startHead >= this.#starts.length) {
        this.#starts = [];
        this.#startHead = 0;
      } else if (this.#startHead > 1024) {
        this.#starts = this.#starts.slice(this.#startHead);
        this.#startHead = 0;
      }
      this.#armStarts();
    }, next.at - this.clock.now());
  }

  /** One timer for every agent: each tick, the next share of agents sends a heartbeat. */
  #armHeartbeat(): void {
    if (this.#heartbeat !== undefined) return;
    this.#heartbeat = this.clock.setTimeout(() => {
      this.#heartbeat = undefined;
      if (this.#agents.size === 0) {
        this.#credit = 0;
        return;
      }
      // Each agent once per heartbeat period: a share per tick, its fraction carried over.
      this.#credit += this.#agents.size * this.#tickMs / this.#heartbeatMs;
      const share = Math.min(Math.floor(this.#credit + 1e-9), this.#agents.size);
      this.#credit = Math.max(0, this.#credit - share);
      let restarted = false;
      for (let i = 0; i < share; i++) {
        this.#cursor ??= this.#agents.values();
        const next = this.#cursor.next();
        if (next.done) {
          this.#cursor = undefined;
          if (restarted) break;
          restarted = true;
          i--;
          continue;
        }
        next.value.heartbeat();
      }
      this.#armHeartbeat();
    }, this.#tickMs);
  }
}

/** One simulated node's agent: connected to the hub as the node's connection. */
export class SimAgent implements AgentConnection {
  readonly #fleet: SimAgents;
  readonly node: string;
  readonly #podIP?: string;
  #link?: AttachedAgent;
  #stopped = false;
  /** The pod run (or, once stopped, last run) and whether it runs. */
  #uid?: string;
  #namespace?: string;
  #name?: string;
  #running = false;
  /** The status as it is now; sent on changes and heartbeats, never changed in place. */
  #status: StatusMessage;

  constructor(fleet: SimAgents, node: string, podIP?: string) {
    this.#fleet = fleet;
    this.node = node;
    this.#podIP = podIP;
    this.#status = this.#makeStatus(NO_UNITS, NO_UNITS);
  }

  /** The status the agent reports now. */
  get status(): StatusMessage {
    return this.#status;
  }

  /** Attaches to the hub, says hello and reports its status. */
  connect(): void {
    if (this.#stopped) return;
    this.#link = this.#fleet.hub.attach(this.node, this);
    const hello: AgentMessage = {
      type: "hello",
      node: this.node,
      protocolVersion: AGENT_PROTOCOL_VERSION,
      pid: Deno.pid,
    };
    if (this.#running && this.#uid) hello.podUid = this.#uid;
    this.#send(hello);
    this.#send(this.#status);
  }

  /** Disconnects for good (its instance ended). */
  stop(): void {
    this.#stopped = true;
    const link = this.#link;
    this.#link = undefined;
    link?.closed();
  }

  /** Sends the current status (the fleet's heartbeat). */
  heartbeat(): void {
    this.#send(this.#status);
  }

  /** The hub sends a controller message (AgentConnection). */
  send(msg: ControllerMessage): void {
    queueMicrotask(() => this.#handle(msg));
  }

  /** The hub closed the connection (replaced, or the controller is stopping). */
  close(): void {
    this.#link = undefined;
  }

  /** Units of pod `uid` that wait start now (the unit start delay passed). */
  startUnits(uid: string): void {
    if (this.#stopped || !this.#running || this.#uid !== uid) return;
    const startedAt = this.#fleet.iso(this.#fleet.clock.now());
    const start = (s: UnitStatus): UnitStatus =>
      s.state.waiting?.reason === UNIT_WAITING ? running(s.name, startedAt, s.image) : s;
    this.#setStatus(
      this.#status.unitStatuses.map(start),
      this.#status.initUnitStatuses,
    );
    this.#send(this.#status);
  }

  #handle(msg: ControllerMessage): void {
    if (this.#stopped) return;
    switch (msg.type) {
      case "apply":
        this.#apply(msg.pod);
        // The status the apply caused goes first, as the real agent's does.
        this.#send(this.#status);
        this.#send({ type: "applied", id: msg.id });
        return;
      case "logs":
        return this.#logs(msg);
      case "logs.cancel":
        return;
      case "stream.open":
        this.#fleet.hub.streams.failWaiting(
          this.node,
          `node ${this.node} is simulated (cloud: sim): it runs no programs, so exec, attach ` +
            "and port-forward are not available",
        );
        return;
      case "package":
        // Nothing runs that could use it: acknowledged, and dropped.
        this.#send({ type: "package.result", id: msg.id });
        return;
    }
  }

  #apply(pod: DesiredPod | null): void {
    const now = this.#fleet.clock.now();
    const at = this.#fleet.iso(now);
    if (!pod) {
      if (!this.#running) return;
      this.#running = false;
      const end = (s: UnitStatus): UnitStatus => {
        const started = s.state.running?.startedAt;
        if (!started) return s;
        const status: UnitStatus = {
          name: s.name,
          state: {
            terminated: {
              exitCode: 143,
              finishedAt: at,
              startedAt: started,
              reason: "Killed by SIGTERM",
            },
          },
          restartCount: s.restartCount,
          ready: false,
        };
        if (s.image) status.image = s.image;
        return status;
      };
      this.#setStatus(
        this.#status.unitStatuses.map(end),
        this.#status.initUnitStatuses.map(end),
      );
      return;
    }
    const same = this.#running && this.#uid === pod.uid;
    const delayed = this.#fleet.unitStartDelayMs > 0;
    const before = same ? new Map(this.#status.unitStatuses.map((s) => [s.name, s])) : undefined;
    const unit = (u: Unit): UnitStatus => {
      const old = before?.get(u.name);
      if (old) return old.image === u.image ? old : { ...old, image: u.image };
      return delayed ? waiting(u.name, u.image) : running(u.name, at, u.image);
    };
    const init = same
      ? this.#status.initUnitStatuses
      : (pod.spec.initUnits ?? []).map((u) => completed(u.name, at, u.image));
    this.#uid = pod.uid;
    this.#namespace = pod.namespace;
    this.#name = pod.name;
    this.#running = true;
    this.#setStatus(pod.spec.units.map(unit), init);
    if (delayed && this.#status.unitStatuses.some((s) => s.state.waiting)) {
      this.#fleet.startLater(this, pod.uid);
    }
  }

  #logs(msg: LogsRequestMessage): void {
    const fail = (error: string) => this.#send({ type: "logs.result", id: msg.id, error });
    if (!this.#uid) {
      return fail(
        msg.unit
          ? `unit "${msg.unit}" not found: node "${this.node}" runs no pod`
          : `node "${this.node}" runs no pod`,
      );
    }
    const { unitStatuses, initUnitStatuses } = this.#status;
    let unit = msg.unit;
    if (!unit) {
      if (unitStatuses.length !== 1) {
        const names = unitStatuses.map((s) => s.name);
        return fail(
          `pod "${this.#name}" has ${names.length} units (${names.join(", ")}); name one`,
        );
      }
      unit = unitStatuses[0].name;
    }
    if (![...initUnitStatuses, ...unitStatuses].some((s) => s.name === unit)) {
      return fail(`unit "${unit}" not found in pod "${this.#name}"`);
    }
    this.#send({
      type: "logs.result",
      id: msg.id,
      text: `[simulated] unit ${unit} of pod ${this.#namespace}/${this.#name} on node ` +
        `${this.node}: the simulated cloud runs no programs, so there is no output\n`,
    });
    // A stopped pod's log has ended; a running one's ends with its node.
    if (msg.follow && !this.#running) this.#send({ type: "logs.end", id: msg.id });
  }

  #setStatus(unitStatuses: UnitStatus[], initUnitStatuses: UnitStatus[]): void {
    this.#status = this.#makeStatus(unitStatuses, initUnitStatuses);
  }

  #makeStatus(unitStatuses: UnitStatus[], initUnitStatuses: UnitStatus[]): StatusMessage {
    const status: StatusMessage = { type: "status", unitStatuses, initUnitStatuses };
    if (this.#uid) status.podUid = this.#uid;
    if (this.#podIP) status.podIP = this.#podIP;
    return status;
  }

  /** Delivers a message to the hub a microtask later, as a socket would. */
  #send(msg: AgentMessage): void {
    const link = this.#link;
    if (!link) return;
    queueMicrotask(() => link.receive(msg));
  }
}

function running(name: string, startedAt: string, image?: string): UnitStatus {
  const s: UnitStatus = { name, state: { running: { startedAt } }, restartCount: 0, ready: true };
  if (image) s.image = image;
  return s;
}

function waiting(name: string, image?: string): UnitStatus {
  const s: UnitStatus = {
    name,
    state: { waiting: { reason: UNIT_WAITING } },
    restartCount: 0,
    ready: false,
  };
  if (image) s.image = image;
  return s;
}

function completed(name: string, at: string, image?: string): UnitStatus {
  const s: UnitStatus = {
    name,
    state: { terminated: { exitCode: 0, startedAt: at, finishedAt: at } },
    restartCount: 0,
    ready: false,
  };
  if (image) s.image = image;
  return s;
}
