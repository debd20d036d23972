/**
 * One watchdog timer for every actor: each period, every actor in a state tagged
 * {@linkcode WATCHED} gets `{type: "TICK", since}`, `since` being when it entered (or was
 * restored in) that state. A machine's guards decide on a tick whether a deadline passed
 * (no status, no heartbeat, no boot); deadlines live in context as epoch-ms.
 *
 * This replaces a callback actor and a timer per pod and per node: at 10,000 pods those were
 * 10,000 child actors and intervals. Follow an actor with follow(); its ticks start and stop as
 * it enters and leaves watched states.
 */
import type { AnyActorRef } from "xstate";
import { type Clock, every } from "../model/clock.ts";

/** Parts a period's ticks are spread over. */
const SLICES = 50;

/** The tag of states whose actor gets watchdog ticks. */
export const WATCHED = "watched";

/** The watchdog timer shared by actors. */
export class Ticker {
  /** Watched actors, and when each entered its watched state. */
  readonly #watched = new Map<AnyActorRef, number>();
  #cancel: (() => void) | undefined;
  #enabled = false;
  #slice = 0;

  constructor(private readonly clock: Clock, private readonly periodMs: number) {}

  /** Starts ticking (idempotent); the timer runs only while some actor is watched. */
  start(): void {
    this.#enabled = true;
    this.#arm();
  }

  /** Stops ticking and forgets every actor. */
  stop(): void {
    this.#enabled = false;
    this.#watched.clear();
    this.#arm();
  }

  /** Runs the timer while enabled and some actor is watched, else not. */
  #arm(): void {
    const want = this.#enabled && this.#watched.size > 0;
    if (want && !this.#cancel) {
      this.#cancel = every(this.clock, this.periodMs / this.#slices, () => this.#tick());
    }
    if (!want && this.#cancel) {
      this.#cancel();
      this.#cancel = undefined;
    }
  }

  #watch(ref: AnyActorRef): void {
    if (this.#watched.has(ref)) return;
    this.#watched.set(ref, this.clock.now());
    this.#arm();
  }

  #unwatch(ref: AnyActorRef): void {
    if (this.#watched.delete(ref)) this.#arm();
  }

  /** How many actors are watched now. */
  get size(): number {
    return this.#watched.size;
  }

  /**
   * Ticks `ref` while it is in a watched state; call before it starts (its first snapshot
   * counts). Returns the function that stops following it.
   */
  follow(ref: AnyActorRef): () => void {
    const sub = ref.subscribe({
      next: (snap) => {
        if (snap.status === "active" && snap.hasTag(WATCHED)) this.#watch(ref);
        else this.#unwatch(ref);
      },
      error: () => this.#unwatch(ref),
      complete: () => this.#unwatch(ref),
    });
    return () => {
      sub.unsubscribe();
      this.#unwatch(ref);
    };
  }

  /**
   * Ticks one slice of the watched actors: each gets one tick a period, and a period's ticks are
   * spread over its slices, so that 10,000 actors never hold the event loop at once.
   */
  #tick(): void {
    const slice = this.#slice;
    this.#slice = (slice + 1) % this.#slices;
    let i = 0;
    for (const [ref, since] of [...this.#watched]) {
      if (i++ % this.#slices !== slice) continue;
      if (ref.getSnapshot().status !== "active") {
        this.#unwatch(ref);
        continue;
      }
      ref.send({ type: "TICK", since });
    }
  }

  /** Parts of a period ticked one after another (none for periods under a second). */
  get #slices(): number {
    return this.periodMs >= 1_000 ? SLICES : 1;
  }
}
