/**
 * Remembers what every actor did, from XState inspection events: each actor's current
 * state and its last transitions (`{at, event, from, to}`), in bounded memory: at most
 * `maxTransitions` per actor and `maxActors` actors, the oldest finished ones forgotten
 * first. Listeners hear of every state change (the API streams them to the web view).
 */
import type { InspectionEvent, Snapshot, StateValue } from "xstate";
import type { Clock } from "../model/clock.ts";
import { isoTime, systemClock } from "../model/clock.ts";
import { statePaths } from "./statechart.ts";

/** One change of state. */
export interface RecordedTransition {
  /** RFC 3339 time. */
  at: string;
  /** The event that caused it (`NODE_BOUND`, `xstate.done.actor.…`); `xstate.init` when the actor started or was restored. */
  event: string;
  /** State before (dotted ids joined by ", "); null when the actor was first seen. */
  from: string | null;
  to: string;
}

/** An actor as lists show it. */
export interface ActorSummary {
  /** System id (`pod/default/web`). */
  id: string;
  /** Machine kind (`pod`). */
  kind: string;
  /** Active states (`Running.Applied`). */
  state: string;
  /** Actor status: active, done, error or stopped. */
  status: string;
  /** When the state or status last changed. */
  updatedAt: string;
}

/** An actor with its last transitions and a short, secret-free summary of its context. */
export interface ActorDetail extends ActorSummary {
  /** Active leaf state ids, for highlighting a chart. */
  states: string[];
  context: Record<string, string | number | boolean>;
  transitions: RecordedTransition[];
}

/** A change listeners hear about. */
export interface ActorChange {
  type: "ADDED" | "MODIFIED" | "DELETED";
  actor: ActorSummary;
}

/** Recorder limits. */
export interface RecorderOptions {
  clock?: Clock;
  /** Transitions kept per actor. @default 50 */
  maxTransitions?: number;
  /** Actors kept; finished ones are forgotten first. @default 1000 */
  maxActors?: number;
}

interface Entry {
  summary: ActorSummary;
  states: string[];
  updated: number;
  context: unknown;
  transitions: RecordedTransition[];
}

/** Records the transitions of every actor it is fed inspection events of. */
export class TransitionRecorder {
  readonly #actors = new Map<string, Entry>();
  readonly #listeners = new Map<(change: ActorChange) => void, (() => void) | undefined>();
  readonly #clock: Clock;
  readonly #maxTransitions: number;
  readonly #maxActors: number;

  constructor(opts: RecorderOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#maxTransitions = opts.maxTransitions ?? 50;
    this.#maxActors = opts.maxActors ?? 1000;
  }

  /** Takes one inspection event of the actor system whose root is `systemId`; others are ignored. */
  inspect(systemId: string, event: InspectionEvent): void {
    if (event.type !== "@xstate.snapshot") return;
    // Invoked and spawned children share the root's inspector: keep the root's own snapshots.
    if (event.actorRef.sessionId !== event.rootId) return;
    this.record(systemId, event.event.type, event.snapshot);
  }

  /** Records a snapshot of actor `systemId` reached through `eventType`. */
  record(systemId: string, eventType: string, snapshot: Snapshot<unknown>): void {
    const s = snapshot as Snapshot<unknown> & { value?: StateValue; context?: unknown };
    const states = s.value === undefined ? [] : statePaths(s.value);
    const state = states.join(", ");
    const now = this.#clock.now();
    const entry = this.#actors.get(systemId);
    if (!entry) {
      const created: Entry = {
        summary: {
          id: systemId,
          // The first segment of a system id: `pod/default/web` → `pod`.
          kind: systemId.split("/")[0],
          state,
          status: s.status,
          updatedAt: isoTime(now),
        },
        states,
        updated: now,
        context: s.context,
        transitions: [{ at: isoTime(now), event: eventType, from: null, to: state }],
      };
      this.#actors.set(systemId, created);
      this.#emit({ type: "ADDED", actor: { ...created.summary } });
      this.#evict();
      return;
    }
    entry.context = s.context;
    const moved = entry.summary.state !== state;
    if (!moved && entry.summary.status === s.status) return;
    if (moved) {
      entry.transitions.push({
        at: isoTime(now),
        event: eventType,
        from: entry.summary.state,
        to: state,
      });
      if (entry.transitions.length > this.#maxTransitions) entry.transitions.shift();
    }
    entry.states = states;
    entry.updated = now;
    entry.summary = { ...entry.summary, state, status: s.status, updatedAt: isoTime(now) };
    this.#emit({ type: "MODIFIED", actor: { ...entry.summary } });
  }

  /** Every recorded actor, sorted by id. */
  list(): ActorSummary[] {
    return [...this.#actors.values()].map((e) => ({ ...e.summary }))
      .sort((a, b) => a.id.localeCompare(b.id));
  }

  /** One actor in detail, or undefined when it was never seen (or was forgotten). */
  get(systemId: string): ActorDetail | undefined {
    const e = this.#actors.get(systemId);
    if (!e) return undefined;
    return {
      ...e.summary,
      states: [...e.states],
      context: summarizeContext(e.context),
      transitions: e.transitions.map((t) => ({ ...t })),
    };
  }

  /**
   * Calls `listener` on every change until the returned function is called, or until
   * `endSubscriptions()`, which calls `onEnd`.
   */
  subscribe(listener: (change: ActorChange) => void, onEnd?: () => void): () => void {
    this.#listeners.set(listener, onEnd);
    return () => void this.#listeners.delete(listener);
  }

  /** Ends every subscription (streams close, so a server can shut down); recording goes on. */
  endSubscriptions(): void {
    const ends = [...this.#listeners.values()];
    this.#listeners.clear();
    for (const end of ends) end?.();
  }

  #emit(change: ActorChange): void {
    for (const l of this.#listeners.keys()) {
      try {
        l(change);
      } catch (e) {
        console.error("transition recorder: a listener failed:", e);
      }
    }
  }

  /** Forgets actors beyond the cap: the longest-finished first, then the least recently changed. */
  #evict(): void {
    while (this.#actors.size > this.#maxActors) {
      let victim: [string, Entry] | undefined;
      for (const candidate of this.#actors) {
        const finished = candidate[1].summary.status !== "active";
        const best = victim && victim[1].summary.status !== "active";
        if (
          !victim || (finished && !best) ||
          (finished === best && candidate[1].updated < victim[1].updated)
        ) victim = candidate;
      }
      this.#actors.delete(victim![0]);
      this.#emit({ type: "DELETED", actor: { ...victim![1].summary } });
    }
  }
}

/** Context keys never shown: anything that may hold a credential. */
const SECRET = /token|secret|password|passwd|credential|auth|key|cert|cookie/i;

/** Time fields in epoch ms (`lastPhaseChange`, `bootDeadline`) are shown as RFC 3339. */
const TIME = /(At|Time|Deadline|Change|Heartbeat)$/;

/** Most entries a summary holds, and longest text kept. */
const MAX_ENTRIES = 16;
const MAX_TEXT = 120;

function shown(key: string, v: unknown): string | number | boolean | undefined {
  if (typeof v === "string") return v.length > MAX_TEXT ? `${v.slice(0, MAX_TEXT - 1)}…` : v;
  if (typeof v === "number") return TIME.test(key) && v > 1e12 ? isoTime(v) : v;
  if (typeof v === "boolean") return v;
  if (Array.isArray(v)) {
    const names = v.map((x) =>
      typeof x === "string" || typeof x === "number"
        ? String(x)
        : (x as { name?: unknown; address?: unknown })?.name ??
          (x as { address?: unknown })?.address
    ).filter((x) => typeof x === "string");
    return names.length ? shown(key, names.join(", ")) : v.length ? `${v.length} items` : undefined;
  }
  return undefined;
}

/**
 * A short view of an actor's context: its scalar fields and those of the objects in it one
 * level down (`node.name`), arrays as their items' names, times as RFC 3339, long texts cut;
 * fields whose names suggest credentials are never included.
 */
export function summarizeContext(context: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (!context || typeof context !== "object") return out;
  const put = (key: string, v: unknown) => {
    if (Object.keys(out).length >= MAX_ENTRIES || SECRET.test(key)) return;
    const value = shown(key, v);
    if (value !== undefined) out[key] = value;
  };
  for (const [k, v] of Object.entries(context)) {
    if (SECRET.test(k)) continue;
    if (v && typeof v === "object" && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v)) put(`${k}.${k2}`, v2);
    } else put(k, v);
  }
  return out;
}
