/** The kinds Milpa serves, their plural names and the aliases `milpactl` accepts. */
import { BadRequestError } from "./errors.ts";

/** Static facts about one kind. */
export interface KindInfo {
  kind: string;
  /** URL segment and KV key segment, e.g. "pods". */
  plural: string;
  singular: string;
  aliases: string[];
  namespaced: boolean;
  /** Whether users may create, update and delete it through the API. */
  writable: boolean;
}

/** Every kind, in the order `get all` would print them. */
export const KINDS: readonly KindInfo[] = [
  {
    kind: "Pod",
    plural: "pods",
    singular: "pod",
    aliases: ["po"],
    namespaced: true,
    writable: true,
  },
  {
    kind: "Node",
    plural: "nodes",
    singular: "node",
    aliases: ["no"],
    namespaced: false,
    writable: false,
  },
  {
    kind: "Service",
    plural: "services",
    singular: "service",
    aliases: ["svc"],
    namespaced: true,
    writable: true,
  },
  {
    kind: "Deployment",
    plural: "deployments",
    singular: "deployment",
    aliases: ["deploy"],
    namespaced: true,
    writable: true,
  },
  {
    kind: "ReplicaSet",
    plural: "replicasets",
    singular: "replicaset",
    aliases: ["rs"],
    namespaced: true,
    writable: true,
  },
  {
    kind: "Event",
    plural: "events",
    singular: "event",
    aliases: ["ev"],
    namespaced: true,
    writable: false,
  },
  {
    kind: "Secret",
    plural: "secrets",
    singular: "secret",
    aliases: [],
    namespaced: true,
    writable: true,
  },
];

/** Finds a kind by its name, plural, singular or alias, case-insensitively; undefined if unknown. */
export function findKind(name: string): KindInfo | undefined {
  const n = name.toLowerCase();
  return KINDS.find((k) =>
    k.kind.toLowerCase() === n || k.plural === n || k.singular === n || k.aliases.includes(n)
  );
}

/**
 * The kinds `all` stands for (`milpactl get all`), in that order: as in kubectl, the workloads
 * and their Services; not nodes, events or secrets.
 */
export const ALL_KINDS: readonly KindInfo[] = ["pods", "services", "deployments", "replicasets"]
  .map((plural) => findKind(plural)!);

/** Every word that names a kind, lower case: plurals, singulars, aliases (as findKind takes). */
export const KIND_WORDS: readonly string[] = KINDS.flatMap((k) => [
  k.plural,
  k.singular,
  ...k.aliases,
]);

/** Like findKind, but throws a BadRequestError that lists the known kinds. */
export function kindOrThrow(name: string): KindInfo {
  const k = findKind(name);
  if (!k) {
    throw new BadRequestError(
      `unknown resource type "${name}"; known types: ${KINDS.map((k) => k.plural).join(", ")}`,
    );
  }
  return k;
}
