/**
 * The layout of Milpa's Deno KV database: every key prefix, in one place.
 *
 * | key | value | written by |
 * |---|---|---|
 * | `["o", plural, namespace, name]` | an object's JSON as UTF-8 bytes (namespace "" when cluster-scoped; before 2026-12-06 the object itself, still read) | object_store.ts |
 * | `["l", plural, labelKey, labelValue, namespace, name]` | null: a label index no one read, written before 2026-12-07; deleted at start (ObjectStore.dropLegacyLabelIndex) | object_store.ts |
 * | `["s", systemId]` | an actor's snapshot head: `{v: json}` or `{n: chunks}` | actor_store.ts |
 * | `["sc", systemId, i]` | chunk i of a large snapshot's JSON | actor_store.ts |
 * | `["m", name]` | controller identity and secrets | meta_store.ts |
 * | `["logs", namespace, pod, unit]` | the saved tail of a unit's log | log_store.ts |
 * | `["apitoken", id]`, `["nodeCredentials", …]` (nodes launched before 2026-12-07), `["podCredentials", …]` | credentials | their stores |
 */

/** The prefix of every stored object. */
export const OBJECTS = "o";
/**
 * The prefix of the label index written before 2026-12-07. Nothing read it (selectors are
 * answered from the in-memory index); a controller deletes what is left of it.
 */
export const LEGACY_LABELS = "l";
/** The prefix of actor snapshot heads. */
export const SNAPSHOTS = "s";
/** The prefix of the chunks of large snapshots. */
export const SNAPSHOT_CHUNKS = "sc";

/** The key of an object; `namespace` is "" for cluster-scoped kinds. */
export function objectKey(plural: string, namespace: string, name: string): Deno.KvKey {
  return [OBJECTS, plural, namespace, name];
}

/** The head of an actor's snapshot. */
export function snapshotKey(systemId: string): Deno.KvKey {
  return [SNAPSHOTS, systemId];
}

/** Chunk `i` of an actor's snapshot. */
export function snapshotChunkKey(systemId: string, i: number): Deno.KvKey {
  return [SNAPSHOT_CHUNKS, systemId, i];
}
