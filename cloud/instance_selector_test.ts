import assert from "node:assert/strict";
import { ValidationError } from "../model/errors.ts";
import type { PodSpec, ResourceSpec } from "../model/pod.ts";
import { loadCatalog } from "./catalog.ts";
import {
  DEFAULT_INSTANCE_FAMILIES,
  describeRequest,
  selectInstanceType,
  type Selection,
} from "./instance_selector.ts";

const catalog = loadCatalog();
const WITH_T3A = [...DEFAULT_INSTANCE_FAMILIES, "t3a"];

function select(
  resources: ResourceSpec | undefined,
  extra: Partial<PodSpec> = {},
  instanceFamilies: readonly string[] = DEFAULT_INSTANCE_FAMILIES,
): Selection {
  const spec: PodSpec = { units: [{ name: "u", image: "nginx" }], resources, ...extra };
  return selectInstanceType(spec, { catalog, defaultInstanceType: "t3.small", instanceFamilies });
}

function assertInvalid(fn: () => unknown, field: string, message: RegExp | string) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof ValidationError);
    assert.equal(e.fields[0]?.field, field);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

Deno.test("selectInstanceType() picks t3.nano for 0.4Gi (the tutorial example)", () => {
  assert.deepEqual(select({ memory: "0.4Gi" }), { instanceType: "t3.nano", sustainedCPU: false });
});

Deno.test("selectInstanceType() picks t3a.nano for 0.4Gi once t3a is allowed", () => {
  assert.deepEqual(select({ memory: "0.4Gi" }, {}, WITH_T3A), {
    instanceType: "t3a.nano",
    sustainedCPU: false,
  });
});

Deno.test("selectInstanceType() prefers a surcharged t3.medium for 3Gi and 1 cpu", () => {
  assert.deepEqual(select({ memory: "3Gi", cpu: "1" }), {
    instanceType: "t3.medium",
    sustainedCPU: true,
  });
  assert.deepEqual(select({ memory: "3Gi", cpu: "1" }, {}, WITH_T3A), {
    instanceType: "t3a.medium",
    sustainedCPU: true,
  });
});

Deno.test("selectInstanceType() drops burstable types for dedicatedCPU; c5 wins the tie", () => {
  assert.deepEqual(select({ memory: "3Gi", cpu: "1", dedicatedCPU: true }, {}, WITH_T3A), {
    instanceType: "c5.large",
    sustainedCPU: false,
  });
  // Even when a burstable type's baseline would cover the cpu.
  assert.equal(select({ memory: "0.4Gi", dedicatedCPU: true }).instanceType, "c5.large");
});

Deno.test("selectInstanceType() with sustainedCPU false needs a baseline that covers the cpu", () => {
  assert.deepEqual(select({ memory: "3Gi", cpu: "1", sustainedCPU: false }), {
    instanceType: "c5.large",
    sustainedCPU: false,
  });
  // t3.xlarge's 1.6 vCPU baseline covers 1.5 vCPU and beats m5.xlarge.
  assert.deepEqual(select({ memory: "10Gi", cpu: "1.5", sustainedCPU: false }, {}, ["t3", "m5"]), {
    instanceType: "t3.xlarge",
    sustainedCPU: false,
  });
});

Deno.test("selectInstanceType() keeps sustainedCPU true when the user set it", () => {
  assert.deepEqual(select({ memory: "0.4Gi", sustainedCPU: true }), {
    instanceType: "t3.nano",
    sustainedCPU: true,
  });
});

Deno.test("selectInstanceType() returns an explicit instance type as is", () => {
  assert.deepEqual(select({ memory: "64Gi", cpu: "16" }, { instanceType: "t3a.nano" }), {
    instanceType: "t3a.nano",
  });
  assert.deepEqual(select({ sustainedCPU: false }, { instanceType: "m5.large" }), {
    instanceType: "m5.large",
    sustainedCPU: false,
  });
});

Deno.test("selectInstanceType() rejects an explicit type missing from the catalog", () => {
  assertInvalid(
    () => select(undefined, { instanceType: "m5d.large" }),
    "spec.instanceType",
    'instance type "m5d.large" is not in the catalog',
  );
});

Deno.test("selectInstanceType() picks the cheapest fitting match of a glob", () => {
  assert.equal(select(undefined, { instanceType: "c5*" }).instanceType, "c5.large");
  assert.equal(select({ memory: "10Gi" }, { instanceType: "c5*" }).instanceType, "c5.2xlarge");
  assert.equal(select({ cpu: "40" }, { instanceType: "c?i.*" }).instanceType, "c6i.12xlarge");
  // A glob may name families outside instanceFamilies.
  assert.equal(select({ memory: "1Gi" }, { instanceType: "t3a.*" }).instanceType, "t3a.micro");
  assertInvalid(
    () => select(undefined, { instanceType: "x9*" }),
    "spec.instanceType",
    'instance type "x9*" matches no instance type',
  );
  assertInvalid(
    () => select({ gpu: "1" }, { instanceType: "c5*" }),
    "spec.resources",
    'gpu "1" fits no instance type',
  );
});

Deno.test("selectInstanceType() returns the default type when nothing is requested", () => {
  assert.deepEqual(select(undefined), { instanceType: "t3.small" });
  assert.deepEqual(select({ dedicatedCPU: true, volumeSize: "20Gi" }), {
    instanceType: "t3.small",
  });
  assert.deepEqual(select({ sustainedCPU: true }), {
    instanceType: "t3.small",
    sustainedCPU: true,
  });
});

Deno.test("selectInstanceType() picks the cheapest g4dn for one GPU", () => {
  assert.equal(select({ gpu: "1" }).instanceType, "g4dn.xlarge");
  assert.equal(select({ gpu: "2" }).instanceType, "g4dn.12xlarge");
});

Deno.test("selectInstanceType() honours a GPU type in either naming", () => {
  assert.equal(select({ gpu: "1 nvidia-tesla-t4" }).instanceType, "g4dn.xlarge");
  assert.equal(select({ gpu: "1 nvidia-a10g" }).instanceType, "g5.xlarge");
  assert.equal(select({ gpu: "1 NVIDIA-Tesla-V100" }).instanceType, "p3.2xlarge");
  assert.equal(select({ gpu: "4 NVIDIA A10G" }).instanceType, "g5.12xlarge");
  assertInvalid(() => select({ gpu: "1 nvidia-h100" }), "spec.resources", /fits no instance type/);
});

Deno.test("selectInstanceType() parses memory and cpu quantities", () => {
  const pick = (r: ResourceSpec) => select(r).instanceType;
  assert.equal(pick({ memory: "512Mi" }), "t3.nano");
  assert.equal(pick({ memory: "536870913" }), "t3.micro"); // one byte over 0.5 GiB
  assert.equal(pick({ memory: "2Gi" }), "t3.small");
  assert.equal(pick({ memory: "2G" }), "t3.small"); // 1.86 GiB
  assert.equal(pick({ memory: "3G" }), "t3.medium"); // 2.79 GiB
  assert.equal(pick({ memory: "2097152Ki" }), "t3.small");
  assert.equal(pick({ memory: "1Ti" }), "r6i.32xlarge");
  // 0.5 vCPU: t3.nano costs 0.0052 + 0.4 × 0.05 = 0.0252, below t3.micro's 0.0254.
  assert.deepEqual(select({ cpu: "500m" }), select({ cpu: "0.5" }));
  assert.deepEqual(select({ cpu: "500m" }), { instanceType: "t3.nano", sustainedCPU: true });
  assert.equal(pick({ cpu: "100m" }), "t3.nano");
  assert.equal(select({ cpu: "100m" }).sustainedCPU, false);
  assert.equal(pick({ cpu: "3", sustainedCPU: false }), "c5.xlarge");
  assert.equal(pick({ cpu: "64", dedicatedCPU: true }), "c6i.16xlarge");
});

Deno.test("selectInstanceType() rejects malformed quantities with their field", () => {
  assertInvalid(() => select({ memory: "lots" }), "spec.resources.memory", 'invalid memory "lots"');
  assertInvalid(() => select({ memory: "1gi" }), "spec.resources.memory", /invalid memory/);
  assertInvalid(() => select({ cpu: "-1" }), "spec.resources.cpu", 'invalid cpu "-1"');
  assertInvalid(() => select({ gpu: "one" }), "spec.resources.gpu", 'invalid gpu "one"');
});

Deno.test("selectInstanceType() names the request when nothing fits", () => {
  assertInvalid(
    () => select({ memory: "64Ti" }),
    "spec.resources",
    'memory "64Ti" fits no instance type',
  );
  assertInvalid(
    () => select({ cpu: "200", memory: "1Gi", dedicatedCPU: true }),
    "spec.resources",
    'cpu "200", memory "1Gi", dedicated CPU fits no instance type',
  );
  // 1.5 TiB exists only in r7i, which the families leave out here.
  assertInvalid(() => select({ memory: "1.5Ti" }, {}, ["t3", "m5"]), "spec.resources", /fits no/);
  assert.equal(select({ memory: "1.5Ti" }).instanceType, "r7i.48xlarge");
});

Deno.test("describeRequest() lists the requested resources", () => {
  assert.equal(describeRequest({ cpu: "1", memory: "3Gi" }), 'cpu "1", memory "3Gi"');
  assert.equal(
    describeRequest({ gpu: "1 nvidia-tesla-t4", sustainedCPU: false }),
    'gpu "1 nvidia-tesla-t4", no sustained CPU',
  );
  assert.equal(describeRequest(undefined), "no resources");
});
