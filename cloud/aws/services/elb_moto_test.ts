import assert from "node:assert/strict";
import { StopInstancesCommand } from "@aws-sdk/client-ec2";
import {
  DescribeLoadBalancerAttributesCommand,
  DescribeLoadBalancersCommand,
  DescribeTagsCommand,
} from "@aws-sdk/client-elastic-load-balancing";
import { LB_ANNOTATIONS } from "../../lb_annotations.ts";
import { assertRejects, groupNamed, rule, spied, withMoto } from "./moto_harness.ts";
import { loadBalancerName } from "./names.ts";
import { permissionKey, permissionsHeld } from "./rules.ts";

withMoto("AwsServices.syncLoadBalancer() keeps a classic ELB over instances", async (m) => {
  const [i1, i2] = m.instances;
  const { apis, calls } = spied(m);
  const services = m.services(apis);
  const spec = {
    listeners: [{ port: 80, nodePort: 30080 }, { port: 443, nodePort: 30443 }],
    sourceRanges: ["0.0.0.0/0"],
    annotations: {
      [LB_ANNOTATIONS.healthcheckInterval]: "7",
      [LB_ANNOTATIONS.healthcheckTimeout]: "3",
      [LB_ANNOTATIONS.healthcheckHealthyThreshold]: "4",
      [LB_ANNOTATIONS.healthcheckUnhealthyThreshold]: "5",
      [LB_ANNOTATIONS.crossZoneLoadBalancingEnabled]: "true",
      [LB_ANNOTATIONS.connectionDrainingEnabled]: "true",
      [LB_ANNOTATIONS.connectionDrainingTimeout]: "77",
      [LB_ANNOTATIONS.connectionIdleTimeout]: "33",
    },
  };
  const backends = [{ id: i1, address: "172.31.0.10" }, { id: i2, address: "172.31.0.11" }];
  const state = await services.syncLoadBalancer("default/web", spec, backends);
  const name = await loadBalancerName("ctl", "default/web");
  assert.match(name, /^milpa-[a-z2-7]{26}$/);
  const describe = async () =>
    (await m.elb.send(new DescribeLoadBalancersCommand({ LoadBalancerNames: [name] })))
      .LoadBalancerDescriptions![0];
  let lb = await describe();
  const lbGroup = (await groupNamed(m, "milpa-ctl-default-web-lb"))!;
  assert.deepStrictEqual(state, {
    ingress: [{ hostname: lb.DNSName }],
    backendSource: lbGroup.GroupId,
    // moto reports every registered instance InService.
    inService: [i1, i2],
  });
  assert.deepStrictEqual(lb.Scheme, "internet-facing");
  assert.deepStrictEqual(lb.Subnets, m.subnetIds);
  assert.deepStrictEqual(lb.SecurityGroups, [lbGroup.GroupId]);
  assert.deepStrictEqual(
    lb.ListenerDescriptions!.map((l) => [l.Listener!.LoadBalancerPort, l.Listener!.InstancePort]),
    [[80, 30080], [443, 30443]],
  );
  assert.deepStrictEqual(lb.HealthCheck, {
    Target: "TCP:30080",
    Interval: 7,
    Timeout: 3,
    HealthyThreshold: 4,
    UnhealthyThreshold: 5,
  });
  assert.deepStrictEqual(lb.Instances!.map((i) => i.InstanceId).sort(), [i1, i2].sort());
  const attrs = (await m.elb.send(
    new DescribeLoadBalancerAttributesCommand({
      LoadBalancerName: name,
    }),
  )).LoadBalancerAttributes!;
  assert.deepStrictEqual(attrs.CrossZoneLoadBalancing, { Enabled: true });
  assert.deepStrictEqual(attrs.ConnectionDraining, { Enabled: true, Timeout: 77 });
  assert.deepStrictEqual(attrs.ConnectionSettings, { IdleTimeout: 33 });
  const tags = (await m.elb.send(new DescribeTagsCommand({ LoadBalancerNames: [name] })))
    .TagDescriptions![0].Tags!;
  assert.deepStrictEqual(Object.fromEntries(tags.map((t) => [t.Key, t.Value])), {
    MilpaControllerID: "ctl",
    MilpaServiceName: "default/web",
  });
  assert.deepStrictEqual(permissionsHeld(lbGroup.IpPermissions).map(permissionKey).sort(), [
    "tcp|443|443|0.0.0.0/0",
    "tcp|80|80|0.0.0.0/0",
  ]);

  // The nodes admit the balancer through its group.
  await services.syncFirewall("default/web", [rule(30080, state.backendSource)], [i1]);
  const sg = (await groupNamed(m, "milpa-ctl-default-web"))!;
  assert.deepStrictEqual(permissionsHeld(sg.IpPermissions).map(permissionKey), [
    `tcp|30080|30080|${lbGroup.GroupId}`,
  ]);

  calls.length = 0;
  await services.syncLoadBalancer("default/web", spec, [backends[0]]);
  assert.deepStrictEqual(
    calls.filter((c) => !c.name.startsWith("describe")).map((c) => [c.name, c.args[1]]),
    [["deregisterInstances", [i2]]],
  );
  lb = await describe();
  assert.deepStrictEqual(lb.Instances!.map((i) => i.InstanceId), [i1]);

  // Inside the VPC only: an internal balancer (a new one: ELB cannot change its scheme).
  const internal = await services.syncLoadBalancer(
    "default/web",
    { ...spec, sourceRanges: ["VPC", "172.31.16.0/20"] },
    [backends[0]],
  );
  lb = await describe();
  assert.deepStrictEqual(lb.Scheme, "internal");
  assert.deepStrictEqual(internal.ingress, [{ hostname: lb.DNSName }]);
  assert.deepStrictEqual(lb.Instances!.map((i) => i.InstanceId), [i1]);
  assert.deepStrictEqual(lb.HealthCheck?.Interval, 7);

  assert.deepStrictEqual(await services.listServices(), ["default/web"]);
  await services.deleteService("default/web");
  await assertRejects(() => describe());
  assert.deepStrictEqual(await groupNamed(m, "milpa-ctl-default-web-lb"), undefined);
  assert.deepStrictEqual(await groupNamed(m, "milpa-ctl-default-web"), undefined);
  assert.deepStrictEqual(await services.listServices(), []);
  await services.deleteService("default/web");
});

withMoto(
  "AwsServices.syncLoadBalancer() lists the backends moto has InService, asking only if there are any",
  async (m) => {
    const [i1, i2] = m.instances;
    const { apis, calls } = spied(m);
    const services = m.services(apis);
    const spec = {
      listeners: [{ port: 80, nodePort: 30080 }],
      sourceRanges: ["VPC"],
      annotations: {},
    };
    const health = () => calls.filter((c) => c.name === "describeInServiceInstances").length;
    const none = await services.syncLoadBalancer("default/web", spec, []);
    assert.deepStrictEqual(none.inService, []);
    assert.equal(health(), 0, "no DescribeInstanceHealth without backends");
    // moto has a registered instance InService while it runs, OutOfService once stopped.
    await m.ec2.send(new StopInstancesCommand({ InstanceIds: [i2] }));
    const backends = [{ id: i1, address: "172.31.0.10" }, { id: i2, address: "172.31.0.11" }];
    const state = await services.syncLoadBalancer("default/web", spec, backends);
    assert.deepStrictEqual(state.inService, [i1]);
    assert.equal(health(), 1);
    await services.deleteService("default/web");
  },
);
