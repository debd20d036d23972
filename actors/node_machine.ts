/**
 * The node actor: Creating → Created → Available → Claimed → Cleaning → Terminating →
 * Terminated. Nodes are single-use: a node that ran a pod is terminated; only an unused
 * node goes back to Available.
 *
 * Deadlines (boot timeout, heartbeats) are epoch milliseconds in context, checked on the
 * supervisor's watchdog ticks (actors/ticker.ts), because XState does not restore `after`
 * timers from a snapshot. The launch reports back by event (actors/outcome.ts).
 */
import { assign, fromPromise, setup } from "xstate";
import type { SnapshotFrom } from "xstate";
import type { Clock } from "../model/clock.ts";
import { isoTime, sleep } from "../model/clock.ts";
import type { NodePhase, NodeStatus } from "../model/node.ts";
import type { NetworkAddress } from "../model/pod.ts";
import type { EventInput } from "../store/events.ts";
import { POOL_ID } from "./ids.ts";
import { phaseChangeAt } from "./phase_change.ts";
import { WATCHED } from "./ticker.ts";
import { reportOutcome, type ResumeEvent, RESUMES } from "./outcome.ts";
import { log } from "../model/log.ts";

/** What a node actor starts from. */
export interface NodeInput {
  name: string;
  instanceType: string;
  spot: boolean;
  privateIPOnly: boolean;
  volumeSizeGiB: number;
  /** The pod (`namespace/name`) the node is booted for; absent for standby nodes. */
  boundPod?: string;
  /**
   * When the node was created (epoch ms), for a new actor: its first status keeps that time
   * (`newNodeStatus`). Not kept in the context.
   */
  since?: number;
}

/** Node actor state kept in its snapshot. */
export interface NodeContext extends NodeInput {
  instanceId?: string;
  addresses: NetworkAddress[];
  /** Whether the agent is connected now (not persisted: absent in a restored actor). */
  agentConnected?: boolean;
  /** Epoch ms by which the agent must have connected. */
  bootDeadline?: number;
  lastHeartbeat?: number;
  message?: string;
  lastPhaseChange: number;
  /** Set when the launch failed for lack of capacity. */
  capacityError?: boolean;
  /**
   * Set when the node failed to boot for another reason: the cloud refused the launch, the
   * instance stopped before its agent connected, or the agent did not connect in time.
   */
  launchFailed?: boolean;
  /** Set when termination was asked for while the launch was still running. */
  terminateRequested?: boolean;
}

/** What a launch produced. */
export interface LaunchResult {
  instanceId: string;
  addresses: NetworkAddress[];
}

/** Events a node actor understands. */
export type NodeEvent =
  | { type: "AGENT_CONNECTED" }
  | { type: "AGENT_DISCONNECTED" }
  | { type: "HEARTBEAT" }
  | { type: "BIND"; pod: string | undefined }
  | { type: "CLAIM"; pod: string }
  | { type: "RELEASE"; used: boolean }
  | { type: "TERMINATE"; reason: string }
  /** The instance stopped on its own (the provider's `onInstanceExit`). */
  | { type: "INSTANCE_GONE"; reason: string }
  | { type: "TICK"; since: number }
  /** The launch ended (actors/outcome.ts). */
  | { type: "LAUNCHED"; output: LaunchResult }
  | { type: "LAUNCH_ERROR"; error: unknown }
  /** What was worth keeping of a used node is kept, or could not be (actors/outcome.ts). */
  | { type: "CLEANED" }
  | ResumeEvent;

/** Effects the node machine needs. */
export interface NodeDeps {
  clock: Clock;
  send: (to: string, event: { type: string; [k: string]: unknown }) => void;
  /** Boots (or finds, by client token) the node's instance. */
  launch: (input: NodeInput) => Promise<LaunchResult>;
  /** Terminates an instance; safe to repeat. */
  terminate: (instanceId: string) => Promise<void>;
  /** Revokes the node's agent credentials (safe to repeat): a terminating node gets no more. */
  revoke: (node: string) => Promise<void>;
  /**
   * Resolves once the node's state (Terminating) is stored, so that a controller that dies
   * while the instance is being terminated knows it was, after a restart.
   */
  persisted: (node: string) => Promise<void>;
  /** Keeps what is worth keeping from a used node (its pod's logs) before it goes. */
  clean: (input: { name: string; boundPod?: string }) => Promise<void>;
  /** Whether an error means "no capacity for this type now". */
  isCapacityError: (e: unknown) => boolean;
  event: (e: EventInput) => void;
  bootTimeoutMs: number;
  healthyTimeoutMs: number;
  /** Whether the node's agent is connected right now (checked after launch). */
  isConnected: (node: string) => boolean;
  /** Hears how each launch went (the controller's metrics); absent: nobody. */
  onLaunch?: (outcome: LaunchOutcome) => void;
}

/**
 * How a node's launch went: the cloud gave an instance (`launched`), or it refused for lack of
 * capacity or otherwise, or the instance stopped or stayed silent before its agent connected.
 */
export type LaunchOutcome =
  | "launched"
  | "capacity"
  | "cloud_error"
  | "instance_gone"
  | "boot_timeout";

/** Builds the node machine around its effects. */
export function createNodeMachine(deps: NodeDeps) {
  const involved = (c: NodeContext) => ({ kind: "Node", name: c.name });
  return setup({
    types: {} as { context: NodeContext; input: NodeInput; events: NodeEvent },
    actors: {
      // Retries until it succeeds, or until the actor stops (the controller is stopping).
      terminate: fromPromise<void, { name: string; instanceId?: string }>(
        async ({ input, signal }) => {
          // The intent first: a restart must not forget it.
          if (input.instanceId) await deps.persisted(input.name);
          for (let delay = 1000; !signal.aborted; delay = Math.min(delay * 2, 30_000)) {
            try {
              await deps.revoke(input.name);
              if (input.instanceId) await deps.terminate(input.instanceId);
              return;
            } catch (e) {
              if (signal.aborted) return;
              log.warn(`terminate node ${input.name} failed, retrying in ${delay / 1000}s`, {
                instance: input.instanceId ?? "none",
                error: e,
              });
              await sleep(deps.clock, delay, signal);
            }
          }
        },
      ),
    },
    guards: {
      connected: ({ context }) => context.agentConnected || deps.isConnected(context.name),
      bootTimedOut: ({ context }) =>
        context.bootDeadline !== undefined && deps.clock.now() > context.bootDeadline,
      heartbeatLost: ({ context, event }) =>
        event.type === "TICK" && !deps.isConnected(context.name) &&
        deps.clock.now() - Math.max(context.lastHeartbeat ?? 0, event.since) >
          deps.healthyTimeoutMs,
      used: ({ event }) => event.type === "RELEASE" && event.used,
      terminateRequested: ({ context }) => context.terminateRequested === true,
    },
    actions: {
      /** Keeps what is worth keeping of a used node (its pod's logs); CLEANED follows. */
      clean: ({ context, self }) => {
        const input = { name: context.name, boundPod: context.boundPod };
        const cleaned = { type: "CLEANED" } as const;
        reportOutcome(self, () => deps.clean(input), () => cleaned, () => cleaned);
      },
      /** Boots (or finds) the node's instance; LAUNCHED or LAUNCH_ERROR follows. */
      launch: ({ context, self }) => {
        const input: NodeInput = {
          name: context.name,
          instanceType: context.instanceType,
          spot: context.spot,
          privateIPOnly: context.privateIPOnly,
          volumeSizeGiB: context.volumeSizeGiB,
          boundPod: context.boundPod,
        };
        reportOutcome(
          self,
          () => deps.launch(input),
          (output) => ({ type: "LAUNCHED", output }),
          (error) => ({ type: "LAUNCH_ERROR", error }),
        );
      },
      markPhaseChange: assign({ lastPhaseChange: phaseChangeAt(deps.clock) }),
      assignLaunched: assign(({ event }) =>
        event.type === "LAUNCHED"
          ? { instanceId: event.output.instanceId, addresses: event.output.addresses }
          : {}
      ),
      armBoot: assign({
        bootDeadline: ({ context }) =>
          context.bootDeadline ?? deps.clock.now() + deps.bootTimeoutMs,
      }),
      noteConnected: assign({ agentConnected: true, lastHeartbeat: () => deps.clock.now() }),
      noteDisconnected: assign({ agentConnected: false }),
      noteHeartbeat: assign({ lastHeartbeat: () => deps.clock.now() }),
      bind: assign({ boundPod: ({ event }) => event.type === "BIND" ? event.pod : undefined }),
      claim: assign({ boundPod: ({ event }) => event.type === "CLAIM" ? event.pod : undefined }),
      unbind: assign({ boundPod: undefined }),
      noteLaunchError: assign(({ event }) => {
        const error = (event as unknown as { error: unknown }).error;
        const capacityError = deps.isCapacityError(error);
        return {
          message: `launch failed: ${(error as Error)?.message ?? error}`,
          capacityError,
          launchFailed: !capacityError,
        };
      }),
      noteGoneAtBoot: assign(({ event }) => ({
        message: `launch failed: ${
          event.type === "INSTANCE_GONE" ? event.reason : "instance gone"
        }`,
        launchFailed: true,
      })),
      noteGone: assign(({ event }) => ({
        message: `instance stopped: ${event.type === "INSTANCE_GONE" ? event.reason : "gone"}`,
      })),
      requestTermination: assign({ terminateRequested: true }),
      noteReason: assign({
        message: ({ event, context }) =>
          event.type === "TERMINATE" ? event.reason : context.message,
      }),
      noteBootTimeout: assign({
        message: () => `agent did not connect within ${deps.bootTimeoutMs / 1000}s of boot`,
        launchFailed: true,
      }),
      noteHeartbeatLost: assign({
        message: () => `no heartbeat for ${deps.healthyTimeoutMs / 1000}s`,
      }),
      tellPoolAvailable: ({ context }) =>
        deps.send(POOL_ID, {
          type: "NODE_AVAILABLE",
          node: context.name,
          pod: context.boundPod,
          instanceId: context.instanceId,
          addresses: context.addresses,
        }),
      tellPoolGone: ({ context }) =>
        deps.send(POOL_ID, {
          type: "NODE_GONE",
          node: context.name,
          pod: context.boundPod,
          reason: context.message,
          capacityError: context.capacityError ?? false,
          ...(context.launchFailed ? { launchError: context.message } : {}),
        }),
      countLaunch: (_, params: { outcome: LaunchOutcome }) => deps.onLaunch?.(params.outcome),
      countLaunchError: ({ event }) =>
        deps.onLaunch?.(
          deps.isCapacityError((event as unknown as { error: unknown }).error)
            ? "capacity"
            : "cloud_error",
        ),
      reportCreated: ({ context }) =>
        deps.event({
          involvedObject: involved(context),
          status: "node-created",
          source: "node-controller",
          message: `Instance ${context.instanceId} (${context.instanceType}) launched`,
        }),
      reportTerminating: ({ context }) =>
        deps.event({
          involvedObject: involved(context),
          status: "node-terminating",
          source: "node-controller",
          message: `Terminating instance ${context.instanceId ?? "(none)"}${
            context.message ? `: ${context.message}` : ""
          }`,
          type: context.message ? "Warning" : "Normal",
        }),
    },
  }).createMachine({
    id: "node",
    initial: "Creating",
    context: ({ input: { since, ...input } }) => ({
      ...input,
      addresses: [],
      agentConnected: false,
      lastPhaseChange: since ?? deps.clock.now(),
    }),
    on: {
      AGENT_CONNECTED: { actions: "noteConnected" },
      AGENT_DISCONNECTED: { actions: "noteDisconnected" },
      HEARTBEAT: { actions: "noteHeartbeat" },
    },
    states: {
      Creating: {
        entry: ["markPhaseChange", "launch"],
        tags: [RESUMES],
        on: {
          LAUNCHED: [
            // Termination asked for mid-launch: let the launch finish, then end what it made.
            {
              guard: "terminateRequested",
              target: "Terminating",
              actions: ["assignLaunched", { type: "countLaunch", params: { outcome: "launched" } }],
            },
            {
              target: "Created",
              actions: [
                "assignLaunched",
                "reportCreated",
                { type: "countLaunch", params: { outcome: "launched" } },
              ],
            },
          ],
          LAUNCH_ERROR: { target: "Terminating", actions: ["noteLaunchError", "countLaunchError"] },
          RESUME: { actions: "launch" },
          BIND: { actions: "bind" },
          TERMINATE: { actions: ["noteReason", "requestTermination"] },
          INSTANCE_GONE: { actions: ["noteGoneAtBoot", "requestTermination"] },
        },
      },
      Created: {
        entry: ["markPhaseChange", "armBoot"],
        always: { guard: "connected", target: "Available", actions: "noteConnected" },
        // The supervisor's Ticker sends TICK in watched states (actors/ticker.ts).
        tags: [WATCHED],
        on: {
          AGENT_CONNECTED: { target: "Available", actions: "noteConnected" },
          BIND: { actions: "bind" },
          TICK: [
            // An agent that connected unseen (no AGENT_CONNECTED reached this actor) is found
            // on a tick: the ticker sends only ticks a transition takes, so it is one here.
            { guard: "connected", target: "Available", actions: "noteConnected" },
            {
              guard: "bootTimedOut",
              target: "Terminating",
              actions: ["noteBootTimeout", {
                type: "countLaunch",
                params: { outcome: "boot_timeout" },
              }],
            },
          ],
          TERMINATE: { target: "Terminating", actions: "noteReason" },
          INSTANCE_GONE: {
            target: "Terminating",
            actions: [
              "noteGoneAtBoot",
              { type: "countLaunch", params: { outcome: "instance_gone" } },
            ],
          },
        },
      },
      Available: {
        entry: ["markPhaseChange", "tellPoolAvailable"],
        tags: [WATCHED],
        on: {
          CLAIM: { target: "Claimed", actions: "claim" },
          BIND: { actions: "bind" },
          TICK: { guard: "heartbeatLost", target: "Terminating", actions: "noteHeartbeatLost" },
          TERMINATE: { target: "Terminating", actions: "noteReason" },
          INSTANCE_GONE: { target: "Terminating", actions: "noteGone" },
        },
      },
      Claimed: {
        entry: "markPhaseChange",
        on: {
          RELEASE: [
            { guard: "used", target: "Cleaning" },
            { target: "Available", actions: "unbind" },
          ],
          TERMINATE: { target: "Terminating", actions: "noteReason" },
          INSTANCE_GONE: { target: "Terminating", actions: "noteGone" },
        },
      },
      Cleaning: {
        entry: ["markPhaseChange", "clean"],
        tags: [RESUMES],
        on: {
          CLEANED: "Terminating",
          RESUME: { actions: "clean" },
          TERMINATE: { target: "Terminating", actions: "noteReason" },
          INSTANCE_GONE: { target: "Terminating", actions: "noteGone" },
        },
      },
      Terminating: {
        entry: ["markPhaseChange", "reportTerminating"],
        invoke: {
          src: "terminate",
          input: ({ context }) => ({ name: context.name, instanceId: context.instanceId }),
          onDone: { target: "Terminated" },
        },
      },
      Terminated: {
        type: "final",
        entry: ["markPhaseChange", "tellPoolGone"],
      },
    },
  });
}

/** The node machine type. */
export type NodeMachine = ReturnType<typeof createNodeMachine>;

/** The node's status, derived from its actor's snapshot. */
export function nodeStatusOf(snapshot: SnapshotFrom<NodeMachine>): NodeStatus {
  const c = snapshot.context;
  return {
    phase: snapshot.value as NodePhase,
    ...(c.instanceId ? { instanceID: c.instanceId } : {}),
    addresses: c.addresses,
    ...(c.boundPod ? { boundPodName: c.boundPod } : {}),
    ...(c.message ? { message: c.message } : {}),
    lastPhaseChange: isoTime(c.lastPhaseChange),
  };
}
