/** The PodSpec schema: units, resources and volumes, and the rules that tie them together. */
import { z } from "zod";
import type { EnvVar, PodSpec, Probe, ResourceSpec, Unit, UnitPort, Volume } from "../pod.ts";
import {
  duplicates,
  formatted,
  nonEmptyString,
  nonNegativeInt,
  portNumber,
  positiveInt,
  positiveQuantity,
  stringOrNumber,
} from "./common.ts";
import { dns1123LabelProblem, envVarNameProblem, mountPathProblem } from "./formats.ts";
import { type PathSegment, rule } from "./issues.ts";

/** A PodSpec as a manifest writes it: `units` may be left out (defaults fill in `[]`). */
export type ManifestPodSpec = Omit<PodSpec, "units"> & Partial<Pick<PodSpec, "units">>;

const envVar: z.ZodType<EnvVar> = z.strictObject({
  name: formatted(envVarNameProblem).describe("The variable's name."),
  value: z.string().optional().describe("The variable's value (or give valueFrom)."),
  valueFrom: z.strictObject({
    secretKeyRef: z.strictObject({
      name: nonEmptyString.describe("The Secret's name, in the pod's namespace."),
      key: nonEmptyString.describe("The key in the Secret's data."),
    }).describe("A key of a Secret."),
  }).optional().describe("Where the value comes from instead of value: a key of a Secret."),
}).check(rule(["value", "valueFrom"], (env, report) => {
  if (env.value === undefined && env.valueFrom === undefined) {
    report([], "needs a value or valueFrom.secretKeyRef");
  } else if (env.value !== undefined && env.valueFrom !== undefined) {
    report([], "takes a value or valueFrom, not both");
  }
}));

const unitPort: z.ZodType<UnitPort> = z.strictObject({
  name: formatted(dns1123LabelProblem).optional().describe("A name for the port."),
  containerPort: portNumber.describe("The port the unit listens on, 1-65535."),
  protocol: z.enum(["TCP", "UDP"]).optional().describe('The protocol; "TCP" when left out.'),
});

const probe: z.ZodType<Probe> = z.strictObject({
  httpGet: z.strictObject({
    path: z.string().optional().describe('The path to GET; "/" when left out.'),
    port: portNumber.describe("The port on the pod."),
    scheme: z.enum(["HTTP", "HTTPS"]).optional().describe('"HTTP" when left out.'),
  }).optional().describe("Ready when a GET answers 200-399."),
  tcpSocket: z.strictObject({ port: portNumber.describe("The port on the pod.") }).optional()
    .describe("Ready when the port accepts a connection."),
  exec: z.strictObject({
    command: z.array(z.string()).min(1).describe("The program and its arguments."),
  }).optional().describe("Ready when the command, run in the unit, exits 0."),
  initialDelaySeconds: nonNegativeInt.optional().describe(
    "Seconds after the unit starts before the first probe; 0 when left out.",
  ),
  timeoutSeconds: positiveInt.optional().describe("Seconds a probe may take; 1 when left out."),
  periodSeconds: positiveInt.optional().describe("Seconds between probes; 10 when left out."),
  successThreshold: positiveInt.optional().describe(
    "Probes in a row that must pass to become ready; 1 when left out.",
  ),
  failureThreshold: positiveInt.optional().describe(
    "Probes in a row that must fail to become unready; 3 when left out.",
  ),
}).check(rule(["httpGet", "tcpSocket", "exec"], (p, report) => {
  const handlers = [p.httpGet, p.tcpSocket, p.exec].filter((h) => h !== undefined);
  if (handlers.length !== 1) report([], "a probe needs exactly one of httpGet, tcpSocket or exec");
}));

const unit: z.ZodType<Unit> = z.strictObject({
  name: formatted(dns1123LabelProblem).describe(
    "The unit's name, unique in the pod (milpactl logs -u NAME).",
  ),
  image: z.string().optional().describe(
    "A container image to run the unit from (pulled by the node's agent, run in the unit's " +
      "own namespaces; needs root on the node). A unit needs an image, a command, or both.",
  ),
  command: z.array(z.string()).optional().describe(
    "Replaces the image's ENTRYPOINT; without an image, the host program to run and its " +
      "first arguments.",
  ),
  args: z.array(z.string()).optional().describe(
    "Replaces the image's CMD; appended to command.",
  ),
  env: z.array(envVar).optional().describe("Environment variables of the unit."),
  workingDir: z.string().optional().describe("The directory the unit starts in."),
  ports: z.array(unitPort).optional().describe(
    "Ports the unit listens on (for information; a Service opens them).",
  ),
  volumeMounts: z.array(
    z.strictObject({
      name: nonEmptyString.describe("The name of a volume of the pod."),
      mountPath: formatted(mountPathProblem).describe("Where the volume appears in the unit."),
    }),
  ).optional().describe("Volumes of the pod that the unit sees, and where."),
  readinessProbe: probe.optional().describe(
    "How the node's agent checks that the unit is ready: exactly one of httpGet, tcpSocket " +
      "or exec. A pod is ready when all its units are; a ReplicaSet counts only ready pods " +
      "available.",
  ),
  stdin: z.boolean().optional().describe(
    "Runs the unit with a stdin pipe that stays open, so `milpactl attach -i` can write to " +
      "it; false (stdin closed) when left out.",
  ),
}).check(
  rule(["image", "command"], (u, report) => {
    if (!u.image && !u.command?.length) report([], "a unit needs an image or a command");
  }),
  rule(["volumeMounts.*.mountPath"], (u, report) => {
    for (const d of duplicates(u.volumeMounts ?? [], (m) => m.mountPath)) {
      report(["volumeMounts", d.index, "mountPath"], `duplicate mountPath "${d.key}"`, d.key);
    }
  }),
);

const gpuMessage = 'must be a count such as "1", or a count and a type such as "1 nvidia-tesla-t4"';

const resources: z.ZodType<ResourceSpec> = z.strictObject({
  cpu: positiveQuantity.optional().describe('vCPUs the pod needs, e.g. "2", "0.5" or "500m".'),
  memory: positiveQuantity.optional().describe(
    'Memory the pod needs, e.g. "512Mi" or "0.4Gi" (0.4Gi gets a t3.nano).',
  ),
  gpu: stringOrNumber(gpuMessage).refine((g) => /^\d+(?: +\S+)?$/.test(g), gpuMessage).optional()
    .describe('GPUs the pod needs: a count, optionally with a type: "1", "1 nvidia-tesla-t4".'),
  volumeSize: positiveQuantity.optional().describe(
    "The size of the node's root volume; the controller's nodes.defaultVolumeSize when left " +
      "out.",
  ),
  dedicatedCPU: z.boolean().optional().describe(
    "Never pick a burstable (t2, t3) instance type.",
  ),
  sustainedCPU: z.boolean().optional().describe(
    "Burstable types with unlimited CPU credits (true) or without (false); left out, the " +
      "instance selector decides.",
  ),
  privateIPOnly: z.boolean().optional().describe("Give the node no public IP address."),
});

/** Why a packagePath `path` is refused: it must stay inside the package. */
function packagePathProblem(path: string): string | undefined {
  if (path.startsWith("/")) return "must be a path relative to the package (not absolute)";
  if (path.split("/").includes("..")) return 'must not contain ".." (it must stay in the package)';
  if (path.includes("\0")) return "must not contain NUL";
  return undefined;
}

const volume: z.ZodType<Volume> = z.strictObject({
  name: formatted(dns1123LabelProblem).describe(
    "The volume's name, unique in the pod; units mount it by this name.",
  ),
  emptyDir: z.strictObject({
    medium: z.enum(["", "Memory"]).optional().describe(
      '"Memory" for a tmpfs; "" (the node\'s disk) when left out.',
    ),
    sizeLimit: positiveQuantity.optional().describe("The most the directory may hold."),
  }).optional().describe("An empty directory the pod's units share, made when the pod starts."),
  packagePath: z.strictObject({
    path: formatted(packagePathProblem).optional().describe(
      "A file or directory inside the package; the whole package when left out.",
    ),
  }).optional().describe(
    "A package deployed under the volume's name with `milpactl deploy POD VOLUME FILE`; " +
      "units that mount it wait until it is deployed.",
  ),
}).check(rule(["emptyDir", "packagePath"], (v, report) => {
  const kinds = [v.emptyDir, v.packagePath].filter((k) => k !== undefined).length;
  if (kinds === 0) report([], "a volume needs emptyDir or packagePath");
  else if (kinds > 1) report([], "a volume takes emptyDir or packagePath, not both");
}));

/** Every unit with the path of its list: init units first, as they run. */
function unitsWithPaths(spec: ManifestPodSpec): { path: PathSegment[]; unit: Unit }[] {
  return (["initUnits", "units"] as const).flatMap((list) =>
    (spec[list] ?? []).map((unit, i) => ({ path: [list, i], unit }))
  );
}

/**
 * A pod spec; rules: unit names unique across units and initUnits, mounts name a volume.
 * Problems come out in shape order: settings and resources first, then units, then volumes.
 */
export const podSpec: z.ZodType<ManifestPodSpec> = z.strictObject({
  phase: z.enum(["Waiting", "Dispatching", "Running", "Succeeded", "Failed", "Terminated"])
    .optional().describe(
      "The desired phase: Running for a live pod (the only phase a new pod may ask for, and " +
        "the default), Terminated once its deletion was asked for. Set by Milpa.",
    ),
  restartPolicy: z.enum(["Always", "OnFailure", "Never"]).optional().describe(
    'When the node\'s agent restarts a unit that exited; "Always" when left out.',
  ),
  instanceType: nonEmptyString.optional().describe(
    'The node\'s instance type, e.g. "t3.small", or a glob such as "c5*" (the cheapest fitting ' +
      "match); wins over resources. Left out, Milpa picks the cheapest type that fits the " +
      "resources and writes it here.",
  ),
  resources: resources.optional().describe(
    "What the pod needs; Milpa picks the cheapest instance type that fits. With none of " +
      "cpu, memory or gpu, the controller's nodes.defaultInstanceType.",
  ),
  spot: z.strictObject({
    policy: z.enum(["Always", "Never"]).describe(
      "Always: run on a spot instance; Never: on demand.",
    ),
  }).optional().describe('Whether the node is a spot instance; {policy: "Never"} when left out.'),
  placement: z.strictObject({
    availabilityZone: nonEmptyString.optional().describe("The zone to boot the node in."),
  }).optional().describe("Where the node boots."),
  initUnits: z.array(unit).optional().describe(
    "Units that run one after another, each to a successful end, before units start.",
  ),
  units: z.array(unit).optional().describe(
    "The pod's processes (Kubernetes' containers), run together on the pod's node.",
  ),
  volumes: z.array(volume).optional().describe(
    "Volumes the pod's units may mount: each an emptyDir or a packagePath.",
  ),
  // Milpa's form is a list of names; Kubernetes' `- name: regcred` is taken too.
  imagePullSecrets: z.array(
    z.union([nonEmptyString, z.strictObject({ name: nonEmptyString }).transform((r) => r.name)], {
      error: "must be a Secret name, or a map with name",
    }),
  ).optional().describe(
    "Secrets (in the pod's namespace) with registry credentials for pulling the units' " +
      "images: names, or Kubernetes' {name: ...} maps. Each holds server, username and " +
      "password, or a .dockerconfigjson.",
  ),
  terminationGracePeriodSeconds: z.number().int().min(0)
    .max(86_400).optional().describe(
      "Seconds between SIGTERM and SIGKILL when the pod's units are stopped (after the pod " +
        "left its Services and drained); 30 when left out.",
    ),
}).check(
  rule(["units.*.name", "initUnits.*.name"], (spec, report) => {
    for (const d of duplicates(unitsWithPaths(spec), (u) => u.unit.name)) {
      report([...d.item.path, "name"], `duplicate unit name "${d.key}"`, d.key);
    }
  }),
  rule(["volumes.*.name"], (spec, report) => {
    for (const d of duplicates(spec.volumes ?? [], (v) => v.name)) {
      report(["volumes", d.index, "name"], `duplicate volume name "${d.key}"`, d.key);
    }
  }),
  rule([
    "units.*.volumeMounts.*.name",
    "initUnits.*.volumeMounts.*.name",
    "volumes.*.name",
  ], (spec, report) => {
    const volumes = new Set((spec.volumes ?? []).map((v) => v.name));
    for (const { path, unit } of unitsWithPaths(spec)) {
      unit.volumeMounts?.forEach((mount, i) => {
        if (!volumes.has(mount.name)) {
          report(
            [...path, "volumeMounts", i, "name"],
            `no volume named "${mount.name}"`,
            mount.name,
          );
        }
      });
    }
  }),
).describe(
  "The pod's desired state: its units and init units, the resources that pick its node's " +
    "instance type, volumes. After create, instanceType, resources, spot, placement, " +
    "restartPolicy and volumes cannot change.",
);
