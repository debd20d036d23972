/**
 * Connects a real NodeAgent to a controller's AgentHub inside one process, with no network:
 * what the simulated cloud uses to give each simulated node a working agent. Messages
 * cross in microtasks in both directions, as they would over a socket.
 */
import type { AgentHub } from "../actors/agent_hub.ts";
import type { AgentMessage } from "../model/agent_protocol.ts";
import { NodeAgent } from "./agent.ts";
import type { Clock } from "../model/clock.ts";
import { FakeProber } from "./fake_prober.ts";
import type { Prober } from "./probe.ts";
import type { UnitRuntime } from "./unit_runtime.ts";

/** What an in-process node needs. */
export interface InProcessAgentOptions {
  nodeName: string;
  podIP?: string;
  dataDir: string;
  runtime: UnitRuntime;
  /** Readiness checks of the simulated node. @default a FakeProber: every check passes */
  prober?: Prober;
  clock?: Clock;
}

/** An agent attached to a hub in-process. */
export interface InProcessAgent {
  agent: NodeAgent;
  /** Disconnects (units keep running), as a network failure would. */
  disconnect(): void;
  /** Reconnects after a disconnect (to another hub, e.g. a restarted controller's). */
  reconnect(hub?: AgentHub): void;
  /** Disconnects and stops every unit. */
  stop(): Promise<void>;
  /** Sends the current status now, as the next heartbeat would. */
  heartbeat(): void;
}

/** Starts an agent for `nodeName` and connects it to `hub`. */
export function connectInProcess(
  hub: AgentHub,
  opts: InProcessAgentOptions,
): InProcessAgent {
  let attached: ReturnType<AgentHub["attach"]> | undefined;
  const agent = new NodeAgent({
    nodeName: opts.nodeName,
    dataDir: opts.dataDir,
    podIP: opts.podIP,
    runtime: opts.runtime,
    prober: opts.prober ?? new FakeProber(),
    clock: opts.clock,
    send: (msg: AgentMessage) => {
      const to = attached;
      queueMicrotask(() => to?.receive(msg));
    },
  });
  const connect = (to: AgentHub = hub) => {
    hub = to;
    attached = hub.attach(opts.nodeName, {
      send: (msg) => queueMicrotask(() => void agent.handle(msg)),
      close: () => {
        attached = undefined;
        agent.disconnected();
      },
    });
    agent.connected();
  };
  const disconnect = () => {
    const a = attached;
    attached = undefined;
    agent.disconnected();
    a?.closed();
  };
  connect();
  return {
    agent,
    disconnect,
    reconnect: connect,
    async stop() {
      disconnect();
      await agent.stop(0);
    },
    heartbeat() {
      const to = attached;
      const msg = agent.statusMessage();
      queueMicrotask(() => to?.receive(msg));
    },
  };
}
