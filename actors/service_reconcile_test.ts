/** reconcileService() on a real ObjectStore (`:memory:` KV), the sim cloud and recorded sends. */
import assert from "node:assert/strict";
import { SimProvider } from "../cloud/sim/sim_provider.ts";
import { FakeClock } from "../model/fake_clock.ts";
import type { Pod } from "../model/pod.ts";
import type { Service } from "../model/service.ts";
import { lbGateType } from "../model/workload.ts";
import { ObjectStore } from "../store/object_store.ts";
import {
  ADMISSION_RECHECK_MS,
  reconcileService,
  SERVICE_RECHECK_MS,
  type ServiceDeps,
} from "./service_reconcile.ts";

type Sent = { to: string; event: { type: string; [k: string]: unknown } };

async function withService(
  type: "LoadBalancer" | undefined,
  fn: (
    h: {
      store: ObjectStore;
      sim: SimProvider;
      sent: Sent[];
      pass: () => ReturnType<typeof reconcileService>;
      clock: FakeClock;
    },
  ) => Promise<void>,
): Promise<void> {
  const kv = await Deno.openKv(":memory:");
  const clock = new FakeClock();
  const store = new ObjectStore(kv, clock);
  const sim = new SimProvider();
  const sent: Sent[] = [];
  const deps: ServiceDeps = {
    store,
    cloud: sim,
    clock,
    send: (to, event) => sent.push({ to, event }),
  };
  const svc = await store.create<Service>({
    kind: "Service",
    apiVersion: "v1",
    metadata: { name: "web", namespace: "default" },
    spec: { selector: { app: "web" }, ports: [{ port: 80 }], ...(type ? { type } : {}) },
  });
  try {
    await fn({
      store,
      sim,
      sent,
      clock,
      pass: () =>
        reconcileService(deps, { namespace: "default", name: "web", uid: svc.metadata.uid! }),
    });
  } finally {
    kv.close();
  }
}

/** A Running, ready pod of the service on node instance `i-<name>`. */
async function addPod(
  store: ObjectStore,
  name: string,
  extra: { deleted?: boolean; draining?: boolean; admitted?: boolean } = {},
): Promise<void> {
  const at = "2026-01-01T00:00:00.000Z";
  await store.create<Pod>({
    kind: "Pod",
    apiVersion: "v1",
    metadata: { name, namespace: "default", labels: { app: "web" } },
    spec: {
      units: [{ name: "main", command: ["serve"] }],
      ...(extra.deleted ? { phase: "Terminated" } : {}),
    },
    status: {
      phase: "Running",
      boundInstanceID: `i-${name}`,
      addresses: [{ type: "PrivateIP", address: `10.0.0.${name.length}${name.charCodeAt(0)}` }],
      conditions: [
        { type: "Ready", status: "True", lastTransitionTime: at },
        ...(extra.admitted !== undefined
          ? [{
            type: lbGateType("web"),
            status: extra.admitted ? "True" as const : "False" as const,
            lastTransitionTime: at,
          }]
          : []),
      ],
      ...(extra.draining
        ? { termination: { state: "Draining" as const, since: at, reason: "evicted" } }
        : {}),
    },
  });
}

Deno.test("reconcileService() takes leaving pods out of DNS and the load balancer, keeps their firewall open", async () => {
  await withService("LoadBalancer", async ({ store, sim, pass }) => {
    await addPod(store, "a");
    await addPod(store, "b", { deleted: true });
    await addPod(store, "c", { draining: true });
    await pass();
    const s = sim.services.get("default/web")!;
    assert.deepEqual(s.dns!.endpoints.map((e) => e.pod), ["a"]);
    assert.deepEqual(s.loadBalancer!.backends.map((b) => b.id), ["i-a"]);
    assert.deepEqual([...s.firewall!.instances].sort(), ["i-a", "i-b", "i-c"]);
  });
});

Deno.test("reconcileService() tells each pod whether the load balancer admits it, and looks again soon until all are", async () => {
  await withService("LoadBalancer", async ({ store, sim, sent, pass, clock }) => {
    await addPod(store, "a");
    await addPod(store, "b");
    await addPod(store, "old", { admitted: true, draining: true });
    sim.outOfService.add("i-b");
    let result = await pass();
    assert.deepEqual(sent, [
      { to: "pod/default/a", event: { type: "LB_GATE", service: "web", admitted: true } },
      { to: "pod/default/old", event: { type: "LB_GATE", service: "web", admitted: false } },
    ], "b is not admitted yet (and its gate is not set): nothing to say to it");
    assert.equal(result!.recheckAt, clock.now() + ADMISSION_RECHECK_MS);

    sent.length = 0;
    sim.outOfService.clear();
    await store.mutate<Pod>("pods", "default", "a", (p) => ({
      ...p,
      status: {
        ...p.status!,
        conditions: [...p.status!.conditions!, {
          type: lbGateType("web"),
          status: "True",
          lastTransitionTime: "2026-01-01T00:00:00.000Z",
        }],
      },
    }));
    result = await pass();
    assert.deepEqual(sent, [
      { to: "pod/default/b", event: { type: "LB_GATE", service: "web", admitted: true } },
      { to: "pod/default/old", event: { type: "LB_GATE", service: "web", admitted: false } },
    ], "a's gate already says so; the old pod is told until its status shows it");
    assert.equal(result!.recheckAt, clock.now() + SERVICE_RECHECK_MS);
  });
});

Deno.test("reconcileService() of a Service without a load balancer sets no gates", async () => {
  await withService(undefined, async ({ store, sent, pass, clock }) => {
    await addPod(store, "a");
    const result = await pass();
    assert.deepEqual(sent, []);
    assert.equal(result!.recheckAt, clock.now() + SERVICE_RECHECK_MS);
  });
});
