/**
 * Starts a unit with runc: writes an OCI runtime bundle config (`<stateDir>/config.json`,
 * rootfs beside it) and runs `runc run` in the foreground, which passes stdio (the unit's stdin
 * pipe among it, with `stdin: true`) through and
 * exits with the unit's status (128 + signal when killed). Namespaces: PID, mount, UTS and
 * IPC; the network is the node's. Capabilities are Docker's default set.
 *
 * The config holds the unit's environment (the pod's Secret values among it), so it is a
 * private file (0600) in a private bundle directory (0700), and so is runc's state root; no
 * value is on any command line (runc hands the environment to the container through a pipe).
 *
 * A container outlives a killed `runc run`, so runc itself runs as PID 1 of a PID namespace
 * of its own (`unshare --pid --fork --kill-child --mount-proc`): when the agent's process
 * group is killed, that namespace and the container nested in it go too. Stops signal the
 * container's PID 1 (runc's child) directly; `runc kill` would read pids of runc's namespace.
 */
import type { ContainerProcess, LaunchedContainer, Launcher } from "./launcher.ts";
import { HOST_PATH } from "./pod_spec.ts";
import { makePrivateDirSync, writePrivateFileSync } from "./private_files.ts";
import { descendants, signal } from "./proc.ts";

/** Docker's default capabilities. */
const CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/** Runs units with runc; `stateRoot` is runc's `--root` (its container state). */
export class RuncLauncher implements Launcher {
  readonly kind = "runc";
  #runc: string;
  #root: string;
  #unshare?: string;

  /** `unshare` is util-linux's tool, to tie containers to the agent's life (see above). */
  constructor(runc: string, stateRoot: string, unshare?: string) {
    this.#runc = runc;
    this.#root = stateRoot;
    this.#unshare = unshare;
  }

  /**
   * Forgets containers of an earlier agent (their namespaces died with it); call before the
   * first spawn.
   */
  async removeStale(): Promise<void> {
    await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }

  /** Writes the bundle config and spawns `runc run`. */
  spawn(p: ContainerProcess): LaunchedContainer {
    makePrivateDirSync(this.#root);
    makePrivateDirSync(p.stateDir);
    writePrivateFileSync(`${p.stateDir}/config.json`, JSON.stringify(runtimeSpec(p)));
    const run = [this.#runc, "--root", this.#root, "run", "--bundle", p.stateDir, p.id];
    const wrap = this.#unshare
      ? [this.#unshare, "--pid", "--fork", "--kill-child", "--mount-proc", "--"]
      : [];
    const [program, ...args] = [...wrap, ...run];
    const child = new Deno.Command(program, {
      args,
      clearEnv: true,
      env: { PATH: HOST_PATH },
      // Not detached, runc hands its own stdin to the container's process.
      stdin: p.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const wrapped = this.#unshare !== undefined;
    return {
      child,
      signal: (sig) => {
        const procs = descendants(child.pid);
        const runc = wrapped ? procs.find((p) => p.ppid === child.pid)?.pid : child.pid;
        const init = procs.find((p) => p.ppid === runc)?.pid;
        // Without a container yet, ending runc (and with it its namespace) is all there is.
        if (init !== undefined) signal(init, sig);
        else signal(child.pid, wrapped ? "SIGKILL" : sig);
        return Promise.resolve();
      },
      cleanup: () => removeCgroups(p.id),
    };
  }
}

/**
 * Removes the container's cgroups, which runc leaves behind when it is killed with its
 * namespace; they empty a moment after that, so busy ones are tried again for up to 2 s.
 * Best effort: cgroup v1 hierarchies and a v2 root.
 */
async function removeCgroups(id: string): Promise<void> {
  const dirs: string[] = [];
  try {
    for await (const e of Deno.readDir("/sys/fs/cgroup")) {
      if (e.isDirectory) dirs.push(`/sys/fs/cgroup/${e.name}/milpa/${id}`);
    }
  } catch {
    return;
  }
  dirs.push(`/sys/fs/cgroup/milpa/${id}`);
  for (let attempt = 0; dirs.length > 0 && attempt < 40; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, 50));
    for (const dir of [...dirs]) {
      try {
        await Deno.remove(dir);
        dirs.splice(dirs.indexOf(dir), 1);
      } catch (err) {
        if (err instanceof Deno.errors.NotFound) dirs.splice(dirs.indexOf(dir), 1);
      }
    }
  }
}

/** The OCI runtime spec (config.json) of one run. */
export function runtimeSpec(p: ContainerProcess): unknown {
  const noSuid = ["nosuid", "noexec", "nodev"];
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: { uid: p.uid, gid: p.gid },
      args: p.argv,
      env: Object.entries(p.env).map(([k, v]) => `${k}=${v}`),
      cwd: p.cwd,
      capabilities: {
        bounding: CAPABILITIES,
        effective: CAPABILITIES,
        permitted: CAPABILITIES,
      },
      noNewPrivileges: false,
    },
    root: { path: "rootfs", readonly: false },
    hostname: p.hostname,
    mounts: [
      { destination: "/proc", type: "proc", source: "proc", options: noSuid },
      {
        destination: "/dev",
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "strictatime", "mode=755", "size=65536k"],
      },
      {
        destination: "/dev/pts",
        type: "devpts",
        source: "devpts",
        options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
      },
      {
        destination: "/dev/shm",
        type: "tmpfs",
        source: "shm",
        options: [...noSuid, "mode=1777", "size=65536k"],
      },
      { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: noSuid },
      { destination: "/sys", type: "sysfs", source: "sysfs", options: [...noSuid, "ro"] },
      ...p.mounts.map((m) => ({
        destination: m.destination,
        type: "bind",
        source: m.source,
        options: ["rbind", "rw"],
      })),
    ],
    linux: {
      cgroupsPath: `/milpa/${p.id}`,
      namespaces: [{ type: "pid" }, { type: "mount" }, { type: "uts" }, { type: "ipc" }],
      maskedPaths: [
        "/proc/acpi",
        "/proc/kcore",
        "/proc/keys",
        "/proc/latency_stats",
        "/proc/timer_list",
        "/proc/timer_stats",
        "/proc/sched_debug",
        "/proc/scsi",
        "/sys/firmware",
      ],
      readonlyPaths: [
        "/proc/asound",
        "/proc/bus",
        "/proc/fs",
        "/proc/irq",
        "/proc/sys",
        "/proc/sysrq-trigger",
      ],
    },
  };
}
