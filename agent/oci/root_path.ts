/**
 * Paths inside a container's root file system, resolved as the container would see them:
 * symlinks met on the way are followed relative to the root (an absolute link target starts
 * again at the root, ".." never climbs above it), so an image can never make the agent write
 * outside its rootfs.
 */
import { ImageError } from "./errors.ts";

/** How many symlinks one resolution may follow. */
const MAX_LINKS = 40;

/** Splits a path into clean components: no "", "." or leading ".." (".." pops). */
export function cleanParts(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out;
}

/** Options of {@linkcode resolveInRoot}. */
export interface ResolveOptions {
  /** Create missing directories on the way (mode 0755). @default false */
  create?: boolean;
  /** Follow a symlink in the last component too. @default true */
  followLast?: boolean;
}

/**
 * The host path of `path` inside `root`, following symlinks within the root. Missing
 * components are kept as they are (or created as directories with `create`).
 */
export async function resolveInRoot(
  root: string,
  path: string,
  options: ResolveOptions = {},
): Promise<string> {
  const { create = false, followLast = true } = options;
  const resolved: string[] = [];
  const queue = cleanParts(path);
  let links = 0;
  while (queue.length > 0) {
    const part = queue.shift()!;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const host = `${root}/${[...resolved, part].join("/")}`;
    const last = queue.length === 0;
    let info: Deno.FileInfo | undefined;
    try {
      info = await Deno.lstat(host);
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    if (!info && create) {
      await Deno.mkdir(host, { mode: 0o755 });
      info = await Deno.lstat(host);
    }
    if (info?.isSymlink && (!last || followLast)) {
      if (++links > MAX_LINKS) throw new ImageError(`too many symlinks resolving "${path}"`);
      const target = await Deno.readLink(host);
      if (target.startsWith("/")) resolved.length = 0;
      queue.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
      continue;
    }
    if (info && !info.isDirectory && !last) {
      throw new ImageError(
        `"${path}" passes through "/${[...resolved, part].join("/")}", which is not a directory`,
      );
    }
    resolved.push(part);
  }
  return resolved.length ? `${root}/${resolved.join("/")}` : root;
}
