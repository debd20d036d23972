/**
 * server.yml: the controller's configuration, in the shape of Milpa's (reference §10).
 * One type, one defaults object, one merge order: defaults ← file ← environment ← flags.
 */
import { z } from "zod";
import { ValidationError } from "./errors.ts";
import type { FieldError } from "./errors.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import { MILPA_IMAGE_TAGS, MILPA_TOP_LEVEL } from "./config_milpa.ts";

export { type IgnoredField, ignoredFields } from "./config_milpa.ts";

/** A standby pool entry: keep `count` unbound nodes of this type booted. */
export interface StandbyNodes {
  instanceType: string;
  count: number;
  spot?: boolean;
}

/** The embedded local cloud: each node is an agent process on this machine. */
export interface LocalCloudConfig {
  /**
   * How nodes are networked: `netns` gives each node its own network namespace on a bridge
   * with an nftables firewall (needs root, `ip` and `nft`); `host` shares the host network
   * on loopback addresses, with no isolation and no firewall. @default "auto" (netns when possible)
   */
  network?: "auto" | "netns" | "host";
  /**
   * Addresses for nodes. @default "198.18.0.0/15" with namespaces, "127.77.0.0/16" on the host network
   */
  addressRange?: string;
  /** The bridge of namespaced nodes. @default "milpa0" */
  bridge?: string;
  /** How to start an agent; the agent.json path is appended. @default deno run -A agent/main.ts --config */
  agentCommand?: string[];
  /** The registry proxy nodes in namespaces pull images through. */
  registryProxy?: RegistryProxyConfig;
}

/**
 * The local cloud's registry proxy: it connects to registries only, never to this host's other
 * loopback services, link-local (metadata) addresses or the controller's own ports.
 */
export interface RegistryProxyConfig {
  /**
   * Ports of registries on this host's loopback (127.0.0.0/8, ::1, localhost) nodes may pull
   * from; the proxy refuses every other loopback port. Loopback registries named in
   * `nodes.insecureRegistries` are added. @default [5000]
   */
  loopbackPorts?: number[];
}

/** AWS: nodes are EC2 instances (reference §10). */
export interface AwsCloudConfig {
  /** @default AWS_REGION, AWS_DEFAULT_REGION, else "us-east-1" */
  region?: string;
  /** With secretAccessKey; else the SDK's default credential chain. */
  accessKeyID?: string;
  secretAccessKey?: string;
  /** "default" (the default VPC) or a VPC id. @default "default" */
  vpcID?: string;
  /** @default the first subnet of the VPC */
  subnetID?: string;
  /** Send EC2, Route 53 and ELB calls here instead (private regions, emulators). */
  endpointURL?: string;
  /** Owner of the boot images `nodes.bootImageTags` looks up, unless it names owners (Milpa's). */
  imageOwnerID?: string;
}

/**
 * The simulated cloud: nodes are simulated in the controller's process (no processes, no
 * network), so that a cluster of thousands of pods can be rehearsed on one machine. Every node
 * gets a simulated agent that runs nothing: its units report running, `milpactl logs` prints
 * one line. Instances are kept in the controller's KV and outlive a restart, as a real
 * cloud's do. Resolved with every default filled in (`DEFAULT_SIM_CLOUD`).
 */
export interface SimCloudConfig {
  /** Milliseconds from a launch until the node's agent connects. @default 200 */
  bootDelayMs: number;
  /** Up to this many more milliseconds, at random, per launch. @default 0 */
  bootJitterMs: number;
  /** Share of launches that fail, 0..1. @default 0 */
  launchFailureRate: number;
  /**
   * How a failing launch fails: `error`, a cloud error (the pod backs off, LaunchBackOff, and
   * fails after nodes.maxLaunchAttempts), or `capacity`, no capacity for the instance type
   * (the next cheapest type that fits is tried). @default "error"
   */
  launchFailureKind: "error" | "capacity";
  /** Milliseconds from the apply of a pod until its units report running. @default 0 */
  unitStartDelayMs: number;
}

/** What `cloud: {sim: {}}` means. */
export const DEFAULT_SIM_CLOUD: SimCloudConfig = {
  bootDelayMs: 200,
  bootJitterMs: 0,
  launchFailureRate: 0,
  launchFailureKind: "error",
  unitStartDelayMs: 0,
};

/** Where nodes run. Exactly one provider; none means `local`. */
export interface CloudConfig {
  local?: LocalCloudConfig;
  aws?: AwsCloudConfig;
  sim?: SimCloudConfig;
}

/** Node settings. */
export interface NodesConfig {
  /** @default "t3.nano" */
  defaultInstanceType: string;
  /** @default "5Gi" */
  defaultVolumeSize: string;
  /** @default [] */
  standbyNodes: StandbyNodes[];
  /** Instance families the selector considers. @default current Intel families */
  instanceFamilies: string[];
  /** Seconds a booting node may take before it is terminated. @default 300 */
  bootTimeout: number;
  /** Seconds without a heartbeat before a node counts as lost. @default 90 */
  healthyTimeout: number;
  /** Boot image of cloud nodes (an AMI id); wins over bootImageTags. */
  bootImage?: string;
  /** Pick the newest image whose name matches `name` (wildcards) owned by `owners`. */
  bootImageTags?: { name?: string; owners?: string[] };
  /** The URL nodes reach the controller at. @default the API's own URL */
  controllerURL?: string;
  /**
   * How node agents run units: "oci" from their image (isolated in namespaces), "host" as host
   * processes (their command), "auto" from the image when the node can run containers.
   * @default "auto"
   */
  runtime: "auto" | "oci" | "host";
  /** Registries nodes pull from over plain HTTP besides loopback ones ("host:port" or "host"). */
  insecureRegistries: string[];
  /**
   * Most nodes alive at once (booting, running or standby). Pods beyond it wait, with the
   * reason in their status, and get nodes as others go. @default 1000
   */
  maxNodes: number;
  /**
   * Launches a pod gets when its node fails to boot for a reason other than capacity (bad boot
   * image, missing permission, an agent that does not start) before the pod ends Failed with
   * the cloud's message. Between attempts it waits 10 s, doubling up to 5 min. @default 5
   */
  maxLaunchAttempts: number;
  /**
   * A DNS-952 label (at most 34 characters) in the names of cloud resources: AWS nodes are named
   * `Milpa Node <nametag> <node>` and tagged `MilpaNametag`. @default the controller id
   */
  nametag?: string;
  /** More source CIDRs of the cluster security group every AWS node is in (Milpa's). @default [] */
  extraCIDRs?: string[];
  /** Security groups every AWS node is put in besides the cluster group. @default [] */
  extraSecurityGroups?: string[];
  /**
   * A `#cloud-config` file whose keys AWS nodes' user-data gets too (its `write_files` and
   * `runcmd` before Milpa's own). Read at start.
   */
  cloudInitFile?: string;
}

/** Service discovery (DNS records of Services). */
export interface ServiceDiscoveryConfig {
  /** TTL of the A and SRV records, in seconds. @default 30 */
  ttl: number;
  /**
   * Seconds a pod that backs a Service keeps running after it left the Service's DNS records
   * and load balancers, before its units get SIGTERM, so that clients holding its address
   * (DNS caches, open connections) finish. @default the record TTL
   */
  drainSeconds: number;
}

/** TLS of everything the controller serves: the API, the agent channel and bundle, the web view. */
export interface TlsConfig {
  /**
   * Serve https with a certificate from the controller's own CA, made on first start and kept
   * in MILPA_HOME (`ca.crt`; nodes and milpactl trust only it). `false` serves plain http: only
   * for a controller that nothing reaches over an untrusted network. @default true
   */
  enabled: boolean;
  /**
   * DNS names and IP addresses the server certificate carries besides 127.0.0.1, ::1,
   * localhost, the listen address, the local cloud's gateway and the host of
   * `nodes.controllerURL` (which get in by themselves): the names clients reach the controller
   * at through something else (a load balancer, a DNS name). @default []
   */
  subjectAltNames: string[];
}

/** The controller's configuration. */
export interface ServerConfig {
  apiVersion?: string;
  kind?: string;
  /** @default "milpa" */
  clusterName: string;
  /** The least severe level the controller logs (MILPA_LOG_LEVEL and --log-level win). @default "info" */
  logLevel: LogLevel;
  cloud: CloudConfig;
  nodes: NodesConfig;
  serviceDiscovery: ServiceDiscoveryConfig;
  tls: TlsConfig;
}

/** Families the instance selector considers unless the config says otherwise. */
export const DEFAULT_FAMILIES = [
  "t3",
  "m5",
  "m6i",
  "m7i",
  "c5",
  "c6i",
  "c7i",
  "r5",
  "r6i",
  "r7i",
  "g4dn",
  "g5",
  "p3",
];

/** The configuration with no file: the embedded local cloud. */
export function defaultConfig(): ServerConfig {
  return {
    clusterName: "milpa",
    logLevel: "info",
    cloud: { local: {} },
    nodes: {
      defaultInstanceType: "t3.nano",
      defaultVolumeSize: "5Gi",
      standbyNodes: [],
      instanceFamilies: [...DEFAULT_FAMILIES],
      bootTimeout: 300,
      healthyTimeout: 90,
      runtime: "auto",
      insecureRegistries: [],
      maxNodes: 1000,
      maxLaunchAttempts: 5,
    },
    serviceDiscovery: { ttl: 30, drainSeconds: 30 },
    tls: { enabled: true, subjectAltNames: [] },
  };
}

const dns952 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS name (a leading `*.` allowed), an IPv4 address or an IPv6 address. */
function isCertificateName(name: string): boolean {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(name)) return name.split(".").every((b) => Number(b) <= 255);
  if (name.includes(":")) {
    try {
      new URL(`http://[${name}]/`);
      return true;
    } catch {
      return false;
    }
  }
  return /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\.?$/i.test(
    name,
  ) &&
    name.length <= 253;
}

const schema = z.strictObject({
  apiVersion: z.literal("v1").optional(),
  kind: z.literal("serverConfig").optional(),
  clusterName: z.string().max(40).regex(
    dns952,
    "must be a DNS-952 label (lowercase letters, digits, '-')",
  )
    .optional(),
  logLevel: z.enum(LOG_LEVELS).optional(),
  ...MILPA_TOP_LEVEL,
  cloud: z.strictObject({
    local: z.strictObject({
      network: z.enum(["auto", "netns", "host"]).optional(),
      bridge: z.string().regex(
        /^[a-zA-Z0-9_-]{1,15}$/,
        "must be an interface name of at most 15 characters",
      )
        .optional(),
      addressRange: z.string().regex(/^\d+\.\d+\.\d+\.\d+\/\d+$/, "must be an IPv4 CIDR")
        .optional(),
      agentCommand: z.array(z.string()).min(1).optional(),
      registryProxy: z.strictObject({
        loopbackPorts: z.array(z.number().int().min(1).max(65535)).optional(),
      }).optional(),
    }).nullable().optional(),
    aws: z.strictObject({
      region: z.string().regex(
        /^[a-z]{2}(-[a-z]+)+-[0-9]$/,
        "must be an AWS region such as us-east-1",
      )
        .optional(),
      accessKeyID: z.string().optional(),
      secretAccessKey: z.string().optional(),
      vpcID: z.string().optional(),
      subnetID: z.string().optional(),
      endpointURL: z.url("must be a URL such as http://127.0.0.1:5000").optional(),
      imageOwnerID: z.string().optional(),
      ecsClusterName: z.string().optional(),
    }).optional(),
    sim: z.strictObject({
      bootDelayMs: z.number().int().min(0).max(3_600_000).optional(),
      bootJitterMs: z.number().int().min(0).max(3_600_000).optional(),
      launchFailureRate: z.number().min(0).max(1).optional(),
      launchFailureKind: z.enum(["error", "capacity"]).optional(),
      unitStartDelayMs: z.number().int().min(0).max(3_600_000).optional(),
    }).nullable().optional(),
  }).optional(),
  nodes: z.strictObject({
    defaultInstanceType: z.string().min(1).optional(),
    defaultVolumeSize: z.string().regex(
      /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/,
      "must be a quantity such as 5Gi",
    )
      .optional(),
    standbyNodes: z.array(z.strictObject({
      instanceType: z.string().min(1),
      count: z.number().int().min(0),
      spot: z.boolean().optional(),
    })).optional(),
    instanceFamilies: z.array(z.string().min(1)).min(1).optional(),
    bootTimeout: z.number().int().min(10).optional(),
    healthyTimeout: z.number().int().min(10).optional(),
    bootImage: z.string().regex(
      /^ami-[0-9a-f]+$/,
      "must be an AMI id such as ami-0123456789abcdef0",
    ).optional(),
    bootImageTags: z.strictObject({
      name: z.string().min(1).optional(),
      owners: z.array(z.string().min(1)).optional(),
      ...MILPA_IMAGE_TAGS,
    }).optional(),
    controllerURL: z.url("must be the URL nodes reach the controller at").optional(),
    runtime: z.enum(["auto", "oci", "host"]).optional(),
    insecureRegistries: z.array(
      z.string().regex(
        /^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/,
        "must be host or host:port",
      ),
    ).optional(),
    maxNodes: z.number().int().min(1).max(100_000).optional(),
    maxLaunchAttempts: z.number().int().min(1).max(100).optional(),
    nametag: z.string().max(34).regex(
      dns952,
      "must be a DNS-952 label (lowercase letters, digits, '-') of at most 34 characters",
    ).optional(),
    extraCIDRs: z.array(z.string().regex(/^\d+\.\d+\.\d+\.\d+\/\d+$/, "must be an IPv4 CIDR"))
      .optional(),
    extraSecurityGroups: z.array(
      z.string().regex(/^sg-[0-9a-f]+$/, "must be a security group id such as sg-0123abcd"),
    ).optional(),
    cloudInitFile: z.string().min(1).optional(),
    itzo: z.strictObject({
      version: z.union([z.string(), z.number()]).optional(),
      url: z.string().optional(),
    }).nullable().optional(),
  }).optional(),
  serviceDiscovery: z.strictObject({
    ttl: z.number().int().min(0).max(86400).optional(),
    drainSeconds: z.number().int().min(0).max(3600).optional(),
  }).optional(),
  tls: z.strictObject({
    enabled: z.boolean().optional(),
    subjectAltNames: z.array(
      z.string().refine(isCertificateName, "must be a DNS name or an IP address"),
    ).optional(),
  }).optional(),
});

/** Turns zod issues into field errors with dotted paths. */
function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => {
    const path = i.path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`).join("")
      .replace(/^\./, "");
    if (i.code === "unrecognized_keys") {
      return { field: [path, ...i.keys].filter(Boolean).join("."), message: "unknown field" };
    }
    const input = (i as { input?: unknown }).input;
    const shown = input === undefined || typeof input === "object"
      ? ""
      : ` (got ${JSON.stringify(input)})`;
    return {
      field: path,
      message: `${i.message}${shown}`,
      ...(input === undefined || typeof input === "object" ? {} : { value: String(input) }),
    };
  });
}

/** Validates a parsed server.yml and merges it over the defaults; reports every bad field. */
export function resolveConfig(raw: unknown, source = "server.yml"): ServerConfig {
  const parsed = schema.safeParse(raw ?? {}, { reportInput: true });
  if (!parsed.success) {
    const fields = fieldErrors(parsed.error);
    throw new ValidationError(
      `${source} is invalid: ${fields.map((f) => `${f.field}: ${f.message}`).join("; ")}`,
      fields,
    );
  }
  const d = defaultConfig();
  const f = parsed.data;
  const clouds = Object.entries(f.cloud ?? {}).filter(([, v]) => v !== undefined);
  if (clouds.length > 1) {
    const message = `configure exactly one of local, aws and sim (got ${
      clouds.map(([k]) => k).join(" and ")
    })`;
    throw new ValidationError(`${source} is invalid: cloud: ${message}`, [
      { field: "cloud", message },
    ]);
  }
  const tls = {
    enabled: f.tls?.enabled ?? d.tls.enabled,
    subjectAltNames: f.tls?.subjectAltNames ?? d.tls.subjectAltNames,
  };
  if (tls.enabled && f.nodes?.controllerURL?.startsWith("http:")) {
    const message = "must be an https URL while tls.enabled is true (the default)";
    throw new ValidationError(`${source} is invalid: nodes.controllerURL: ${message}`, [
      { field: "nodes.controllerURL", message, value: f.nodes.controllerURL },
    ]);
  }
  const { itzo: _itzo, bootImageTags, ...nodes } = f.nodes ?? {};
  const { ecsClusterName: _ecs, ...aws } = f.cloud?.aws ?? {};
  return {
    ...(f.apiVersion ? { apiVersion: f.apiVersion } : {}),
    clusterName: f.clusterName ?? d.clusterName,
    logLevel: f.logLevel ?? d.logLevel,
    cloud: f.cloud?.aws
      // Milpa's files leave fields empty ("") to mean "not set".
      ? {
        aws: Object.fromEntries(Object.entries(aws).filter(([, v]) => v !== undefined && v !== "")),
      }
      : f.cloud?.sim !== undefined
      ? { sim: { ...DEFAULT_SIM_CLOUD, ...stripUndefined(f.cloud.sim ?? {}) } }
      : { local: { ...(f.cloud?.local ?? {}) } },
    nodes: {
      ...d.nodes,
      ...stripUndefined(nodes),
      ...(bootImageTags?.name || bootImageTags?.owners
        ? {
          bootImageTags: stripUndefined({ name: bootImageTags.name, owners: bootImageTags.owners }),
        }
        : {}),
    } as NodesConfig,
    serviceDiscovery: {
      ttl: f.serviceDiscovery?.ttl ?? d.serviceDiscovery.ttl,
      drainSeconds: f.serviceDiscovery?.drainSeconds ?? f.serviceDiscovery?.ttl ??
        d.serviceDiscovery.drainSeconds,
    },
    tls,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
