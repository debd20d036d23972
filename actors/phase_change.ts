/** When a pod's or node's phase last changed, as their machines keep it (`lastPhaseChange`). */
import type { Clock } from "../model/clock.ts";

/**
 * The `lastPhaseChange` a state's entry assigns: now, except on entering the initial state, which
 * keeps the time the context started with (the object's creation time, `input.since`), so that
 * the actor's first status is the one its object was created with.
 */
export function phaseChangeAt(
  clock: Clock,
): (args: { context: { lastPhaseChange: number }; event: { type: string } }) => number {
  return ({ context, event }) =>
    event.type === "xstate.init" ? context.lastPhaseChange : clock.now();
}
