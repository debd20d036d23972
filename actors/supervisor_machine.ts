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
export type SupervisorEvent = { type: "STOP" };

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
