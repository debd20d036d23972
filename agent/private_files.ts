/**
 * Files and directories only the agent's user may read: what holds a unit's environment (and
 * so the pod's Secret values) or its output.
 */

/** Permission bits of a private file. */
export const PRIVATE_FILE_MODE = 0o600;
/** Permission bits of a private directory. */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Writes `text` to `path` as a private file, replacing whatever was there. The text is written
 * to a new file created private and then renamed into place, so it is never readable by others,
 * not even for a moment, and not even when an older file at `path` was.
 */
export function writePrivateFileSync(path: string, text: string): void {
  const tmp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = Deno.openSync(tmp, { write: true, createNew: true, mode: PRIVATE_FILE_MODE });
  try {
    const bytes = new TextEncoder().encode(text);
    for (let done = 0; done < bytes.length;) done += file.writeSync(bytes.subarray(done));
  } catch (err) {
    file.close();
    Deno.removeSync(tmp);
    throw err;
  }
  file.close();
  Deno.renameSync(tmp, path);
}

/** Creates `path` (and missing parents) and makes it private, also when it existed. */
export async function makePrivateDir(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  await Deno.chmod(path, PRIVATE_DIR_MODE);
}

/** {@linkcode makePrivateDir}, synchronously. */
export function makePrivateDirSync(path: string): void {
  Deno.mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  Deno.chmodSync(path, PRIVATE_DIR_MODE);
}
