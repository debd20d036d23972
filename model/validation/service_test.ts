import assert from "node:assert/strict";
import { issuesToFieldErrors } from "./issues.ts";
import { serviceNameProblem, serviceSpec } from "./service.ts";

/** `[field, message]` of every problem serviceSpec finds in `spec`. */
function problems(spec: unknown): [string, string][] {
  const result = serviceSpec.safeParse(spec, { reportInput: true });
  if (result.success) return [];
  return issuesToFieldErrors(result.error.issues, "spec").map((e) => [e.field, e.message]);
}

Deno.test("serviceSpec accepts the tutorial services", () => {
  assert.deepEqual(
    problems({
      selector: { app: "helloworld" },
      sourceRanges: ["0.0.0.0/0"],
      ports: [{ name: "http", protocol: "TCP", port: 8002 }],
    }),
    [],
  );
  assert.deepEqual(
    problems({
      type: "LoadBalancer",
      selector: { matchLabels: { app: "kibana" } },
      ports: [{ name: "http", port: 80, nodePort: 5601, protocol: "TCP" }],
      sourceRanges: ["VPC", "10.0.0.0/16", "2001:db8::/32"],
    }),
    [],
  );
});

Deno.test("serviceSpec needs at least one port", () => {
  assert.deepEqual(problems({ ports: [] }), [["spec.ports", "a service needs at least one port"]]);
  assert.deepEqual(problems({}), [["spec.ports", "required"]]);
});

Deno.test("serviceSpec checks protocol and port ranges per protocol", () => {
  assert.deepEqual(
    problems({
      ports: [
        { name: "a", port: 0 },
        { name: "b", port: 70000, protocol: "UDP" },
        { name: "c", port: 80, nodePort: 65536 },
        { name: "d", port: 8, protocol: "ICMP" },
        { name: "e", port: 256, protocol: "ICMP" },
        { name: "f", port: 1, protocol: "SCTP" },
        { name: "g", port: 65535, portRangeSize: 2 },
        { name: "h", port: 90, portRangeSize: 0 },
      ],
    }),
    [
      ["spec.ports[0].port", "must be between 1 and 65535 for TCP"],
      ["spec.ports[1].port", "must be between 1 and 65535 for UDP"],
      ["spec.ports[2].nodePort", "must be between 1 and 65535 for TCP"],
      ["spec.ports[4].port", "must be between 0 and 255 for ICMP"],
      ["spec.ports[5].protocol", 'must be one of "TCP", "UDP", "ICMP"'],
      ["spec.ports[6].portRangeSize", "port range 65535-65536 goes past 65535"],
      ["spec.ports[7].portRangeSize", "must be at least 1"],
    ],
  );
});

Deno.test("serviceSpec forbids TCP port or nodePort 6421, also inside a range", () => {
  assert.deepEqual(
    problems({
      ports: [
        { name: "a", port: 6421 },
        { name: "b", port: 80, nodePort: 6421 },
        { name: "c", port: 6400, portRangeSize: 30 },
        { name: "d", port: 6421, protocol: "UDP" },
      ],
    }),
    [
      ["spec.ports[0].port", "TCP port 6421 is used by Milpa"],
      ["spec.ports[1].nodePort", "TCP port 6421 is used by Milpa"],
      ["spec.ports[2].port", "TCP port 6421 is used by Milpa"],
      ["spec.ports[2].port", "port range 6400-6429/TCP overlaps ports[0]"],
    ],
  );
});

Deno.test("serviceSpec requires unique port names, and names when there are several ports", () => {
  assert.deepEqual(problems({ ports: [{ port: 80 }] }), []);
  assert.deepEqual(
    problems({
      ports: [{ name: "http", port: 80 }, { port: 81 }, { name: "http", port: 82 }, {
        name: "Bad",
        port: 83,
      }],
    }),
    [
      [
        "spec.ports[3].name",
        "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
      ],
      ["spec.ports[1].name", "required when a service has several ports"],
      ["spec.ports[2].name", 'duplicate port name "http"'],
    ],
  );
});

Deno.test("serviceSpec requires unique (protocol, port) and disjoint ranges per protocol", () => {
  assert.deepEqual(
    problems({
      ports: [
        { name: "a", port: 8000, portRangeSize: 100 },
        { name: "b", port: 8000, protocol: "UDP" },
        { name: "c", port: 8000, protocol: "TCP" },
        { name: "d", port: 8099 },
        { name: "e", port: 8100 },
        { name: "f", port: 8, protocol: "ICMP" },
        { name: "g", port: 8, protocol: "ICMP" },
      ],
    }),
    [
      ["spec.ports[2].port", "duplicate port 8000/TCP (see ports[0])"],
      ["spec.ports[3].port", "port range 8099-8099/TCP overlaps ports[0]"],
      ["spec.ports[6].port", "duplicate port 8/ICMP (see ports[5])"],
    ],
  );
});

Deno.test("serviceSpec allows only TCP ports on a LoadBalancer", () => {
  assert.deepEqual(
    problems({
      type: "LoadBalancer",
      ports: [{ name: "a", port: 80 }, { name: "b", port: 53, protocol: "UDP" }],
    }),
    [["spec.ports[1].protocol", "a LoadBalancer service supports only TCP"]],
  );
  assert.deepEqual(problems({ type: "NodePort", ports: [{ port: 80 }] }), [
    ["spec.type", 'must be one of "", "LoadBalancer"'],
  ]);
});

Deno.test("serviceSpec checks sourceRanges and finds duplicates after normalisation", () => {
  assert.deepEqual(
    problems({
      ports: [{ port: 80 }],
      sourceRanges: [
        "10.1.2.3/8",
        "10.0.0.0/8",
        "vpc",
        "1.2.3.4",
        "VPC",
        "VPC",
        "2001:db8::1/32",
        "2001:0db8::/32",
      ],
    }),
    [
      ["spec.sourceRanges[2]", 'must be a CIDR such as "10.0.0.0/16", or "VPC"'],
      ["spec.sourceRanges[3]", 'must be a CIDR such as "10.0.0.0/16", or "VPC"'],
      ["spec.sourceRanges[1]", "duplicate of sourceRanges[0] (both are 10.0.0.0/8)"],
      ["spec.sourceRanges[5]", "duplicate of sourceRanges[4] (both are VPC)"],
      ["spec.sourceRanges[7]", "duplicate of sourceRanges[6] (both are 2001:db8:0:0:0:0:0:0/32)"],
    ],
  );
});

Deno.test("serviceSpec checks the selector", () => {
  assert.deepEqual(problems({ ports: [{ port: 80 }], selector: { matchLabels: { app: "a b" } } }), [
    [
      "spec.selector.matchLabels.app",
      "invalid label value: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
    ],
  ]);
});

Deno.test("serviceNameProblem() reserves milpa and wants a DNS-952 label", () => {
  assert.equal(serviceNameProblem("helloworld-svc"), undefined);
  assert.equal(serviceNameProblem("milpa"), 'the name "milpa" is reserved for Milpa itself');
  assert.match(serviceNameProblem("9lives") ?? "", /DNS-952/);
  assert.equal(serviceNameProblem("milpa-dashboard"), undefined);
});
