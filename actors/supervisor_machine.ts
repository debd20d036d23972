/**
 * The root supervisor's own machine: Restoring (every actor from its snapshot) →
 * Supervising → Stopping → Stopped. The Supervisor class runs its effects; the machine is
 * what `start()` and `stop()` drive, and what a visualizer draws for the root.
 */
import { assign, fromPromise, setup } from "xstate";

/** What the root machine runs. */
export interface SupervisorHooks {
  /** Restores or creates every actor and starts routing. */
  restore: () => Promise<void>;
  /** Stops every actor and waits for their last snapshots. */
  shutdown: () => Promise<void>;
}

/** Events of the root machine. */
export type SupervisorEvent =
  | { type: "STOP" }
  // A child actor failed (the supervisor restarts it; see the root's `on`).
  | { type: `xstate.error.actor.${string}`; error: unknown };

/** Builds the root supervisor machine around its hooks. */
export function createSupervisorMachine(hooks: SupervisorHooks) {
  return setup({
    types: {} as { events: SupervisorEvent; context: { error?: string } },
    actors: {
      restore: fromPromise(() => hooks.restore()),
      shutdown: fromPromise(() => hooks.shutdown()),
    },
  }).createMachine({
    id: "supervisor",
    initial: "Restoring",
    context: {},
    // Every pod, node and reconciler actor is a child of this root in one actor system (one
    // system per actor cost ~2 KiB each). Their failures are handled by the supervisor, which
    // restarts the actor; unhandled here, an error event would fail the root itself.
    on: { "xstate.error.actor.*": {} },
    states: {
      Restoring: {
        invoke: {
          src: "restore",
          onDone: "Supervising",
          onError: {
            target: "Failed",
            actions: assign({
              error: ({ event }) => String((event.error as Error)?.message ?? event.error),
            }),
          },
        },
        on: { STOP: "Stopping" },
      },
      Supervising: { on: { STOP: "Stopping" } },
      Stopping: { invoke: { src: "shutdown", onDone: "Stopped", onError: "Stopped" } },
      Stopped: { type: "final" },
      Failed: { type: "final" },
    },
  });
}
