import assert from "node:assert/strict";
import { DEFAULT_SIM_CLOUD, defaultConfig, resolveConfig } from "./config.ts";
import { ValidationError } from "./errors.ts";

function invalid(raw: unknown): ValidationError {
  try {
    resolveConfig(raw);
  } catch (e) {
    assert.ok(e instanceof ValidationError, String(e));
    return e;
  }
  throw new Error("resolveConfig() accepted it");
}

Deno.test("resolveConfig({}) is the embedded local cloud with the documented node defaults", () => {
  const c = resolveConfig({});
  assert.deepEqual(c, defaultConfig());
  assert.equal(c.nodes.runtime, "auto");
  assert.deepEqual(c.nodes.insecureRegistries, []);
  assert.equal(c.nodes.defaultInstanceType, "t3.nano");
  assert.deepEqual(c.cloud, { local: {} });
});

Deno.test("resolveConfig() takes nodes.runtime and nodes.insecureRegistries", () => {
  const c = resolveConfig({
    nodes: {
      runtime: "host",
      insecureRegistries: ["registry.lan:5000", "10.0.0.7", "[fd00::1]:5000"],
    },
  });
  assert.equal(c.nodes.runtime, "host");
  assert.deepEqual(c.nodes.insecureRegistries, ["registry.lan:5000", "10.0.0.7", "[fd00::1]:5000"]);
  assert.equal(c.nodes.bootTimeout, 300, "other defaults stay");
});

Deno.test("resolveConfig() names the field and the value of a bad runtime or registry", () => {
  const e = invalid({ nodes: { runtime: "docker", insecureRegistries: ["http://r:5000"] } });
  assert.deepEqual(e.fields.map((f) => [f.field, f.value]), [
    ["nodes.runtime", "docker"],
    ["nodes.insecureRegistries[0]", "http://r:5000"],
  ]);
  assert.match(e.message, /nodes\.runtime: .*"docker"/);
  assert.match(
    e.message,
    /nodes\.insecureRegistries\[0\]: must be host or host:port \(got "http:\/\/r:5000"\)/,
  );
});

Deno.test("resolveConfig() rejects unknown fields and both clouds at once", () => {
  assert.deepEqual(invalid({ nodes: { runtimes: "oci" } }).fields, [
    { field: "nodes.runtimes", message: "unknown field" },
  ]);
  assert.equal(invalid({ cloud: { local: {}, aws: {} } }).fields[0].field, "cloud");
});

Deno.test("resolveConfig() drains for the record TTL unless drainSeconds says otherwise", () => {
  assert.deepEqual(resolveConfig({}).serviceDiscovery, { ttl: 30, drainSeconds: 30 });
  assert.deepEqual(resolveConfig({ serviceDiscovery: { ttl: 5 } }).serviceDiscovery, {
    ttl: 5,
    drainSeconds: 5,
  });
  assert.deepEqual(
    resolveConfig({ serviceDiscovery: { ttl: 5, drainSeconds: 0 } }).serviceDiscovery,
    { ttl: 5, drainSeconds: 0 },
  );
  assert.equal(resolveConfig({}).nodes.maxNodes, 1000);
  assert.equal(resolveConfig({}).nodes.maxLaunchAttempts, 5);
  assert.throws(
    () => resolveConfig({ nodes: { maxNodes: 0 } }),
    (e: Error) => e.message.includes("nodes.maxNodes"),
  );
});

Deno.test("resolveConfig() serves TLS by default and takes tls.enabled and tls.subjectAltNames", () => {
  assert.deepEqual(resolveConfig({}).tls, { enabled: true, subjectAltNames: [] });
  const c = resolveConfig({
    tls: { subjectAltNames: ["milpa.example.com", "*.milpa.example", "10.0.0.5", "fd00::5"] },
  });
  assert.deepEqual(c.tls, {
    enabled: true,
    subjectAltNames: ["milpa.example.com", "*.milpa.example", "10.0.0.5", "fd00::5"],
  });
  assert.equal(resolveConfig({ tls: { enabled: false } }).tls.enabled, false);
});

Deno.test("resolveConfig() names bad tls fields, unknown ones included", () => {
  const e = invalid({ tls: { enabled: "yes", subjectAltNames: ["bad name", "300.1.1.1"], ca: 1 } });
  assert.deepEqual(e.fields.map((f) => f.field).sort(), [
    "tls.ca",
    "tls.enabled",
    "tls.subjectAltNames[0]",
    "tls.subjectAltNames[1]",
  ]);
});

Deno.test("resolveConfig() wants an https nodes.controllerURL unless tls.enabled is false", () => {
  const e = invalid({ nodes: { controllerURL: "http://10.0.0.5:54555" } });
  assert.deepEqual(e.fields.map((f) => f.field), ["nodes.controllerURL"]);
  assert.match(e.message, /https URL while tls\.enabled/);
  const off = resolveConfig({ tls: { enabled: false }, nodes: { controllerURL: "http://x:1" } });
  assert.equal(off.nodes.controllerURL, "http://x:1");
  assert.equal(
    resolveConfig({ nodes: { controllerURL: "https://x:1" } }).nodes.controllerURL,
    "https://x:1",
  );
});

Deno.test("resolveConfig() takes cloud.local.registryProxy.loopbackPorts and refuses a bad port", () => {
  const c = resolveConfig({ cloud: { local: { registryProxy: { loopbackPorts: [5000, 5001] } } } });
  assert.deepEqual(c.cloud.local?.registryProxy, { loopbackPorts: [5000, 5001] });
  assert.deepEqual(
    invalid({ cloud: { local: { registryProxy: { loopbackPorts: [0, 70000] } } } }).fields.map((
      f,
    ) => f.field),
    ["cloud.local.registryProxy.loopbackPorts[0]", "cloud.local.registryProxy.loopbackPorts[1]"],
  );
});

Deno.test("resolveConfig() takes cloud.sim with every knob defaulted, or set", () => {
  for (const sim of [{}, null]) {
    assert.deepEqual(resolveConfig({ cloud: { sim } }).cloud, { sim: DEFAULT_SIM_CLOUD });
  }
  assert.deepEqual(DEFAULT_SIM_CLOUD, {
    bootDelayMs: 200,
    bootJitterMs: 0,
    launchFailureRate: 0,
    launchFailureKind: "error",
    unitStartDelayMs: 0,
  });
  const c = resolveConfig({
    cloud: {
      sim: { bootDelayMs: 50, bootJitterMs: 100, launchFailureRate: 0.25, unitStartDelayMs: 10 },
    },
  });
  assert.deepEqual(c.cloud, {
    sim: {
      bootDelayMs: 50,
      bootJitterMs: 100,
      launchFailureRate: 0.25,
      launchFailureKind: "error",
      unitStartDelayMs: 10,
    },
  });
});

Deno.test("resolveConfig() names unknown and bad cloud.sim fields, and refuses two clouds", () => {
  assert.deepEqual(invalid({ cloud: { sim: { bootDelay: 200 } } }).fields, [
    { field: "cloud.sim.bootDelay", message: "unknown field" },
  ]);
  assert.deepEqual(
    invalid({ cloud: { sim: { launchFailureRate: 1.5, launchFailureKind: "quota" } } }).fields
      .map((f) => f.field),
    ["cloud.sim.launchFailureRate", "cloud.sim.launchFailureKind"],
  );
  assert.equal(
    invalid({ cloud: { sim: { bootDelayMs: -1 } } }).fields[0].field,
    "cloud.sim.bootDelayMs",
  );
  for (const cloud of [{ sim: {}, local: {} }, { sim: {}, aws: {} }, { local: null, aws: {} }]) {
    const e = invalid({ cloud });
    assert.equal(e.fields[0].field, "cloud");
    assert.match(e.message, /exactly one of local, aws and sim/);
  }
});
