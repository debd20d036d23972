/**
 * The pod actor: Waiting → Dispatching → Running → Succeeded | Failed | Terminated,
 * with Failed → Waiting (a fresh node) while start attempts remain.
 *
 * It asks the node pool for a node, hands the pod to that node's agent, follows the
 * agent's unit statuses and releases the node when the pod ends. Its status is derived
 * from its snapshot by `podStatusOf`, never written anywhere else.
 */
import { assign, fromCallback, fromPromise, setup } from "xstate";
import type { SnapshotFrom } from "xstate";
import type { Clock } from "../model/clock.ts";
import { every, isoTime } from "../model/clock.ts";
import type {
  NetworkAddress,
  PodPhase,
  PodStatus,
  RestartPolicy,
  UnitStatus,
} from "../model/pod.ts";
import { allUnitsStarted, computePodPhase } from "../model/pod_phase.ts";
import type { EventInput } from "../store/events.ts";
import { POOL_ID } from "./ids.ts";

/** A node the pool gave a pod. */
export interface BoundNode {
  name: string;
  instanceId?: string;
  addresses: NetworkAddress[];
}

/** Start attempts beyond which a failing pod is given up on (Milpa: 2 failures, 3 attempts). */
export const ALLOWED_START_FAILURES = 2;

/** What a pod actor starts from. */
export interface PodInput {
  namespace: string;
  name: string;
  uid: string;
  restartPolicy: RestartPolicy;
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
  | { type: "TICK"; since: number };

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
  /** How long a running pod may go without a status report before it counts as lost. */
  healthyTimeoutMs: number;
  /** How often the watchdog checks. */
  watchdogPeriodMs: number;
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
      dispatch: fromPromise<DispatchResult, { namespace: string; name: string; node: BoundNode }>(
        ({ input }) => deps.dispatch(input),
      ),
      watchdog: fromCallback<PodEvent, { periodMs: number }>(({ sendBack, input }) => {
        const since = deps.clock.now();
        return every(deps.clock, input.periodMs, () => sendBack({ type: "TICK", since }));
      }),
    },
    guards: {
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
    },
    actions: {
      markPhaseChange: assign({ lastPhaseChange: () => deps.clock.now() }),
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
      }),
      assignNode: assign({
        node: ({ event }) => event.type === "NODE_BOUND" ? event.node : undefined,
        message: undefined,
      }),
      assignDispatched: assign(({ context, event }) => {
        const r = (event as unknown as { output: DispatchResult }).output;
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
    context: ({ input }) => ({
      ...input,
      startFailures: 0,
      unitNames: [],
      initUnitNames: [],
      unitStatuses: [],
      initUnitStatuses: [],
      lastPhaseChange: deps.clock.now(),
    }),
    states: {
      Waiting: {
        entry: ["markPhaseChange", "requestNode"],
        on: {
          NODE_BOUND: { target: "Dispatching", actions: "assignNode" },
          DELETE: { target: "Terminated", actions: "noteDeleted" },
        },
      },
      Dispatching: {
        entry: "markPhaseChange",
        invoke: {
          src: "dispatch",
          input: dispatchInput,
          onDone: { target: "Running", actions: "assignDispatched" },
          onError: { target: "Failing", actions: "countStartFailure" },
        },
        on: {
          AGENT_STATUS: { guard: "isCurrentPod", actions: "assignStatus" },
          NODE_LOST: { target: "Failing", actions: ["noteLost", "countStartFailure"] },
          DELETE: { target: "Terminated", actions: "noteDeleted" },
        },
      },
      Running: {
        entry: ["markPhaseChange", "reportRunning"],
        invoke: { src: "watchdog", input: () => ({ periodMs: deps.watchdogPeriodMs }) },
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
            invoke: {
              src: "dispatch",
              input: dispatchInput,
              onDone: { target: "Applied", actions: "assignDispatched" },
              onError: { target: "Applied" },
            },
          },
        },
        on: {
          AGENT_STATUS: { guard: "isCurrentPod", actions: "assignStatus" },
          TICK: { guard: "statusTimedOut", target: "Failing", actions: "noteLost" },
          NODE_LOST: { target: "Failing", actions: "noteLost" },
          DELETE: { target: "Terminated", actions: "noteDeleted" },
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

/** The published phase of a pod actor's state. */
export function podPhaseOf(snapshot: SnapshotFrom<PodMachine>): PodPhase {
  const v = snapshot.value;
  const top = typeof v === "string" ? v : Object.keys(v)[0];
  return (top === "Failing" ? "Failed" : top) as PodPhase;
}

/** The pod's status, derived from its actor's snapshot. */
export function podStatusOf(snapshot: SnapshotFrom<PodMachine>): PodStatus {
  const c = snapshot.context;
  const phase = podPhaseOf(snapshot);
  const addresses = c.node?.addresses ?? [];
  return {
    phase,
    lastPhaseChange: isoTime(c.lastPhaseChange),
    ...(c.readyTime ? { readyTime: isoTime(c.readyTime) } : {}),
    ...(c.readyChangedAt
      ? {
        conditions: [{
          type: "Ready" as const,
          status: c.ready && phase === "Running" ? "True" as const : "False" as const,
          lastTransitionTime: isoTime(c.readyChangedAt),
        }],
      }
      : {}),
    ...(c.node ? { boundNodeName: c.node.name } : {}),
    ...(c.node?.instanceId ? { boundInstanceID: c.node.instanceId } : {}),
    ...(addresses.length ? { addresses } : {}),
    startFailures: c.startFailures,
    unitStatuses: c.unitStatuses,
    initUnitStatuses: c.initUnitStatuses,
    ...(c.message ? { message: c.message } : {}),
  };
}
