/**
 * Cells of the `get` tables that `describe` does not show: the narrow default pod STATUS and
 * node names, and the `-o wide` price, unit and image columns.
 */
import { findInstanceType, type InstanceType, loadCatalog } from "../../cloud/catalog.ts";
import type { Node } from "../../model/node.ts";
import { isTerminalPodPhase, type Pod, type Unit, type UnitState } from "../../model/pod.ts";
import { uuidVersion } from "../../model/uuid.ts";

/** Longest unit waiting reason the default STATUS column shows before "..." is added. */
export const SHORT_REASON_LENGTH = 24;

function cut(text: string, length: number): string {
  const chars = [...text];
  return chars.length > length ? chars.slice(0, length).join("") + "..." : text;
}

/**
 * The default STATUS column, one word as kubectl shows it: the phase, unless something says
 * more: `Draining` or `Stopping` for a pod on its way out, what a Waiting pod waits on
 * (`LaunchBackOff`, `NodeLimit`), and, in a pod that has not ended, the first unit that waits
 * (its reason, cut at SHORT_REASON_LENGTH) or exited with an error (`ExitCode:1`).
 * `-o wide` shows Milpa's whole text instead (`podStatusString` in fields.ts).
 */
export function podStatusShort(pod: Pod): string {
  const phase = pod.status?.phase ?? "Waiting";
  if (pod.status?.termination) return pod.status.termination.state;
  if (phase === "Waiting" && pod.status?.reason) return pod.status.reason;
  if (isTerminalPodPhase(phase)) return phase;
  for (const unit of pod.status?.unitStatuses ?? []) {
    const state: UnitState = unit.state ?? {};
    if (state.waiting?.reason) return cut(state.waiting.reason, SHORT_REASON_LENGTH);
    if (state.terminated && state.terminated.exitCode !== 0) {
      return `ExitCode:${state.terminated.exitCode}`;
    }
  }
  return phase;
}

/**
 * A node name as narrow columns show it: 8 random characters of a UUID, other names whole. Of a
 * version 7 UUID (the controller names nodes so) the last 8: its first ones are the time the node
 * was made, alike for every node of a minute. Of other UUIDs (a version 4, as nodes were named
 * before) the first 8.
 */
export function shortNodeName(name: string): string {
  const version = uuidVersion(name);
  if (version === undefined) return name;
  return version === 7 ? name.slice(-8) : name.slice(0, 8);
}

let catalog: readonly InstanceType[] | undefined;

/**
 * The PRICE/HR column: the bundled catalog's on-demand price of an on-demand node's instance
 * type (`$0.0052`), the price the instance selector compares. `<unknown>` for a spot node
 * (its price is not recorded) and for a type the catalog lacks.
 */
export function nodePricePerHour(node: Node): string {
  catalog ??= loadCatalog();
  const name = node.spec?.instanceType;
  const type = node.spec?.spot || !name ? undefined : findInstanceType(catalog, name);
  return type ? `$${type.pricePerHour}` : "<unknown>";
}

/** The units' names joined by ",", or `<none>`. */
export function formatUnitNames(units: Unit[] | undefined): string {
  return units?.length ? units.map((u) => u.name).join(",") : "<none>";
}

/** The images of the units that have one, joined by ",", or `<none>`. */
export function formatImages(units: Unit[] | undefined): string {
  const images = (units ?? []).map((u) => u.image).filter((i): i is string => !!i);
  return images.length ? images.join(",") : "<none>";
}
