import assert from "node:assert/strict";
import { ValidationError } from "../../model/errors.ts";
import { caller } from "./errors.ts";
import { checkExtraGroups, clusterGroup, findImage } from "./setup.ts";
import { FakeEc2 } from "./services/fake_ec2.ts";
import { awsError } from "./services/fake_recorder.ts";
import { readCloudInitFile } from "./user_data.ts";

const call = caller({ sleep: () => Promise.resolve() });
const vpc = { id: "vpc-1", cidrs: ["172.31.0.0/16"] };

function sources(ec2: FakeEc2, groupId: string): string[] {
  return (ec2.groups.get(groupId)?.IpPermissions ?? []).flatMap((p) =>
    (p.IpRanges ?? []).map((r) => r.CidrIp!)
  ).sort();
}

Deno.test("clusterGroup() opens a new cluster group to the VPC and nodes.extraCIDRs", async () => {
  const ec2 = new FakeEc2();
  const id = await clusterGroup(ec2, call, "ctl", vpc, ["10.50.0.0/16", "172.31.0.0/16"]);
  assert.deepEqual(sources(ec2, id), ["10.50.0.0/16", "172.31.0.0/16"]);
});

Deno.test("clusterGroup() adds the extra CIDRs an existing group lacks, and nothing twice", async () => {
  const ec2 = new FakeEc2();
  const id = await clusterGroup(ec2, call, "ctl", vpc);
  assert.deepEqual(sources(ec2, id), ["172.31.0.0/16"]);
  assert.equal(await clusterGroup(ec2, call, "ctl", vpc, ["10.50.0.0/16"]), id);
  assert.deepEqual(sources(ec2, id), ["10.50.0.0/16", "172.31.0.0/16"]);
  ec2.reset();
  await clusterGroup(ec2, call, "ctl", vpc, ["10.50.0.0/16"]);
  assert.deepEqual(ec2.writes(), [], "a restart with the same config changes nothing");
});

Deno.test("checkExtraGroups() names each nodes.extraSecurityGroups entry not in the VPC", async () => {
  const ec2 = new FakeEc2();
  const mine = ec2.addGroup("extra", "vpc-1");
  const other = ec2.addGroup("elsewhere", "vpc-2");
  await checkExtraGroups(ec2, call, "vpc-1", [mine]);
  await checkExtraGroups(ec2, call, "vpc-1", []);
  await assert.rejects(() => checkExtraGroups(ec2, call, "vpc-1", [mine, other]), (e: Error) => {
    assert.ok(e instanceof ValidationError);
    assert.deepEqual(e.fields.map((f) => [f.field, f.value]), [
      ["nodes.extraSecurityGroups[1]", other],
    ]);
    return true;
  });
  // EC2 refuses a lookup naming an unknown group outright.
  ec2.failNext("describeSecurityGroups", awsError("InvalidGroup.NotFound"));
  await assert.rejects(
    () => checkExtraGroups(ec2, call, "vpc-1", ["sg-0badbad0"]),
    /nodes\.extraSecurityGroups: sg-0badbad0 not found in VPC vpc-1/,
  );
});

Deno.test("findImage() looks images up as owned by cloud.aws.imageOwnerID unless the tags name owners", async () => {
  const ec2 = new FakeEc2();
  const owners = () =>
    ec2.calls.filter((c) => c.name === "describeImages").map((c) =>
      (c.args[0] as { Owners: string[] }).Owners
    );
  await findImage(ec2, call, { bootImageTags: { name: "milpa-*" } });
  await findImage(ec2, call, { bootImageTags: { name: "milpa-*" } }, "689494258501");
  await findImage(ec2, call, { bootImageTags: { name: "milpa-*", owners: ["amazon"] } }, "6894");
  assert.deepEqual(owners(), [["self"], ["689494258501"], ["amazon"]]);
});

Deno.test("readCloudInitFile() takes a #cloud-config mapping and names nodes.cloudInitFile when it cannot", async () => {
  const dir = await Deno.makeTempDir({ prefix: "milpa-cloudinit-" });
  try {
    const good = `${dir}/good.yml`;
    await Deno.writeTextFile(
      good,
      "#cloud-config\npackages: [htop]\nruncmd:\n  - [touch, /tmp/x]\n",
    );
    assert.deepEqual(await readCloudInitFile(good), {
      packages: ["htop"],
      runcmd: [["touch", "/tmp/x"]],
    });
    await Deno.writeTextFile(`${dir}/empty.yml`, "#cloud-config\n");
    assert.deepEqual(await readCloudInitFile(`${dir}/empty.yml`), {});
    const cases: [string, string | undefined, RegExp][] = [
      [`${dir}/missing.yml`, undefined, /cannot be read/],
      [`${dir}/list.yml`, "- a\n- b\n", /is not a #cloud-config mapping/],
      [`${dir}/bad.yml`, "a: [\n", /is not YAML/],
      [`${dir}/runcmd.yml`, "runcmd: echo hi\n", /has a runcmd that is not a list/],
    ];
    for (const [path, text, why] of cases) {
      if (text !== undefined) await Deno.writeTextFile(path, text);
      await assert.rejects(() => readCloudInitFile(path), (e: Error) => {
        assert.ok(e instanceof ValidationError, e.message);
        assert.equal(e.fields[0].field, "nodes.cloudInitFile");
        assert.match(e.message, why);
        return true;
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
