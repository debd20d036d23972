/**
 * Remembers what every actor did: each actor's current state and its last transitions
 * (`{at, event, from, to}`), in bounded memory: at most `maxTransitions` per actor and
 * `maxActors` actors, the oldest finished ones forgotten first. Listeners hear of every state
 * change (the API streams them to the web view).
 *
 * It follows each actor as an observer, and learns the event behind each snapshot from the
 * actor's logic (`recordable`), not from an XState inspector: with an inspector, XState builds
 * an inspection event for every event, microstep, action and snapshot of every actor of the
 * system (a no-op inspector alone cost ~4 % of the controller's main thread in a burst of 10,000
 * pods).
 */
import type { AnyActorLogic, AnyActorRef, Snapshot, StateValue } from "xstate";
import type { Clock } from "../model/clock.ts";
import { isoTime, systemClock } from "../model/clock.ts";
import { statePaths } from "./statechart.ts";
import { sameData } from "../model/plain_data.ts";
import { log } from "../model/log.ts";

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
  /**
   * Actors this one points at, by role: a node's pod (`{pod: "pod/default/web"}`), a pod's
   * node (`{node: "node/<name>"}`). Absent when there are none.
   */
  links?: Record<string, string>;
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
  /**
   * The live actor's latest context: the object its snapshot holds, not a copy. Dropped when
   * the actor finishes (the actor is gone then), leaving only `shown`.
   */
  context: unknown;
  /** The summary of the last context, once the actor finished. */
  shown?: Record<string, string | number | boolean>;
  transitions: RecordedTransition[];
  /** The state value last recorded. */
  value?: unknown;
  /** The eviction queue the entry is in (finished or live) and its neighbours there. */
  queue?: Queue;
  prev?: Entry;
  next?: Entry;
}

/**
 * Entries in the order they last changed, oldest first: a doubly linked list through the
 * entries themselves, so that moving an entry to the back and taking the front are O(1).
 */
class Queue {
  head?: Entry;
  tail?: Entry;

  push(e: Entry): void {
    e.queue = this;
    e.prev = this.tail;
    e.next = undefined;
    if (this.tail) this.tail.next = e;
    else this.head = e;
    this.tail = e;
  }

  remove(e: Entry): void {
    if (e.prev) e.prev.next = e.next;
    else this.head = e.next;
    if (e.next) e.next.prev = e.prev;
    else this.tail = e.prev;
    e.queue = e.prev = e.next = undefined;
  }
}

/** Records the transitions of every actor it is fed inspection events of. */
export class TransitionRecorder {
  readonly #actors = new Map<string, Entry>();
  /** Finished actors (status not active) and live ones, each least recently changed first. */
  readonly #finished = new Queue();
  readonly #live = new Queue();
  readonly #listeners = new Map<(change: ActorChange) => void, (() => void) | undefined>();
  readonly #clock: Clock;
  readonly #maxTransitions: number;
  readonly #maxActors: number;
  /** The type of the last event each followed actor took (absent: none since it started). */
  readonly #lastEvent = new WeakMap<AnyActorRef, string>();
  /** `recordable` wrappers, by the logic they wrap. */
  readonly #logics = new WeakMap<AnyActorLogic, AnyActorLogic>();

  constructor(opts: RecorderOptions = {}) {
    this.#clock = opts.clock ?? systemClock;
    this.#maxTransitions = opts.maxTransitions ?? 50;
    this.#maxActors = opts.maxActors ?? 1000;
  }

  /**
   * `logic` as the actors `follow` records must run: the same logic, which also notes the type
   * of each event an actor takes (the `event` of its transitions). One wrapper per logic.
   */
  recordable<L extends AnyActorLogic>(logic: L): L {
    let wrapped = this.#logics.get(logic) as L | undefined;
    if (!wrapped) {
      const lastEvent = this.#lastEvent;
      wrapped = Object.create(logic) as L;
      wrapped.transition = (snapshot, event, scope) => {
        lastEvent.set(scope.self, event.type);
        return logic.transition(snapshot, event, scope);
      };
      this.#logics.set(logic, wrapped);
    }
    return wrapped;
  }

  /**
   * Records every state actor `ref` (made from `recordable` logic) reaches, as `systemId`,
   * until it ends, and while `current()` holds (an actor replaced under the same id, stopping
   * late, does not overwrite its successor). Call it before `ref.start()`, to record the first
   * state.
   */
  follow(systemId: string, ref: AnyActorRef, current: () => boolean = () => true): void {
    // The state and status last seen, whether or not recorded.
    let value: StateValue | undefined;
    let status: string | undefined;
    const take = (snapshot: Snapshot<unknown>) => {
      if (!current()) return;
      const s = snapshot as Snapshot<unknown> & { value?: StateValue };
      const moved = status !== s.status || !sameData(value, s.value);
      value = s.value;
      status = s.status;
      this.record(systemId, this.#lastEvent.get(ref) ?? "xstate.init", snapshot, moved);
    };
    // Observers hear active and done snapshots; an error, and a stop, end the subscription.
    const ended = () => take(ref.getSnapshot());
    ref.subscribe({ next: take, error: ended, complete: ended });
  }

  /**
   * Records a snapshot of actor `systemId` reached through `eventType`. `changed` false says the
   * actor's state and status are those of its previous snapshot: an actor forgotten (beyond
   * `maxActors`) is then not recorded again (at 20,000 actors, heartbeats that only refresh a
   * context would otherwise bring forgotten ones back all the time, each forgetting another,
   * and a pod created a second ago would already be gone).
   */
  record(
    systemId: string,
    eventType: string,
    snapshot: Snapshot<unknown>,
    changed = true,
  ): void {
    const s = snapshot as Snapshot<unknown> & { value?: StateValue; context?: unknown };
    const entry = this.#actors.get(systemId);
    if (!entry && !changed) return;
    const links = actorLinks(systemId, s.context);
    // The same state as last recorded (most events): only the context is kept.
    // (`changed` false: the caller found it so, as `follow` does, and it need not be compared.)
    if (
      entry &&
      (!changed || (entry.summary.status === s.status && sameData(entry.value, s.value)))
    ) {
      this.#keepContext(entry, s.context);
      if (!sameLinks(entry.summary.links, links)) this.#relink(entry, links);
      return;
    }
    const states = s.value === undefined ? [] : statePaths(s.value);
    const state = states.join(", ");
    const at = isoTime(this.#clock.now());
    if (!entry) {
      const created: Entry = {
        value: s.value,
        // The first segment of a system id: `pod/default/web` → `pod`.
        summary: summaryOf(systemId, systemId.split("/")[0], state, s.status, at, links),
        states,
        context: undefined,
        transitions: [{ at, event: eventType, from: null, to: state }],
      };
      this.#keepContext(created, s.context);
      this.#actors.set(systemId, created);
      this.#queueOf(created).push(created);
      this.#emit("ADDED", created.summary);
      this.#evict();
      return;
    }
    entry.value = s.value;
    const moved = entry.summary.state !== state;
    if (!moved && entry.summary.status === s.status) {
      this.#keepContext(entry, s.context);
      if (!sameLinks(entry.summary.links, links)) this.#relink(entry, links);
      return;
    }
    if (moved) {
      entry.transitions.push({ at, event: eventType, from: entry.summary.state, to: state });
      if (entry.transitions.length > this.#maxTransitions) entry.transitions.shift();
    }
    entry.states = states;
    entry.summary = summaryOf(systemId, entry.summary.kind, state, s.status, at, links);
    this.#keepContext(entry, s.context);
    // Changed now: to the back of its queue (which may be the other one).
    entry.queue?.remove(entry);
    this.#queueOf(entry).push(entry);
    this.#emit("MODIFIED", entry.summary);
  }

  /** The actor points at other actors now (a node was bound to a pod): listeners hear of it. */
  #relink(entry: Entry, links: Record<string, string> | undefined): void {
    const { id, kind, state, status, updatedAt } = entry.summary;
    entry.summary = summaryOf(id, kind, state, status, updatedAt, links);
    this.#emit("MODIFIED", entry.summary);
  }

  /** The queue an entry belongs in by its status. */
  #queueOf(e: Entry): Queue {
    return e.summary.status === "active" ? this.#live : this.#finished;
  }

  /**
   * Keeps what get() shows of an actor's context: while it is live, a reference to its latest
   * context (summarized only when asked for); once it finished, only the short summary.
   */
  #keepContext(e: Entry, context: unknown): void {
    if (e.summary.status === "active") {
      e.context = context;
      e.shown = undefined;
    } else {
      e.context = undefined;
      e.shown = summarizeContext(context);
    }
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
      context: e.shown ? { ...e.shown } : summarizeContext(e.context),
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

  /**
   * Tells listeners of a change, each with its own copy of the summary. Most of the time there
   * are none (a web view streams them), and nothing is made.
   */
  #emit(type: ActorChange["type"], summary: ActorSummary): void {
    if (this.#listeners.size === 0) return;
    const change: ActorChange = { type, actor: { ...summary } };
    for (const l of this.#listeners.keys()) {
      try {
        l(change);
      } catch (e) {
        log.error("transition recorder: a listener failed", { error: e });
      }
    }
  }

  /**
   * Forgets actors beyond the cap: the longest-finished first, then the least recently
   * changed. O(1) per actor forgotten: each queue is in order of last change.
   */
  #evict(): void {
    while (this.#actors.size > this.#maxActors) {
      const victim = this.#finished.head ?? this.#live.head!;
      victim.queue!.remove(victim);
      this.#actors.delete(victim.summary.id);
      this.#emit("DELETED", victim.summary);
    }
  }
}

/**
 * The actors an actor's context points at: a node's pod (`boundPod`, `namespace/name`) and a
 * pod's node (`node.name`). Read on every snapshot, so it only looks at two fields.
 */
export function actorLinks(
  systemId: string,
  context: unknown,
): Record<string, string> | undefined {
  if (!context || typeof context !== "object") return undefined;
  const c = context as { boundPod?: unknown; node?: { name?: unknown } };
  if (systemId.startsWith("node/") && typeof c.boundPod === "string" && c.boundPod) {
    return { pod: `pod/${c.boundPod.includes("/") ? c.boundPod : `default/${c.boundPod}`}` };
  }
  if (systemId.startsWith("pod/") && typeof c.node?.name === "string" && c.node.name) {
    return { node: `node/${c.node.name}` };
  }
  return undefined;
}

/** A summary, its members always in one order (one shape for V8; no copy of the last one). */
function summaryOf(
  id: string,
  kind: string,
  state: string,
  status: string,
  updatedAt: string,
  links: Record<string, string> | undefined,
): ActorSummary {
  return links
    ? { id, kind, state, status, updatedAt, links }
    : { id, kind, state, status, updatedAt };
}

function sameLinks(a?: Record<string, string>, b?: Record<string, string>): boolean {
  if (!a || !b) return a === b;
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
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
