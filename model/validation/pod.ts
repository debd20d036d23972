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
  name: formatted(envVarNameProblem),
  value: z.string().optional(),
  valueFrom: z.strictObject({
    secretKeyRef: z.strictObject({ name: nonEmptyString, key: nonEmptyString }),
  }).optional(),
}).check(rule(["value", "valueFrom"], (env, report) => {
  if (env.value === undefined && env.valueFrom === undefined) {
    report([], "needs a value or valueFrom.secretKeyRef");
  } else if (env.value !== undefined && env.valueFrom !== undefined) {
    report([], "takes a value or valueFrom, not both");
  }
}));

const unitPort: z.ZodType<UnitPort> = z.strictObject({
  name: formatted(dns1123LabelProblem).optional(),
  containerPort: portNumber,
  protocol: z.enum(["TCP", "UDP"]).optional(),
});

const probe: z.ZodType<Probe> = z.strictObject({
  httpGet: z.strictObject({
    path: z.string().optional(),
    port: portNumber,
    scheme: z.enum(["HTTP", "HTTPS"]).optional(),
  }).optional(),
  tcpSocket: z.strictObject({ port: portNumber }).optional(),
  exec: z.strictObject({ command: z.array(z.string()).min(1) }).optional(),
  initialDelaySeconds: nonNegativeInt.optional(),
  timeoutSeconds: positiveInt.optional(),
  periodSeconds: positiveInt.optional(),
  successThreshold: positiveInt.optional(),
  failureThreshold: positiveInt.optional(),
}).check(rule(["httpGet", "tcpSocket", "exec"], (p, report) => {
  const handlers = [p.httpGet, p.tcpSocket, p.exec].filter((h) => h !== undefined);
  if (handlers.length !== 1) report([], "a probe needs exactly one of httpGet, tcpSocket or exec");
}));

const unit: z.ZodType<Unit> = z.strictObject({
  name: formatted(dns1123LabelProblem),
  image: z.string().optional(),
  command: z.array(z.string()).optional(),
  args: z.array(z.string()).optional(),
  env: z.array(envVar).optional(),
  workingDir: z.string().optional(),
  ports: z.array(unitPort).optional(),
  volumeMounts: z.array(z.strictObject({
    name: nonEmptyString,
    mountPath: formatted(mountPathProblem),
  })).optional(),
  readinessProbe: probe.optional(),
  stdin: z.boolean().optional(),
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
  cpu: positiveQuantity.optional(),
  memory: positiveQuantity.optional(),
  gpu: stringOrNumber(gpuMessage).refine((g) => /^\d+(?: +\S+)?$/.test(g), gpuMessage).optional(),
  volumeSize: positiveQuantity.optional(),
  dedicatedCPU: z.boolean().optional(),
  sustainedCPU: z.boolean().optional(),
  privateIPOnly: z.boolean().optional(),
});

/** Why a packagePath `path` is refused: it must stay inside the package. */
function packagePathProblem(path: string): string | undefined {
  if (path.startsWith("/")) return "must be a path relative to the package (not absolute)";
  if (path.split("/").includes("..")) return 'must not contain ".." (it must stay in the package)';
  if (path.includes("\0")) return "must not contain NUL";
  return undefined;
}

const volume: z.ZodType<Volume> = z.strictObject({
  name: formatted(dns1123LabelProblem),
  emptyDir: z.strictObject({
    medium: z.enum(["", "Memory"]).optional(),
    sizeLimit: positiveQuantity.optional(),
  }).optional(),
  packagePath: z.strictObject({
    path: formatted(packagePathProblem).optional(),
  }).optional(),
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
    .optional(),
  restartPolicy: z.enum(["Always", "OnFailure", "Never"]).optional(),
  instanceType: nonEmptyString.optional(),
  resources: resources.optional(),
  spot: z.strictObject({ policy: z.enum(["Always", "Never"]) }).optional(),
  placement: z.strictObject({ availabilityZone: nonEmptyString.optional() }).optional(),
  initUnits: z.array(unit).optional(),
  units: z.array(unit).optional(),
  volumes: z.array(volume).optional(),
  // Milpa's form is a list of names; Kubernetes' `- name: regcred` is taken too.
  imagePullSecrets: z.array(
    z.union([nonEmptyString, z.strictObject({ name: nonEmptyString }).transform((r) => r.name)], {
      error: "must be a Secret name, or a map with name",
    }),
  ).optional(),
  terminationGracePeriodSeconds: z.number().int().min(0)
    .max(86_400).optional(),
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
);
