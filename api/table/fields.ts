/** Derived display values shared by the tables and `describe`. */
import type { NetworkAddress, Pod, UnitState } from "../../model/pod.ts";
import type { Node } from "../../model/node.ts";
import type { Service, ServicePort } from "../../model/service.ts";
import type { LabelSelector, LabelSelectorRequirement } from "../../model/selector_types.ts";

/** Longest pod STATUS detail before it is cut and "..." added. */
export const MAX_POD_REASON_LENGTH = 50;

/**
 * Milpa's pod STATUS text, as `-o wide` shows it (the default column is shorter): `Pod <phase>`,
 * plus ` - Unit Waiting: <reason>` or
 * ` - Unit Terminated: ExitCode:<n>` for the first unit (in spec order) that is waiting
 * with a reason or has terminated. Like Milpa's printer, the detail including its
 * "Unit ..." prefix is cut at 50 characters. A pod on its way out shows ` - Draining` or
 * ` - Stopping` instead, and a waiting pod what it waits on (` - LaunchBackOff`, ` - NodeLimit`).
 */
export function podStatusString(pod: Pod): string {
  const status = `Pod ${pod.status?.phase ?? "Waiting"}`;
  if (pod.status?.termination) return `${status} - ${pod.status.termination.state}`;
  if (pod.status?.phase === "Waiting" && pod.status.reason) {
    return `${status} - ${pod.status.reason}`;
  }
  let detail = "";
  for (const unit of pod.status?.unitStatuses ?? []) {
    const state: UnitState = unit.state ?? {};
    if (state.waiting?.reason) detail = `Unit Waiting: ${state.waiting.reason}`;
    else if (state.terminated) detail = `Unit Terminated: ExitCode:${state.terminated.exitCode}`;
    if (detail) break;
  }
  if (!detail) return status;
  const chars = [...detail];
  if (chars.length > MAX_POD_REASON_LENGTH) {
    detail = chars.slice(0, MAX_POD_REASON_LENGTH).join("") + "...";
  }
  return `${status} - ${detail}`;
}

/** How many units of a pod are running. */
export function runningUnits(pod: Pod): number {
  return (pod.status?.unitStatuses ?? []).filter((u) => u.state?.running).length;
}

/** Sum of the units' restart counts. */
export function podRestarts(pod: Pod): number {
  return (pod.status?.unitStatuses ?? []).reduce((n, u) => n + (u.restartCount ?? 0), 0);
}

/** The first address of the first type (in order) that has one. */
export function addressOf(
  addresses: NetworkAddress[] | undefined,
  ...types: NetworkAddress["type"][]
): string | undefined {
  for (const type of types) {
    const found = addresses?.find((a) => a.type === type && a.address);
    if (found) return found.address;
  }
  return undefined;
}

/** The pod IP column: PrivateIP, else PublicIP, else PodIP, else `<none>`. */
export function podIP(pod: Pod): string {
  return addressOf(pod.status?.addresses, "PrivateIP", "PublicIP", "PodIP") ?? "<none>";
}

/** The node IP column: PublicIP, else PrivateIP, else `<none>`. */
export function nodeIP(node: Node): string {
  return addressOf(node.status?.addresses, "PublicIP", "PrivateIP") ?? "<none>";
}

/** The node INSTANCE-TYPE column, with " (spot)" for spot nodes. */
export function nodeInstanceType(node: Node): string {
  const type = node.spec?.instanceType ?? "";
  return node.spec?.spot ? `${type} (spot)` : type;
}

/** One service port: `80/TCP`, or `8000-8099/TCP` for a range. */
export function formatServicePort(port: ServicePort): string {
  const protocol = port.protocol ?? "TCP";
  const size = port.portRangeSize ?? 1;
  return size > 1 ? `${port.port}-${port.port + size - 1}/${protocol}` : `${port.port}/${protocol}`;
}

/** The PORT(S) column: ports joined by ",", or `<none>`. */
export function formatServicePorts(service: Service): string {
  const ports = service.spec?.ports ?? [];
  return ports.length ? ports.map(formatServicePort).join(",") : "<none>";
}

/** The SOURCES column: sourceRanges joined by ", ", or `<none>`. */
export function formatSources(service: Service): string {
  const sources = service.spec?.sourceRanges ?? [];
  return sources.length ? sources.join(", ") : "<none>";
}

/** The INGRESS ADDRESS column: each load balancer ingress's hostname or IP, or `<none>`. */
export function formatIngress(service: Service): string {
  const ingress = (service.status?.loadBalancer?.ingress ?? [])
    .map((i) => i.hostname || i.ip)
    .filter((a): a is string => !!a);
  return ingress.length ? ingress.join(",") : "<none>";
}

/** Labels as `k=v,k2=v2` sorted by key, or `<none>`. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const entries = Object.entries(labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(",") : "<none>";
}

function formatRequirement(r: LabelSelectorRequirement): string {
  const values = (r.values ?? []).join(",");
  switch (r.operator) {
    case "In":
      return `${r.key} in (${values})`;
    case "NotIn":
      return `${r.key} notin (${values})`;
    case "Exists":
      return r.key;
    case "DoesNotExist":
      return `!${r.key}`;
  }
  return `${r.key} ${r.operator} (${values})`;
}

/** A label selector (long or short map form) in the `-l` syntax, or `<none>`. */
export function formatSelector(selector: LabelSelector | undefined): string {
  if (!selector) return "<none>";
  const long = "matchLabels" in selector || "matchExpressions" in selector;
  const matchLabels = (long ? selector.matchLabels : selector) as
    | Record<string, string>
    | undefined;
  const parts = Object.entries(matchLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  const expressions = long ? (selector.matchExpressions as LabelSelectorRequirement[]) : undefined;
  for (const r of expressions ?? []) parts.push(formatRequirement(r));
  return parts.length ? parts.join(",") : "<none>";
}
