/**
 * A client of the OCI distribution (Docker registry HTTP API v2) for pulling: manifests, with
 * manifest lists resolved to the node's platform, and blobs as streams. It answers auth
 * challenges (registry_auth.ts), keeps tokens per registry and repository, and retries
 * transient failures (network errors, 429, 5xx) with doubling delays.
 */
import { createHash } from "node:crypto";
import {
  DigestMismatchError,
  ImageError,
  RegistryAuthError,
  RegistryNotFoundError,
} from "./errors.ts";
import {
  choosePlatform,
  type ImageManifest,
  MANIFEST_ACCEPT,
  nodeArchitecture,
  parseManifest,
} from "./manifest.ts";
import { type ImageReference, manifestKey, registryBaseURL } from "./reference.ts";
import { answerChallenge, parseChallenge, type RegistryCredential } from "./registry_auth.ts";

/** Largest manifest the client reads. */
const MAX_MANIFEST_BYTES = 4 << 20;

/** Options of {@linkcode RegistryClient}. */
export interface RegistryClientOptions {
  /** Registries reached over plain HTTP besides loopback ones ("host:port" or "host"). */
  insecureRegistries?: readonly string[];
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Tries per request when failures are transient. @default 4 */
  attempts?: number;
  /** Delay before the first retry; doubles each time. @default 500 */
  retryDelayMs?: number;
  /** Platform architecture picked from manifest lists. @default nodeArchitecture() */
  architecture?: string;
}

/** An HTTP forward proxy for registry requests and the node's credentials for it. */
export interface RegistryProxy {
  /** "http://host:port" */
  url: string;
  username: string;
  password: string;
}

/**
 * A fetch that sends every request through `proxy` (CONNECT for https, absolute-form for
 * http), and the close() that releases its connections.
 */
export function proxyFetch(proxy: RegistryProxy): { fetch: typeof fetch; close(): void } {
  return registryFetch({ proxy });
}

/**
 * A fetch for registries: through `proxy` when given (see {@linkcode proxyFetch}), checking
 * https registries against `caCerts` (PEM) besides the process's roots; and its close().
 */
export function registryFetch(
  o: { proxy?: RegistryProxy; caCerts?: string[] },
): { fetch: typeof fetch; close(): void } {
  const { proxy, caCerts } = o;
  const client = Deno.createHttpClient({
    ...(proxy
      ? {
        proxy: {
          url: proxy.url,
          basicAuth: { username: proxy.username, password: proxy.password },
        },
      }
      : {}),
    ...(caCerts?.length ? { caCerts } : {}),
  });
  return {
    fetch: (input, init) => fetch(input, { ...init, client }),
    close: () => client.close(),
  };
}

/** A resolved image manifest and its digest. */
export interface ResolvedManifest {
  digest: string;
  manifest: ImageManifest;
}

/** Pulls manifests and blobs from registries. */
export class RegistryClient {
  #o: Required<Omit<RegistryClientOptions, "insecureRegistries">> & {
    insecure: readonly string[];
  };
  /** Authorization header per registry, repository and user (tokens are not shared between users). */
  #auth = new Map<string, string>();

  constructor(options: RegistryClientOptions = {}) {
    this.#o = {
      insecure: options.insecureRegistries ?? [],
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      attempts: options.attempts ?? 4,
      retryDelayMs: options.retryDelayMs ?? 500,
      architecture: options.architecture ?? nodeArchitecture(),
    };
  }

  /**
   * The image manifest of `ref`: a manifest list is resolved to linux/<architecture>, and every
   * manifest fetched by digest is checked against it.
   */
  async manifest(
    ref: ImageReference,
    credential?: RegistryCredential,
    signal?: AbortSignal,
  ): Promise<ResolvedManifest> {
    let key = manifestKey(ref);
    for (let depth = 0; depth < 2; depth++) {
      const res = await this.#get(ref, `manifests/${key}`, MANIFEST_ACCEPT, credential, signal);
      const bytes = await readLimited(res, MAX_MANIFEST_BYTES, ref);
      const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
      if (key.startsWith("sha256:") && digest !== key) {
        throw new DigestMismatchError(`manifest ${key} has digest ${digest}`);
      }
      const sent = res.headers.get("docker-content-digest");
      if (sent?.startsWith("sha256:") && sent !== digest) {
        throw new DigestMismatchError(
          `manifest ${key} has digest ${digest}, not ${sent} as the registry says`,
        );
      }
      const doc = parseManifest(bytes, res.headers.get("content-type") ?? "");
      if (doc.kind === "manifest") return { digest, manifest: doc.manifest };
      key = choosePlatform(doc.index, this.#o.architecture).digest;
    }
    throw new ImageError("the manifest list points at another manifest list");
  }

  /** A blob's response with its body unread (the caller streams and verifies it). */
  blob(
    ref: ImageReference,
    digest: string,
    credential?: RegistryCredential,
    signal?: AbortSignal,
  ): Promise<Response> {
    return this.#get(ref, `blobs/${digest}`, "*/*", credential, signal);
  }

  /** GET with auth and retries; resolves with a 2xx response, throws ImageError otherwise. */
  async #get(
    ref: ImageReference,
    path: string,
    accept: string,
    credential: RegistryCredential | undefined,
    signal: AbortSignal | undefined,
  ): Promise<Response> {
    const url = `${registryBaseURL(ref.registry, this.#o.insecure)}/v2/${ref.repository}/${path}`;
    const authKey = `${ref.registry}|${ref.repository}|${credential?.username ?? ""}`;
    let answered = false;
    for (let attempt = 1;; attempt++) {
      const headers: Record<string, string> = { Accept: accept };
      const auth = this.#auth.get(authKey);
      if (auth) headers.Authorization = auth;
      let res: Response;
      try {
        res = await this.#o.fetch(url, { headers, signal });
      } catch (err) {
        if (signal?.aborted) throw err;
        if (attempt < this.#o.attempts) {
          await sleep(this.#delay(attempt), signal);
          continue;
        }
        throw new ImageError(
          `cannot reach registry "${ref.registry}" (${new URL(url).origin}): ${describe(err)}`,
          { cause: err },
        );
      }
      if (res.status === 401 && !answered) {
        answered = true;
        await res.body?.cancel();
        this.#auth.set(
          authKey,
          await answerChallenge({
            challenge: parseChallenge(res.headers.get("www-authenticate")),
            registry: ref.registry,
            scope: `repository:${ref.repository}:pull`,
            credential,
            fetch: this.#o.fetch,
            signal,
          }),
        );
        attempt--;
        continue;
      }
      if ((res.status === 429 || res.status >= 500) && attempt < this.#o.attempts) {
        await res.body?.cancel();
        await sleep(this.#delay(attempt), signal);
        continue;
      }
      if (res.ok) return res;
      throw await statusError(res, ref, path, credential !== undefined);
    }
  }

  #delay(attempt: number): number {
    return this.#o.retryDelayMs * 2 ** (attempt - 1);
  }
}

/** The error for a non-2xx answer, with the registry's own message when it sent one. */
async function statusError(
  res: Response,
  ref: ImageReference,
  path: string,
  hadCredentials: boolean,
): Promise<ImageError> {
  const text = await res.text().catch(() => "");
  let detail = "";
  try {
    const first = JSON.parse(text)?.errors?.[0];
    if (first?.message) detail = `: ${first.code ? `${first.code} ` : ""}${first.message}`;
  } catch {
    // not a registry error body
  }
  const what = path.startsWith("manifests/")
    ? `manifest "${ref.repository}:${path.slice("manifests/".length)}"`
    : `blob ${path.slice("blobs/".length)} of "${ref.repository}"`;
  const proxied = proxyError(res);
  if (proxied) {
    return new ImageError(
      `the registry proxy answered ${res.status} for ${what} of registry "${ref.registry}": ` +
        proxied,
    );
  }
  if (res.status === 401 || res.status === 403) {
    return new RegistryAuthError(
      hadCredentials
        ? `registry "${ref.registry}" rejected the pod's credentials for ${what}${detail}`
        : `registry "${ref.registry}" denied access to ${what} and the pod has no credentials ` +
          `for it (imagePullSecrets)${detail}`,
    );
  }
  if (res.status === 404) {
    return new RegistryNotFoundError(`${what} not found in registry "${ref.registry}"${detail}`);
  }
  return new ImageError(`registry "${ref.registry}" answered ${res.status} for ${what}${detail}`);
}

/**
 * The details of an error the local cloud's registry proxy answered itself, not the registry
 * (RFC 9209 `Proxy-Status: milpa; error=...; details="..."`, see cloud/local/pull_proxy.ts).
 */
function proxyError(res: Response): string | undefined {
  const status = res.headers.get("proxy-status") ?? "";
  if (!/^\s*milpa\s*;/.test(status) || !/;\s*error=/.test(status)) return undefined;
  const details = /;\s*details="((?:[^"\\]|\\.)*)"/.exec(status)?.[1];
  return details?.replace(/\\(.)/g, "$1") ?? /;\s*error=([^;\s]+)/.exec(status)![1];
}

async function readLimited(res: Response, limit: number, ref: ImageReference) {
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > limit) {
    throw new ImageError(`the manifest of "${ref.repository}" is larger than ${limit} bytes`);
  }
  return bytes;
}

/** An error's message and its cause's ("fetch failed" alone says nothing, its cause says why). */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  return err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : err.message;
}

/** Waits `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
