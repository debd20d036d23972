/** The Pod kind: units (containers) that run together on one right-sized node. */
import type { MilpaObject, ObjectMeta } from "./meta.ts";
import { epochMs } from "./clock.ts";

/** Pod phases, desired (spec.phase) and observed (status.phase). */
export type PodPhase =
  | "Waiting"
  | "Dispatching"
  | "Running"
  | "Succeeded"
  | "Failed"
  | "Terminated";

/**
 * Set to "selected" on pods whose instance type the selector chose (rather than the user):
 * when that type cannot be had, the next cheapest fit may be booted instead.
 */
export const INSTANCE_TYPE_ANNOTATION = "milpa.elotl.co/instance-type";

/** Phases after which a pod never runs again. */
export const TERMINAL_POD_PHASES: readonly PodPhase[] = ["Succeeded", "Failed", "Terminated"];

/** True for Succeeded, Failed and Terminated. */
export function isTerminalPodPhase(phase: PodPhase | undefined): boolean {
  return phase !== undefined && TERMINAL_POD_PHASES.includes(phase);
}

/**
 * True for a pod whose deletion has finished: deletion was asked for (`spec.phase` Terminated,
 * a deletionTimestamp) and the pod ended, its units stopped and its node given back. kubectl
 * lists no such pod, so `get pods` hides them unless `--show-all`. A pod that ended on its own
 * (Succeeded, Failed, or Terminated when its node was lost) is not hidden.
 */
export function deletionFinished(pod: Pod): boolean {
  const deleted = pod.spec?.phase === "Terminated" || !!pod.metadata?.deletionTimestamp;
  return deleted && isTerminalPodPhase(pod.status?.phase);
}

/** When the node agent restarts a unit that exited. */
export type RestartPolicy = "Always" | "OnFailure" | "Never";

/** An environment variable of a unit. */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

/** A port a unit listens on. */
export interface UnitPort {
  name?: string;
  containerPort: number;
  protocol?: "TCP" | "UDP";
}

/** Where a pod volume appears inside a unit. */
export interface VolumeMount {
  name: string;
  mountPath: string;
}

/** A readiness probe (Kubernetes semantics). */
export interface Probe {
  httpGet?: { path?: string; port: number; scheme?: "HTTP" | "HTTPS" };
  tcpSocket?: { port: number };
  exec?: { command: string[] };
  /** @default 0 */
  initialDelaySeconds?: number;
  /** @default 1 */
  timeoutSeconds?: number;
  /** @default 10 */
  periodSeconds?: number;
  /** @default 1 */
  successThreshold?: number;
  /** @default 3 */
  failureThreshold?: number;
}

/** One process of a pod (a container in Kubernetes terms). */
export interface Unit {
  name: string;
  /** Container image; a unit needs an image, a command, or both. */
  image?: string;
  /** Replaces the image ENTRYPOINT; for host units, the program and its first arguments. */
  command?: string[];
  /** Replaces the image CMD; appended to command. */
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  ports?: UnitPort[];
  volumeMounts?: VolumeMount[];
  readinessProbe?: Probe;
  /**
   * Runs the unit with a stdin pipe the agent keeps open for its whole run, so that
   * `milpactl attach -i` can write to it (Kubernetes' `stdin: true`, without `stdinOnce`).
   * @default false: stdin is closed
   */
  stdin?: boolean;
}

/** Resources a pod needs; the instance selector turns them into an instance type. */
export interface ResourceSpec {
  /** vCPUs, e.g. "2", "0.5" or "500m". */
  cpu?: string;
  /** Memory, e.g. "0.4Gi", "512Mi". */
  memory?: string;
  /** GPU count, optionally followed by a type: "1", "1 nvidia-tesla-t4". */
  gpu?: string;
  /** Root volume size; @default nodes.defaultVolumeSize */
  volumeSize?: string;
  /** Never pick a burstable (t2/t3) type. */
  dedicatedCPU?: boolean;
  /** T2/T3 unlimited credits; unset lets the selector decide. */
  sustainedCPU?: boolean;
  /** No public IP on the node. */
  privateIPOnly?: boolean;
}

/**
 * A pod volume: exactly one of `emptyDir` (an empty directory the pod's units share) or
 * `packagePath` (a file or directory of the package deployed under the volume's name with
 * `milpactl deploy POD VOLUME FILE`; units mounting it wait until it is deployed).
 */
export interface Volume {
  name: string;
  emptyDir?: { medium?: "" | "Memory"; sizeLimit?: string };
  /** `path`: relative to the package's root, "." or absent for the whole package. */
  packagePath?: { path?: string };
}

/** The clean relative path of a packagePath volume ("" for the whole package). */
export function packageSubpath(volume: Volume): string {
  return (volume.packagePath?.path ?? "").split("/").filter((p) => p !== "" && p !== ".")
    .join("/");
}

/** Desired state of a pod. */
export interface PodSpec {
  /** Desired phase: Running for live pods, Terminated once deletion was asked for. @default "Running" */
  phase?: PodPhase;
  /** @default "Always" */
  restartPolicy?: RestartPolicy;
  units: Unit[];
  initUnits?: Unit[];
  /** Explicit instance type; wins over resources. Filled by the selector on create. */
  instanceType?: string;
  resources?: ResourceSpec;
  /** @default {policy: "Never"} */
  spot?: { policy: "Always" | "Never" };
  placement?: { availabilityZone?: string };
  volumes?: Volume[];
  imagePullSecrets?: string[];
  /**
   * Seconds between SIGTERM and SIGKILL when the pod's units are stopped (after the pod left
   * its Services and drained). @default 30
   */
  terminationGracePeriodSeconds?: number;
}

/** Seconds between SIGTERM and SIGKILL when a pod does not say, as in Kubernetes. */
export const DEFAULT_TERMINATION_GRACE_SECONDS = 30;

/** Why a unit is not running yet. */
export interface UnitStateWaiting {
  reason: string;
  startFailure?: boolean;
}

/** A running unit. */
export interface UnitStateRunning {
  startedAt: string;
}

/** A unit that exited and will not be restarted (or not yet). */
export interface UnitStateTerminated {
  exitCode: number;
  finishedAt: string;
  startedAt?: string;
  reason?: string;
  message?: string;
}

/** Exactly one of waiting, running or terminated is set. */
export interface UnitState {
  waiting?: UnitStateWaiting;
  running?: UnitStateRunning;
  terminated?: UnitStateTerminated;
}

/** Observed state of one unit, reported by the node agent. */
export interface UnitStatus {
  name: string;
  state: UnitState;
  lastState?: UnitState;
  restartCount: number;
  image?: string;
  ready?: boolean;
}

/**
 * Condition type of a pod's readiness gate for a `type: LoadBalancer` Service: True once that
 * Service's load balancer admitted the pod (its health checks pass), as Kubernetes' readiness
 * gates do for cloud balancers. A pod counts as available to its ReplicaSet only when every
 * load balancer in front of it admitted it.
 */
export const LB_GATE_PREFIX = "loadbalancer.milpa.io/";

/** A condition of a pod: `Ready`, or a load balancer gate (`loadbalancer.milpa.io/<service>`). */
export interface PodCondition {
  type: "Ready" | `${typeof LB_GATE_PREFIX}${string}`;
  status: "True" | "False";
  lastTransitionTime: string;
}

/**
 * A pod on its way out (deleted, scaled down, or evicted from a node being terminated). While
 * `Draining` it is out of its Services' DNS records and load balancers but still runs, so that
 * clients holding its address finish; while `Stopping` its units got SIGTERM (SIGKILL after
 * `terminationGracePeriodSeconds`).
 */
export interface PodTermination {
  state: "Draining" | "Stopping";
  /** When the pod started leaving. */
  since: string;
  /** When draining ends (Draining only). */
  drainUntil?: string;
  /** Why: "deleted", or why its node is being terminated. */
  reason: string;
}

/** A network address of a pod or node. */
export interface NetworkAddress {
  type: "PublicIP" | "PrivateIP" | "PodIP" | "PublicDNS" | "PrivateDNS";
  address: string;
}

/** Observed state of a pod, written only by its actor. */
export interface PodStatus {
  phase: PodPhase;
  lastPhaseChange?: string;
  /** The first time every unit was ready. */
  readyTime?: string;
  /** `Ready`: every unit is running and passes its readiness probe (lastTransitionTime: since when). */
  conditions?: PodCondition[];
  boundNodeName?: string;
  boundInstanceID?: string;
  addresses?: NetworkAddress[];
  startFailures?: number;
  unitStatuses?: UnitStatus[];
  initUnitStatuses?: UnitStatus[];
  /** Why the pod is in its phase, when that is not obvious. */
  message?: string;
  /**
   * A short machine-readable word for what the pod waits on: `LaunchBackOff` (its node failed
   * to boot; it tries again at `nextLaunchAt`), `NodeLimit` (nodes.maxNodes reached).
   */
  reason?: string;
  /** When a pod in LaunchBackOff asks for a node again. */
  nextLaunchAt?: string;
  /** Node launches that failed for this pod (other than for lack of capacity). */
  launchFailures?: number;
  /** Set while the pod leaves its Services and stops; see {@linkcode PodTermination}. */
  termination?: PodTermination;
}

/** A pod: units that run together on their own node. */
export interface Pod extends MilpaObject {
  kind: "Pod";
  metadata: ObjectMeta;
  spec: PodSpec;
  status?: PodStatus;
}

/** The units of a pod: init units first, in order, then units. */
export function allUnits(spec: PodSpec): Unit[] {
  return [...(spec.initUnits ?? []), ...spec.units];
}

/**
 * The status of a pod just created, exactly as its actor publishes it on starting
 * (`podStatusOf`, member order included): the actor's first write then leaves the object as it
 * is, instead of rewriting it with a later `lastPhaseChange` (one write and one watch event less
 * per pod).
 */
export function newPodStatus(lastPhaseChange: string): PodStatus {
  return {
    phase: "Waiting",
    lastPhaseChange,
    startFailures: 0,
    unitStatuses: [],
    initUnitStatuses: [],
  };
}

/**
 * When a pod's phase last changed (epoch ms), if it is still Waiting as created: its actor,
 * starting without a snapshot, keeps that time instead of its own start.
 */
export function waitingSince(pod: Pod): number | undefined {
  return pod.status?.phase === "Waiting" ? epochMs(pod.status.lastPhaseChange) : undefined;
}
