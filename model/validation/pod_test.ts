import assert from "node:assert/strict";
import { issuesToFieldErrors } from "./issues.ts";
import { podSpec } from "./pod.ts";

/** `[field, message]` of every problem podSpec finds in `spec`. */
function problems(spec: unknown): [string, string][] {
  const result = podSpec.safeParse(spec, { reportInput: true });
  if (result.success) return [];
  return issuesToFieldErrors(result.error.issues, "spec").map((e) => [e.field, e.message]);
}

const unit = { name: "web", image: "nginx" };

Deno.test("podSpec accepts an empty spec and a full one", () => {
  assert.deepEqual(problems({}), []);
  assert.deepEqual(
    problems({
      phase: "Running",
      restartPolicy: "OnFailure",
      instanceType: "t3.nano",
      resources: {
        cpu: "500m",
        memory: "512Mi",
        gpu: "1 nvidia-tesla-t4",
        volumeSize: "10Gi",
        dedicatedCPU: true,
        sustainedCPU: false,
        privateIPOnly: true,
      },
      spot: { policy: "Always" },
      placement: { availabilityZone: "us-east-1a" },
      imagePullSecrets: ["registry"],
      volumes: [{ name: "data", emptyDir: { medium: "Memory", sizeLimit: "1Gi" } }],
      initUnits: [{ name: "init", command: ["/bin/true"] }],
      units: [{
        ...unit,
        args: ["-g", "daemon off;"],
        workingDir: "/srv",
        env: [
          { name: "MY_MILPA_VAR", value: "x" },
          { name: "TOKEN", valueFrom: { secretKeyRef: { name: "creds", key: "token" } } },
        ],
        ports: [{ name: "http", containerPort: 80, protocol: "TCP" }],
        volumeMounts: [{ name: "data", mountPath: "/data" }],
        readinessProbe: { httpGet: { path: "/", port: 80 }, periodSeconds: 5 },
      }],
    }),
    [],
  );
});

Deno.test("podSpec checks restartPolicy, spot policy and phase", () => {
  assert.deepEqual(
    problems({ restartPolicy: "Sometimes", spot: { policy: "Preferred" }, phase: "Gone" }),
    [
      [
        "spec.phase",
        'must be one of "Waiting", "Dispatching", "Running", "Succeeded", "Failed", "Terminated"',
      ],
      ["spec.restartPolicy", 'must be one of "Always", "OnFailure", "Never"'],
      ["spec.spot.policy", 'must be one of "Always", "Never"'],
    ],
  );
});

Deno.test("podSpec requires positive quantities and a well-formed gpu", () => {
  assert.deepEqual(
    problems({ resources: { cpu: "-1", memory: "0", volumeSize: true, gpu: "one" } }),
    [
      ["spec.resources.cpu", 'invalid quantity "-1"'],
      ["spec.resources.memory", "must be greater than 0"],
      [
        "spec.resources.gpu",
        'must be a count such as "1", or a count and a type such as "1 nvidia-tesla-t4"',
      ],
      ["spec.resources.volumeSize", 'must be a quantity such as "512Mi" or "0.5"'],
    ],
  );
  assert.deepEqual(problems({ resources: { cpu: 2, memory: "0.4Gi", gpu: 1 } }), []);
});

Deno.test("podSpec requires each unit to have an image or a command", () => {
  assert.deepEqual(problems({ units: [{ name: "a", image: "" }, { name: "b", command: [] }] }), [
    ["spec.units[0]", "a unit needs an image or a command"],
    ["spec.units[1]", "a unit needs an image or a command"],
  ]);
  assert.deepEqual(problems({ units: [{ name: "a", command: ["/bin/sh"] }] }), []);
});

Deno.test("podSpec takes a boolean stdin on units", () => {
  assert.deepEqual(
    problems({ units: [{ ...unit, stdin: true }, { ...unit, name: "b", stdin: false }] }),
    [],
  );
  assert.deepEqual(problems({ units: [{ ...unit, stdin: "yes" }] }), [
    ["spec.units[0].stdin", "must be true or false"],
  ]);
});

Deno.test("podSpec checks unit names and their uniqueness across units and initUnits", () => {
  assert.deepEqual(
    problems({
      initUnits: [{ name: "setup", image: "x" }, { name: "setup", image: "x" }],
      units: [{ name: "Web_1", image: "x" }, { name: "setup", image: "x" }],
    }),
    [
      [
        "spec.units[0].name",
        "must be a DNS-1123 label: at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit",
      ],
      ["spec.initUnits[1].name", 'duplicate unit name "setup"'],
      ["spec.units[1].name", 'duplicate unit name "setup"'],
    ],
  );
});

Deno.test("podSpec checks env names and that each has a value or a secret reference", () => {
  assert.deepEqual(
    problems({
      units: [{
        ...unit,
        env: [
          { name: "1BAD" },
          { name: "PORT", value: 8080 },
          { name: "BOTH", value: "x", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
          { name: "HALF", valueFrom: { secretKeyRef: { name: "s" } } },
          { name: "EMPTY", value: "" },
        ],
      }],
    }),
    [
      [
        "spec.units[0].env[0].name",
        "must consist of letters, digits, '_', '-' and '.', and must not start with a digit",
      ],
      ["spec.units[0].env[0]", "needs a value or valueFrom.secretKeyRef"],
      ["spec.units[0].env[1].value", 'must be a string; put quotes around "8080"'],
      ["spec.units[0].env[2]", "takes a value or valueFrom, not both"],
      ["spec.units[0].env[3].valueFrom.secretKeyRef.key", "required"],
    ],
  );
});

Deno.test("podSpec checks unit ports", () => {
  assert.deepEqual(
    problems({
      units: [{
        ...unit,
        ports: [{ containerPort: 0 }, { containerPort: 65536, protocol: "SCTP" }, {
          containerPort: 1.5,
        }],
      }],
    }),
    [
      ["spec.units[0].ports[0].containerPort", "must be between 1 and 65535"],
      ["spec.units[0].ports[1].containerPort", "must be between 1 and 65535"],
      ["spec.units[0].ports[1].protocol", 'must be one of "TCP", "UDP"'],
      ["spec.units[0].ports[2].containerPort", "must be an integer"],
    ],
  );
});

Deno.test("podSpec checks volumes: unique names, one kind each, sizeLimit a quantity", () => {
  assert.deepEqual(
    problems({
      volumes: [
        { name: "data", emptyDir: {} },
        { name: "data", emptyDir: { sizeLimit: "huge" } },
        { name: "none" },
        { name: "both", emptyDir: {}, packagePath: {} },
        { name: "odd", hostPath: { path: "/" } },
      ],
    }),
    [
      ["spec.volumes[1].emptyDir.sizeLimit", 'invalid quantity "huge"'],
      ["spec.volumes[2]", "a volume needs emptyDir or packagePath"],
      ["spec.volumes[3]", "a volume takes emptyDir or packagePath, not both"],
      ["spec.volumes[4].hostPath", "unknown field"],
      ["spec.volumes[4]", "a volume needs emptyDir or packagePath"],
      ["spec.volumes[1].name", 'duplicate volume name "data"'],
    ],
  );
});

Deno.test("podSpec takes packagePath volumes whose path stays in the package", () => {
  assert.deepEqual(
    problems({
      volumes: [
        { name: "src", packagePath: {} },
        { name: "bin", packagePath: { path: "." } },
        { name: "cfg", packagePath: { path: "etc/app.conf" } },
        { name: "abs", packagePath: { path: "/etc" } },
        { name: "up", packagePath: { path: "a/../../b" } },
        { name: "num", packagePath: { path: 3 } },
        { name: "extra", packagePath: { path: "x", mode: 1 } },
      ],
      units: [{ ...unit, workingDir: "/src", volumeMounts: [{ name: "src", mountPath: "/src" }] }],
    }),
    [
      ["spec.volumes[3].packagePath.path", "must be a path relative to the package (not absolute)"],
      ["spec.volumes[4].packagePath.path", 'must not contain ".." (it must stay in the package)'],
      ["spec.volumes[5].packagePath.path", 'must be a string; put quotes around "3"'],
      ["spec.volumes[6].packagePath.mode", "unknown field"],
    ],
  );
});

Deno.test("podSpec checks volume mounts: known volume, absolute path, no ':', unique per unit", () => {
  assert.deepEqual(
    problems({
      volumes: [{ name: "data", emptyDir: {} }],
      initUnits: [{ ...unit, name: "init", volumeMounts: [{ name: "cache", mountPath: "/c" }] }],
      units: [{
        ...unit,
        volumeMounts: [
          { name: "data", mountPath: "data" },
          { name: "data", mountPath: "/a:b" },
          { name: "data", mountPath: "/srv" },
          { name: "data", mountPath: "/srv" },
        ],
      }],
    }),
    [
      ["spec.units[0].volumeMounts[0].mountPath", "must be an absolute path"],
      ["spec.units[0].volumeMounts[1].mountPath", "must not contain ':'"],
      ["spec.units[0].volumeMounts[3].mountPath", 'duplicate mountPath "/srv"'],
      ["spec.initUnits[0].volumeMounts[0].name", 'no volume named "cache"'],
    ],
  );
});

Deno.test("podSpec requires exactly one probe handler and sane probe numbers", () => {
  const withProbe = (readinessProbe: unknown) => problems({ units: [{ ...unit, readinessProbe }] });
  assert.deepEqual(withProbe({ tcpSocket: { port: 80 } }), []);
  assert.deepEqual(withProbe({ exec: { command: ["true"] }, initialDelaySeconds: 0 }), []);
  assert.deepEqual(withProbe({ periodSeconds: 10 }), [
    ["spec.units[0].readinessProbe", "a probe needs exactly one of httpGet, tcpSocket or exec"],
  ]);
  assert.deepEqual(withProbe({ tcpSocket: { port: 80 }, exec: { command: ["true"] } }), [
    ["spec.units[0].readinessProbe", "a probe needs exactly one of httpGet, tcpSocket or exec"],
  ]);
  assert.deepEqual(
    withProbe({ httpGet: { port: 80, scheme: "FTP" }, initialDelaySeconds: -1, periodSeconds: 0 }),
    [
      ["spec.units[0].readinessProbe.httpGet.scheme", 'must be one of "HTTP", "HTTPS"'],
      ["spec.units[0].readinessProbe.initialDelaySeconds", "must be at least 0"],
      ["spec.units[0].readinessProbe.periodSeconds", "must be at least 1"],
    ],
  );
});

Deno.test("podSpec still runs a rule when an unrelated field has a type error", () => {
  assert.deepEqual(problems({ restartPolicy: 3, units: [unit, unit] }), [
    ["spec.restartPolicy", 'must be one of "Always", "OnFailure", "Never"'],
    ["spec.units[1].name", 'duplicate unit name "web"'],
  ]);
});

Deno.test("podSpec skips a rule whose fields have a type error", () => {
  assert.deepEqual(problems({ units: [unit, { name: 7, image: "x" }] }), [
    ["spec.units[1].name", 'must be a string; put quotes around "7"'],
  ]);
});

Deno.test("podSpec takes imagePullSecrets as names or as Kubernetes' {name} maps, stored as names", () => {
  const parsed = podSpec.parse({ imagePullSecrets: ["a", { name: "b" }] });
  assert.deepEqual(parsed.imagePullSecrets, ["a", "b"]);
  assert.deepEqual(problems({ imagePullSecrets: [{ secret: "c" }, ""] }), [
    ["spec.imagePullSecrets[0]", "must be a Secret name, or a map with name"],
    ["spec.imagePullSecrets[1]", "must not be empty"],
  ]);
});

Deno.test("podSpec takes terminationGracePeriodSeconds as whole seconds from 0 to a day", () => {
  assert.deepEqual(problems({ units: [unit], terminationGracePeriodSeconds: 0 }), []);
  assert.deepEqual(problems({ units: [unit], terminationGracePeriodSeconds: 120 }), []);
  assert.deepEqual(problems({ units: [unit], terminationGracePeriodSeconds: -1 }), [
    ["spec.terminationGracePeriodSeconds", "must be at least 0"],
  ]);
  assert.deepEqual(problems({ units: [unit], terminationGracePeriodSeconds: 1.5 }), [
    ["spec.terminationGracePeriodSeconds", "must be an integer"],
  ]);
});
