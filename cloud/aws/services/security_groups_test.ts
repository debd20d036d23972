import assert from "node:assert/strict";
import { CapacityError, ConflictError } from "../../../model/errors.ts";
import type { IngressRule } from "../../provider.ts";
import { fakeCloud } from "./fake_cloud.ts";
import { awsError } from "./fake_recorder.ts";
import { permissionKey, permissionsHeld } from "./rules.ts";

const tcp = (port: number, source = "VPC"): IngressRule => ({
  protocol: "TCP",
  port,
  portRangeSize: 1,
  source,
});

function held(c: ReturnType<typeof fakeCloud>, name: string) {
  const g = [...c.ec2.groups.values()].find((g) => g.GroupName === name)!;
  return { id: g.GroupId!, keys: permissionsHeld(g.IpPermissions).map(permissionKey).sort(), g };
}

Deno.test("syncFirewall() makes a tagged group with the rules on exactly the instances", async () => {
  const c = fakeCloud();
  const foreign = c.ec2.addGroup("someone-elses");
  c.ec2.addInstance("i-3", [c.clusterGroupId, foreign]);
  const rules = [tcp(80), tcp(30080, "sg-0abc"), {
    ...tcp(8, "10.0.0.0/8"),
    protocol: "ICMP" as const,
  }];
  await c.services().syncFirewall("default/web", rules, ["i-1", "i-3"]);
  const { id, keys, g } = held(c, "milpa-ctl-default-web");
  assert.deepStrictEqual(keys, [
    "icmp|8|-1|10.0.0.0/8",
    "tcp|30080|30080|sg-0abc",
    "tcp|80|80|172.31.0.0/16",
  ]);
  assert.equal(g.VpcId, "vpc-1");
  assert.deepStrictEqual(g.Tags, [
    { Key: "Name", Value: "milpa-ctl-default-web" },
    { Key: "MilpaControllerID", Value: "ctl" },
    { Key: "MilpaServiceName", Value: "default/web" },
    { Key: "MilpaRole", Value: "service" },
  ]);
  assert.deepStrictEqual(c.ec2.groupsOf("i-1"), [id, c.clusterGroupId]);
  assert.deepStrictEqual(c.ec2.groupsOf("i-2"), [c.clusterGroupId]);
  assert.deepStrictEqual(c.ec2.groupsOf("i-3"), [id, c.clusterGroupId, foreign]);
});

Deno.test("syncFirewall() changes single rules, and a repeat changes nothing", async () => {
  const c = fakeCloud();
  const services = c.services();
  await services.syncFirewall("default/web", [tcp(80), tcp(81), tcp(82)], ["i-1"]);
  c.ec2.reset();
  await services.syncFirewall("default/web", [tcp(80), tcp(82), tcp(83)], ["i-1"]);
  assert.deepStrictEqual(c.ec2.writes(), ["revokeIngress", "authorizeIngress"]);
  const [revoke, authorize] = c.ec2.calls.filter((x) => x.name.endsWith("Ingress"));
  assert.deepStrictEqual(
    [revoke.args[1], authorize.args[1]],
    [81, 83].map((p) => [{
      IpProtocol: "tcp",
      FromPort: p,
      ToPort: p,
      IpRanges: [{ CidrIp: "172.31.0.0/16" }],
    }]),
  );
  c.ec2.reset();
  await c.services().syncFirewall("default/web", [tcp(80), tcp(82), tcp(83)], ["i-1"]);
  assert.deepStrictEqual(c.ec2.writes(), []);
});

Deno.test("syncFirewall() after a restart detaches the group from instances no longer listed", async () => {
  const c = fakeCloud();
  const foreign = c.ec2.addGroup("foreign");
  c.ec2.addInstance("i-3", [c.clusterGroupId, foreign]);
  await c.services().syncFirewall("default/web", [tcp(80)], ["i-1", "i-2", "i-3"]);
  const { id } = held(c, "milpa-ctl-default-web");
  await c.services().syncFirewall("default/web", [tcp(80)], ["i-2"]);
  assert.deepStrictEqual(c.ec2.groupsOf("i-1"), [c.clusterGroupId]);
  assert.deepStrictEqual(c.ec2.groupsOf("i-2"), [id, c.clusterGroupId]);
  assert.deepStrictEqual(c.ec2.groupsOf("i-3"), [c.clusterGroupId, foreign]);
});

Deno.test("syncFirewall() never leaves an instance without a group", async () => {
  const c = fakeCloud();
  await c.services().syncFirewall("default/web", [tcp(80)], ["i-1"]);
  const { id } = held(c, "milpa-ctl-default-web");
  c.ec2.addInstance("i-9", [id]);
  await c.services().syncFirewall("default/web", [tcp(80)], []);
  assert.deepStrictEqual(c.ec2.groupsOf("i-9"), [c.clusterGroupId]);
});

Deno.test("syncFirewall() reports instances over the group limit and attaches the others", async () => {
  const c = fakeCloud();
  const services = c.services();
  for (const s of ["a", "b", "c", "d"]) await services.syncFirewall(`ns/${s}`, [tcp(80)], ["i-1"]);
  c.ec2.reset();
  const err = await services.syncFirewall("ns/e", [tcp(80)], ["i-1", "i-2"]).then(
    () => assert.fail("no error"),
    (e) => e,
  );
  assert.ok(err instanceof CapacityError);
  assert.equal(
    err.message,
    `Cannot attach the security group of service "ns/e": instance i-1 would have 6 security ` +
      `groups (AWS allows 5): services ns/a, ns/b, ns/c, ns/d, ns/e select its pod, besides ` +
      `groups ${c.clusterGroupId} (cluster)`,
  );
  const e = held(c, "milpa-ctl-ns-e").id;
  assert.deepStrictEqual(c.ec2.groupsOf("i-2"), [e, c.clusterGroupId]);
  assert.equal(c.ec2.groupsOf("i-1").length, 5);
  assert.deepStrictEqual(
    c.ec2.calls.filter((x) => x.name === "setInstanceGroups").map((x) => x.args[0]),
    ["i-2"],
  );
});

Deno.test("syncFirewall() makes no group for no instances and skips unknown instances", async () => {
  const c = fakeCloud();
  await c.services().syncFirewall("default/idle", [tcp(80)], []);
  assert.deepStrictEqual(c.ec2.writes(), []);
  await c.services().syncFirewall("default/web", [tcp(80)], ["i-404"]);
  assert.ok(held(c, "milpa-ctl-default-web"));
  assert.ok(c.logs.some((l) => l.includes("instance i-404 not found")));
});

Deno.test("syncFirewall() survives a rule added meanwhile and throttling", async () => {
  const c = fakeCloud();
  c.ec2.failNext("describeSecurityGroups", awsError("RequestLimitExceeded"), 2);
  c.ec2.failNext("authorizeIngress", awsError("InvalidPermission.Duplicate"));
  await c.services().syncFirewall("default/web", [tcp(80), tcp(81)], ["i-1"]);
  assert.deepStrictEqual(held(c, "milpa-ctl-default-web").keys, [
    "tcp|80|80|172.31.0.0/16",
    "tcp|81|81|172.31.0.0/16",
  ]);
  assert.equal(c.sleeps.length, 2);
  assert.equal(c.ec2.calls.filter((x) => x.name === "authorizeIngress").length, 3);
});

Deno.test("syncFirewall() takes a hashed name when another resource holds the name", async () => {
  const c = fakeCloud();
  c.ec2.addGroup("milpa-ctl-default-web");
  await c.services().syncFirewall("default/web", [tcp(80)], ["i-1"]);
  const ours = [...c.ec2.groups.values()].filter((g) =>
    g.Tags?.some((t) => t.Key === "MilpaServiceName")
  );
  assert.equal(ours.length, 1);
  assert.match(ours[0].GroupName!, /^milpa-ctl-default-web-[a-z2-7]{8}$/);
  c.ec2.reset();
  await c.services().syncFirewall("default/web", [tcp(80)], ["i-1"]);
  assert.deepStrictEqual(c.ec2.writes(), [], "found by its tags");
});

Deno.test("deleteService() detaches and deletes the group, retrying a dependency", async () => {
  const c = fakeCloud();
  await c.services().syncFirewall("default/web", [tcp(80)], ["i-1", "i-2"]);
  c.ec2.failNext("deleteSecurityGroup", awsError("DependencyViolation"), 2);
  await c.services().deleteService("default/web");
  assert.equal(
    [...c.ec2.groups.values()].some((g) => g.GroupName === "milpa-ctl-default-web"),
    false,
  );
  assert.deepStrictEqual(c.ec2.groupsOf("i-1"), [c.clusterGroupId]);
  assert.deepStrictEqual(c.sleeps, [1000, 2000]);
  await c.services().deleteService("default/web");

  await c.services().syncFirewall("default/api", [tcp(80)], ["i-1"]);
  c.ec2.failNext("deleteSecurityGroup", awsError("DependencyViolation"), 5);
  await assert.rejects(() => c.services().deleteService("default/api"), ConflictError);
  assert.deepStrictEqual(await c.services().listServices(), ["default/api"], "still listed");
});
