/**
 * Every machine the controller runs, built for drawing rather than running: the same
 * factories the supervisor uses (`managedKinds`, `createPoolMachine`,
 * `createSupervisorMachine`), wired to inert dependencies. A definition never calls its
 * dependencies; an actor started from one would fail on its first effect, loudly.
 */
import type { AnyStateMachine } from "xstate";
import { managedKinds } from "./machines.ts";
import { createPoolMachine, type NodePool } from "./node_pool.ts";
import type { SupervisorDeps, Timings } from "./supervisor.ts";
import { createSupervisorMachine } from "./supervisor_machine.ts";

/** The machines that can be drawn, by the kind name of their actors' system ids. */
export const MACHINE_KINDS = [
  "pod",
  "node",
  "nodepool",
  "replicaset",
  "deployment",
  "service",
  "supervisor",
] as const;

/** A machine's kind: the first segment of its actors' system ids. */
export type MachineKind = (typeof MACHINE_KINDS)[number];

/** Whether `name` is a machine kind. */
export function isMachineKind(name: string): name is MachineKind {
  return (MACHINE_KINDS as readonly string[]).includes(name);
}

/**
 * A stand-in dependency: any property is another stand-in, and calling one throws, naming
 * the path that was called (`deps.store.get is not available to a machine definition`).
 */
function inert<T>(path: string): T {
  const fail = () => {
    throw new Error(`${path} is not available to a machine definition`);
  };
  return new Proxy(fail, {
    get: (_t, prop) => typeof prop === "symbol" ? undefined : inert(`${path}.${String(prop)}`),
    apply: fail,
  }) as T;
}

/** Timings only size the delays of effects, which definitions never start (others are left out). */
const TIMINGS = {
  watchdogPeriodMs: 5_000,
  purgePeriodMs: 10_000,
  reconcilePeriodMs: 7_000,
  bootTimeoutMs: 300_000,
  healthyTimeoutMs: 90_000,
  dispatchConnectTimeoutMs: 60_000,
} as Timings;

/** Every machine, by kind, in `MACHINE_KINDS` order. */
export function machineDefinitions(): Map<MachineKind, AnyStateMachine> {
  const kinds = managedKinds(
    inert<SupervisorDeps>("deps"),
    TIMINGS,
    inert("send"),
    inert("event"),
    inert("persisted"),
  );
  const byName = new Map<string, AnyStateMachine>(kinds.map((k) => [k.name, k.machine]));
  byName.set(
    "nodepool",
    createPoolMachine(inert<NodePool>("pool"), {
      clock: inert("deps.clock"),
      event: inert("event"),
    }) as unknown as AnyStateMachine,
  );
  byName.set(
    "supervisor",
    createSupervisorMachine({
      restore: inert("hooks.restore"),
      shutdown: inert("hooks.shutdown"),
    }) as unknown as AnyStateMachine,
  );
  return new Map(MACHINE_KINDS.map((k) => {
    const machine = byName.get(k);
    if (!machine) throw new Error(`no machine definition for kind "${k}"`);
    return [k, machine];
  }));
}
