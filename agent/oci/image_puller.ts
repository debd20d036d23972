/**
 * Pulls an image into the node's layer store: resolves the manifest, then fetches the config
 * and the layers (a few at a time) that the store does not have. Blob downloads are retried
 * with doubling delays when they break off or arrive corrupt. Every error names the image.
 */
import { ImageError, RegistryAuthError, RegistryNotFoundError } from "./errors.ts";
import { type Descriptor, type ImageConfig, parseImageConfig } from "./manifest.ts";
import { canonicalRegistry, type ImageReference, parseReference } from "./reference.ts";
import type { RegistryCredential } from "./registry_auth.ts";
import { type RegistryClient, sleep } from "./registry_client.ts";
import type { LayerStore } from "./layer_store.ts";

/** An image whose config and layers are in the store. */
export interface PulledImage {
  reference: ImageReference;
  /** Digest of the image manifest. */
  digest: string;
  config: ImageConfig;
  /** Layers, lowest first. */
  layers: Descriptor[];
}

/** Options of {@linkcode ImagePuller}. */
export interface ImagePullerOptions {
  store: LayerStore;
  client: RegistryClient;
  /** Tries per blob download. @default 3 */
  attempts?: number;
  /** Delay before the first download retry; doubles. @default 500 */
  retryDelayMs?: number;
  /** Layers downloaded at once. @default 3 */
  parallel?: number;
}

/** Credentials by registry host, as the desired pod carries them. */
export type RegistryCredentials = Record<string, RegistryCredential>;

/** Pulls images into a {@linkcode LayerStore}. */
export class ImagePuller {
  #o: Required<ImagePullerOptions>;

  constructor(options: ImagePullerOptions) {
    this.#o = { attempts: 3, retryDelayMs: 500, parallel: 3, ...options };
  }

  /** The store the images go to. */
  get store(): LayerStore {
    return this.#o.store;
  }

  /** Pulls `image`; throws an {@linkcode ImageError} whose message starts with the image. */
  async pull(
    image: string,
    credentials: RegistryCredentials = {},
    signal?: AbortSignal,
  ): Promise<PulledImage> {
    try {
      const reference = parseReference(image);
      const credential = credentialFor(reference.registry, credentials);
      const { client } = this.#o;
      const { digest, manifest } = await client.manifest(reference, credential, signal);
      const fetchBlob = (desc: Descriptor) => this.#blob(reference, desc, credential, signal);
      const configPath = await fetchBlob(manifest.config);
      const config = parseImageConfig(await Deno.readFile(configPath));
      await eachLimited(manifest.layers, this.#o.parallel, fetchBlob);
      return { reference, digest, config, layers: manifest.layers };
    } catch (err) {
      if (signal?.aborted) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      const Kind = err instanceof RegistryAuthError
        ? RegistryAuthError
        : err instanceof RegistryNotFoundError
        ? RegistryNotFoundError
        : ImageError;
      throw new Kind(`Cannot pull image "${image}": ${reason}`, { cause: err });
    }
  }

  async #blob(
    ref: ImageReference,
    desc: Descriptor,
    credential: RegistryCredential | undefined,
    signal?: AbortSignal,
  ): Promise<string> {
    for (let attempt = 1;; attempt++) {
      try {
        return await this.#o.store.ensure(desc, async () => {
          const res = await this.#o.client.blob(ref, desc.digest, credential, signal);
          if (!res.body) throw new ImageError(`blob ${desc.digest} has no body`);
          return res.body;
        });
      } catch (err) {
        const fatal = signal?.aborted || err instanceof RegistryAuthError ||
          err instanceof RegistryNotFoundError;
        if (fatal || attempt >= this.#o.attempts) throw err;
        await sleep(this.#o.retryDelayMs * 2 ** (attempt - 1), signal);
      }
    }
  }
}

/** The credential for a registry, matching keys however they are spelled. */
export function credentialFor(
  registry: string,
  credentials: RegistryCredentials,
): RegistryCredential | undefined {
  const want = canonicalRegistry(registry);
  for (const [key, value] of Object.entries(credentials)) {
    if (canonicalRegistry(key) === want) return value;
  }
  return undefined;
}

async function eachLimited<T>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
