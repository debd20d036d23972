/**
 * A level-based reconciler as an XState machine, for kinds whose actor drives other
 * objects towards a spec (ReplicaSet, Deployment, Service). Every pass reads the world and
 * acts on the difference; events only say "look again". Changes that arrive during a pass
 * make one more pass when it ends; a failed pass is retried with capped backoff. A pass that
 * took long (it reads every pod of a big ReplicaSet) is followed by a pause as long as it
 * (`Coalescing`, at most MAX_PACE_MS), so that an object whose dependents change all the time
 * (10,000 pods starting) gets one pass for many changes, not a pass after every pass, each
 * reading everything again.
 *
 * The machine rests in one of the kind's own states (e.g. `Settled`, `Converging` for a
 * ReplicaSet), chosen by `classify`, and can be asked to look again at `recheckAt` (epoch
 * ms, re-armed after a restore, since XState does not restore `after` timers).
 */
import { and, assign, fromCallback, fromPromise, setup } from "xstate";
import type { AnyStateMachine } from "xstate";
import type { Clock } from "../model/clock.ts";

/** A pass shorter than this is followed at once by the next one (when changes came meanwhile). */
export const PACE_AFTER_MS = 20;
/** The longest pause between two passes. */
export const MAX_PACE_MS = 1_000;

/** Who the actor reconciles. */
export interface ReconcilerInput {
  namespace: string;
  name: string;
  uid: string;
}

/** What one pass found. */
export interface PassResult<S, M> {
  /** The object's status, as its actor publishes it. */
  status: S;
  /** Which rest state the actor is in now. */
  state: string;
  /** Look again at this time (epoch ms) even if nothing changes. */
  recheckAt?: number;
  /** Kept between passes (e.g. when progress was last made). */
  memo?: M;
}

/** A pass's result with how long it took (ms). */
interface Timed {
  recheckAt?: number;
  tookMs: number;
}

/** The reconciler's context, persisted in its snapshot. */
export interface ReconcilerContext<S, M> extends ReconcilerInput {
  status?: S;
  memo?: M;
  recheckAt?: number;
  dirty: boolean;
  /** How long the last pass that was followed by a pause took (ms): the pause. */
  lastPassMs?: number;
  failures: number;
  lastError?: string;
}

/** How a kind's reconciler is built. */
export interface ReconcilerSpec<S, M> {
  /** Machine id: the kind, e.g. "replicaset". */
  id: string;
  /** The states a pass can end in; the first is where a new actor is drawn as heading. */
  restStates: readonly string[];
  /** One pass. Resolves undefined when the object is gone. */
  reconcile: (
    input: ReconcilerInput & { memo?: M; status?: S },
  ) => Promise<PassResult<S, M> | undefined>;
  clock: Clock;
  /**
   * For a kind whose passes read many objects and whose changes may wait a little (a Service:
   * every pod it selects, each pass): a pass while changes keep coming is followed by a pause of
   * `factor` times its length, and at least `minMs` (at most MAX_PACE_MS), however short the
   * pass was. Without it, a pass shorter than PACE_AFTER_MS is followed at once and a longer one
   * by a pause as long as it.
   */
  pace?: { factor: number; minMs: number };
}

/** Builds a reconciler machine for one kind. */
export function createReconcilerMachine<S, M = unknown>(spec: ReconcilerSpec<S, M>) {
  /** The pause after a pass of `tookMs` while changes keep coming (0: none). */
  const pauseAfter = (tookMs: number) =>
    spec.pace
      ? Math.min(Math.max(tookMs * spec.pace.factor, spec.pace.minMs), MAX_PACE_MS)
      : tookMs < PACE_AFTER_MS
      ? 0
      : Math.min(tookMs, MAX_PACE_MS);
  const restStates = Object.fromEntries(spec.restStates.map((name) => [name, {
    invoke: {
      src: "timer",
      input: ({ context }: { context: ReconcilerContext<S, M> }) => ({ at: context.recheckAt }),
    },
    on: { CHANGED: "Reconciling", RECHECK: "Reconciling" },
  }]));
  const targets = spec.restStates.map((name) => ({
    guard: { type: "endedIn", params: { state: name } },
    target: name,
    actions: "record",
  }));
  return setup({
    types: {} as {
      context: ReconcilerContext<S, M>;
      input: ReconcilerInput;
      events: { type: "CHANGED" } | { type: "RECHECK" };
    },
    actors: {
      /** One pass, timed (a pass restarted by a restore times itself afresh). */
      pass: fromPromise<(PassResult<S, M> & Timed) | undefined, ReconcilerContext<S, M>>(
        async ({ input }) => {
          const started = spec.clock.now();
          const out = await spec.reconcile({
            namespace: input.namespace,
            name: input.name,
            uid: input.uid,
            memo: input.memo,
            status: input.status,
          });
          return out && { ...out, tookMs: spec.clock.now() - started };
        },
      ),
      /** Sends RECHECK at an absolute time; nothing when there is none. */
      timer: fromCallback<{ type: "RECHECK" }, { at?: number }>(({ sendBack, input }) => {
        if (input.at === undefined) return;
        const t = spec.clock.setTimeout(
          () => sendBack({ type: "RECHECK" }),
          input.at - spec.clock.now(),
        );
        return () => spec.clock.clearTimeout(t);
      }),
      /** Sends RECHECK after `ms`. */
      pace: fromCallback<{ type: "RECHECK" }, { ms: number }>(({ sendBack, input }) => {
        const t = spec.clock.setTimeout(() => sendBack({ type: "RECHECK" }), input.ms);
        return () => spec.clock.clearTimeout(t);
      }),
      backoff: fromCallback<{ type: "RECHECK" }, { failures: number }>(({ sendBack, input }) => {
        const t = spec.clock.setTimeout(
          () => sendBack({ type: "RECHECK" }),
          Math.min(500 * 2 ** Math.min(input.failures, 7), 60_000),
        );
        return () => spec.clock.clearTimeout(t);
      }),
    },
    guards: {
      endedIn: ({ event }, params: { state: string }) =>
        (event as { output?: PassResult<S, M> }).output?.state === params.state,
      dirty: ({ context }) => context.dirty,
      clean: ({ context }) => !context.dirty,
      /**
       * The next pass may follow at once: the pass now ending was short, or it has more to do
       * (it created or deleted as many pods as one pass may, and asks to look again now).
       */
      quick: ({ event }) => {
        const out = (event as { output?: Timed }).output;
        return out === undefined || pauseAfter(out.tookMs) === 0 ||
          (out.recheckAt !== undefined && out.recheckAt <= spec.clock.now());
      },
      gone: ({ event }) => (event as { output?: unknown }).output === undefined,
    },
    actions: {
      markDirty: assign({ dirty: true }),
      startPass: assign({ dirty: false }),
      notePassTime: assign({
        lastPassMs: ({ event }) => (event as unknown as { output: Timed }).output.tookMs,
      }),
      record: assign(({ event }) => {
        const out = (event as unknown as { output: PassResult<S, M> }).output;
        return {
          status: out.status,
          memo: out.memo,
          recheckAt: out.recheckAt,
          failures: 0,
          lastError: undefined,
        };
      }),
      noteError: assign(({ context, event }) => ({
        failures: context.failures + 1,
        lastError: String(
          (event as { error?: Error }).error?.message ?? (event as { error?: unknown }).error,
        ),
      })),
    },
  }).createMachine({
    id: spec.id,
    // The rest states are the kind's own, so the config is assembled at run time.
    initial: "Reconciling",
    context: ({ input }: { input: ReconcilerInput }) => ({ ...input, dirty: false, failures: 0 }),
    states: {
      Reconciling: {
        entry: "startPass",
        invoke: {
          src: "pass",
          input: ({ context }: { context: ReconcilerContext<S, M> }) => context,
          onDone: [
            { guard: "gone", target: "Gone" },
            {
              guard: and(["dirty", "quick"]),
              target: "Reconciling",
              reenter: true,
              actions: "record",
            },
            { guard: "dirty", target: "Coalescing", actions: ["record", "notePassTime"] },
            ...targets,
          ],
          onError: { target: "Backoff", actions: "noteError" },
        },
        // Once dirty, further changes change nothing (and make no new snapshot).
        on: {
          CHANGED: { guard: "clean", actions: "markDirty" },
          RECHECK: { guard: "clean", actions: "markDirty" },
        },
      },
      /**
       * Changes came during a long pass: more are likely (pods starting by the thousand). The
       * next pass waits as long as the last one took, and takes them all.
       */
      Coalescing: {
        invoke: {
          src: "pace",
          input: ({ context }: { context: ReconcilerContext<S, M> }) => ({
            ms: pauseAfter(context.lastPassMs ?? 0),
          }),
        },
        on: { RECHECK: "Reconciling" },
      },
      Backoff: {
        invoke: {
          src: "backoff",
          input: ({ context }: { context: ReconcilerContext<S, M> }) => ({
            failures: context.failures,
          }),
        },
        on: { CHANGED: "Reconciling", RECHECK: "Reconciling" },
      },
      ...restStates,
      /** The object is gone; the supervisor removes the actor. */
      Gone: { type: "final" },
    },
  } as never) as unknown as AnyStateMachine;
}
