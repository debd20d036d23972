import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { DEFAULT_SIM_CLOUD, defaultConfig, ignoredFields, resolveConfig } from "./config.ts";
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

Deno.test("resolveConfig() logs at info by default, takes logLevel and refuses an unknown level", () => {
  assert.equal(resolveConfig({}).logLevel, "info");
  assert.equal(resolveConfig({ logLevel: "debug" }).logLevel, "debug");
  const e = invalid({ logLevel: "verbose" });
  assert.deepEqual(e.fields.map((f) => [f.field, f.value]), [["logLevel", "verbose"]]);
});

/** A server.yml as Milpa's installers left it (/opt/milpa/etc/server.yml after tf-milpa's yq). */
const MILPA_SERVER_YML = `
apiVersion: v1
kind: serverConfig
clusterName: my-cluster
cloud:
  aws:
    region: us-east-1
    accessKeyID: AKIAEXAMPLE
    secretAccessKey: secret
    vpcID: ""
    imageOwnerID: "689494258501"
    ecsClusterName: ""
etcd:
  client:
    endpoints: []
    certFile: ""
    keyFile: ""
    caFile: ""
  internal:
    dataDir: /opt/milpa/data
    configFile: ""
nodes:
  defaultInstanceType: t3.nano
  defaultVolumeSize: 5Gi
  bootImageTags:
    company: elotl
    product: milpa
    version: "449"
    date: ""
    time: ""
  standbyNodes: []
  cloudInitFile: /opt/milpa/etc/cloudinit.yml
  itzo:
    version: v1.0.7
    url: http://itzo-download.s3.amazonaws.com
  extraCIDRs: ["10.50.0.0/16"]
  extraSecurityGroups: ["sg-0123abcd"]
  nametag: prod
license:
  key: some long key
  id: tester_id
  username: tester
  password: tester_password
disableUsageReporter: false
testing:
  controllerID: ""
`;

Deno.test("resolveConfig() takes a Milpa installer's server.yml: AWS fields kept, Milpa-only ones ignored", () => {
  const raw = parseYaml(MILPA_SERVER_YML);
  const c = resolveConfig(raw);
  assert.deepEqual(c.cloud.aws, {
    region: "us-east-1",
    accessKeyID: "AKIAEXAMPLE",
    secretAccessKey: "secret",
    imageOwnerID: "689494258501",
  }, 'empty ("") means not set, as in Milpa');
  assert.equal(c.nodes.nametag, "prod");
  assert.deepEqual(c.nodes.extraCIDRs, ["10.50.0.0/16"]);
  assert.deepEqual(c.nodes.extraSecurityGroups, ["sg-0123abcd"]);
  assert.equal(c.nodes.cloudInitFile, "/opt/milpa/etc/cloudinit.yml");
  assert.equal(c.nodes.bootImageTags, undefined, "elotl's image tags find nothing here");
  assert.equal("itzo" in c.nodes, false);
  assert.deepEqual(ignoredFields(raw, c).map((f) => f.field), [
    "license",
    "etcd",
    "disableUsageReporter",
    "testing",
    "nodes.itzo",
    "nodes.bootImageTags.{company,product,version,date,time}",
    "cloud.aws.ecsClusterName",
  ]);
  for (const f of ignoredFields(raw, c)) assert.ok(f.reason.length > 10, f.field);
});

Deno.test("ignoredFields() names nametag, extraCIDRs, extraSecurityGroups and cloudInitFile off AWS", () => {
  const raw = {
    nodes: {
      nametag: "dev",
      extraCIDRs: ["10.0.0.0/8"],
      extraSecurityGroups: ["sg-1"],
      cloudInitFile: "/x",
    },
  };
  const local = ignoredFields(raw, resolveConfig(raw));
  assert.deepEqual(local.map((f) => f.field), [
    "nodes.nametag",
    "nodes.extraCIDRs",
    "nodes.extraSecurityGroups",
    "nodes.cloudInitFile",
  ]);
  assert.match(local[0].reason, /local nodes have no cloud names or tags; only the aws cloud/);
  const sim = { ...raw, cloud: { sim: {} } };
  assert.match(ignoredFields(sim, resolveConfig(sim))[1].reason, /simulated nodes/);
  assert.deepEqual(ignoredFields({}, resolveConfig({})), []);
  const aws = { ...raw, cloud: { aws: {} } };
  assert.deepEqual(ignoredFields(aws, resolveConfig(aws)), []);
});

Deno.test("resolveConfig() keeps bootImageTags name and owners beside Milpa's keys", () => {
  const c = resolveConfig({ nodes: { bootImageTags: { name: "milpa-*", company: "elotl" } } });
  assert.deepEqual(c.nodes.bootImageTags, { name: "milpa-*" });
});

Deno.test("resolveConfig() still refuses unknown fields, inside Milpa's sections too, and bad Milpa values", () => {
  assert.deepEqual(
    invalid({ licence: {}, license: { serial: "x" }, nodes: { itzo: { branch: "m" } } }).fields
      .map((f) => f.field).sort(),
    ["licence", "license.serial", "nodes.itzo.branch"],
  );
  assert.deepEqual(
    invalid({
      nodes: {
        nametag: "Prod_1",
        extraCIDRs: ["10.0.0.0"],
        extraSecurityGroups: ["default"],
      },
    }).fields.map((f) => f.field),
    ["nodes.nametag", "nodes.extraCIDRs[0]", "nodes.extraSecurityGroups[0]"],
  );
  assert.equal(invalid({ nodes: { nametag: "a".repeat(35) } }).fields[0].field, "nodes.nametag");
  assert.equal(invalid({ cloud: { azure: {} } }).fields[0].field, "cloud.azure");
});
