/**
 * One watchdog timer for every actor: each period, every actor in a state tagged
 * {@linkcode WATCHED} gets `{type: "TICK", since}`, `since` being when it entered (or was
 * restored in) that state. A machine's guards decide on a tick whether a deadline passed
 * (no status, no heartbeat, no boot); deadlines live in context as epoch-ms. A tick is sent
 * only when the actor would take a transition on it (`snapshot.can`): a watched state reacts to
 * time in its `TICK` transitions, never in eventless (`always`) ones.
 *
 * This replaces a callback actor and a timer per pod and per node: at 10,000 pods those were
 * 10,000 child actors and intervals. Follow an actor with follow(); its ticks start and stop as
 * it enters and leaves watched states.
 */
import type { AnyActorRef } from "xstate";
import { type Clock, every } from "../model/clock.ts";

/** Parts a period's ticks are spread over. */
const SLICES = 50;

/** What the ticker reads of a snapshot: a machine's can tell whether a tick would do anything. */
interface Tickable {
  status: string;
  can?: (event: { type: "TICK"; since: number }) => boolean;
}

/** The tag of states whose actor gets watchdog ticks. */
export const WATCHED = "watched";

/** The watchdog timer shared by actors. */
export class Ticker {
  /** Watched actors by the slice they are ticked in, each with when it entered its state. */
  readonly #slices: Map<AnyActorRef, number>[];
  /** The slice of each watched actor. */
  readonly #sliceOf = new Map<AnyActorRef, number>();
  #cancel: (() => void) | undefined;
  #enabled = false;
  /** The slice ticked next. */
  #slice = 0;
  /** The slice the next watched actor joins (round robin, so slices stay even). */
  #joining = 0;

  constructor(private readonly clock: Clock, private readonly periodMs: number) {
    // Periods under a second are not sliced.
    this.#slices = Array.from({ length: periodMs >= 1_000 ? SLICES : 1 }, () => new Map());
  }

  /** Starts ticking (idempotent); the timer runs only while some actor is watched. */
  start(): void {
    this.#enabled = true;
    this.#arm();
  }

  /** Stops ticking and forgets every actor. */
  stop(): void {
    this.#enabled = false;
    for (const slice of this.#slices) slice.clear();
    this.#sliceOf.clear();
    this.#arm();
  }

  /** Runs the timer while enabled and some actor is watched, else not. */
  #arm(): void {
    const want = this.#enabled && this.#sliceOf.size > 0;
    if (want && !this.#cancel) {
      this.#cancel = every(this.clock, this.periodMs / this.#slices.length, () => this.#tick());
    }
    if (!want && this.#cancel) {
      this.#cancel();
      this.#cancel = undefined;
    }
  }

  #watch(ref: AnyActorRef): void {
    if (this.#sliceOf.has(ref)) return;
    const slice = this.#joining;
    this.#joining = (slice + 1) % this.#slices.length;
    this.#sliceOf.set(ref, slice);
    this.#slices[slice].set(ref, this.clock.now());
    this.#arm();
  }

  #unwatch(ref: AnyActorRef): void {
    const slice = this.#sliceOf.get(ref);
    if (slice === undefined) return;
    this.#sliceOf.delete(ref);
    this.#slices[slice].delete(ref);
    this.#arm();
  }

  /** How many actors are watched now. */
  get size(): number {
    return this.#sliceOf.size;
  }

  /**
   * Takes a snapshot of `ref`: it is ticked while the snapshot is active in a watched state.
   * For a caller that already observes the actor (one observer per actor, not two).
   */
  observe(ref: AnyActorRef, snap: { status: string; hasTag(tag: string): boolean }): void {
    if (snap.status === "active" && snap.hasTag(WATCHED)) this.#watch(ref);
    else this.#unwatch(ref);
  }

  /** Stops ticking `ref` (it failed or stopped). */
  forget(ref: AnyActorRef): void {
    this.#unwatch(ref);
  }

  /**
   * Ticks `ref` while it is in a watched state; call before it starts (its first snapshot
   * counts). Returns the function that stops following it.
   */
  follow(ref: AnyActorRef): () => void {
    const sub = ref.subscribe({
      next: (snap) => this.observe(ref, snap),
      error: () => this.forget(ref),
      complete: () => this.forget(ref),
    });
    return () => {
      sub.unsubscribe();
      this.forget(ref);
    };
  }

  /**
   * Ticks one slice of the watched actors: each gets one tick a period, and a period's ticks are
   * spread over its slices, so that 10,000 actors never hold the event loop at once.
   */
  #tick(): void {
    const slice = this.#slice;
    this.#slice = (slice + 1) % this.#slices.length;
    // Most ticks find every deadline ahead: only a tick some transition takes is sent. A sent
    // event is a macrostep, eventless transitions and every observer (the persister, the
    // inspection recorder); at 10,000 running pods that was 2,000 a second doing nothing.
    // Sent after the look: a tick may move an actor out of (or, elsewhere, into) its state.
    const due: [AnyActorRef, number][] = [];
    const gone: AnyActorRef[] = [];
    for (const [ref, since] of this.#slices[slice]) {
      const snap = ref.getSnapshot() as Tickable;
      if (snap.status !== "active") gone.push(ref);
      else if (typeof snap.can !== "function" || snap.can({ type: "TICK", since })) {
        due.push([ref, since]);
      }
    }
    for (const ref of gone) this.#unwatch(ref);
    for (const [ref, since] of due) ref.send({ type: "TICK", since });
  }
}
