/** Deriving a pod's phase from its unit statuses, as Milpa's computePodPhase did. */
import type { PodPhase, RestartPolicy, UnitStatus } from "./pod.ts";

/** The phase the unit statuses imply, and whether it is a start failure. */
export interface ComputedPhase {
  phase: PodPhase;
  startFailure: boolean;
  /** Why the pod failed, when it did. */
  message?: string;
}

function phaseOf(policy: RestartPolicy, statuses: UnitStatus[]): ComputedPhase {
  if (statuses.length === 0) return { phase: "Running", startFailure: false };
  const sf = statuses.find((s) => s.state.waiting?.startFailure);
  if (sf) {
    return {
      phase: "Failed",
      startFailure: true,
      message: `Start failure for unit ${sf.name}: ${sf.state.waiting!.reason}`,
    };
  }
  if (policy === "Always") {
    const bad = statuses.find((s) => s.state.terminated);
    return bad
      ? {
        phase: "Failed",
        startFailure: false,
        message: `unit ${bad.name} exited with code ${
          bad.state.terminated!.exitCode
        } under restartPolicy Always`,
      }
      : { phase: "Running", startFailure: false };
  }
  let phase: PodPhase = "Succeeded";
  for (const s of statuses) {
    if (s.state.running || s.state.waiting) phase = "Running";
    const t = s.state.terminated;
    if (t && t.exitCode !== 0) {
      if (policy === "Never") {
        return {
          phase: "Failed",
          startFailure: false,
          message: `unit ${s.name} exited with code ${t.exitCode}`,
        };
      }
      phase = "Running"; // OnFailure: the agent restarts it
    }
  }
  return { phase, startFailure: false };
}

/**
 * The phase of a dispatched pod: init units first (Always counts as OnFailure there),
 * then units. Units missing from a report count as waiting.
 */
export function computePodPhase(
  policy: RestartPolicy,
  initUnits: UnitStatus[],
  units: UnitStatus[],
): ComputedPhase {
  if (initUnits.length > 0) {
    const init = phaseOf(policy === "Always" ? "OnFailure" : policy, initUnits);
    if (init.phase === "Failed") return init;
    if (init.phase === "Running") return { phase: "Running", startFailure: false };
  }
  return phaseOf(policy, units);
}

/** True once every unit (and init unit) has left `waiting`. */
export function allUnitsStarted(initUnits: UnitStatus[], units: UnitStatus[]): boolean {
  return [...initUnits, ...units].every((s) => !s.state.waiting);
}
