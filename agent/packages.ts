/**
 * Deployed packages of a pod on its node: `<podDir>/packages/<name>` is a symlink to the
 * package's current content, `.<name>.<random>/` beside it. A new deployment is downloaded
 * and checked (size, sha256), unpacked into a new directory (package_unpack.ts) and swapped in
 * by renaming a new symlink over the old one, so a unit never sees half a package; the
 * previous content stays until the next deployment (a unit started from it keeps its working
 * directory), older ones are removed. A refused package leaves the current one as it was.
 */
import { createHash } from "node:crypto";
import { openLayer } from "./oci/unpack.ts";
import { PackageError, type UnpackedPackage, unpackPackage } from "./package_unpack.ts";

/** What the controller said about a package it offers. */
export interface PackageOffer {
  name: string;
  /** Hex sha256 of the tarball. */
  sha256: string;
  size: number;
}

/** Fetches a package's tarball (a gzip or plain tar) as a byte stream. */
export type PackageFetcher = (
  podUid: string,
  name: string,
  signal?: AbortSignal,
) => Promise<ReadableStream<Uint8Array>>;

/** The symlink that holds package `name`'s current content, in `packagesDir`. */
export function packageLink(packagesDir: string, name: string): string {
  return `${packagesDir}/${name}`;
}

/**
 * Writes `body` to `file`, checking that it has `offer.size` bytes and hashes to
 * `offer.sha256`; throws {@linkcode PackageError} (and removes the file) when not.
 */
export async function downloadPackage(
  body: ReadableStream<Uint8Array>,
  file: string,
  offer: PackageOffer,
): Promise<void> {
  const hash = createHash("sha256");
  let size = 0;
  const out = await Deno.open(file, { write: true, createNew: true, mode: 0o600 });
  try {
    for await (const chunk of body) {
      size += chunk.length;
      if (size > offer.size) break;
      hash.update(chunk);
      for (let off = 0; off < chunk.length;) off += await out.write(chunk.subarray(off));
    }
  } catch (err) {
    await Deno.remove(file).catch(() => {});
    throw err;
  } finally {
    out.close();
  }
  const digest = size === offer.size ? hash.digest("hex") : "";
  if (size !== offer.size || digest !== offer.sha256) {
    await Deno.remove(file).catch(() => {});
    throw new PackageError(
      size !== offer.size
        ? `package "${offer.name}": got ${
          size > offer.size ? `more than ${offer.size}` : size
        } bytes, expected ${offer.size}`
        : `package "${offer.name}": sha256 ${digest} does not match the uploaded ${offer.sha256}`,
    );
  }
}

/**
 * Unpacks the tarball `file` as the new content of package `name` in `packagesDir` and swaps
 * it in atomically. On any problem the new directory is removed and the old content stays.
 */
export async function installPackage(
  packagesDir: string,
  name: string,
  file: string,
  signal?: AbortSignal,
): Promise<UnpackedPackage> {
  const version = `.${name}.${crypto.randomUUID().slice(0, 8)}`;
  const dir = `${packagesDir}/${version}`;
  await Deno.mkdir(dir, { mode: 0o755 });
  let unpacked: UnpackedPackage;
  try {
    unpacked = await unpackPackage(dir, await openLayer(file), { signal });
    const tmpLink = `${packagesDir}/${version}.link`;
    await Deno.symlink(version, tmpLink);
    await Deno.rename(tmpLink, packageLink(packagesDir, name));
  } catch (err) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    if (err instanceof PackageError || !(err instanceof Error)) throw err;
    throw new PackageError(`package "${name}": ${err.message}`, { cause: err });
  }
  await removeOldVersions(packagesDir, name, version);
  return unpacked;
}

/** Removes versions of `name` other than `current` and the one before it. */
async function removeOldVersions(packagesDir: string, name: string, current: string) {
  const prefix = `.${name}.`;
  const versions: { path: string; mtime: number }[] = [];
  for await (const e of Deno.readDir(packagesDir)) {
    if (!e.name.startsWith(prefix) || e.name === current || e.name.endsWith(".tar")) continue;
    const path = `${packagesDir}/${e.name}`;
    const info = await Deno.lstat(path).catch(() => undefined);
    if (info) versions.push({ path, mtime: info.mtime?.getTime() ?? 0 });
  }
  versions.sort((a, b) => b.mtime - a.mtime);
  for (const v of versions.slice(1)) await Deno.remove(v.path, { recursive: true }).catch(() => {});
}
