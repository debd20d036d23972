import assert from "node:assert/strict";
import { DescribeSecurityGroupsCommand, ModifyInstanceAttributeCommand } from "@aws-sdk/client-ec2";
import { CapacityError } from "../../../model/errors.ts";
import { assertRejects, groupNamed, groupsOf, rule, spied, withMoto } from "./moto_harness.ts";
import { permissionKey, permissionsHeld } from "./rules.ts";

withMoto("AwsServices.syncFirewall() keeps a service group's rules and instances", async (m) => {
  const [i1, i2] = m.instances;
  const { apis, calls } = spied(m);
  const services = m.services(apis);
  const rules = [
    rule(8080, "VPC"),
    { ...rule(9000, "10.1.0.0/16"), portRangeSize: 2 },
    rule(53, "0.0.0.0/0", "UDP"),
    rule(8, "VPC", "ICMP"),
    rule(7000, m.clusterGroupId),
  ];
  await services.syncFirewall("default/Web", rules, [i1, i2]);
  const sg = (await groupNamed(m, "milpa-ctl-default-web"))!;
  assert.deepStrictEqual(sg.Description, "MilpaSG ctl milpa-ctl-default-web");
  const tags = Object.fromEntries(sg.Tags!.map((t) => [t.Key, t.Value]));
  assert.deepStrictEqual(tags.MilpaControllerID, "ctl");
  assert.deepStrictEqual(tags.MilpaServiceName, "default/Web");
  assert.deepStrictEqual(tags.Name, "milpa-ctl-default-web");
  const held = () =>
    groupNamed(m, "milpa-ctl-default-web").then((g) =>
      permissionsHeld(g!.IpPermissions).map(permissionKey).sort()
    );
  assert.deepStrictEqual(
    await held(),
    [
      "icmp|8|-1|172.31.0.0/16",
      `tcp|7000|7000|${m.clusterGroupId}`,
      "tcp|8080|8080|172.31.0.0/16",
      "tcp|9000|9001|10.1.0.0/16",
      "udp|53|53|0.0.0.0/0",
    ],
  );
  assert.deepStrictEqual(await groupsOf(m, i1), [m.clusterGroupId, sg.GroupId!].sort());
  assert.deepStrictEqual(await groupsOf(m, i2), [m.clusterGroupId, sg.GroupId!].sort());

  calls.length = 0;
  rules[0] = rule(8081, "VPC");
  await services.syncFirewall("default/Web", rules, [i1, i2]);
  const changes = calls.filter((c) => /Ingress|setInstanceGroups|create/.test(c.name));
  assert.deepStrictEqual(changes.map((c) => [c.name, c.args[1]]), [
    ["revokeIngress", [{
      IpProtocol: "tcp",
      FromPort: 8080,
      ToPort: 8080,
      IpRanges: [{ CidrIp: "172.31.0.0/16" }],
    }]],
    ["authorizeIngress", [{
      IpProtocol: "tcp",
      FromPort: 8081,
      ToPort: 8081,
      IpRanges: [{ CidrIp: "172.31.0.0/16" }],
    }]],
  ]);
  assert((await held()).includes("tcp|8081|8081|172.31.0.0/16"));
  assert(!(await held()).includes("tcp|8080|8080|172.31.0.0/16"));

  calls.length = 0;
  await services.syncFirewall("default/Web", rules, [i1, i2]);
  assert.deepStrictEqual(
    calls.filter((c) => !c.name.startsWith("describe")),
    [],
    "a repeat changes nothing",
  );

  // Detaching from i1 keeps its other groups, foreign ones included. (Moto's
  // `instance.group-id` filter matches an instance's first group only, so ours stays first.)
  const foreign = (await m.ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups!
    .find((g) => g.GroupName === "default")!.GroupId!;
  await m.ec2.send(
    new ModifyInstanceAttributeCommand({
      InstanceId: i1,
      Groups: [sg.GroupId!, m.clusterGroupId, foreign],
    }),
  );
  await services.syncFirewall("default/Web", rules, [i2]);
  assert.deepStrictEqual(await groupsOf(m, i1), [m.clusterGroupId, foreign].sort());
  assert.deepStrictEqual(await groupsOf(m, i2), [m.clusterGroupId, sg.GroupId!].sort());

  await services.deleteService("default/Web");
  assert.deepStrictEqual(await groupNamed(m, "milpa-ctl-default-web"), undefined);
  assert.deepStrictEqual(await groupsOf(m, i2), [m.clusterGroupId]);
  await services.deleteService("default/Web"); // safe to repeat

  // i2 has the cluster group; a, b, c, d make 5; e would make 6 on i2 but fits on i1.
  for (const s of ["a", "b", "c", "d"]) await services.syncFirewall(`default/${s}`, rules, [i2]);
  const err = await assertRejects(
    () => services.syncFirewall("default/e", rules, [i1, i2]),
    CapacityError,
  );
  assert.match(
    err.message,
    new RegExp(
      `instance ${i2} would have 6 security groups \\(AWS allows 5\\): services default/a, ` +
        `default/b, default/c, default/d, default/e select its pod, besides groups ` +
        `${m.clusterGroupId} \\(cluster\\)`,
    ),
  );
  const e = (await groupNamed(m, "milpa-ctl-default-e"))!.GroupId!;
  assert.deepStrictEqual(await groupsOf(m, i1), [m.clusterGroupId, e, foreign].sort());
  assert.deepStrictEqual((await groupsOf(m, i2)).length, 5);
  assert.deepStrictEqual(await services.listServices(), [
    "default/a",
    "default/b",
    "default/c",
    "default/d",
    "default/e",
  ]);
});
