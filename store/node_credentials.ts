/**
 * Node agent credentials that die with their node.
 *
 * A node's token is `HMAC-SHA256(nodeKey, nodeName + ":uid:" + uid)`, hex-encoded, where `uid` is
 * the uid of the node's object (random, made when the pool stores the node). The node key is 32
 * random bytes in a file beside the database (`$MILPA_HOME/node-credentials.key`, mode 0600),
 * never in KV. Hence:
 * - a KV dump alone (the objects, their uids) yields no token;
 * - issuing again for the same node gives the same token, so a launch that runs again after a
 *   crash hands out (or finds the instance holding) the token that is already valid;
 * - a token is valid only while its node's object exists and is not terminating: a later node
 *   of the same name has another uid, and a new key file invalidates every token;
 * - nothing is written or read in KV for it (the object is in the store's index).
 * Until 2026-12-07 the HMAC was over `nodeName + ":" + nonce`, with a record
 * `["nodeCredentials", nodeName] = { nonce, sha256, createdAt }` made at the first launch: the
 * agents of such nodes keep their token, checked against the record until it is revoked.
 * Tokens are compared in constant time.
 */
import { createHash } from "node:crypto";
import type { Node } from "../model/node.ts";
import { timingSafeEqual } from "../model/timing_safe.ts";
import { sha256Hex } from "./api_tokens.ts";
import { GroupCommitter } from "./group_commit.ts";
import type { ObjectStore } from "./object_store.ts";

/** The name of the node key file in the state directory. */
export const NODE_KEY_FILE = "node-credentials.key";

const KEY_BYTES = 32;
/** SHA-256's block size, in bytes: HMAC's pads. */
const HMAC_BLOCK = 64;

/** What KV kept for one node before 2026-12-07: nothing from which its token can be made. */
export interface NodeCredentialRecord {
  /** Random, hex; the token is the HMAC of `name:nonce` under the node key. */
  nonce: string;
  /** SHA-256 of the token, hex. */
  sha256: string;
  /** Epoch ms. */
  createdAt: number;
}

const RECORD_PREFIX = "nodeCredentials";
const recordKey = (node: string): Deno.KvKey => [RECORD_PREFIX, node];

/**
 * The node key in `path`: created (32 random bytes, mode 0600) when there is none, atomically,
 * so that two controllers starting at once end with one key.
 */
export async function loadOrCreateNodeKey(path: string): Promise<Uint8Array<ArrayBuffer>> {
  let bytes: Uint8Array<ArrayBuffer> | undefined = await Deno.readFile(path).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new Error(`Cannot read the node credentials key ${path}: ${e.message}`, { cause: e });
  });
  if (!bytes) {
    // Written whole under another name, then linked in place: never a partial key file.
    const tmp = `${path}.${crypto.randomUUID()}.tmp`;
    await Deno.writeFile(tmp, crypto.getRandomValues(new Uint8Array(KEY_BYTES)), {
      mode: 0o600,
      createNew: true,
    });
    try {
      await Deno.link(tmp, path);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    } finally {
      await Deno.remove(tmp);
    }
    bytes = await Deno.readFile(path);
  }
  if (bytes.length !== KEY_BYTES) {
    throw new Error(
      `Cannot use the node credentials key ${path}: it has ${bytes.length} bytes, not ${KEY_BYTES}` +
        " (remove it to make a new one; running nodes will then need replacing)",
    );
  }
  if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
  return bytes;
}

/**
 * The HMAC key of the credentials the controller derives (node tokens, pods' tokens): the key
 * file of {@linkcode loadOrCreateNodeKey}, never in KV.
 */
export class CredentialKey {
  /** The key XORed with HMAC's inner and outer pads (RFC 2104; the key is shorter than a block). */
  readonly #inner: Uint8Array;
  readonly #outer: Uint8Array;

  private constructor(key: Uint8Array) {
    if (key.length > HMAC_BLOCK) throw new Error(`an HMAC key of ${key.length} bytes`);
    this.#inner = new Uint8Array(HMAC_BLOCK);
    this.#outer = new Uint8Array(HMAC_BLOCK);
    for (let i = 0; i < HMAC_BLOCK; i++) {
      this.#inner[i] = (key[i] ?? 0) ^ 0x36;
      this.#outer[i] = (key[i] ?? 0) ^ 0x5c;
    }
  }

  /** The key in `path` (made when missing). */
  static async open(path: string): Promise<CredentialKey> {
    return new CredentialKey(await loadOrCreateNodeKey(path));
  }

  /** A key from its bytes (tests). */
  static of(key: Uint8Array): CredentialKey {
    return new CredentialKey(key);
  }

  /**
   * HMAC-SHA256 of `data` under the key, hex: two SHA-256 hashes over the pads made once. 5 µs
   * of the main thread here, where node:crypto's createHmac took 12.5 µs (it pads the key again
   * for every MAC) and WebCrypto's sign 38 µs; once per node and per pod token.
   */
  mac(data: string): Promise<string> {
    const inner = createHash("sha256").update(this.#inner).update(data).digest();
    return Promise.resolve(createHash("sha256").update(this.#outer).update(inner).digest("hex"));
  }
}

/** Issues, checks and revokes node agent tokens; see the module doc. */
export class NodeCredentials {
  readonly #store: ObjectStore;
  readonly #kv: Deno.Kv;
  readonly #key: CredentialKey;
  /** Nodes with a record from before 2026-12-07, whose agents hold a token made from its nonce. */
  readonly #legacy: Set<string>;

  private constructor(store: ObjectStore, kv: Deno.Kv, key: CredentialKey, legacy: Set<string>) {
    this.#store = store;
    this.#kv = kv;
    this.#key = key;
    this.#legacy = legacy;
  }

  /** Credentials for the nodes of `store`, with the node key of `keyFile` (made when missing). */
  static async open(
    opts: { store: ObjectStore; kv: Deno.Kv; keyFile: string },
  ): Promise<NodeCredentials> {
    const key = await CredentialKey.open(opts.keyFile);
    const legacy = new Set<string>();
    for await (const e of opts.kv.list({ prefix: [RECORD_PREFIX] })) legacy.add(String(e.key[1]));
    return new NodeCredentials(opts.store, opts.kv, key, legacy);
  }

  /**
   * The token of `node`, made from its Node object's uid: the same every time, and nothing to
   * write or read but the object (a launch waited for a record's KV commit before, ~0.5-1.5 s
   * in a rollout of 10,000). A node with a record from before keeps the token of its record.
   */
  async issue(node: string): Promise<string> {
    if (this.#legacy.has(node)) {
      const record = (await this.#kv.get<NodeCredentialRecord>(recordKey(node))).value;
      if (record) {
        const token = await this.#key.mac(`${node}:${record.nonce}`);
        if (timingSafeEqual(await sha256Hex(token), record.sha256)) return token;
      }
    }
    const obj = await this.#store.get<Node>("nodes", undefined, node);
    if (!obj?.metadata.uid) throw new Error(`node ${node} has no Node object to make a token for`);
    return await this.#tokenOf(node, obj.metadata.uid);
  }

  /**
   * Whether `token` is the token of `node` now: made under the current node key for the node
   * object there is (not an earlier one of the same name), or its record's (before
   * 2026-12-07) while that is not revoked; and the node is not terminating.
   */
  async verify(node: string, token: string): Promise<boolean> {
    const obj = await this.#store.get<Node>("nodes", undefined, node);
    const phase = obj?.status?.phase;
    if (!obj?.metadata.uid || phase === "Terminating" || phase === "Terminated") return false;
    if (timingSafeEqual(token, await this.#tokenOf(node, obj.metadata.uid))) return true;
    if (!this.#legacy.has(node)) return false;
    const record = (await this.#kv.get<NodeCredentialRecord>(recordKey(node))).value;
    if (!record) return false;
    const given = timingSafeEqual(await sha256Hex(token), record.sha256);
    const current = timingSafeEqual(
      await sha256Hex(await this.#key.mac(`${node}:${record.nonce}`)),
      record.sha256,
    );
    return given && current;
  }

  /**
   * Revokes `node`'s token (safe to repeat). A token made from the uid ends with its node's
   * Terminating phase, or its object; a record from before is deleted.
   */
  async revoke(node: string): Promise<void> {
    if (!this.#legacy.has(node)) return;
    await GroupCommitter.of(this.#kv).commit({
      checks: [],
      mutations: [{ type: "delete", key: recordKey(node) }],
      bytes: 1_000,
    });
    this.#legacy.delete(node);
  }

  /** The token of the node object `node` with `uid`. */
  #tokenOf(node: string, uid: string): Promise<string> {
    return this.#key.mac(`${node}:uid:${uid}`);
  }
}
