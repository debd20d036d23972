/**
 * Work a state starts when it is entered, whose outcome comes back to the actor as an event: a
 * node's launch and cleaning, a pod's dispatch to its agent and the stop of its units. XState's
 * `invoke` does the same with a child actor per run, and its creation, registration and end cost
 * about as much as two events of the machine (creating a fromPromise child ~10 µs and ~18 KiB,
 * measured on the pod machine): with one launch and one dispatch per pod, ~7 % of the
 * controller's main thread in a burst of pods (docs/benchmarks.md). Work that must stop when its
 * state is left (a drain's wait, a termination's retries: they take an AbortSignal) stays invoked.
 * These runs are not children, so:
 *
 * - A state that starts such work carries the tag {@linkcode RESUMES}. XState restarts an
 *   invoked child when it restores a snapshot; here the supervisor sends a restored actor in a
 *   tagged state {@linkcode RESUME}, on which the state starts its work again.
 * - Leaving the state does not cancel the work (none of it listens for cancellation): its
 *   outcome event arrives later, and the machine takes it only where it still waits for it, and
 *   only for the run it waits for (a pod's dispatch and unit stop name their node).
 * - An outcome for an actor that was stopped meanwhile goes nowhere, as a stopped child's did.
 */
import type { AnyActorRef, EventObject } from "xstate";

/** The tag of states that start work on entry whose outcome they wait for. */
export const RESUMES = "resumes";

/** Sent to an actor restored in a {@linkcode RESUMES} state: start its work again. */
export type ResumeEvent = { type: "RESUME" };
export const RESUME: ResumeEvent = { type: "RESUME" };

/**
 * Called once an actor restored from a snapshot has started: when its state waits for work it
 * started (tagged {@linkcode RESUMES}), sends it {@linkcode RESUME} to start that work again.
 */
export function resumeRestored(ref: AnyActorRef): void {
  const snap = ref.getSnapshot() as { status: string; hasTag?(tag: string): boolean };
  if (snap.status === "active" && snap.hasTag?.(RESUMES)) ref.send(RESUME);
}

/**
 * Runs `work` and sends `self` what became of it: `done(output)`, or `failed(error)` when it
 * throws or rejects.
 */
export function reportOutcome<T>(
  self: AnyActorRef,
  work: () => Promise<T>,
  done: (output: T) => EventObject,
  failed: (error: unknown) => EventObject,
): void {
  Promise.try(work).then((output) => self.send(done(output)), (error) => self.send(failed(error)));
}
