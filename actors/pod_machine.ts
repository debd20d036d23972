/**
 * The pod actor: Waiting → Dispatching → Running → Succeeded | Failed | Terminated,
 * with Failed → Waiting (a fresh node) while start attempts remain.
 *
 * It asks the node pool for a node, hands the pod to that node's agent, follows the
 * agent's unit statuses and releases the node when the pod ends. Its status is derived
 * from its snapshot by `podStatusOf`, never written anywhere else.
 *
 * A running pod that is deleted (or evicted from a node the controller terminates) does not
 * stop at once: it drains (out of its Services' DNS records and load balancers, still running,
 * for `drainMs` when it backs a Service), then stops (its units get SIGTERM, SIGKILL after the
 * pod's terminationGracePeriodSeconds), and only then gives its node back. A node that fails to
 * boot is retried with a growing delay, and the pod fails after `maxLaunchAttempts`.
 */
import { and, assign, fromCallback, fromPromise, setup } from "xstate";
import type { SnapshotFrom } from "xstate";
import type { Clock } from "../model/clock.ts";
import { isoTime } from "../model/clock.ts";
import type {
  NetworkAddress,
  PodCondition,
  PodPhase,
  PodStatus,
  RestartPolicy,
  UnitStatus,
} from "../model/pod.ts";
import { lbGateType } from "../model/workload.ts";
import { allUnitsStarted, computePodPhase } from "../model/pod_phase.ts";
import type { EventInput } from "../store/events.ts";
import { POOL_ID } from "./ids.ts";
import { phaseChangeAt } from "./phase_change.ts";
import { reportOutcome, type ResumeEvent, RESUMES } from "./outcome.ts";
import { WATCHED } from "./ticker.ts";

/** A node the pool gave a pod. */
export interface BoundNode {
  name: string;
  instanceId?: string;
  addresses: NetworkAddress[];
}

/** Start attempts beyond which a failing pod is given up on (Milpa: 2 failures, 3 attempts). */
export const ALLOWED_START_FAILURES = 2;

/** First delay before a pod asks for a node again after a failed launch. */
export const LAUNCH_RETRY_BASE_MS = 10_000;

/**
 * Delay before a pod asks for a node again after its `failures`-th failed launch: `baseMs`
 * (10 s) doubling, at most 5 min, as Kubernetes backs off.
 */
export function launchRetryDelayMs(failures: number, baseMs = LAUNCH_RETRY_BASE_MS): number {
  return Math.min(baseMs * 2 ** Math.max(0, failures - 1), 5 * 60_000);
}

/** What a pod actor starts from. */
export interface PodInput {
  namespace: string;
  name: string;
  uid: string;
  restartPolicy: RestartPolicy;
  /**
   * When the pod became Waiting (epoch ms; `waitingSince`), for an actor started without a
   * snapshot: its first status keeps that time. Not kept in the context.
   */
  since?: number;
}

/** What the dispatcher learned: the names of the units it handed over. */
export interface DispatchResult {
  units: string[];
  initUnits: string[];
}

/** Pod actor state kept in its snapshot. */
export interface PodContext extends PodInput {
  startFailures: number;
  node?: BoundNode;
  unitNames: string[];
  initUnitNames: string[];
  unitStatuses: UnitStatus[];
  initUnitStatuses: UnitStatus[];
  observed?: { phase: PodPhase; startFailure: boolean; message?: string };
  message?: string;
  lastPhaseChange: number;
  readyTime?: number;
  /** Whether every unit is running and ready now. */
  ready?: boolean;
  /** When `ready` last changed (epoch ms). */
  readyChangedAt?: number;
  lastStatusAt?: number;
  /** Launches of a node for this pod that failed (not for lack of capacity) since the last good one. */
  launchFailures?: number;
  /** When a pod backing off after a failed launch asks for a node again (epoch ms). */
  nextLaunchAt?: number;
  /** What the pod waits on, when the pool said (`NodeLimit`) or it backs off (`LaunchBackOff`). */
  waitReason?: string;
  /** Set while the pod drains and stops; `evicted` pods go back to Waiting afterwards. */
  termination?: {
    since: number;
    drainUntil: number;
    reason: string;
    evicted: boolean;
  };
  /** Load balancers (by Service name) and whether each admitted the pod, since when. */
  lbGates?: Record<string, { admitted: boolean; since: number }>;
}

/** Events a pod actor understands. */
export type PodEvent =
  | { type: "NODE_BOUND"; node: BoundNode }
  | { type: "NODE_LOST"; reason: string }
  | {
    type: "AGENT_STATUS";
    podUid?: string;
    unitStatuses: UnitStatus[];
    initUnitStatuses: UnitStatus[];
  }
  | { type: "AGENT_CONNECTED" }
  | { type: "SPEC_UPDATED" }
  | { type: "DELETE" }
  /** Its node is being terminated by the controller: drain, stop, then run on a new node. */
  | { type: "EVICT"; reason: string }
  /** A node launched for it failed to boot (not for lack of capacity). */
  | { type: "LAUNCH_FAILED"; message: string }
  /** Why the pool cannot give it a node now (e.g. nodes.maxNodes reached). */
  | { type: "WAIT_REASON"; reason: string; message: string }
  /** Whether the load balancer of Service `service` admits the pod now. */
  | { type: "LB_GATE"; service: string; admitted: boolean }
  | { type: "RETRY_LAUNCH" }
  | { type: "TICK"; since: number }
  /** The dispatch to node `node` ended (actors/outcome.ts). */
  | { type: "DISPATCHED"; node: string; output: DispatchResult }
  | { type: "DISPATCH_FAILED"; node: string; error: unknown }
  /** Its units on node `node` were stopped, or could not be (actors/outcome.ts). */
  | { type: "UNITS_STOPPED"; node: string }
  | ResumeEvent;

/** Effects the pod machine needs, injected so tests can replace them. */
export interface PodDeps {
  clock: Clock;
  /** Delivers an event to another actor by system id (asynchronously). */
  send: (to: string, event: { type: string; [k: string]: unknown }) => void;
  /** Hands the pod to its node's agent; idempotent. */
  dispatch: (
    input: { namespace: string; name: string; node: BoundNode },
  ) => Promise<DispatchResult>;
  event: (e: EventInput) => void;
  /**
   * Keeps a leaving pod running until `until` (epoch ms) if it backs a Service; resolves at
   * once when it backs none. Must resolve early when `signal` aborts.
   */
  drain: (
    input: { namespace: string; name: string; until: number },
    signal: AbortSignal,
  ) => Promise<void>;
  /** Stops the pod's units on its node (SIGTERM, SIGKILL after its grace period); resolves when done. */
  stopUnits: (input: { namespace: string; name: string; node: string }) => Promise<void>;
  /** How long a running pod may go without a status report before it counts as lost. */
  healthyTimeoutMs: number;
  /** How long a leaving pod that backs a Service stays up after leaving it. */
  drainMs: number;
  /** Failed node launches after which the pod fails. */
  maxLaunchAttempts: number;
  /** First delay after a failed launch. @default LAUNCH_RETRY_BASE_MS */
  launchRetryBaseMs?: number;
}

const key = (c: PodInput) => `${c.namespace}/${c.name}`;

/** What the dispatcher needs: the pod and its node. */
const dispatchInput = ({ context }: { context: PodContext }) => ({
  namespace: context.namespace,
  name: context.name,
  node: context.node!,
});

/** Builds the pod machine around its effects. */
export function createPodMachine(deps: PodDeps) {
  const involved = (c: PodContext) => ({
    kind: "Pod",
    name: c.name,
    namespace: c.namespace,
    uid: c.uid,
  });
  return setup({
    types: {} as { context: PodContext; input: PodInput; events: PodEvent },
    actors: {
      /** Sends RETRY_LAUNCH at an absolute time (re-armed after a restore). */
      launchTimer: fromCallback<PodEvent, { at: number }>(({ sendBack, input }) => {
        const t = deps.clock.setTimeout(
          () => sendBack({ type: "RETRY_LAUNCH" }),
          input.at - deps.clock.now(),
        );
        return () => deps.clock.clearTimeout(t);
      }),
      drain: fromPromise<void, { namespace: string; name: string; until: number }>(
        ({ input, signal }) => deps.drain(input, signal),
      ),
    },
    guards: {
      /**
       * The outcome of a dispatch or unit stop on the pod's node (not on a node it had before).
       */
      forItsNode: ({ context, event }) =>
        (event.type === "DISPATCHED" || event.type === "DISPATCH_FAILED" ||
          event.type === "UNITS_STOPPED") && event.node === context.node?.name,
      canRetry: ({ context }) =>
        context.restartPolicy !== "Never" && context.startFailures <= ALLOWED_START_FAILURES,
      observedSucceeded: ({ context }) => context.observed?.phase === "Succeeded",
      observedFailed: ({ context }) => context.observed?.phase === "Failed",
      observedStartFailure: ({ context }) =>
        context.observed?.phase === "Failed" && context.observed.startFailure,
      statusTimedOut: ({ context, event }) =>
        event.type === "TICK" &&
        deps.clock.now() - Math.max(context.lastStatusAt ?? 0, event.since) > deps.healthyTimeoutMs,
      isCurrentPod: ({ context, event }) =>
        event.type === "AGENT_STATUS" && event.podUid === context.uid,
      launchAttemptsLeft: ({ context }) =>
        (context.launchFailures ?? 0) + 1 < deps.maxLaunchAttempts,
      evicted: ({ context }) => context.termination?.evicted === true,
      gateChanged: ({ context, event }) =>
        event.type === "LB_GATE" && context.lbGates?.[event.service]?.admitted !== event.admitted,
    },
    actions: {
      /** Stops the pod's units on its node; UNITS_STOPPED follows, whether they stopped or not. */
      stopUnits: ({ context, self }) => {
        const input = {
          namespace: context.namespace,
          name: context.name,
          node: context.node!.name,
        };
        const stopped = { type: "UNITS_STOPPED", node: input.node } as const;
        reportOutcome(self, () => deps.stopUnits(input), () => stopped, () => stopped);
      },
      /** Hands the pod to its node's agent; DISPATCHED or DISPATCH_FAILED follows. */
      dispatch: ({ context, self }) => {
        const input = dispatchInput({ context });
        reportOutcome(
          self,
          () => deps.dispatch(input),
          (output) => ({ type: "DISPATCHED", node: input.node.name, output }),
          (error) => ({ type: "DISPATCH_FAILED", node: input.node.name, error }),
        );
      },
      markPhaseChange: assign({ lastPhaseChange: phaseChangeAt(deps.clock) }),
      requestNode: ({ context }) => deps.send(POOL_ID, { type: "POD_WAITING", pod: key(context) }),
      releaseNode: ({ context }) =>
        deps.send(POOL_ID, { type: "POD_RELEASED", pod: key(context), node: context.node?.name }),
      clearNode: assign({
        ready: false,
        readyChangedAt: () => deps.clock.now(),
        node: undefined,
        unitStatuses: [],
        initUnitStatuses: [],
        observed: undefined,
        lastStatusAt: undefined,
        termination: undefined,
        lbGates: undefined,
      }),
      assignNode: assign({
        node: ({ event }) => event.type === "NODE_BOUND" ? event.node : undefined,
        message: undefined,
        waitReason: undefined,
        launchFailures: 0,
        nextLaunchAt: undefined,
      }),
      noteLaunchFailure: assign(({ context, event }) => {
        const failures = (context.launchFailures ?? 0) + 1;
        const cause = event.type === "LAUNCH_FAILED" ? event.message : "node launch failed";
        if (failures >= deps.maxLaunchAttempts) {
          return {
            launchFailures: failures,
            nextLaunchAt: undefined,
            waitReason: undefined,
            message: `node launch failed ${failures} times: ${cause}`,
          };
        }
        const at = deps.clock.now() + launchRetryDelayMs(failures, deps.launchRetryBaseMs);
        return {
          launchFailures: failures,
          nextLaunchAt: at,
          waitReason: "LaunchBackOff",
          message:
            `node launch failed (attempt ${failures} of ${deps.maxLaunchAttempts}): ${cause}; ` +
            `next attempt at ${isoTime(at)}`,
        };
      }),
      reportLaunchFailure: ({ context }) =>
        deps.event({
          involvedObject: involved(context),
          status: "pod-launch-failed",
          source: "pod-controller",
          message: context.message ?? "node launch failed",
          type: "Warning",
        }),
      noteWaitReason: assign(({ event }) =>
        event.type === "WAIT_REASON" ? { waitReason: event.reason, message: event.message } : {}
      ),
      clearWaitReason: assign({ waitReason: undefined, message: undefined }),
      startTermination: assign(({ context, event }) => ({
        ready: false,
        readyChangedAt: context.ready ? deps.clock.now() : context.readyChangedAt,
        termination: {
          since: deps.clock.now(),
          drainUntil: deps.clock.now() + deps.drainMs,
          reason: event.type === "EVICT" ? event.reason : "deleted",
          evicted: event.type === "EVICT",
        },
      })),
      noteDeletedWhileLeaving: assign(({ context }) => ({
        termination: context.termination && {
          ...context.termination,
          reason: "deleted",
          evicted: false,
        },
      })),
      noteEvicted: assign(({ context }) => ({
        message: `evicted: ${context.termination?.reason ?? "its node is being terminated"}`,
      })),
      assignUnitStatuses: assign(({ event }) =>
        event.type === "AGENT_STATUS"
          ? {
            unitStatuses: event.unitStatuses,
            initUnitStatuses: event.initUnitStatuses,
            lastStatusAt: deps.clock.now(),
          }
          : {}
      ),
      assignGate: assign(({ context, event }) => {
        if (event.type !== "LB_GATE") return {};
        return {
          lbGates: {
            ...context.lbGates,
            [event.service]: { admitted: event.admitted, since: deps.clock.now() },
          },
        };
      }),
      reportStopping: ({ context }) =>
        deps.event({
          involvedObject: involved(context),
          status: "pod-stopping",
          source: "pod-controller",
          message: `Stopping the units on node ${context.node?.name} (${
            context.termination?.reason ?? "deleted"
          })`,
        }),
      assignDispatched: assign(({ context, event }) => {
        if (event.type !== "DISPATCHED") return {};
        const r = event.output;
        const fill = (names: string[], have: UnitStatus[]) =>
          names.map((n) =>
            have.find((s) => s.name === n) ??
              { name: n, state: { waiting: { reason: "Initializing" } }, restartCount: 0 }
          );
        return {
          unitNames: r.units,
          initUnitNames: r.initUnits,
          unitStatuses: fill(r.units, context.unitStatuses),
          initUnitStatuses: fill(r.initUnits, context.initUnitStatuses),
        };
      }),
      assignStatus: assign(({ context, event }) => {
        if (event.type !== "AGENT_STATUS") return {};
        const observed = computePodPhase(
          context.restartPolicy,
          event.initUnitStatuses,
          event.unitStatuses,
        );
        const started = allUnitsStarted(event.initUnitStatuses, event.unitStatuses);
        // Ready: running, and passing its readiness probe when it has one (the agent decides).
        const ready = observed.phase === "Running" && event.unitStatuses.length > 0 &&
          event.unitStatuses.every((s) => s.state.running && s.ready !== false);
        const now = deps.clock.now();
        return {
          unitStatuses: event.unitStatuses,
          initUnitStatuses: event.initUnitStatuses,
          observed,
          lastStatusAt: now,
          startFailures: started ? 0 : context.startFailures,
          readyTime: context.readyTime ?? (ready ? now : undefined),
          ready,
          readyChangedAt: ready === context.ready ? context.readyChangedAt : now,
        };
      }),
      countStartFailure: assign({
        startFailures: ({ context }) => context.startFailures + 1,
        message: ({ event, context }) =>
          "error" in event
            ? `dispatch to node ${context.node?.name} failed: ${
              (event.error as Error)?.message ?? event.error
            }`
            : context.observed?.message,
      }),
      noteFailure: assign({ message: ({ context }) => context.observed?.message }),
      noteLost: assign({
        message: ({ event, context }) =>
          event.type === "NODE_LOST"
            ? event.reason
            : `no status from node ${context.node?.name} in ${deps.healthyTimeoutMs / 1000}s`,
      }),
      noteDeleted: assign({ message: undefined }),
      // Units still running when the pod ends are stopped with their node (SIGTERM).
      finalizeUnits: assign(({ context }) => {
        const finishedAt = isoTime(deps.clock.now());
        const end = (s: UnitStatus): UnitStatus =>
          s.state.terminated ? s : {
            ...s,
            lastState: s.state,
            ready: false,
            state: {
              terminated: {
                exitCode: 143,
                reason: "PodTerminated",
                message: "stopped with the pod's node",
                finishedAt,
                ...(s.state.running ? { startedAt: s.state.running.startedAt } : {}),
              },
            },
          };
        return {
          unitStatuses: context.unitStatuses.map(end),
          initUnitStatuses: context.initUnitStatuses.map(end),
        };
      }),
      reportRunning: ({ context }) =>
        deps.event({
          involvedObject: involved(context),
          status: "pod-running",
          source: "pod-controller",
          message: `Pod running on node ${context.node?.name}`,
        }),
      reportEnd: ({ context }, params: { phase: PodPhase }) =>
        deps.event({
          involvedObject: involved(context),
          status: params.phase === "Terminated"
            ? "pod-terminated"
            : `pod-${params.phase.toLowerCase()}`,
          source: "pod-controller",
          message: `Pod status phase: '${params.phase}'${
            context.message ? `: ${context.message}` : ""
          }`,
          type: params.phase === "Failed" ? "Warning" : "Normal",
        }),
      reportRetry: ({ context }) =>
        deps.event({
          involvedObject: involved(context),
          status: "pod-failed",
          source: "pod-controller",
          message:
            `Pod failed on node ${context.node?.name}, retrying on a new node (start failures: ${context.startFailures})${
              context.message ? `: ${context.message}` : ""
            }`,
          type: "Warning",
        }),
    },
  }).createMachine({
    id: "pod",
    initial: "Waiting",
    context: ({ input: { since, ...input } }) => ({
      ...input,
      startFailures: 0,
      unitNames: [],
      initUnitNames: [],
      unitStatuses: [],
      initUnitStatuses: [],
      lastPhaseChange: since ?? deps.clock.now(),
    }),
    on: {
      LB_GATE: { guard: "gateChanged", actions: "assignGate" },
    },
    states: {
      Waiting: {
        entry: "markPhaseChange",
        initial: "Requesting",
        states: {
          Requesting: { entry: "requestNode" },
          /** A launch failed: ask again at nextLaunchAt. */
          BackingOff: {
            invoke: {
              src: "launchTimer",
              input: ({ context }: { context: PodContext }) => ({ at: context.nextLaunchAt ?? 0 }),
            },
            on: { RETRY_LAUNCH: { target: "Requesting", actions: "clearWaitReason" } },
          },
        },
        on: {
          NODE_BOUND: { target: "Dispatching", actions: "assignNode" },
          DELETE: { target: "Terminated", actions: "noteDeleted" },
          LAUNCH_FAILED: [
            {
              guard: "launchAttemptsLeft",
              target: ".BackingOff",
              actions: ["noteLaunchFailure", "reportLaunchFailure"],
            },
            { target: "Failed", actions: ["noteLaunchFailure", "reportLaunchFailure"] },
          ],
          WAIT_REASON: { actions: "noteWaitReason" },
        },
      },
      Dispatching: {
        entry: ["markPhaseChange", "dispatch"],
        tags: [RESUMES],
        on: {
          DISPATCHED: { guard: "forItsNode", target: "Running", actions: "assignDispatched" },
          DISPATCH_FAILED: { guard: "forItsNode", target: "Failing", actions: "countStartFailure" },
          RESUME: { actions: "dispatch" },
          AGENT_STATUS: { guard: "isCurrentPod", actions: "assignStatus" },
          NODE_LOST: { target: "Failing", actions: ["noteLost", "countStartFailure"] },
          DELETE: { target: "Terminated", actions: "noteDeleted" },
        },
      },
      Running: {
        entry: ["markPhaseChange", "reportRunning"],
        // The supervisor's Ticker sends TICK while Running (actors/ticker.ts).
        tags: [WATCHED],
        always: [
          { guard: "observedSucceeded", target: "Succeeded" },
          { guard: "observedStartFailure", target: "Failing", actions: "countStartFailure" },
          { guard: "observedFailed", target: "Failing", actions: "noteFailure" },
        ],
        initial: "Applied",
        states: {
          Applied: {
            on: { AGENT_CONNECTED: "Reapplying", SPEC_UPDATED: "Reapplying" },
          },
          Reapplying: {
            entry: "dispatch",
            tags: [RESUMES],
            on: {
              DISPATCHED: { guard: "forItsNode", target: "Applied", actions: "assignDispatched" },
              DISPATCH_FAILED: { guard: "forItsNode", target: "Applied" },
              RESUME: { actions: "dispatch" },
            },
          },
        },
        on: {
          AGENT_STATUS: { guard: "isCurrentPod", actions: "assignStatus" },
          TICK: { guard: "statusTimedOut", target: "Failing", actions: "noteLost" },
          NODE_LOST: { target: "Failing", actions: "noteLost" },
          DELETE: { target: "Leaving", actions: ["noteDeleted", "startTermination"] },
          EVICT: { target: "Leaving", actions: "startTermination" },
        },
      },
      /**
       * On its way out (published phase: Running): out of its Services, it stays up for the
       * drain period, then its units are stopped; an evicted pod then runs on a new node.
       */
      Leaving: {
        initial: "Draining",
        on: {
          AGENT_STATUS: { guard: "isCurrentPod", actions: "assignUnitStatuses" },
          NODE_LOST: [
            { guard: "evicted", target: "Failing", actions: "noteLost" },
            { target: "Terminated", actions: "noteLost" },
          ],
          DELETE: { actions: "noteDeletedWhileLeaving" },
        },
        states: {
          Draining: {
            invoke: {
              src: "drain",
              input: ({ context }) => ({
                namespace: context.namespace,
                name: context.name,
                until: context.termination?.drainUntil ?? 0,
              }),
              onDone: "Stopping",
              onError: "Stopping",
            },
          },
          Stopping: {
            entry: ["reportStopping", "stopUnits"],
            tags: [RESUMES],
            on: {
              UNITS_STOPPED: [
                {
                  guard: and(["forItsNode", "evicted"]),
                  target: "#pod.Failing",
                  actions: "noteEvicted",
                },
                { guard: "forItsNode", target: "#pod.Terminated" },
              ],
              RESUME: { actions: "stopUnits" },
            },
          },
        },
      },
      Failing: {
        entry: "releaseNode",
        always: [
          { guard: "canRetry", target: "Waiting", actions: ["reportRetry", "clearNode"] },
          { target: "Failed" },
        ],
      },
      Failed: {
        tags: ["terminal"],
        entry: ["markPhaseChange", "finalizeUnits", {
          type: "reportEnd",
          params: { phase: "Failed" },
        }],
      },
      Succeeded: {
        tags: ["terminal"],
        entry: ["markPhaseChange", "releaseNode", {
          type: "reportEnd",
          params: { phase: "Succeeded" },
        }],
      },
      Terminated: {
        tags: ["terminal"],
        entry: [
          "markPhaseChange",
          "releaseNode",
          "finalizeUnits",
          { type: "reportEnd", params: { phase: "Terminated" } },
        ],
      },
    },
  });
}

/** The pod machine type. */
export type PodMachine = ReturnType<typeof createPodMachine>;

/** The published phase of each top-level state that is not a phase of its own. */
const PUBLISHED: Record<string, PodPhase> = {
  Failing: "Failed",
  Leaving: "Running",
};

/** The top-level state of a pod actor's snapshot. */
function topState(snapshot: SnapshotFrom<PodMachine>): string {
  const v = snapshot.value;
  return typeof v === "string" ? v : Object.keys(v)[0];
}

/** The published phase of a pod actor's state. */
export function podPhaseOf(snapshot: SnapshotFrom<PodMachine>): PodPhase {
  const top = topState(snapshot);
  return PUBLISHED[top] ?? top as PodPhase;
}

/** The pod's status, derived from its actor's snapshot. */
export function podStatusOf(snapshot: SnapshotFrom<PodMachine>): PodStatus {
  const c = snapshot.context;
  const phase = podPhaseOf(snapshot);
  const addresses = c.node?.addresses ?? [];
  const conditions: PodCondition[] = [];
  if (c.readyChangedAt) {
    conditions.push({
      type: "Ready",
      status: c.ready && phase === "Running" ? "True" : "False",
      lastTransitionTime: isoTime(c.readyChangedAt),
    });
  }
  for (
    const [service, gate] of Object.entries(c.lbGates ?? {}).sort(([a], [b]) => a < b ? -1 : 1)
  ) {
    conditions.push({
      type: lbGateType(service),
      status: gate.admitted ? "True" : "False",
      lastTransitionTime: isoTime(gate.since),
    });
  }
  const top = topState(snapshot);
  const leaving = c.termination && top === "Leaving"
    ? (snapshot.value as { Leaving: "Draining" | "Stopping" }).Leaving
    : undefined;
  return {
    phase,
    lastPhaseChange: isoTime(c.lastPhaseChange),
    ...(c.readyTime ? { readyTime: isoTime(c.readyTime) } : {}),
    ...(conditions.length ? { conditions } : {}),
    ...(leaving
      ? {
        termination: {
          state: leaving,
          since: isoTime(c.termination!.since),
          ...(leaving === "Draining" ? { drainUntil: isoTime(c.termination!.drainUntil) } : {}),
          reason: c.termination!.reason,
        },
      }
      : {}),
    ...(c.waitReason && top === "Waiting" ? { reason: c.waitReason } : {}),
    ...(c.nextLaunchAt && top === "Waiting" ? { nextLaunchAt: isoTime(c.nextLaunchAt) } : {}),
    ...(c.launchFailures ? { launchFailures: c.launchFailures } : {}),
    ...(c.node ? { boundNodeName: c.node.name } : {}),
    ...(c.node?.instanceId ? { boundInstanceID: c.node.instanceId } : {}),
    ...(addresses.length ? { addresses } : {}),
    startFailures: c.startFailures,
    unitStatuses: c.unitStatuses,
    initUnitStatuses: c.initUnitStatuses,
    ...(c.message ? { message: c.message } : {}),
  };
}
