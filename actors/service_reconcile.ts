/**
 * One pass of a Service: its endpoints are the Running pods its selector matches. The cloud
 * is made to match: firewall rules `ports × sourceRanges` on exactly those pods' nodes, DNS
 * records for the ready ones, and for `type: LoadBalancer` a load balancer over them.
 * A Service without `sourceRanges` opens its ports to the cluster's nodes only (`VPC`).
 *
 * A pod on its way out (deleted, scaled down, evicted) leaves the DNS records and the load
 * balancer at once, while its firewall stays open until it stops, so that clients that still
 * hold its address finish. Each pod behind a load balancer is told whether the balancer admits
 * it (its readiness gate), and the pass looks again soon while some are not admitted yet.
 */
import type { CloudProvider, IngressRule, LoadBalancerState } from "../cloud/provider.ts";
import type { Clock } from "../model/clock.ts";
import type { Pod } from "../model/pod.ts";
import type { Service, ServiceStatus } from "../model/service.ts";
import { type Readiness, readinessOf } from "../model/workload.ts";
import { podId } from "./ids.ts";
import { type ObjectStore, Projection } from "../store/object_store.ts";
import { podIP } from "./effects.ts";
import type { PassResult, ReconcilerInput } from "./reconciler_machine.ts";

/** How often a service looks again even when nothing told it to (label changes, lost events). */
export const SERVICE_RECHECK_MS = 30_000;

/** How soon a LoadBalancer service looks again while its balancer has not admitted every pod. */
export const ADMISSION_RECHECK_MS = 1_000;

/**
 * How a Service's passes are paced while its pods keep changing: each pass reads every pod it
 * selects, and 10,000 pods starting change all the time. After such a pass it waits 4 times as
 * long as the pass took, and at least 250 ms, so that its cloud resources follow its pods within
 * about a quarter of a second plus a pass (as kube-proxy's 1 s minimum sync period lets them),
 * and a few Services in front of the same pods take a small share of the main thread. Two
 * Services in front of a rollout of 10,000 pods, paced as other kinds are (a pause as long as
 * the pass, none after a pass under 20 ms), took half of it and more, and the rollout took
 * 66-105 s instead of 40 s without them.
 */
export const SERVICE_PACE = { factor: 4, minMs: 250 };

/** What a Service pass needs. */
export interface ServiceDeps {
  store: ObjectStore;
  cloud: CloudProvider;
  clock: Clock;
  /** Delivers an event to an actor by system id (a pod's readiness gate). */
  send: (to: string, event: { type: string; [k: string]: unknown }) => void;
}

/**
 * A Running pod with an address and a node: what a Service needs of it, and what it gives the
 * cloud (made once per version of the pod, and handed to every pass and provider call as is).
 */
interface Endpoint extends Readiness {
  pod: string;
  instanceId: string;
  address: string;
  /** The pod as a load balancer backend. */
  backend: { id: string; address: string };
  /** The pod as a DNS record. */
  record: { pod: string; address: string };
}

/**
 * Every pod as an endpoint (null when it is not one), made once per version of the pod (the
 * store keeps it): a pass of a Service in front of 10,000 pods reads them all, and decoded each
 * of them every time before.
 */
const ENDPOINTS = new Projection<Pod, Endpoint | null>((p) => {
  const address = podIP(p.status?.addresses ?? []);
  const instanceId = p.status?.boundInstanceID;
  if (p.status?.phase !== "Running" || !address || !instanceId) return null;
  const pod = p.metadata.name;
  return {
    pod,
    instanceId,
    address,
    backend: { id: instanceId, address },
    record: { pod, address },
    ...readinessOf(p),
  };
});

/** The Running pods `svc` selects, with their nodes and addresses, by name; none without a selector. */
export async function endpointsOf(store: ObjectStore, svc: Service): Promise<Endpoint[]> {
  if (!svc.spec.selector) return [];
  const pods = await store.listProjected("pods", ENDPOINTS, {
    namespace: svc.metadata.namespace,
    selector: svc.spec.selector,
  });
  return pods.filter((p) => p !== null);
}

/** The firewall rules of a service: every port (at its node port) to every source. */
export function serviceRules(svc: Service, lb?: LoadBalancerState): IngressRule[] {
  const sources = svc.spec.sourceRanges?.length ? svc.spec.sourceRanges : ["VPC"];
  const rules: IngressRule[] = [];
  for (const p of svc.spec.ports) {
    const base = {
      protocol: p.protocol ?? "TCP",
      port: p.nodePort ?? p.port,
      portRangeSize: p.portRangeSize ?? 1,
    } as const;
    for (const source of sources) rules.push({ ...base, source });
    if (lb && !sources.includes(lb.backendSource)) {
      rules.push({ ...base, source: lb.backendSource });
    }
  }
  return rules;
}

/** One reconcile pass of Service `input`; removes its cloud resources once it is gone. */
export async function reconcileService(
  deps: ServiceDeps,
  input: ReconcilerInput,
): Promise<PassResult<ServiceStatus, never> | undefined> {
  const key = `${input.namespace}/${input.name}`;
  const svc = await deps.store.get<Service>("services", input.namespace, input.name);
  if (!svc || svc.metadata.uid !== input.uid) {
    // A new Service of the same name has its own actor, which owns the resources now.
    if (!svc) await deps.cloud.deleteService(key);
    return undefined;
  }
  const endpoints = await endpointsOf(deps.store, svc);
  const serving = endpoints.filter((e) => !e.terminating);
  let lb: LoadBalancerState | undefined;
  let waitingForAdmission = false;
  if (svc.spec.type === "LoadBalancer") {
    lb = await deps.cloud.syncLoadBalancer(
      key,
      {
        listeners: svc.spec.ports.map((p) => ({ port: p.port, nodePort: p.nodePort ?? p.port })),
        sourceRanges: svc.spec.sourceRanges?.length ? svc.spec.sourceRanges : ["0.0.0.0/0"],
        annotations: svc.metadata.annotations ?? {},
      },
      serving.map((e) => e.backend),
    );
    const inService = new Set(lb.inService);
    for (const e of endpoints) {
      const admitted = !e.terminating && inService.has(e.instanceId);
      if (admitted !== e.admittedBy.includes(input.name)) {
        deps.send(podId(input.namespace, e.pod), {
          type: "LB_GATE",
          service: input.name,
          admitted,
        });
      }
      if (!admitted && !e.terminating) waitingForAdmission = true;
    }
  }
  // Leaving pods keep their rules until they stop: clients holding their address finish.
  await deps.cloud.syncFirewall(key, serviceRules(svc, lb), [
    ...new Set(endpoints.map((e) => e.instanceId)),
  ]);
  // No longer a LoadBalancer: its load balancer goes, after the rules that let it in.
  if (!lb && svc.status?.loadBalancer) await deps.cloud.removeLoadBalancer(key);
  const ready = serving.filter((e) => e.readySince !== undefined);
  await deps.cloud.syncDns(
    key,
    svc.spec.ports.map((p) => ({
      name: p.name,
      protocol: p.protocol ?? "TCP",
      port: p.nodePort ?? p.port,
    })),
    ready.map((e) => e.record),
  );
  const status: ServiceStatus = lb ? { loadBalancer: { ingress: lb.ingress } } : {};
  return {
    status,
    state: ready.length ? "Serving" : "NoEndpoints",
    recheckAt: deps.clock.now() + (waitingForAdmission ? ADMISSION_RECHECK_MS : SERVICE_RECHECK_MS),
  };
}
