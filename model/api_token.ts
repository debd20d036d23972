/**
 * API tokens that the admin creates for users and dashboards (`milpactl token create`). A
 * token string is `milpa_<id>_<secret>`: the id names the token (to list and revoke it), the
 * secret proves it; the controller keeps only the SHA-256 of the secret. A token has a role
 * (`edit` or `view`) and is either limited to one namespace or cluster-wide.
 */

/** What a token may do: `edit` reads and writes, `view` only reads. */
export const API_TOKEN_ROLES = ["edit", "view"] as const;

/** A token's role. */
export type ApiTokenRole = (typeof API_TOKEN_ROLES)[number];

/** Whether a value is a token role. */
export function isApiTokenRole(value: unknown): value is ApiTokenRole {
  return (API_TOKEN_ROLES as readonly unknown[]).includes(value);
}

/** A token as the API shows it: never its secret (only the create answer carries `token`). */
export interface ApiToken {
  kind: "Token";
  apiVersion: string;
  /** 12 lowercase hex characters; the middle part of the token string. */
  id: string;
  /** The one namespace the token works in; absent for a cluster-wide token. */
  namespace?: string;
  role: ApiTokenRole;
  description?: string;
  /** RFC 3339. */
  createdAt: string;
  /** RFC 3339; absent when the token never expires. */
  expiresAt?: string;
}

/** The answer to a create: the token with its string, shown this once. */
export interface NewApiToken extends ApiToken {
  token: string;
}

/** What a create asks for (`POST /api/v1/tokens`). */
export interface ApiTokenRequest {
  namespace?: string;
  role: ApiTokenRole;
  /** Lifetime in seconds; absent or 0: the token never expires. */
  ttlSeconds?: number;
  description?: string;
}

/** The prefix of every user token (so secret scanners and people can tell what it is). */
export const API_TOKEN_PREFIX = "milpa_";

/** Longest description a token may carry. */
export const MAX_TOKEN_DESCRIPTION = 200;

const TOKEN_PATTERN = /^milpa_([0-9a-f]{12})_([0-9a-f]{64})$/;

/** The token string of an id and a secret. */
export function formatApiToken(id: string, secret: string): string {
  return `${API_TOKEN_PREFIX}${id}_${secret}`;
}

/** The id and secret of a token string, or undefined when it is not one. */
export function parseApiToken(text: string): { id: string; secret: string } | undefined {
  const m = TOKEN_PATTERN.exec(text);
  return m ? { id: m[1], secret: m[2] } : undefined;
}
