/** The effects pod and node actors invoke: dispatching a pod to its agent, booting a node. */
import type { CloudProvider } from "../cloud/provider.ts";
import { type Clock, sleep, within } from "../model/clock.ts";
import type { DesiredPod } from "../model/agent_protocol.ts";
import type { ServerConfig } from "../model/config.ts";
import { CapacityError, NotFoundError } from "../model/errors.ts";
import type { NetworkAddress, Pod, PodSpec, Unit } from "../model/pod.ts";
import {
  credentialsOf,
  decodeSecretValue,
  type RegistryCredentials,
  type Secret,
} from "../model/secret.ts";
import { allUnits, DEFAULT_TERMINATION_GRACE_SECONDS } from "../model/pod.ts";
import { matchesSelector } from "../model/selector.ts";
import type { Service } from "../model/service.ts";
import { parseObjectKey } from "../model/meta.ts";
import { milpactlVolumeOf } from "../model/pod_milpactl.ts";
import type { SavedLogs } from "../store/log_store.ts";
import type { ObjectStore } from "../store/object_store.ts";
import type { AgentHub } from "./agent_hub.ts";
import type { LaunchResult, NodeInput } from "./node_machine.ts";
import type { BoundNode, DispatchResult } from "./pod_machine.ts";

/** The address units of a pod on this node listen on. */
export function podIP(addresses: NetworkAddress[]): string | undefined {
  return (addresses.find((a) => a.type === "PodIP") ??
    addresses.find((a) => a.type === "PrivateIP") ??
    addresses.find((a) => a.type === "PublicIP"))?.address;
}

/** Builds what the agent of `node` should run for `pod`. */
export function desiredPod(pod: Pod, node: BoundNode, clusterName: string): DesiredPod {
  const ip = podIP(node.addresses) ?? "";
  return {
    namespace: pod.metadata.namespace ?? "default",
    name: pod.metadata.name,
    uid: pod.metadata.uid!,
    spec: pod.spec,
    env: {
      MILPA_POD_NAME: pod.metadata.name,
      MILPA_POD_NAMESPACE: pod.metadata.namespace ?? "default",
      MILPA_POD_IP: ip,
      MILPA_NODE_NAME: node.name,
      MILPA_CLUSTER_NAME: clusterName,
    },
  };
}

/**
 * The pod spec with every `env.valueFrom.secretKeyRef` replaced by its value, and the
 * registry credentials of its `imagePullSecrets`: only what the pod references leaves the
 * controller. A missing secret or key is an error naming the unit and variable.
 */
export async function resolveSecrets(
  store: ObjectStore,
  pod: Pod,
): Promise<{ spec: PodSpec; credentials: RegistryCredentials }> {
  const ns = pod.metadata.namespace ?? "default";
  const cache = new Map<string, Secret | null>();
  const secret = async (name: string) => {
    if (!cache.has(name)) cache.set(name, await store.get<Secret>("secrets", ns, name));
    return cache.get(name);
  };
  const resolveUnit = async (u: Unit): Promise<Unit> => {
    if (!u.env?.some((e) => e.valueFrom?.secretKeyRef)) return u;
    const env = [];
    for (const e of u.env) {
      const ref = e.valueFrom?.secretKeyRef;
      if (!ref) {
        env.push(e);
        continue;
      }
      const s = await secret(ref.name);
      if (!s) {
        throw new NotFoundError(`unit ${u.name}, env ${e.name}: secret "${ref.name}" not found`);
      }
      const value = s.data?.[ref.key];
      if (value === undefined) {
        throw new NotFoundError(
          `unit ${u.name}, env ${e.name}: secret "${ref.name}" has no key "${ref.key}"`,
        );
      }
      env.push({ name: e.name, value: decodeSecretValue(value) });
    }
    return { ...u, env };
  };
  const credentials: RegistryCredentials = {};
  for (const name of pod.spec.imagePullSecrets ?? []) {
    const s = await secret(name);
    if (!s) throw new NotFoundError(`imagePullSecrets: secret "${name}" not found`);
    Object.assign(credentials, credentialsOf(s));
  }
  return {
    spec: {
      ...pod.spec,
      units: await Promise.all(pod.spec.units.map(resolveUnit)),
      ...(pod.spec.initUnits
        ? { initUnits: await Promise.all(pod.spec.initUnits.map(resolveUnit)) }
        : {}),
    },
    credentials,
  };
}

/**
 * Hands a pod to its node's agent, waiting up to `connectTimeoutMs` for the agent. A pod that
 * drives Milpa (`model/pod_milpactl.ts`) gets its token (`podToken`) as MILPA_TOKEN.
 */
export async function dispatchPod(
  deps: {
    store: ObjectStore;
    hub: AgentHub;
    clusterName: string;
    connectTimeoutMs: number;
    podToken?: (pod: { namespace: string; name: string; uid: string }) => Promise<string>;
  },
  input: { namespace: string; name: string; node: BoundNode },
): Promise<DispatchResult> {
  const pod = await deps.store.get<Pod>("pods", input.namespace, input.name);
  if (!pod) throw new NotFoundError(`pod ${input.namespace}/${input.name} is gone`);
  const { spec, credentials } = await resolveSecrets(deps.store, pod);
  await deps.hub.waitConnected(input.node.name, deps.connectTimeoutMs);
  const desired = desiredPod({ ...pod, spec }, input.node, deps.clusterName);
  if (Object.keys(credentials).length) desired.credentials = credentials;
  const volume = milpactlVolumeOf(pod.metadata);
  if (volume !== undefined) {
    if (!deps.podToken) throw new Error("this controller issues no pod tokens");
    desired.env.MILPA_TOKEN = await deps.podToken({
      namespace: desired.namespace,
      name: desired.name,
      uid: desired.uid,
    });
    desired.milpactl = { volume };
  }
  await deps.hub.apply(input.node.name, desired);
  return {
    units: pod.spec.units.map((u) => u.name),
    initUnits: (pod.spec.initUnits ?? []).map((u) => u.name),
  };
}

/** Whether any Service of the pod's namespace selects it. */
export async function backsService(store: ObjectStore, pod: Pod): Promise<boolean> {
  const services = await store.list<Service>("services", { namespace: pod.metadata.namespace });
  const labels = pod.metadata.labels ?? {};
  return services.some((s) => s.spec.selector && matchesSelector(s.spec.selector, labels));
}

/**
 * Keeps a leaving pod up until `until` when it backs a Service (so that clients holding its
 * address from DNS or an open connection finish); resolves at once when it backs none, or when
 * `signal` aborts.
 */
export async function drainPod(
  deps: { store: ObjectStore; clock: Clock },
  input: { namespace: string; name: string; until: number },
  signal: AbortSignal,
): Promise<void> {
  const pod = await deps.store.get<Pod>("pods", input.namespace, input.name);
  if (!pod || !(await backsService(deps.store, pod))) return;
  await sleep(deps.clock, input.until - deps.clock.now(), signal);
}

/** What the agent may take beyond a pod's grace period to answer a stop. */
export const STOP_MARGIN_MS = 15_000;

/**
 * Stops a pod's units on its node: SIGTERM, SIGKILL after the pod's
 * terminationGracePeriodSeconds. Resolves once the agent says they stopped.
 */
export async function stopPodUnits(
  deps: { store: ObjectStore; hub: AgentHub },
  input: { namespace: string; name: string; node: string },
): Promise<void> {
  const pod = await deps.store.get<Pod>("pods", input.namespace, input.name);
  const grace = pod?.spec.terminationGracePeriodSeconds ?? DEFAULT_TERMINATION_GRACE_SECONDS;
  await deps.hub.apply(input.node, null, grace * 1000 + STOP_MARGIN_MS);
}

/** Boots a node's instance through the cloud provider (idempotent by node name). */
export async function launchNode(
  deps: {
    cloud: CloudProvider;
    controllerURL: string;
    nodeToken: (node: string) => Promise<string>;
    config: Pick<ServerConfig, "nodes">;
    /** The CA of an https controller: the node trusts it (and only it). */
    caCertificate?: string;
    /** The sha256 of the agent program, when the node fetches it from the controller. */
    agentSha256?: () => Promise<string>;
  },
  input: NodeInput,
): Promise<LaunchResult> {
  const agentSha256 = deps.cloud.fetchesAgent ? await deps.agentSha256?.() : undefined;
  const instance = await deps.cloud.launch({
    clientToken: input.name,
    nodeName: input.name,
    instanceType: input.instanceType,
    spot: input.spot,
    privateIPOnly: input.privateIPOnly,
    volumeSizeGiB: input.volumeSizeGiB,
    agent: {
      controllerURL: deps.controllerURL,
      nodeName: input.name,
      token: await deps.nodeToken(input.name),
      runtime: deps.config.nodes.runtime,
      insecureRegistries: deps.config.nodes.insecureRegistries,
      ...(deps.caCertificate ? { caCertificate: deps.caCertificate } : {}),
      ...(agentSha256 ? { agentSha256 } : {}),
    },
  });
  return { instanceId: instance.id, addresses: instance.addresses };
}

/** Whether a launch error means the type cannot be had now. */
export function isCapacityError(e: unknown): boolean {
  return e instanceof CapacityError;
}

/** How long cleaning a node waits for its agent to hand over logs. */
export const SAVE_LOGS_TIMEOUT_MS = 5_000;

/**
 * Saves the log of every unit of the pod a node ran, before the node is terminated.
 * Best effort: a unit whose log cannot be read (agent gone, timeout) is skipped.
 */
export async function saveNodeLogs(
  deps: { store: ObjectStore; savedLogs: SavedLogs; hub: AgentHub; clock: Clock },
  node: string,
  podKey: string | undefined,
): Promise<void> {
  if (!podKey || !deps.hub.isConnected(node)) return;
  const { namespace = "default", name } = parseObjectKey(podKey);
  const pod = await deps.store.get<Pod>("pods", namespace, name);
  if (!pod) return;
  await Promise.all(
    allUnits(pod.spec).map(async (u) => {
      const text = await within(
        deps.clock,
        SAVE_LOGS_TIMEOUT_MS,
        deps.hub.logs(node, u.name).catch(() => undefined),
      );
      if (text === undefined) return;
      await deps.savedLogs.save(
        { namespace, pod: name, uid: pod.metadata.uid!, unit: u.name },
        text,
        deps.clock.now(),
      );
    }),
  );
}
