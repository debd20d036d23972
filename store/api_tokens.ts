/**
 * User API tokens in Deno KV (`["apitoken", id]`): their role, namespace, description and
 * expiry, and the SHA-256 of their secret, never the secret itself. An expired token is
 * treated as gone at once (by the injected clock) and removed by KV's own expiry later.
 */
import { createHash } from "node:crypto";
import { isoTime } from "../model/clock.ts";
import {
  type ApiToken,
  type ApiTokenRole,
  formatApiToken,
  type NewApiToken,
  parseApiToken,
} from "../model/api_token.ts";
import { API_VERSION } from "../model/meta.ts";
import { timingSafeEqual } from "../model/timing_safe.ts";
import { randomToken } from "./meta_store.ts";

const PREFIX = "apitoken";

/** The pod a pod token (`store/pod_credentials.ts`) belongs to: it works only while that pod lives. */
export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

/** A token as it is kept. */
export interface StoredToken {
  id: string;
  namespace?: string;
  role: ApiTokenRole;
  description?: string;
  /** Epoch milliseconds. */
  createdAt: number;
  /** Epoch milliseconds; absent: never expires. */
  expiresAt?: number;
  /** Lowercase hex SHA-256 of the secret. */
  secretHash: string;
  /** Set for a pod's token: it is the pod's for as long as the pod lives. */
  pod?: PodRef;
}

/** What the controller knows of a verified token. */
export interface TokenGrant {
  id: string;
  namespace?: string;
  role: ApiTokenRole;
  /** Epoch milliseconds; absent: never expires. */
  expiresAt?: number;
  /** Set for a pod's token. */
  pod?: PodRef;
}

/** What a new token is for. */
export interface TokenSpec {
  namespace?: string;
  role: ApiTokenRole;
  description?: string;
  /** Lifetime in milliseconds; absent or 0: never expires. */
  ttlMs?: number;
}

/** The KV key of token `id`. */
export const apiTokenKey = (id: string): Deno.KvKey => [PREFIX, id];

/** Lowercase hex SHA-256 of `text`. */
export function sha256Hex(text: string): Promise<string> {
  // node:crypto's hash: 2 µs here, where WebCrypto's digest took 37 µs of the main thread
  // (a node's credentials hash once per node, an API token on each of its requests).
  return Promise.resolve(createHash("sha256").update(text).digest("hex"));
}

function shown(t: StoredToken): ApiToken {
  return {
    kind: "Token",
    apiVersion: API_VERSION,
    id: t.id,
    ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
    role: t.role,
    ...(t.description ? { description: t.description } : {}),
    createdAt: isoTime(t.createdAt),
    ...(t.expiresAt !== undefined ? { expiresAt: isoTime(t.expiresAt) } : {}),
  };
}

const live = (t: StoredToken | null, now: number): t is StoredToken =>
  t !== null && (t.expiresAt === undefined || t.expiresAt > now);

/** The user tokens of one controller. Times (`now`) come from the caller's clock. */
export class ApiTokenStore {
  constructor(private readonly kv: Deno.Kv) {}

  /** Creates a token; its string is in the answer and nowhere else. */
  async create(spec: TokenSpec, now: number): Promise<NewApiToken> {
    const secret = randomToken(32);
    const secretHash = await sha256Hex(secret);
    for (;;) {
      const id = randomToken(6);
      const token: StoredToken = {
        id,
        ...(spec.namespace !== undefined ? { namespace: spec.namespace } : {}),
        role: spec.role,
        ...(spec.description ? { description: spec.description } : {}),
        createdAt: now,
        ...(spec.ttlMs ? { expiresAt: now + spec.ttlMs } : {}),
        secretHash,
      };
      const key = [PREFIX, id];
      const res = await this.kv.atomic().check({ key, versionstamp: null })
        .set(key, token, spec.ttlMs ? { expireIn: spec.ttlMs } : undefined)
        .commit();
      if (res.ok) return { ...shown(token), token: formatApiToken(id, secret) };
    }
  }

  /** Every token that has not expired, oldest first. */
  async list(now: number): Promise<ApiToken[]> {
    const out: StoredToken[] = [];
    for await (const e of this.kv.list<StoredToken>({ prefix: [PREFIX] })) {
      if (live(e.value, now)) out.push(e.value);
    }
    return out.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)).map(shown);
  }

  /** The grant of token `id` if it exists and has not expired. */
  async grant(id: string, now: number): Promise<TokenGrant | undefined> {
    const t = (await this.kv.get<StoredToken>([PREFIX, id])).value;
    return live(t, now) ? grantOf(t) : undefined;
  }

  /** Deletes token `id`; returns what it was, or undefined when there was no such token. */
  async revoke(id: string): Promise<ApiToken | undefined> {
    const key = [PREFIX, id];
    const e = await this.kv.get<StoredToken>(key);
    if (!e.value) return undefined;
    await this.kv.delete(key);
    return shown(e.value);
  }

  /**
   * The grant of a token string, or undefined when it is malformed, unknown, revoked or
   * expired. The secret's hash is compared in constant time.
   */
  async verify(text: string, now: number): Promise<TokenGrant | undefined> {
    const parsed = parseApiToken(text);
    if (!parsed) return undefined;
    const hash = await sha256Hex(parsed.secret);
    const t = (await this.kv.get<StoredToken>([PREFIX, parsed.id])).value;
    if (!live(t, now) || !timingSafeEqual(hash, t.secretHash)) return undefined;
    return grantOf(t);
  }
}

function grantOf(t: StoredToken): TokenGrant {
  return {
    id: t.id,
    ...(t.namespace !== undefined ? { namespace: t.namespace } : {}),
    role: t.role,
    ...(t.expiresAt !== undefined ? { expiresAt: t.expiresAt } : {}),
    ...(t.pod ? { pod: t.pod } : {}),
  };
}
