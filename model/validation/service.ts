/** The ServiceSpec schema and its port and source-range rules (reference §2.4). */
import { z } from "zod";
import { labelSelectorSchema } from "../selector.ts";
import type { ServicePort, ServiceSpec } from "../service.ts";
import { formatCidr, parseCidr } from "./cidr.ts";
import { duplicates, formatted, positiveInt } from "./common.ts";
import { dns1123LabelProblem, dns952LabelProblem } from "./formats.ts";
import { type Report, rule } from "./issues.ts";

/** The TCP port Milpa keeps for itself (its node agent's port); services may not open it. */
export const MILPA_RESERVED_PORT = 6421;

/** The service name Milpa registers itself under. */
export const RESERVED_SERVICE_NAME = "milpa";

/** Why `name` cannot name a service: not a DNS-952 label, or the reserved name. */
export function serviceNameProblem(name: string): string | undefined {
  if (name === RESERVED_SERVICE_NAME) return `the name "${name}" is reserved for Milpa itself`;
  return dns952LabelProblem(name);
}

/** The highest port of a TCP/UDP range, and of an ICMP "port" (the ICMP type). */
const MAX_PORT = { TCP: 65535, UDP: 65535, ICMP: 255 };

const servicePort: z.ZodType<ServicePort> = z.strictObject({
  name: formatted(dns1123LabelProblem).optional().describe(
    "The port's name, in its SRV record (_<name>._<protocol>.<service>...); required and " +
      "unique when the service has several ports.",
  ),
  protocol: z.enum(["TCP", "UDP", "ICMP"]).optional().describe(
    '"TCP" when left out; for ICMP, port is the ICMP type. A LoadBalancer takes only TCP.',
  ),
  port: z.number().int().describe(
    "The port opened on the pods' nodes, and the load balancer's listener port; 1-65535 " +
      `(0-255 for ICMP). TCP ${MILPA_RESERVED_PORT} is Milpa's own.`,
  ),
  nodePort: z.number().int().optional().describe(
    "The port on the pods' nodes when it differs from port (the load balancer forwards " +
      "port to it); port when left out.",
  ),
  portRangeSize: positiveInt.optional().describe(
    "Opens this many ports from port (and nodePort) on; 1 when left out.",
  ),
}).check(rule(["protocol", "port", "nodePort", "portRangeSize"], (p, report) => {
  const protocol = p.protocol ?? "TCP";
  const size = p.portRangeSize ?? 1;
  const min = protocol === "ICMP" ? 0 : 1;
  const max = MAX_PORT[protocol];
  for (const field of ["port", "nodePort"] as const) {
    const first = p[field];
    if (first === undefined) continue;
    if (first < min || first > max) {
      report([field], `must be between ${min} and ${max} for ${protocol}`, first);
    } else if (protocol !== "ICMP" && first + size - 1 > max) {
      report(
        ["portRangeSize"],
        `${field} range ${first}-${first + size - 1} goes past ${max}`,
        size,
      );
    } else if (
      protocol === "TCP" && first <= MILPA_RESERVED_PORT && MILPA_RESERVED_PORT < first + size
    ) {
      report([field], `TCP port ${MILPA_RESERVED_PORT} is used by Milpa`, first);
    }
  }
}));

/** Names required and unique when there are several ports. */
function checkPortNames(ports: ServicePort[], report: Report): void {
  if (ports.length < 2) return;
  ports.forEach((p, i) => {
    if (p.name === undefined) {
      report(["ports", i, "name"], "required when a service has several ports");
    }
  });
  for (const d of duplicates(ports, (p) => p.name)) {
    report(["ports", d.index, "name"], `duplicate port name "${d.key}"`, d.key);
  }
}

/** (protocol, port) unique; TCP and UDP ranges of one protocol disjoint. */
function checkPortClashes(ports: ServicePort[], report: Report): void {
  ports.forEach((p, i) => {
    const protocol = p.protocol ?? "TCP";
    const end = p.port + (p.portRangeSize ?? 1) - 1;
    for (let j = 0; j < i; j++) {
      const q = ports[j];
      if ((q.protocol ?? "TCP") !== protocol) continue;
      if (q.port === p.port) {
        report(
          ["ports", i, "port"],
          `duplicate port ${p.port}/${protocol} (see ports[${j}])`,
          p.port,
        );
        return;
      }
      const qEnd = q.port + (q.portRangeSize ?? 1) - 1;
      if (protocol !== "ICMP" && p.port <= qEnd && q.port <= end) {
        report(
          ["ports", i, "port"],
          `port range ${p.port}-${end}/${protocol} overlaps ports[${j}]`,
          p.port,
        );
        return;
      }
    }
  });
}

/** Each item a CIDR or "VPC"; no two items the same network. */
const sourceRanges = z.array(
  formatted((s) =>
    s === "VPC" || parseCidr(s) ? undefined : 'must be a CIDR such as "10.0.0.0/16", or "VPC"'
  ),
).check(rule("all", (ranges: string[], report) => {
  const key = (s: string) => {
    const cidr = parseCidr(s);
    return s === "VPC" ? s : cidr && formatCidr(cidr);
  };
  for (const d of duplicates(ranges, key)) {
    report([d.index], `duplicate of sourceRanges[${d.first}] (both are ${d.key})`, d.item);
  }
}));

/** A service spec with every rule of reference §2.4. */
export const serviceSpec: z.ZodType<ServiceSpec> = z.strictObject({
  type: z.enum(["", "LoadBalancer"]).optional().describe(
    '"" (the default): open the ports and register the pods in DNS; "LoadBalancer": also ' +
      "a load balancer in front of them, whose address is in status.loadBalancer.ingress.",
  ),
  selector: labelSelectorSchema.optional().describe(
    "The pods the service covers: a map of labels they must all have, or matchLabels and " +
      "matchExpressions. Without one the service covers no pod.",
  ).meta({ type: "object" }),
  ports: z.array(servicePort).describe("The ports opened: at least one."),
  sourceRanges: sourceRanges.optional().describe(
    'Who may connect: CIDRs such as "0.0.0.0/0", or "VPC" for the cluster\'s own network. ' +
      'Left out: "VPC" for the nodes\' ports, "0.0.0.0/0" for a load balancer.',
  ),
}).check(
  rule(
    ["ports.*.name", "ports.*.protocol", "ports.*.port", "ports.*.portRangeSize"],
    (spec, report) => {
      if (spec.ports.length === 0) report(["ports"], "a service needs at least one port");
      checkPortNames(spec.ports, report);
      checkPortClashes(spec.ports, report);
    },
  ),
  rule(["type", "ports.*.protocol"], (spec, report) => {
    if (spec.type !== "LoadBalancer") return;
    spec.ports.forEach((p, i) => {
      const protocol = p.protocol ?? "TCP";
      if (protocol !== "TCP") {
        report(["ports", i, "protocol"], "a LoadBalancer service supports only TCP", protocol);
      }
    });
  }),
).describe(
  "The service's desired state: which pods (selector), which ports, open to whom " +
    "(sourceRanges), and whether a load balancer fronts them (type).",
);
