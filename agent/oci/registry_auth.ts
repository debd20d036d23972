/**
 * Registry authentication: parsing `WWW-Authenticate` challenges and answering them, with a
 * bearer token from the realm the registry names (Docker Hub's anonymous flow, and the same
 * flow with credentials) or with basic auth.
 */
import { ImageError, RegistryAuthError } from "./errors.ts";

/** A username and password for one registry (`DesiredPod.credentials` holds them by host). */
export interface RegistryCredential {
  username: string;
  password: string;
}

/** One parsed challenge: the scheme and its parameters (realm, service, scope...). */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses the first challenge of a `WWW-Authenticate` header; undefined without one. */
export function parseChallenge(header: string | null): AuthChallenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/g;
  for (let p = re.exec(m[2]); p; p = re.exec(m[2])) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3];
  }
  return { scheme: m[1].toLowerCase(), params };
}

/** `Authorization` value for basic auth. */
export function basicAuth(cred: RegistryCredential): string {
  const bytes = new TextEncoder().encode(`${cred.username}:${cred.password}`);
  return `Basic ${btoa(String.fromCharCode(...bytes))}`;
}

/** What answering a challenge needs. */
export interface AnswerOptions {
  challenge: AuthChallenge | undefined;
  /** Registry host, for messages. */
  registry: string;
  /** `repository:<name>:pull`, used when the challenge names no scope. */
  scope: string;
  credential?: RegistryCredential;
  fetch: typeof fetch;
  signal?: AbortSignal;
}

/**
 * The `Authorization` header that answers a 401's challenge. Bearer: fetches a token from the
 * realm (with basic auth when there are credentials, anonymously otherwise). Basic: needs
 * credentials. Throws {@linkcode RegistryAuthError} when access cannot be had.
 */
export async function answerChallenge(o: AnswerOptions): Promise<string> {
  const { challenge, registry, credential } = o;
  const noCreds = () =>
    new RegistryAuthError(
      `registry "${registry}" requires authentication and the pod has no credentials for it ` +
        `(imagePullSecrets)`,
    );
  if (challenge?.scheme === "basic") {
    if (!credential) throw noCreds();
    return basicAuth(credential);
  }
  if (challenge?.scheme !== "bearer" || !challenge.params.realm) {
    if (!credential) throw noCreds();
    return basicAuth(credential);
  }
  let url: URL;
  try {
    url = new URL(challenge.params.realm);
  } catch {
    throw new ImageError(`registry "${registry}" names an invalid token realm`);
  }
  if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
  url.searchParams.set("scope", challenge.params.scope ?? o.scope);
  const headers: Record<string, string> = {};
  if (credential) headers.Authorization = basicAuth(credential);
  let res: Response;
  try {
    res = await o.fetch(url, { headers, signal: o.signal });
  } catch (err) {
    if (o.signal?.aborted) throw err;
    throw new ImageError(
      `cannot reach the token service of registry "${registry}" (${url.origin}): ${
        err instanceof Error ? err.message : err
      }`,
      { cause: err },
    );
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    throw credential
      ? new RegistryAuthError(`registry "${registry}" rejected the pod's credentials`)
      : noCreds();
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new ImageError(`the token service of registry "${registry}" answered ${res.status}`);
  }
  const body = await res.json().catch(() => ({})) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new ImageError(`the token service of registry "${registry}" sent no token`);
  return `Bearer ${token}`;
}
