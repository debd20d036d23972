import assert from "node:assert/strict";
import { SimProvider } from "../cloud/sim/sim_provider.ts";
import { ObjectStore } from "../store/object_store.ts";
import { InstanceCollector } from "./instance_collector.ts";

const agent = { controllerURL: "http://x", nodeName: "", token: "t" };
const launch = (sim: SimProvider, node: string) =>
  sim.launch({
    clientToken: node,
    nodeName: node,
    instanceType: "t3.nano",
    spot: false,
    privateIPOnly: false,
    volumeSizeGiB: 5,
    agent,
  });

Deno.test("InstanceCollector terminates an unknown instance only on the second pass, and never a known one", async () => {
  const kv = await Deno.openKv(":memory:");
  try {
    const store = new ObjectStore(kv);
    const sim = new SimProvider();
    const events: string[] = [];
    const gc = new InstanceCollector({ store, cloud: sim, event: (e) => events.push(e.status) });
    const known = await launch(sim, "known");
    await store.create({
      kind: "Node",
      apiVersion: "v1",
      metadata: { name: "known" },
      spec: { instanceType: "t3.nano" },
      status: { phase: "Claimed", instanceID: known.id },
    });
    const orphan = await launch(sim, "orphan");
    assert.deepEqual(await gc.pass(), [], "first pass: only a suspect");
    assert.equal(sim.instances.get(orphan.id)?.state, "running");
    // A node being created: its object exists before the instance is listed.
    await store.create({
      kind: "Node",
      apiVersion: "v1",
      metadata: { name: "booting" },
      spec: { instanceType: "t3.nano" },
      status: { phase: "Creating" },
    });
    const booting = await launch(sim, "booting");
    assert.deepEqual(await gc.pass(), [orphan.id], "second pass: terminated");
    assert.equal(sim.instances.get(orphan.id)?.state, "terminated");
    assert.equal(sim.instances.get(known.id)?.state, "running");
    assert.equal(sim.instances.get(booting.id)?.state, "running");
    assert.deepEqual(events, ["instance-collected"]);
    assert.deepEqual(await gc.pass(), []);
  } finally {
    kv.close();
  }
});
