/**
 * Unpacks a deployed package (`milpactl deploy`) into a new, empty directory, strictly: unlike
 * image layers (oci/unpack.ts), which are resolved inside their root, a package entry that
 * could point outside its directory is refused, and the whole package with it:
 *
 * - a path that is absolute or has a ".." segment;
 * - a symlink whose target is absolute, or climbs above the package's root from where it is;
 * - a hard link to anything but a regular file the package already holds;
 * - an entry whose parent path passes through a symlink or a file (so a link cannot carry a
 *   later entry elsewhere), device files, FIFOs and anything else that is not a file,
 *   directory or link.
 *
 * Modes keep their permission bits only (no setuid, setgid or sticky bit); owners are not
 * kept. The caller unpacks into a fresh directory and throws it away when this throws.
 */
import { MilpaError } from "../model/errors.ts";
import { readTar, type TarEntry } from "./oci/tar.ts";
import { lstat, writeNewFile } from "./oci/unpack.ts";

/** A package that cannot be unpacked safely; the message says which entry and why. */
export class PackageError extends MilpaError {}

/** Options of {@linkcode unpackPackage}. */
export interface PackageUnpackOptions {
  /** Stops between entries when aborted. */
  signal?: AbortSignal;
}

/** What an unpacked package holds. */
export interface UnpackedPackage {
  files: number;
  directories: number;
  symlinks: number;
  /** Bytes of regular files. */
  bytes: number;
}

/**
 * The clean components of an entry path (a leading "./" and empty or "." parts dropped);
 * throws {@linkcode PackageError} for an absolute path or a ".." part.
 */
export function packageEntryParts(path: string, what = "entry"): string[] {
  if (path.startsWith("/")) throw new PackageError(`${what} "${path}": absolute path`);
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new PackageError(`${what} "${path}": path with ".."`);
  if (path.includes("\0")) throw new PackageError(`${what} "${path}": path with NUL`);
  return parts;
}

/**
 * Whether a symlink at `parts` (components from the package root) with target `target`
 * stays inside the package, resolved lexically from the link's directory.
 */
export function symlinkStaysInside(parts: string[], target: string): boolean {
  if (target.startsWith("/") || target === "") return false;
  const dir = parts.slice(0, -1);
  for (const p of target.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") {
      if (dir.length === 0) return false;
      dir.pop();
    } else dir.push(p);
  }
  return true;
}

/** Unpacks the tar stream `tar` into `root`, which must be an empty directory. */
export async function unpackPackage(
  root: string,
  tar: ReadableStream<Uint8Array>,
  options: PackageUnpackOptions = {},
): Promise<UnpackedPackage> {
  const counts: UnpackedPackage = { files: 0, directories: 0, symlinks: 0, bytes: 0 };
  const dirs: { path: string; entry: TarEntry }[] = [];
  for await (const { entry, body } of readTar(tar)) {
    options.signal?.throwIfAborted();
    const parts = packageEntryParts(entry.path);
    if (parts.length === 0) {
      if (entry.type === "directory") continue; // "./" itself
      throw new PackageError(`entry "${entry.path}": no name`);
    }
    const rel = parts.join("/");
    const parent = await realDirectory(root, parts.slice(0, -1), entry.path);
    const target = `${parent}/${parts[parts.length - 1]}`;
    const existing = await lstat(target);
    if (entry.type === "directory") {
      if (existing && !existing.isDirectory) await Deno.remove(target, { recursive: true });
      if (!existing?.isDirectory) await Deno.mkdir(target, { mode: 0o755 });
      dirs.push({ path: target, entry });
      counts.directories++;
      continue;
    }
    switch (entry.type) {
      case "file":
      case "symlink":
      case "hardlink":
        break;
      default:
        throw new PackageError(
          `entry "${entry.path}": a ${entry.type === "other" ? "special" : entry.type} entry; ` +
            "packages hold only files, directories and links",
        );
    }
    if (existing) await Deno.remove(target, { recursive: true });
    if (entry.type === "file") {
      counts.bytes += await writeNewFile(target, body);
      await Deno.chmod(target, entry.mode & 0o777);
      await Deno.utime(target, entry.mtime, entry.mtime);
      counts.files++;
    } else if (entry.type === "symlink") {
      if (!symlinkStaysInside(parts, entry.linkName)) {
        throw new PackageError(
          `symlink "${rel}" -> "${entry.linkName}": ${
            entry.linkName.startsWith("/") ? "absolute target" : "target outside the package"
          }`,
        );
      }
      await Deno.symlink(entry.linkName, target);
      counts.symlinks++;
    } else {
      const linkParts = packageEntryParts(entry.linkName, `hard link "${rel}" to`);
      const source = `${await realDirectory(root, linkParts.slice(0, -1), entry.linkName)}/${
        linkParts[linkParts.length - 1]
      }`;
      const info = linkParts.length ? await lstat(source) : undefined;
      if (!info?.isFile) {
        throw new PackageError(
          `hard link "${rel}" to "${entry.linkName}": not a file of the package`,
        );
      }
      await Deno.link(source, target);
      counts.files++;
    }
  }
  for (const { path, entry } of dirs.reverse()) {
    await Deno.chmod(path, entry.mode & 0o777 | 0o700);
    await Deno.utime(path, entry.mtime, entry.mtime);
  }
  return counts;
}

/**
 * `root/parts...` as real directories, created (0755) where missing; throws when one of them
 * is a symlink or not a directory.
 */
async function realDirectory(root: string, parts: string[], path: string): Promise<string> {
  let dir = root;
  for (const part of parts) {
    dir = `${dir}/${part}`;
    const info = await lstat(dir);
    if (!info) {
      await Deno.mkdir(dir, { mode: 0o755 });
    } else if (info.isSymlink) {
      throw new PackageError(`entry "${path}": its path passes through a symlink`);
    } else if (!info.isDirectory) {
      throw new PackageError(`entry "${path}": its path passes through a file`);
    }
  }
  return dir;
}
