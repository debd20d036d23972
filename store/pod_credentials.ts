/**
 * API tokens of pods that drive Milpa (`pod.elotl.co/milpactl-volume-name`): an `edit` token
 * limited to the pod's namespace, valid while the pod lives.
 *
 * The token is an ordinary user token string, `milpa_<id>_<secret>`, whose secret is
 * `HMAC-SHA256(key, "pod:" + uid + ":" + nonce)` under the node credentials key
 * (`$MILPA_HOME/node-credentials.key`, never in KV). KV keeps `["podCredentials", uid] =
 * {id, nonce, ...}` and the token record `["apitoken", id]` (`store/api_tokens.ts`) with the
 * secret's SHA-256, the namespace, role `edit` and the pod it belongs to. Hence:
 * - the API's normal token check accepts it, as a namespace-scoped edit token;
 * - issuing again for the same pod (every dispatch: controller restarts, agent reconnects)
 *   gives the same token, and a KV dump alone yields none;
 * - the check refuses it once its pod is gone, replaced (another uid) or ended, and
 *   `sweep` deletes both records then; `revoke` deletes them at once.
 */
import { type Clock, systemClock } from "../model/clock.ts";
import { formatApiToken } from "../model/api_token.ts";
import { timingSafeEqual } from "../model/timing_safe.ts";
import { isTerminalPodPhase, type Pod } from "../model/pod.ts";
import { apiTokenKey, type PodRef, sha256Hex, type StoredToken } from "./api_tokens.ts";
import { randomToken } from "./meta_store.ts";
import { CredentialKey } from "./node_credentials.ts";
import type { ObjectStore } from "./object_store.ts";

/** What KV keeps for one pod: nothing from which its token can be made. */
export interface PodCredentialRecord {
  /** The id of the pod's token (`["apitoken", id]`). */
  id: string;
  /** Random, hex. */
  nonce: string;
  namespace: string;
  name: string;
}

const PREFIX = "podCredentials";
const recordKey = (uid: string): Deno.KvKey => [PREFIX, uid];

/** Whether `ref` names a pod that exists with that uid, is not being deleted and has not ended. */
export async function podLive(store: ObjectStore, ref: PodRef): Promise<boolean> {
  const pod = await store.get<Pod>("pods", ref.namespace, ref.name);
  return pod !== null && pod.metadata.uid === ref.uid && pod.spec.phase !== "Terminated" &&
    !isTerminalPodPhase(pod.status?.phase);
}

/** Issues, revokes and sweeps pod tokens; see the module doc. */
export class PodCredentials {
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

  /** Pod credentials kept in `store`'s KV, under the key of `keyFile` (made when missing). */
  static async open(
    opts: { store: ObjectStore; kv: Deno.Kv; keyFile: string; clock?: Clock },
  ): Promise<PodCredentials> {
    const key = await CredentialKey.open(opts.keyFile);
    return new PodCredentials(opts.store, opts.kv, key, opts.clock ?? systemClock);
  }

  /**
   * The token of `pod`: the one issued before, or a new one (when there was none, it was
   * revoked, or the key file was replaced).
   */
  async issue(pod: PodRef): Promise<string> {
    const kv = this.#kv;
    for (;;) {
      const entry = await kv.get<PodCredentialRecord>(recordKey(pod.uid));
      if (entry.value) {
        const secret = await this.#secretOf(pod.uid, entry.value.nonce);
        const token = await kv.get<StoredToken>(apiTokenKey(entry.value.id));
        if (token.value && timingSafeEqual(await sha256Hex(secret), token.value.secretHash)) {
          return formatApiToken(entry.value.id, secret);
        }
        if (token.value) await kv.delete(apiTokenKey(entry.value.id));
      }
      const nonce = randomToken(16);
      const id = randomToken(6);
      const secret = await this.#secretOf(pod.uid, nonce);
      const record: PodCredentialRecord = {
        id,
        nonce,
        namespace: pod.namespace,
        name: pod.name,
      };
      const stored: StoredToken = {
        id,
        namespace: pod.namespace,
        role: "edit",
        description: `pod ${pod.namespace}/${pod.name}`,
        createdAt: this.#clock.now(),
        secretHash: await sha256Hex(secret),
        pod,
      };
      const res = await kv.atomic()
        .check(entry)
        .check({ key: apiTokenKey(id), versionstamp: null })
        .set(recordKey(pod.uid), record)
        .set(apiTokenKey(id), stored)
        .commit();
      if (res.ok) return formatApiToken(id, secret);
    }
  }

  /** Revokes the token of the pod with `uid` (safe to repeat). */
  async revoke(uid: string): Promise<void> {
    const kv = this.#kv;
    const entry = await kv.get<PodCredentialRecord>(recordKey(uid));
    if (!entry.value) return;
    await kv.atomic().check(entry).delete(recordKey(uid)).delete(apiTokenKey(entry.value.id))
      .commit();
  }

  /** Revokes the tokens of pods that are gone, replaced or ended; returns how many. */
  async sweep(): Promise<number> {
    let n = 0;
    for await (const e of this.#kv.list<PodCredentialRecord>({ prefix: [PREFIX] })) {
      const uid = e.key[1] as string;
      const { namespace, name } = e.value;
      if (!(await podLive(this.#store, { namespace, name, uid }))) {
        await this.revoke(uid);
        n++;
      }
    }
    return n;
  }

  #secretOf(uid: string, nonce: string): Promise<string> {
    return this.#key.mac(`pod:${uid}:${nonce}`);
  }
}
