/**
 * A machine's statechart as plain data, read from the machine definition itself
 * (`machine.root`: `toJSON()` leaves out `always` transitions): states with their nesting,
 * initial and final states, invoked actors, and every transition labelled with its event,
 * guard and delay. `statechart_render.ts` draws it as Mermaid, DOT or JSON. Pure.
 */
import type { AnyStateMachine, StateValue } from "xstate";
import { RESUME } from "./outcome.ts";

/** What a transition is triggered by. */
export type TriggerKind = "event" | "always" | "after" | "done" | "error" | "wildcard";

/** One transition. State ids are dotted paths from the root (`Running.Applied`). */
export interface ChartTransition {
  source: string;
  /** Target state ids; empty for a transition that only runs actions (drawn in its state). */
  targets: string[];
  /** The XState event type (`xstate.done.actor.0.pod.Dispatching`, `NODE_BOUND`, ...). */
  event: string;
  trigger: TriggerKind;
  /** Guard name, `endedIn(state: Settled)` when it has params. */
  guard?: string;
  /** `after` delay: milliseconds or a named delay. */
  delay?: number | string;
  actions: string[];
  /** Whether the source is exited and entered again on a self-transition. */
  reenter: boolean;
  /** What a drawing writes on the arrow: `NODE_BOUND`, `done: dispatch [gone]`, `after 5s`. */
  label: string;
}

/** One state. */
export interface ChartState {
  /** Dotted path from the root; "" for the root. */
  id: string;
  key: string;
  type: "atomic" | "compound" | "parallel" | "final" | "history";
  /** The initial child's id (compound states). */
  initial?: string;
  /** Invoked actors' sources. */
  invokes: string[];
  /**
   * Work the state starts when entered and waits to hear from by event (a launch, a dispatch:
   * actors/outcome.ts): the actions its `RESUME` transition runs again after a restore. Drawn as
   * `starts dispatch`, beside `invoke ...`; that transition is not drawn.
   */
  starts: string[];
  tags: string[];
  /** Transitions without a target, drawn inside the state: `on AGENT_STATUS [isCurrentPod]`. */
  internal: ChartTransition[];
  states: ChartState[];
}

/** A machine's chart. */
export interface Chart {
  /** The machine id (`pod`). */
  id: string;
  root: ChartState;
  /** Every transition that has a target. */
  transitions: ChartTransition[];
}

type Named = string | { type?: string; params?: unknown; name?: string } | undefined;

// The parts of XState's StateNode this reads.
interface NodeLike {
  key: string;
  path: string[];
  type: ChartState["type"];
  states: Record<string, NodeLike>;
  initial?: { target: NodeLike[] };
  transitions: Map<string, TransitionLike[]>;
  always?: TransitionLike[];
  invoke: { id: string; src: unknown }[];
  tags: string[];
}
interface TransitionLike {
  target?: NodeLike[];
  guard?: unknown;
  actions: unknown[];
  eventType: string;
  reenter?: boolean;
  delay?: number | string;
}

/** A guard's name: `gone`, `endedIn(state: Settled)`, `and(a, b)`, `not(a)`. */
export function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === "string") return guard;
  const g = guard as { type?: string; params?: Record<string, unknown>; guards?: unknown[] };
  if (typeof guard === "function") {
    const fn = guard as { name: string; guards?: unknown[] };
    if (Array.isArray(fn.guards)) return `${fn.name}(${fn.guards.map(guardName).join(", ")})`;
    return fn.name || "guard";
  }
  const params = g.params && typeof g.params === "object"
    ? Object.entries(g.params).map(([k, v]) => `${k}: ${String(v)}`).join(", ")
    : "";
  return params ? `${g.type}(${params})` : g.type ?? "guard";
}

function actionName(a: unknown): string {
  if (typeof a === "string") return a;
  if (typeof a === "function") return (a as { type?: string }).type ?? (a.name || "action");
  return (a as Named & object)?.type ?? "action";
}

/** A delay as people read it: `500ms`, `5s`, `2m`, or the delay's name. */
export function delayText(delay: number | string): string {
  if (typeof delay === "string") return delay;
  if (delay >= 60_000 && delay % 60_000 === 0) return `${delay / 60_000}m`;
  if (delay >= 1000 && delay % 1000 === 0) return `${delay / 1000}s`;
  return `${delay}ms`;
}

function stateId(node: NodeLike): string {
  return node.path.join(".");
}

function toTransition(t: TransitionLike, source: NodeLike, srcOf: Map<string, string>) {
  const event = t.eventType;
  let trigger: TriggerKind = "event";
  let base = event;
  const invoked = event.match(/^xstate\.(done|error)\.actor\.(.+)$/);
  if (event === "") {
    trigger = "always";
    base = "always";
  } else if (t.delay !== undefined || event.startsWith("xstate.after.")) {
    trigger = "after";
    base = `after ${delayText(t.delay ?? event.split(".")[2])}`;
  } else if (invoked) {
    trigger = invoked[1] as "done" | "error";
    base = `${invoked[1]}: ${srcOf.get(invoked[2]) ?? invoked[2]}`;
  } else if (event.startsWith("xstate.done.state.")) {
    trigger = "done";
    base = "done";
  } else if (event === "*") {
    trigger = "wildcard";
  }
  const guard = guardName(t.guard);
  const out: ChartTransition = {
    source: stateId(source),
    targets: (t.target ?? []).map(stateId),
    event,
    trigger,
    actions: t.actions.map(actionName),
    reenter: t.reenter ?? false,
    label: guard ? `${base} [${guard}]` : base,
  };
  if (guard) out.guard = guard;
  if (t.delay !== undefined) out.delay = t.delay;
  return out;
}

function readState(node: NodeLike, all: ChartTransition[]): ChartState {
  const srcOf = new Map(node.invoke.map((i) => [i.id, typeof i.src === "string" ? i.src : i.id]));
  const internal: ChartTransition[] = [];
  const starts: string[] = [];
  const defs = [...node.transitions.values()].flat();
  for (const t of [...defs, ...(node.always ?? []).map((a) => ({ ...a, eventType: "" }))]) {
    const tr = toTransition(t, node, srcOf);
    if (tr.event === RESUME.type && !tr.targets.length) starts.push(...tr.actions);
    else (tr.targets.length ? all : internal).push(tr);
  }
  const state: ChartState = {
    id: stateId(node),
    key: node.key,
    type: node.type,
    invokes: [...srcOf.values()],
    starts,
    tags: [...node.tags],
    internal,
    states: Object.values(node.states).map((child) => readState(child, all)),
  };
  const initial = node.initial?.target?.[0];
  if (initial && node.type === "compound") state.initial = stateId(initial);
  return state;
}

/** The chart of a machine, read from its definition. */
export function chartOf(machine: AnyStateMachine): Chart {
  const transitions: ChartTransition[] = [];
  const root = readState(machine.root as unknown as NodeLike, transitions);
  return { id: machine.id, root, transitions };
}

/** Every state of a chart, depth first, root excluded. */
export function allStates(chart: Chart): ChartState[] {
  const out: ChartState[] = [];
  const walk = (s: ChartState) => {
    for (const c of s.states) {
      out.push(c);
      walk(c);
    }
  };
  walk(chart.root);
  return out;
}

/** The active leaf states of a snapshot's value as dotted ids: `{Running: "Applied"}` → `["Running.Applied"]`. */
export function statePaths(value: StateValue): string[] {
  if (typeof value === "string") return [value];
  return Object.entries(value).flatMap(([k, v]) =>
    v === undefined || (typeof v === "object" && !Object.keys(v).length)
      ? [k]
      : statePaths(v as StateValue).map((p) => `${k}.${p}`)
  );
}

/** The ids of the given active states and all their ancestors (`Running.Applied` → both). */
export function activeIds(current: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const path of current) {
    const parts = path.split(".");
    for (let i = 1; i <= parts.length; i++) out.add(parts.slice(0, i).join("."));
  }
  return out;
}
