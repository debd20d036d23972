/**
 * Zero-downtime rollouts on the local cloud, measured as a client sees them: one request every
 * 100 ms on a fresh connection while backend-deploy.yml rolls out, (a) through a LoadBalancer
 * Service (backend-lb.yml) and (b) through HAProxy resolving the backends' SRV record
 * (haproxy.yml). Not one request may fail: new pods count as available only once the balancer
 * admitted them, and old pods leave DNS and the balancer, drain, and only then stop.
 * Root only (nodes in namespaces, the controller's DNS on the bridge).
 */
import assert from "node:assert/strict";
import type { Deployment } from "../model/deployment.ts";
import type { Pod } from "../model/pod.ts";
import type { Service } from "../model/service.ts";
import { isActivePod } from "../model/workload.ts";
import { rolloutStatus } from "../cli/printers/rollout.ts";
import { probeOnce, type Prober, startProbing, summarize } from "./support/availability.ts";
import { LocalCloud } from "./support/local_cloud.ts";

type List<T> = { items: T[] };
const FILES = new URL("../docs/tutorial-files/", import.meta.url).pathname;
/** backend-deploy.yml as shipped: users edit the tutorial's copy (README, Deployments). */
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const root = Deno.uid() === 0;
const hasHaproxy = await new Deno.Command("haproxy", { args: ["-v"], stdout: "null" }).output()
  .then((o) => o.success, () => false);

/** Short drains and DNS TTLs, so that a test takes seconds; the defaults are 30 s. */
const FAST_DRAIN = { dnsTtl: 1, drainSeconds: 4 };

/** Stops probing; not one request may have failed, and at least `min` were sent. */
async function assertNoneFailed(probe: Prober, min: number): Promise<void> {
  const s = summarize(await probe.stop());
  assert.deepEqual(
    { failed: s.failed, why: s.why },
    { failed: 0, why: [] },
    `${s.failed} of ${s.sent} requests failed`,
  );
  assert.ok(s.sent >= min, `only ${s.sent} requests`);
}

async function deployment(cloud: LocalCloud): Promise<Deployment> {
  return await cloud.api<Deployment>(
    "/api/v1/namespaces/default/deployments/backend-deployment",
  );
}

/** Whether the backend's latest rollout finished, as `milpactl rollout status` judges it. */
async function complete(cloud: LocalCloud): Promise<boolean> {
  return rolloutStatus(await deployment(cloud)).done;
}

/** Rolls the backend out once, as a user would (`rollout restart`), and waits until it completed. */
async function rollOut(cloud: LocalCloud): Promise<void> {
  await cloud.ok("rollout", "restart", "deploy/backend-deployment");
  await cloud.eventually(() => complete(cloud), "the rollout", 120_000);
}

Deno.test({
  name: "a rollout behind a LoadBalancer Service fails no request (root only)",
  ignore: !root,
  async fn() {
    const cloud = await LocalCloud.start(FAST_DRAIN);
    try {
      await cloud.ok(
        "create",
        "-f",
        `${FIXTURES}backend-deploy.yml`,
        "-f",
        `${FILES}backend-lb.yml`,
      );
      await cloud.eventually(() => complete(cloud), "2 backends", 60_000);
      const svc = await cloud.api<Service>("/api/v1/namespaces/default/services/backend-lb");
      const ip = svc.status?.loadBalancer?.ingress?.[0]?.ip;
      assert.ok(ip, "the balancer has an address");
      const probe = startProbing(ip, 80, "Hello Milpa!");
      await rollOut(cloud);
      // The old pods drain for 4 s after they left the balancer: keep asking until they are gone.
      await cloud.eventually(
        async () =>
          (await cloud.api<List<Pod>>("/api/v1/namespaces/default/pods")).items
            .filter((p) => p.status?.phase === "Running").length === 2,
        "the old pods stopped",
        60_000,
      );
      await assertNoneFailed(probe, 40);
      const pods = (await cloud.api<List<Pod>>("/api/v1/namespaces/default/pods")).items
        .filter(isActivePod);
      for (const p of pods) {
        assert.ok(
          p.status?.conditions?.some((c) =>
            c.type === "loadbalancer.milpa.io/backend-lb" && c.status === "True"
          ),
          `${p.metadata.name} admitted by the balancer`,
        );
      }
    } finally {
      await cloud.close();
    }
  },
});

Deno.test({
  name: "a rollout behind HAProxy resolving the SRV record fails no request (root, haproxy)",
  ignore: !root || !hasHaproxy,
  async fn() {
    const cloud = await LocalCloud.start(FAST_DRAIN);
    try {
      await cloud.ok("create", "-f", `${FILES}haproxy.yml`);
      await cloud.ok("create", "-f", `${FIXTURES}backend-deploy.yml`);
      await cloud.eventually(() => complete(cloud), "2 backends", 60_000);
      const haproxy = await cloud.api<Pod>("/api/v1/namespaces/default/pods/haproxy");
      const ip = haproxy.status?.addresses?.find((a) => a.type === "PrivateIP")?.address;
      assert.ok(ip, "the haproxy pod has an address");
      // HAProxy finds both backends in DNS.
      await cloud.eventually(
        async () => (await probeOnce(ip, 80, "Hello Milpa!")).ok,
        "HAProxy serving",
        30_000,
      );
      const probe = startProbing(ip, 80, "Hello Milpa!");
      await rollOut(cloud);
      await cloud.eventually(
        async () =>
          (await cloud.api<List<Pod>>("/api/v1/namespaces/default/pods")).items
            .filter((p) => p.metadata.labels?.app === "backend" && p.status?.phase === "Running")
            .length === 2,
        "the old pods stopped",
        60_000,
      );
      await assertNoneFailed(probe, 30);
    } finally {
      await cloud.close();
    }
  },
});

Deno.test("haproxy.yml writes exactly the configuration of haproxy/haproxy.cfg", async () => {
  const { parseAllDocuments } = await import("yaml");
  const pod = parseAllDocuments(await Deno.readTextFile(`${FILES}haproxy.yml`))[0].toJS() as Pod;
  const script = pod.spec.units[0].args![0];
  const heredoc = script.slice(script.indexOf("<<'EOF'\n") + 8, script.indexOf("\nEOF\n") + 1);
  assert.equal(heredoc, await Deno.readTextFile(`${FILES}haproxy/haproxy.cfg`));
});
