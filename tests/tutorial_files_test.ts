/**
 * The Multi-Tier Tutorial's manifests (docs/tutorial-files/mongo.yml, rocketchat.yml,
 * rocketchat-svc.yml): they need a registry to run, but they are checked here the way milpactl
 * and the API read them, and the instance selector gives each Rocket.Chat pod (3Gi, 1 cpu) a
 * t3.medium, as the tutorial says ("the cheapest instance that matches those specs").
 */
import assert from "node:assert/strict";
import { parseManifest } from "../cli/manifest.ts";
import { loadCatalog } from "../cloud/catalog.ts";
import { selectInstanceType } from "../cloud/instance_selector.ts";
import { defaultConfig } from "../model/config.ts";
import type { Deployment } from "../model/deployment.ts";
import type { Node } from "../model/node.ts";
import type { Pod, PodSpec } from "../model/pod.ts";
import type { Service } from "../model/service.ts";
import { validateObject } from "../model/validation.ts";
import { runMilpactl } from "./support/milpactl.ts";
import { startSimCluster } from "./support/sim_cluster.ts";

const FILES = new URL("../docs/tutorial-files/", import.meta.url).pathname;
const MULTI_TIER = ["mongo.yml", "rocketchat.yml", "rocketchat-svc.yml"];

/** Every object of the tutorial's files, parsed as milpactl does and validated as the API does. */
async function multiTierObjects() {
  const out = [];
  for (const file of MULTI_TIER) {
    const docs = parseManifest(await Deno.readTextFile(`${FILES}${file}`), file);
    out.push(...docs.map((d) => validateObject(d.object)));
  }
  return out;
}

Deno.test("the Multi-Tier Tutorial's manifests are valid; Rocket.Chat's 3Gi and 1 cpu select a t3.medium", async () => {
  const objects = await multiTierObjects();
  assert.deepEqual(
    objects.map((o) => `${o.kind}/${o.metadata.name}`),
    ["Pod/mongo", "Service/mongo", "Deployment/rocketchat", "Service/rocketchat"],
  );
  const [mongo, mongoSvc, rocketchat, lb] = objects as [Pod, Service, Deployment, Service];
  const { nodes } = defaultConfig();
  const select = (spec: PodSpec) =>
    selectInstanceType(spec, {
      catalog: loadCatalog(),
      defaultInstanceType: nodes.defaultInstanceType,
      instanceFamilies: nodes.instanceFamilies,
    });

  assert.deepEqual(mongo.spec.units.map((u) => u.name), ["mongo", "init-replicaset"]);
  assert.equal(mongo.spec.restartPolicy, "OnFailure");
  assert.equal(select(mongo.spec).instanceType, "t3.micro");
  assert.deepEqual(mongoSvc.spec.ports, [{ name: "mongo", protocol: "TCP", port: 27017 }]);
  assert.deepEqual(mongoSvc.spec.sourceRanges, ["VPC"]);

  assert.equal(rocketchat.spec.replicas, 3);
  assert.deepEqual(rocketchat.spec.template.spec.resources, { memory: "3Gi", cpu: "1" });
  assert.deepEqual(select(rocketchat.spec.template.spec), {
    instanceType: "t3.medium",
    sustainedCPU: true,
  });
  const env = rocketchat.spec.template.spec.units[0].env ?? [];
  assert.match(env.find((e) => e.name === "MONGO_URL")?.value ?? "", /^mongodb:\/\/mongo:27017\//);

  assert.equal(lb.spec.type, "LoadBalancer");
  assert.deepEqual(lb.spec.selector, { app: "rocketchat" });
  assert.deepEqual(lb.spec.ports, [{ name: "http", protocol: "TCP", port: 80, nodePort: 3000 }]);
  assert.equal(
    lb.metadata.annotations?.["service.elotl.co/aws-load-balancer-healthcheck-interval"],
    "5",
  );
});

Deno.test("milpactl create -f the Multi-Tier Tutorial's files: the controller accepts them and boots t3.medium nodes for Rocket.Chat", async () => {
  const c = await startSimCluster();
  try {
    const r = await runMilpactl(
      { env: { MILPA_ENDPOINT: c.controller.url, MILPA_TOKEN: c.controller.token } },
      "create",
      ...MULTI_TIER.flatMap((f) => ["-f", `${FILES}${f}`]),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "pod/mongo created\nservice/mongo created\ndeployment/rocketchat created\n" +
        "service/rocketchat created\n",
    );
    const mongo = await c.controller.store.get<Pod>("pods", "default", "mongo");
    assert.equal(mongo?.spec.instanceType, "t3.micro");
    const chat = await c.waitUntil(async () => {
      const pods = (await c.controller.store.list<Pod>("pods"))
        .filter((p) => p.metadata.labels?.app === "rocketchat");
      return pods.length === 3 ? pods : undefined;
    }, "3 rocketchat pods");
    for (const p of chat) {
      assert.equal(p.spec.instanceType, "t3.medium", p.metadata.name);
      assert.equal(p.spec.resources?.sustainedCPU, true, p.metadata.name);
    }
    await c.waitUntil(async () => {
      const types = (await c.controller.store.list<Node>("nodes")).map((n) => n.spec.instanceType);
      return types.sort().join() === "t3.medium,t3.medium,t3.medium,t3.micro";
    }, "a t3.micro node for mongo and three t3.medium nodes");
  } finally {
    await c.close();
  }
});
