/**
 * Process-tree helpers for stopping host units: find a process's descendants through /proc
 * (Linux) and signal them. Elsewhere only the process group is used.
 */

/** A process seen in /proc; `startTime` tells a live process from a later one reusing its pid. */
export interface ProcEntry {
  pid: number;
  ppid: number;
  startTime: string;
  zombie: boolean;
}

/** Reads /proc/<pid>/stat; undefined when the process is gone or /proc is missing. */
export function readProc(pid: number): ProcEntry | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid ..." — comm may hold spaces and parentheses, so cut at the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { pid, ppid: Number(fields[1]), startTime: fields[19] ?? "", zombie: fields[0] === "Z" };
}

/** Every process below `root` (not `root` itself), from one scan of /proc; [] without /proc. */
export function descendants(root: number): ProcEntry[] {
  const children = new Map<number, ProcEntry[]>();
  let names: Iterable<Deno.DirEntry>;
  try {
    names = Deno.readDirSync("/proc");
  } catch {
    return [];
  }
  for (const entry of names) {
    if (!/^\d+$/.test(entry.name)) continue;
    const proc = readProc(Number(entry.name));
    if (!proc) continue;
    const siblings = children.get(proc.ppid) ?? [];
    siblings.push(proc);
    children.set(proc.ppid, siblings);
  }
  const found: ProcEntry[] = [];
  const queue = [root];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/** True while the process recorded in `entry` is still running (not a zombie, pid not reused). */
export function isAlive(entry: ProcEntry): boolean {
  const now = readProc(entry.pid);
  return now !== undefined && !now.zombie && now.startTime === entry.startTime;
}

/** Sends a signal, ignoring processes that are already gone. */
export function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // Already exited (ESRCH) or not ours any more: nothing to do.
  }
}
