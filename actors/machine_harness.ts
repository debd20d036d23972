/**
 * Test support for the machine tests: actors of one machine started on fake effects, with the
 * messages they sent and the events they recorded, and a fake clock whose timers (watchdog
 * ticks, deadlines) fire as tests advance it. Only tests import this file.
 */
import { type Actor, type AnyStateMachine, createActor } from "xstate";
import { FakeClock } from "../model/fake_clock.ts";
import type { EventInput } from "../store/events.ts";
import { POOL_ID } from "./ids.ts";
import { Ticker } from "./ticker.ts";
import { resumeRestored } from "./outcome.ts";

/** A message an actor sent through its `send` effect. */
export type Sent = { to: string; event: { type: string; [k: string]: unknown } };

/** What every machine harness records; subclasses build `machine` on these fakes. */
export abstract class MachineHarness<M extends AnyStateMachine> {
  readonly clock = new FakeClock();
  readonly sent: Sent[] = [];
  readonly events: EventInput[] = [];
  readonly actors: Actor<M>[] = [];
  abstract readonly machine: M;
  /** The watchdog ticks, as the supervisor's Ticker sends them, on the fake clock. */
  readonly ticker: Ticker;

  constructor(watchdogPeriodMs = 60_000) {
    this.ticker = new Ticker(this.clock, watchdogPeriodMs);
    this.ticker.start();
  }

  /** The `send` effect: records the message. */
  protected readonly send = (to: string, event: Sent["event"]): void => {
    this.sent.push({ to, event });
  };

  /** The `event` effect: records the event. */
  protected readonly record = (e: EventInput): void => {
    this.events.push(e);
  };

  /** Starts an actor with `input` (or restores it from a persisted snapshot). */
  protected startActor(input: unknown, snapshot?: unknown): Actor<M> {
    const actor = createActor(this.machine, {
      input,
      ...(snapshot ? { snapshot: snapshot as never } : {}),
    } as never) as Actor<M>;
    this.actors.push(actor);
    this.ticker.follow(actor);
    actor.start();
    // As the supervisor does (actors/outcome.ts).
    if (snapshot) resumeRestored(actor);
    return actor;
  }

  /** What was sent to the node pool, in order. */
  toPool(): Sent["event"][] {
    return this.sent.filter((s) => s.to === POOL_ID).map((s) => s.event);
  }

  stop(): void {
    for (const a of this.actors) a.stop();
    this.ticker.stop();
  }
}

/** Runs `fn` with a new harness and stops its actors after. */
export async function withHarness<H extends { stop(): void }>(
  make: () => H,
  fn: (h: H) => Promise<void> | void,
): Promise<void> {
  const h = make();
  try {
    await fn(h);
  } finally {
    h.stop();
  }
}
