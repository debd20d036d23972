/**
 * Test helpers that look for a secret value where no one else may read it: the command lines
 * of every process on the machine (world-readable in /proc) and the files under a directory.
 */

/** Pids of the processes whose command line (`/proc/<pid>/cmdline`) contains `value`. */
export function processesShowing(value: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(value)) {
        found.push(Number(entry.name));
      }
    } catch {
      // gone
    }
  }
  return found;
}

/** A file that holds the value, and its permission bits. */
export interface HoldingFile {
  path: string;
  mode: number;
}

/**
 * The regular files under `dir` (symbolic links not followed) whose bytes contain `value`
 * (ASCII), with their permission bits.
 */
export async function filesHolding(dir: string, value: string): Promise<HoldingFile[]> {
  const found: HoldingFile[] = [];
  // latin1 maps every byte to one character, so an ASCII value is found at any offset.
  const decoder = new TextDecoder("latin1");
  const walk = async (path: string): Promise<void> => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(path));
    } catch {
      return; // removed meanwhile
    }
    for (const e of entries) {
      const child = `${path}/${e.name}`;
      if (e.isDirectory) await walk(child);
      if (!e.isFile) continue;
      try {
        if (decoder.decode(await Deno.readFile(child)).includes(value)) {
          found.push({ path: child, mode: (await Deno.lstat(child)).mode! & 0o7777 });
        }
      } catch {
        // removed meanwhile
      }
    }
  };
  await walk(dir);
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

/** Permission bits of `path` as an octal string ("600"), for assertion messages. */
export function modeOf(path: string): string {
  return (Deno.statSync(path).mode! & 0o7777).toString(8);
}
