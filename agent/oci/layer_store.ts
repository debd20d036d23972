/**
 * The node's blob cache: `<dir>/blobs/sha256/<hex>`, shared by every unit and pod on the node.
 * A blob is written to a temporary file while its SHA-256 is computed and is renamed into
 * place only when digest and size match, so a blob in the store is always whole and verified.
 * Concurrent requests for one digest share one download (an in-process lock per digest).
 */
import { createHash } from "node:crypto";
import { DigestMismatchError, ImageError } from "./errors.ts";

/** What the store fetched and reused since it was created. */
export interface PullStats {
  /** Blobs downloaded (each download counted once, however many waited for it). */
  blobsFetched: number;
  /** Bytes received for blobs, failed downloads included. */
  bytesFetched: number;
  /** Requests answered from the cache without a download. */
  blobsReused: number;
}

/** A blob to have: its digest and, when known, its size. */
export interface BlobRef {
  digest: string;
  size?: number;
}

/** Opens a blob's byte stream (one download attempt). */
export type BlobSource = () => Promise<ReadableStream<Uint8Array>>;

const DIGEST = /^sha256:([a-f0-9]{64})$/;

/** Verified, content-addressed blobs on disk. */
export class LayerStore {
  readonly dir: string;
  #inflight = new Map<string, Promise<string>>();
  #stats: PullStats = { blobsFetched: 0, bytesFetched: 0, blobsReused: 0 };

  /** `dir` is the image directory (`<dataDir>/images`). */
  constructor(dir: string) {
    this.dir = dir;
  }

  /** Where a blob lives (whether or not it is there). */
  path(digest: string): string {
    const m = DIGEST.exec(digest);
    if (!m) throw new ImageError(`unsupported digest "${digest}" (only sha256 is supported)`);
    return `${this.dir}/blobs/sha256/${m[1]}`;
  }

  /** True when the blob is in the store. */
  async has(digest: string): Promise<boolean> {
    try {
      return (await Deno.stat(this.path(digest))).isFile;
    } catch {
      return false;
    }
  }

  /** A copy of the counters. */
  pullStats(): PullStats {
    return { ...this.#stats };
  }

  /**
   * Makes sure the blob is in the store and returns its path. Downloads it from `open()`
   * unless it is there or already being downloaded (then waits for that download).
   * Rejects with {@linkcode DigestMismatchError} when the bytes do not match.
   */
  ensure(blob: BlobRef, open: BlobSource): Promise<string> {
    const path = this.path(blob.digest);
    const running = this.#inflight.get(blob.digest);
    if (running) return running;
    const task = (async () => {
      if (await this.has(blob.digest)) {
        this.#stats.blobsReused++;
        return path;
      }
      await this.#download(blob, path, open);
      return path;
    })().finally(() => this.#inflight.delete(blob.digest));
    this.#inflight.set(blob.digest, task);
    return task;
  }

  async #download(blob: BlobRef, path: string, open: BlobSource): Promise<void> {
    const dir = path.slice(0, path.lastIndexOf("/"));
    await Deno.mkdir(dir, { recursive: true });
    const tmp = `${dir}/.${path.slice(dir.length + 1)}.${crypto.randomUUID()}.partial`;
    this.#stats.blobsFetched++;
    const hash = createHash("sha256");
    let size = 0;
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o644 });
    let ok = false;
    try {
      const stream = await open();
      for await (const chunk of stream) {
        size += chunk.length;
        this.#stats.bytesFetched += chunk.length;
        if (blob.size !== undefined && size > blob.size) {
          throw new DigestMismatchError(
            `blob ${blob.digest} is larger than the ${blob.size} bytes its descriptor says`,
          );
        }
        hash.update(chunk);
        for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
      }
      const actual = `sha256:${hash.digest("hex")}`;
      if (actual !== blob.digest) {
        throw new DigestMismatchError(`blob ${blob.digest} downloaded with digest ${actual}`);
      }
      if (blob.size !== undefined && size !== blob.size) {
        throw new DigestMismatchError(
          `blob ${blob.digest} has ${size} bytes, not ${blob.size} as its descriptor says`,
        );
      }
      ok = true;
    } finally {
      file.close();
      if (ok) await Deno.rename(tmp, path);
      else await Deno.remove(tmp).catch(() => {});
    }
  }
}
