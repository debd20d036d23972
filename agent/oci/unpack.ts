/**
 * Unpacks image layers, lowest first, into one root file system, with OCI whiteouts: a
 * `.wh.<name>` entry deletes `<name>` of lower layers, and `.wh..wh..opq` in a directory hides
 * everything lower layers put there. Whiteouts never touch what the same layer wrote.
 *
 * Every path is resolved inside the root (root_path.ts), so links in an image cannot make the
 * agent write elsewhere. Ownership is kept when the agent runs as root; device nodes and
 * FIFOs are skipped (units get /dev from the node).
 */
import { ImageError } from "./errors.ts";
import { cleanParts, resolveInRoot } from "./root_path.ts";
import { readTar, type TarEntry } from "./tar.ts";

const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

/** Options of {@linkcode applyLayer}. */
export interface UnpackOptions {
  /** Stops between entries when aborted. */
  signal?: AbortSignal;
  /** Set owners from the layer. @default Deno.uid() === 0 */
  chown?: boolean;
}

/** A layer file as a tar stream: gzip is detected by its magic bytes and inflated. */
export async function openLayer(path: string): Promise<ReadableStream<Uint8Array>> {
  const file = await Deno.open(path);
  const head = new Uint8Array(4);
  let n = 0;
  try {
    n = (await file.read(head)) ?? 0;
    await file.seek(0, Deno.SeekMode.Start);
  } catch (err) {
    file.close();
    throw err;
  }
  if (n >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) {
    file.close();
    throw new ImageError("zstd-compressed layers are not supported");
  }
  if (n >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    return file.readable.pipeThrough(new DecompressionStream("gzip"));
  }
  return file.readable;
}

/** Unpacks the layer files at `paths`, in order, into `root` (created with mode 0755). */
export async function unpackImage(
  root: string,
  paths: string[],
  options: UnpackOptions = {},
): Promise<void> {
  await Deno.mkdir(root, { recursive: true, mode: 0o755 });
  await Deno.chmod(root, 0o755);
  for (const path of paths) {
    try {
      await applyLayer(root, await openLayer(path), options);
    } catch (err) {
      if (options.signal?.aborted || !(err instanceof Error)) throw err;
      const digest = `sha256:${path.slice(path.lastIndexOf("/") + 1)}`;
      throw new ImageError(`cannot unpack layer ${digest}: ${err.message}`, { cause: err });
    }
  }
}

/** Applies one layer's tar stream on top of `root`. */
export async function applyLayer(
  root: string,
  tar: ReadableStream<Uint8Array>,
  options: UnpackOptions = {},
): Promise<void> {
  const chown = options.chown ?? Deno.uid() === 0;
  const written = new Set<string>();
  const dirs: { path: string; entry: TarEntry }[] = [];
  for await (const { entry, body } of readTar(tar)) {
    options.signal?.throwIfAborted();
    const parts = cleanParts(entry.path);
    if (parts.length === 0) continue;
    const base = parts[parts.length - 1];
    const parentRel = parts.slice(0, -1).join("/");
    if (base === OPAQUE) {
      const dir = await resolveInRoot(root, parentRel, { create: true });
      await removeUnwritten(dir, parentRel, written);
      continue;
    }
    if (base.startsWith(WHITEOUT)) {
      const rel = [...parts.slice(0, -1), base.slice(WHITEOUT.length)].join("/");
      if (!written.has(rel)) {
        await removeIfPresent(await resolveInRoot(root, rel, { followLast: false }));
      }
      continue;
    }
    const rel = parts.join("/");
    const target = `${await resolveInRoot(root, parentRel, { create: true })}/${base}`;
    written.add(rel);
    const existing = await lstat(target);
    if (entry.type === "directory") {
      if (existing && !existing.isDirectory) await Deno.remove(target, { recursive: true });
      if (!existing?.isDirectory) await Deno.mkdir(target, { mode: 0o755 });
      if (chown) await Deno.chown(target, entry.uid, entry.gid);
      dirs.push({ path: target, entry });
      continue;
    }
    if (existing) await Deno.remove(target, { recursive: true });
    switch (entry.type) {
      case "file":
        await writeNewFile(target, body);
        if (chown) await Deno.chown(target, entry.uid, entry.gid);
        await Deno.chmod(target, entry.mode);
        await Deno.utime(target, entry.mtime, entry.mtime);
        break;
      case "symlink":
        await Deno.symlink(entry.linkName, target);
        break;
      case "hardlink": {
        const source = await resolveInRoot(root, entry.linkName, { followLast: false });
        if (!(await lstat(source))) {
          throw new ImageError(`hard link "${rel}" points at missing "${entry.linkName}"`);
        }
        await Deno.link(source, target);
        break;
      }
      default:
        written.delete(rel);
    }
  }
  for (const { path, entry } of dirs.reverse()) {
    await Deno.chmod(path, entry.mode);
    await Deno.utime(path, entry.mtime, entry.mtime);
  }
}

/**
 * Writes `body` to a new file at `path` (mode 0600 until the caller sets the entry's own; it
 * must not exist yet, so no link is followed); returns the bytes written. Also used by the
 * package unpacker (agent/package_unpack.ts).
 */
export async function writeNewFile(
  path: string,
  body: AsyncIterable<Uint8Array>,
): Promise<number> {
  const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
  let bytes = 0;
  try {
    for await (const chunk of body) {
      bytes += chunk.length;
      for (let off = 0; off < chunk.length;) off += await file.write(chunk.subarray(off));
    }
  } finally {
    file.close();
  }
  return bytes;
}

/** Removes what lower layers left in `dir` (an opaque whiteout), keeping this layer's entries. */
async function removeUnwritten(dir: string, rel: string, written: Set<string>): Promise<void> {
  for await (const child of Deno.readDir(dir)) {
    const childRel = rel ? `${rel}/${child.name}` : child.name;
    const path = `${dir}/${child.name}`;
    if (!written.has(childRel)) await Deno.remove(path, { recursive: true });
    else if (child.isDirectory) await removeUnwritten(path, childRel, written);
  }
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
}

/** `Deno.lstat`, or undefined when nothing is there. */
export async function lstat(path: string): Promise<Deno.FileInfo | undefined> {
  try {
    return await Deno.lstat(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return undefined;
    throw err;
  }
}
