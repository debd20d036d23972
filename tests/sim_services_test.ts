/** Services on the simulated cloud: what the service actor asks of the cloud. */
import assert from "node:assert/strict";
import type { Service } from "../model/service.ts";
import { podManifest, startSimCluster } from "./support/sim_cluster.ts";

const fast = { watchdogPeriodMs: 50, purgePeriodMs: 100, reconcilePeriodMs: 100 };
const SERVICES = "/api/v1/namespaces/default/services";

Deno.test("a Service changed from LoadBalancer to plain loses its load balancer, keeps its rules", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    const pod = await c.api(
      "POST",
      "/api/v1/namespaces/default/pods",
      podManifest("web", {}, {
        app: "web",
      }),
    );
    assert.equal(pod.status, 201, await pod.text());
    await c.waitForPod("web", "Running");
    const created = await c.api("POST", SERVICES, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: {
        type: "LoadBalancer",
        selector: { app: "web" },
        ports: [{ port: 80, nodePort: 8080 }],
        sourceRanges: ["0.0.0.0/0"],
      },
    });
    assert.equal(created.status, 201, await created.text());
    await c.waitUntil(async () => {
      const s = await c.controller.store.get<Service>("services", "default", "web");
      return s?.status?.loadBalancer?.ingress?.length ? s : undefined;
    }, "an ingress address");
    assert.ok(c.sim.services.get("default/web")?.loadBalancer);

    const current = await (await c.api("GET", `${SERVICES}/web`)).json() as Service;
    const plain = { ...current, spec: { ...current.spec, type: "" } };
    const put = await c.api("PUT", `${SERVICES}/web`, plain);
    assert.equal(put.status, 200, await put.text());
    const after = await c.waitUntil(async () => {
      const s = await c.controller.store.get<Service>("services", "default", "web");
      return s?.status && !s.status.loadBalancer ? s : undefined;
    }, "no ingress address");
    assert.equal(after.spec.type, "");
    const sim = c.sim.services.get("default/web");
    assert.equal(sim?.loadBalancer, undefined, "the load balancer is gone");
    assert.ok(sim?.firewall, "the service keeps its firewall rules");
    assert.equal(c.sim.calls.filter((x) => x.method === "removeLoadBalancer").length, 1);
  } finally {
    await c.close({ stopAgents: true });
  }
});
