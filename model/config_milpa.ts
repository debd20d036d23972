/**
 * The fields of Milpa's server.yml (as its installers wrote it) that this controller accepts
 * without using them: their schema, for `config.ts`, and `ignoredFields()`, which names those a
 * file has, with why, for one warning line each at start.
 */
import { z } from "zod";
import type { ServerConfig } from "./config.ts";

/**
 * Top-level fields of Milpa's server.yml that mean nothing here: accepted, so that an installer's
 * file starts the controller, and named in one warning each (`ignoredFields`). Typos inside them
 * are still refused.
 */
export const MILPA_TOP_LEVEL = {
  license: z.strictObject({
    username: z.string().nullable().optional(),
    password: z.string().nullable().optional(),
    id: z.string().nullable().optional(),
    key: z.string().nullable().optional(),
    file: z.string().nullable().optional(),
  }).nullable().optional(),
  etcd: z.strictObject({
    client: z.strictObject({
      endpoints: z.array(z.string()).nullable().optional(),
      certFile: z.string().nullable().optional(),
      keyFile: z.string().nullable().optional(),
      caFile: z.string().nullable().optional(),
    }).nullable().optional(),
    internal: z.strictObject({
      dataDir: z.string().nullable().optional(),
      configFile: z.string().nullable().optional(),
    }).nullable().optional(),
  }).nullable().optional(),
  disableUsageReporter: z.boolean().nullable().optional(),
  testing: z.strictObject({ controllerID: z.string().nullable().optional() }).nullable().optional(),
};

/** Milpa's `nodes.bootImageTags` keys: tags of elotl's published images. */
export const MILPA_IMAGE_TAGS = {
  company: z.string().nullable().optional(),
  product: z.string().nullable().optional(),
  version: z.union([z.string(), z.number()]).nullable().optional(),
  date: z.union([z.string(), z.number()]).nullable().optional(),
  time: z.union([z.string(), z.number()]).nullable().optional(),
};

/** A field of the file that is accepted but does nothing here, and why. */
export interface IgnoredField {
  field: string;
  reason: string;
}

const has = (o: unknown, key: string): boolean =>
  typeof o === "object" && o !== null && Object.hasOwn(o, key);

const NOT_ON_THIS_CLOUD = (what: string) => `${what}; only the aws cloud has them`;

/**
 * The fields of a valid parsed server.yml that Milpa's installers wrote and this controller
 * accepts but ignores (`config` is what `resolveConfig` made of it), each with the reason, for
 * one warning line each at start.
 */
export function ignoredFields(raw: unknown, config: ServerConfig): IgnoredField[] {
  const out: IgnoredField[] = [];
  const add = (present: boolean, field: string, reason: string) => {
    if (present) out.push({ field, reason });
  };
  const r = (raw ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const nodes = r.nodes as Record<string, unknown> | undefined;
  const aws = (r.cloud as Record<string, unknown> | undefined)?.aws;
  add(
    has(r, "license"),
    "license",
    "Milpa needs no license here, and has no pod limit without one",
  );
  add(
    has(r, "etcd"),
    "etcd",
    "state is kept in Deno KV: $MILPA_HOME/state.kv, or MILPA_KV (a file or a KV Connect URL)",
  );
  add(has(r, "disableUsageReporter"), "disableUsageReporter", "this controller reports no usage");
  add(
    has(r, "testing"),
    "testing",
    "the controller id is made on first start and kept in the KV database",
  );
  add(
    has(nodes, "itzo"),
    "nodes.itzo",
    "nodes run Milpa's own agent, which they fetch from the controller (/agent/v1/agent.js)",
  );
  const tags = nodes?.bootImageTags;
  const milpaTags = Object.keys(MILPA_IMAGE_TAGS).filter((k) => has(tags, k));
  add(
    milpaTags.length > 0,
    `nodes.bootImageTags.{${milpaTags.join(",")}}`,
    "they named elotl's published images; on AWS set nodes.bootImage (an AMI id) or " +
      "nodes.bootImageTags.name (and owners)",
  );
  add(has(aws, "ecsClusterName"), "cloud.aws.ecsClusterName", "Fargate nodes are not supported");
  if (!config.cloud.aws) {
    const cloud = config.cloud.sim ? "simulated" : "local";
    add(
      has(nodes, "nametag"),
      "nodes.nametag",
      NOT_ON_THIS_CLOUD(`${cloud} nodes have no cloud names or tags`),
    );
    add(
      has(nodes, "extraCIDRs"),
      "nodes.extraCIDRs",
      NOT_ON_THIS_CLOUD(`${cloud} nodes have no security groups`),
    );
    add(
      has(nodes, "extraSecurityGroups"),
      "nodes.extraSecurityGroups",
      NOT_ON_THIS_CLOUD(`${cloud} nodes have no security groups`),
    );
    add(
      has(nodes, "cloudInitFile"),
      "nodes.cloudInitFile",
      NOT_ON_THIS_CLOUD(`${cloud} nodes are not booted by cloud-init`),
    );
  }
  return out;
}
