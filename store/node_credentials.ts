/**
 * Node agent credentials that die with their node.
 *
 * A node's token is `HMAC-SHA256(nodeKey, nodeName + ":" + nonce)`, hex-encoded. The node key
 * is 32 random bytes in a file beside the database (`$MILPA_HOME/node-credentials.key`, mode
 * 0600), never in KV; the nonce is random and made once per node, in the record
 * `["nodeCredentials", nodeName] = { nonce, sha256, createdAt }` with the token's SHA-256.
 * Hence:
 * - a KV dump alone (nonces and hashes) yields no token;
 * - issuing again for the same node gives the same token, so a launch that runs again after a
 *   crash hands out (or finds the instance holding) the token that is already valid;
 * - deleting the record revokes the token, and a new key file invalidates every token;
 * - a token is valid only while its node's object exists and is not terminating.
 * Tokens are compared by their hashes in constant time.
 */
import { createHash } from "node:crypto";
import { type Clock, systemClock } from "../model/clock.ts";
import type { Node } from "../model/node.ts";
import { timingSafeEqual } from "../model/timing_safe.ts";
import { sha256Hex } from "./api_tokens.ts";
import { randomToken } from "./meta_store.ts";
import { GroupCommitter } from "./group_commit.ts";
import type { ObjectStore } from "./object_store.ts";

/** The name of the node key file in the state directory. */
export const NODE_KEY_FILE = "node-credentials.key";

const KEY_BYTES = 32;
/** SHA-256's block size, in bytes: HMAC's pads. */
const HMAC_BLOCK = 64;

/** What is kept in KV for one node: nothing from which its token can be made. */
export interface NodeCredentialRecord {
  /** Random, hex; the token is the HMAC of `name:nonce` under the node key. */
  nonce: string;
  /** SHA-256 of the token, hex. */
  sha256: string;
  /** Epoch ms. */
  createdAt: number;
}

const recordKey = (node: string): Deno.KvKey => ["nodeCredentials", node];

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
  readonly #clock: Clock;

  private constructor(store: ObjectStore, kv: Deno.Kv, key: CredentialKey, clock: Clock) {
    this.#store = store;
    this.#kv = kv;
    this.#key = key;
    this.#clock = clock;
  }

  /** Credentials kept in `store`'s KV, with the node key of `keyFile` (made when missing). */
  static async open(
    opts: { store: ObjectStore; kv: Deno.Kv; keyFile: string; clock?: Clock },
  ): Promise<NodeCredentials> {
    const key = await CredentialKey.open(opts.keyFile);
    return new NodeCredentials(opts.store, opts.kv, key, opts.clock ?? systemClock);
  }

  /**
   * The token of `node`: the one issued before, or a new one. A record made under another node
   * key (the key file was replaced) is replaced too, since its token can no longer be checked.
   */
  async issue(node: string): Promise<string> {
    const kv = this.#kv;
    for (;;) {
      const entry = await kv.get<NodeCredentialRecord>(recordKey(node));
      if (entry.value) {
        const token = await this.#tokenOf(node, entry.value.nonce);
        if (timingSafeEqual(await sha256Hex(token), entry.value.sha256)) return token;
      }
      const nonce = randomToken(16);
      const token = await this.#tokenOf(node, nonce);
      const record: NodeCredentialRecord = {
        nonce,
        sha256: await sha256Hex(token),
        createdAt: this.#clock.now(),
      };
      // Through the group committer: a burst of new nodes shares transactions.
      const res = await GroupCommitter.of(kv).commit({
        checks: [entry],
        mutations: [{ type: "set", key: recordKey(node), value: record }],
        bytes: 1_000,
      });
      if (res.ok) return token;
    }
  }

  /**
   * Whether `token` is the token of `node` now: issued under the current node key, not
   * revoked, and the node exists and is not terminating.
   */
  async verify(node: string, token: string): Promise<boolean> {
    const record = (await this.#kv.get<NodeCredentialRecord>(recordKey(node))).value;
    if (!record) return false;
    const given = timingSafeEqual(await sha256Hex(token), record.sha256);
    const current = timingSafeEqual(
      await sha256Hex(await this.#tokenOf(node, record.nonce)),
      record.sha256,
    );
    if (!given || !current) return false;
    const obj = await this.#store.get<Node>("nodes", undefined, node);
    const phase = obj?.status?.phase;
    return obj !== null && phase !== "Terminating" && phase !== "Terminated";
  }

  /** Revokes `node`'s token (safe to repeat). */
  async revoke(node: string): Promise<void> {
    await GroupCommitter.of(this.#kv).commit({
      checks: [],
      mutations: [{ type: "delete", key: recordKey(node) }],
      bytes: 1_000,
    });
  }

  #tokenOf(node: string, nonce: string): Promise<string> {
    return this.#key.mac(`${node}:${nonce}`);
  }
}
