import assert from "node:assert/strict";
import { ValidationError } from "../../../model/errors.ts";
import { LB_ANNOTATIONS } from "../../lb_annotations.ts";
import type { LoadBalancerSpec } from "../../provider.ts";
import { attributesOf, healthCheckOf, isInternal } from "./elb_config.ts";
import { fakeCloud } from "./fake_cloud.ts";
import { awsError } from "./fake_recorder.ts";
import { loadBalancerName } from "./names.ts";

const VPC = ["172.31.0.0/16", "10.8.0.0/16"];
const spec = (over: Partial<LoadBalancerSpec> = {}): LoadBalancerSpec => ({
  listeners: [{ port: 80, nodePort: 30080 }, { port: 443, nodePort: 30443 }],
  sourceRanges: ["0.0.0.0/0"],
  annotations: {},
  ...over,
});
const i1 = { id: "i-1", address: "172.31.0.10" };
const i2 = { id: "i-2", address: "172.31.0.11" };

Deno.test("isInternal() holds when every range is VPC or inside a VPC CIDR", () => {
  assert.equal(isInternal(["VPC"], VPC), true);
  assert.equal(isInternal(["172.31.4.0/24", "10.8.0.0/16", "10.8.1.1"], VPC), true);
  assert.equal(isInternal(["VPC", "0.0.0.0/0"], VPC), false);
  assert.equal(isInternal(["172.30.0.0/15"], VPC), false);
  assert.equal(isInternal(["172.32.0.0/24"], VPC), false);
  assert.equal(isInternal(["2001:db8::/32"], VPC), false);
  assert.equal(isInternal([], VPC), false);
});

Deno.test("healthCheckOf() is TCP on the first node port, in seconds", () => {
  assert.deepStrictEqual(healthCheckOf(spec()), {
    Target: "TCP:30080",
    Interval: 10,
    Timeout: 5,
    HealthyThreshold: 2,
    UnhealthyThreshold: 2,
  });
  const annotated = healthCheckOf(spec({
    annotations: {
      [LB_ANNOTATIONS.healthcheckInterval]: "30",
      [LB_ANNOTATIONS.healthcheckUnhealthyThreshold]: "6",
    },
  }));
  assert.deepStrictEqual([annotated.Interval, annotated.Timeout, annotated.UnhealthyThreshold], [
    30,
    5,
    6,
  ]);
  assert.throws(
    () => healthCheckOf(spec({ annotations: { [LB_ANNOTATIONS.healthcheckTimeout]: "1" } })),
    ValidationError,
  );
});

Deno.test("attributesOf() reads the annotations over ELB's defaults", () => {
  assert.deepStrictEqual(attributesOf({}), {
    CrossZoneLoadBalancing: { Enabled: false },
    ConnectionDraining: { Enabled: false },
    ConnectionSettings: { IdleTimeout: 60 },
  });
  assert.deepStrictEqual(
    attributesOf({
      [LB_ANNOTATIONS.crossZoneLoadBalancingEnabled]: "true",
      [LB_ANNOTATIONS.connectionDrainingEnabled]: "true",
      [LB_ANNOTATIONS.connectionIdleTimeout]: "120",
    }),
    {
      CrossZoneLoadBalancing: { Enabled: true },
      ConnectionDraining: { Enabled: true, Timeout: 300 },
      ConnectionSettings: { IdleTimeout: 120 },
    },
  );
});

Deno.test("syncLoadBalancer() creates the ELB, then changes only what differs", async () => {
  const c = fakeCloud();
  const services = c.services();
  const state = await services.syncLoadBalancer("default/web", spec(), [i1, i2]);
  const name = await loadBalancerName("ctl", "default/web");
  const lb = c.elb.lbs.get(name)!;
  const group = [...c.ec2.groups.values()].find((g) => g.GroupName === "milpa-ctl-default-web-lb")!;
  assert.deepStrictEqual(state, {
    ingress: [{ hostname: `${name}.elb.example` }],
    backendSource: group.GroupId,
    inService: ["i-1", "i-2"],
  });
  assert.equal(lb.d.Scheme, "internet-facing");
  assert.deepStrictEqual(lb.d.Subnets, ["subnet-1", "subnet-2"]);
  assert.deepStrictEqual(lb.d.Instances, [{ InstanceId: "i-1" }, { InstanceId: "i-2" }]);
  assert.equal(lb.d.HealthCheck!.Target, "TCP:30080");
  assert.deepStrictEqual(lb.tags, [
    { Key: "MilpaControllerID", Value: "ctl" },
    { Key: "MilpaServiceName", Value: "default/web" },
  ]);
  c.elb.outOfService.add("i-2");
  const held = await c.services().syncLoadBalancer("default/web", spec(), [i2, i1]);
  assert.deepStrictEqual(held.inService, ["i-1"], "only instances the ELB's checks pass");
  c.elb.outOfService.clear();
  c.elb.reset();
  c.ec2.reset();
  await c.services().syncLoadBalancer("default/web", spec(), [i2, i1]);
  assert.deepStrictEqual([...c.elb.writes(), ...c.ec2.writes()], [], "a repeat changes nothing");

  const changed = spec({
    listeners: [{ port: 80, nodePort: 30081 }, { port: 443, nodePort: 30443 }],
    annotations: { [LB_ANNOTATIONS.connectionIdleTimeout]: "90" },
  });
  await services.syncLoadBalancer("default/web", changed, [i2]);
  assert.deepStrictEqual(c.elb.writes(), [
    "deleteListeners",
    "createListeners",
    "configureHealthCheck",
    "modifyAttributes",
    "deregisterInstances",
  ]);
  assert.deepStrictEqual(c.elb.calls.find((x) => x.name === "deleteListeners")!.args[1], [80]);
  assert.equal(lb.d.HealthCheck!.Target, "TCP:30081");
  assert.deepStrictEqual(lb.attributes.ConnectionSettings, { IdleTimeout: 90 });
  assert.deepStrictEqual(lb.d.Instances, [{ InstanceId: "i-2" }]);
});

Deno.test("syncLoadBalancer() registers the instances that exist when one does not", async () => {
  const c = fakeCloud();
  await c.services().syncLoadBalancer("default/web", spec(), [i1, { id: "i-gone", address: "" }]);
  const lb = c.elb.lbs.get(await loadBalancerName("ctl", "default/web"))!;
  assert.deepStrictEqual(lb.d.Instances, [{ InstanceId: "i-1" }]);
  assert.ok(c.logs.some((l) => l.includes("i-gone")));
});

Deno.test("syncLoadBalancer() recreates the ELB when it must change scheme", async () => {
  const c = fakeCloud();
  const services = c.services();
  await services.syncLoadBalancer("default/web", spec(), [i1]);
  const state = await services.syncLoadBalancer("default/web", spec({ sourceRanges: ["VPC"] }), [
    i1,
  ]);
  const lb = c.elb.lbs.get(await loadBalancerName("ctl", "default/web"))!;
  assert.equal(lb.d.Scheme, "internal");
  assert.equal(state.ingress[0].hostname, lb.d.DNSName);
  assert.deepStrictEqual(lb.d.Instances, [{ InstanceId: "i-1" }]);
  assert.equal(c.elb.calls.filter((x) => x.name === "deleteLoadBalancer").length, 1);
});

Deno.test("syncLoadBalancer() rejects bad annotations before making anything", async () => {
  const c = fakeCloud();
  const bad = spec({ annotations: { [LB_ANNOTATIONS.healthcheckInterval]: "1" } });
  await assert.rejects(
    () => c.services().syncLoadBalancer("default/web", bad, [i1]),
    ValidationError,
  );
  assert.deepStrictEqual([...c.elb.writes(), ...c.ec2.writes()], []);
});

Deno.test("syncLoadBalancer() adopts an ELB that a lost call created", async () => {
  const c = fakeCloud();
  await c.services().syncLoadBalancer("default/web", spec(), []);
  c.elb.failNext("describeLoadBalancers", awsError("AccessPointNotFound"));
  const state = await c.services().syncLoadBalancer("default/web", spec(), [i1]);
  assert.match(state.ingress[0].hostname!, /^milpa-/);
  assert.equal(c.elb.lbs.size, 1);
  assert.deepStrictEqual([...c.elb.lbs.values()][0].d.Instances, [{ InstanceId: "i-1" }]);
});

Deno.test("deleteService() deletes the ELB and both groups; listServices() forgets it", async () => {
  const c = fakeCloud();
  const services = c.services();
  const state = await services.syncLoadBalancer("default/web", spec(), [i1]);
  await services.syncFirewall("default/web", [{
    protocol: "TCP",
    port: 30080,
    portRangeSize: 1,
    source: state.backendSource,
  }], ["i-1"]);
  assert.deepStrictEqual(await services.listServices(), ["default/web"]);
  c.ec2.failNext("deleteSecurityGroup", awsError("DependencyViolation"));
  await services.deleteService("default/web");
  assert.equal(c.elb.lbs.size, 0);
  assert.deepStrictEqual([...c.ec2.groups.values()].map((g) => g.GroupName), [
    "milpa-ctl-default-nodesecuritygroup",
  ]);
  assert.deepStrictEqual(await services.listServices(), []);
});

Deno.test("removeLoadBalancer() deletes the ELB and its group, keeps the service's own group", async () => {
  const c = fakeCloud();
  const services = c.services();
  await services.syncLoadBalancer("default/web", spec(), [i1]);
  await services.syncFirewall("default/web", [{
    protocol: "TCP",
    port: 30080,
    portRangeSize: 1,
    source: "0.0.0.0/0",
  }], ["i-1"]);
  const names = () => [...c.ec2.groups.values()].map((g) => g.GroupName).sort();
  assert.equal(names().length, 3, names().join(", "));
  await services.removeLoadBalancer("default/web");
  await services.removeLoadBalancer("default/web");
  assert.equal(c.elb.lbs.size, 0);
  assert.deepStrictEqual(names(), [
    "milpa-ctl-default-nodesecuritygroup",
    "milpa-ctl-default-web",
  ]);
  assert.deepStrictEqual(await services.listServices(), ["default/web"]);
});

Deno.test("listServices() survives an ELB deleted between its listing and its tags", async () => {
  const c = fakeCloud();
  const services = c.services();
  await services.syncLoadBalancer("default/web", spec(), [i1]);
  await services.syncLoadBalancer("default/api", spec(), [i1]);
  const gone = await loadBalancerName("ctl", "default/api");
  assert.ok(c.elb.lbs.has(gone));
  const list = c.elb.describeLoadBalancers.bind(c.elb);
  c.elb.describeLoadBalancers = async (names?: string[]) => {
    const all = await list(names);
    c.elb.lbs.delete(gone); // another pass deleted it meanwhile
    return all;
  };
  // No NotFoundError; api is still listed through its ELB security group, which GC removes.
  assert.deepStrictEqual(await services.listServices(), ["default/api", "default/web"]);
  assert.ok(
    c.elb.calls.some((call) =>
      call.name === "describeTags" && (call.args[0] as string[]).length === 1
    ),
  );
});
