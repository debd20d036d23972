import assert from "node:assert/strict";
import data from "./catalog/aws_us_east_1.json" with { type: "json" };
import { buildCatalog, formatCatalog } from "./catalog/build_catalog.ts";
import { catalogInfo, familyOf, findInstanceType, loadCatalog } from "./catalog.ts";

Deno.test("loadCatalog() returns the 129 types with every field", () => {
  const types = loadCatalog();
  assert.equal(types.length, 129);
  assert.equal(new Set(types.map((t) => t.name)).size, 129);
  for (const t of types) {
    assert.equal(t.family, familyOf(t.name), t.name);
    for (const f of ["vcpu", "memoryGiB", "gpu", "baselineVcpu", "pricePerHour"] as const) {
      assert.equal(typeof t[f], "number", `${t.name}.${f}`);
    }
    assert.equal(typeof t.burstable, "boolean", t.name);
    assert.ok(t.pricePerHour > 0, t.name);
    assert.ok(t.baselineVcpu <= t.vcpu, t.name);
    assert.equal(t.gpuType === null, t.gpu === 0, t.name);
    assert.equal(t.arch, "x86_64");
    assert.equal(t.generation, "current");
  }
});

Deno.test("loadCatalog() lists the 15 families of the reference file", () => {
  const counts: Record<string, number> = {};
  for (const t of loadCatalog()) counts[t.family] = (counts[t.family] ?? 0) + 1;
  assert.deepEqual(counts, {
    t2: 7,
    t3: 7,
    t3a: 7,
    m5: 9,
    m6i: 10,
    m7i: 11,
    c5: 9,
    c6i: 10,
    c7i: 11,
    r5: 9,
    r6i: 10,
    r7i: 11,
    g4dn: 7,
    g5: 8,
    p3: 3,
  });
});

Deno.test("loadCatalog() returns a copy callers may change", () => {
  loadCatalog()[0].pricePerHour = 99;
  assert.notEqual(loadCatalog()[0].pricePerHour, 99);
});

Deno.test("catalogInfo() keeps the source, price date and region", () => {
  const info = catalogInfo();
  assert.equal(info.asOf, "2026-07-20");
  assert.equal(info.region, "us-east-1");
  assert.match(info.source, /zz_generated\.pricing_aws\.go/);
  assert.match(info.source, /burstable-credits-baseline-concepts\.md/);
});

Deno.test("findInstanceType() finds by exact name", () => {
  const catalog = loadCatalog();
  assert.deepEqual(findInstanceType(catalog, "t3.nano"), {
    name: "t3.nano",
    family: "t3",
    vcpu: 2,
    memoryGiB: 0.5,
    gpu: 0,
    gpuType: null,
    burstable: true,
    baselineVcpu: 0.1,
    pricePerHour: 0.0052,
    arch: "x86_64",
    generation: "current",
  });
  assert.equal(findInstanceType(catalog, "g4dn.xlarge")?.gpuType, "NVIDIA T4");
  assert.equal(findInstanceType(catalog, "T3.NANO"), undefined);
  assert.equal(findInstanceType(catalog, "m5d.large"), undefined);
});

Deno.test("familyOf() takes the part before the dot", () => {
  assert.equal(familyOf("t3.nano"), "t3");
  assert.equal(familyOf("c7i.metal-24xl"), "c7i");
  assert.equal(familyOf("g4dn.12xlarge"), "g4dn");
  assert.equal(familyOf("custom"), "custom");
});

Deno.test("buildCatalog() reproduces the bundled file byte for byte", async () => {
  const stripped = {
    ...data,
    instanceTypes: data.instanceTypes.map(({ family: _, ...rest }) => rest),
  };
  const text = await Deno.readTextFile(new URL("./catalog/aws_us_east_1.json", import.meta.url));
  assert.equal(formatCatalog(buildCatalog(stripped)), text);
});

Deno.test("buildCatalog() rejects missing fields and duplicate names", () => {
  const t = { ...data.instanceTypes[0] };
  const file = (types: unknown[]) => ({
    source: "s",
    asOf: "2026-07-20",
    region: "r",
    instanceTypes: types,
  });
  assert.throws(() => buildCatalog(file([{ ...t, pricePerHour: undefined }])), /pricePerHour/);
  assert.throws(() => buildCatalog(file([{ ...t, burstable: "yes" }])), /burstable/);
  assert.throws(() => buildCatalog(file([t, t])), /duplicate name "t2.nano"/);
  assert.throws(() => buildCatalog({ ...file([t]), asOf: undefined }), /asOf/);
  assert.equal(buildCatalog(file([t])).instanceTypes[0].family, "t2");
});
