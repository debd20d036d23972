/**
 * Starts a unit in its own PID, mount and UTS namespaces with util-linux's `unshare`, without
 * runc. `unshare --fork` makes a shell PID 1 of the new PID namespace; the shell (a fixed
 * script; every value reaches it as an argument) mounts /proc, a /dev with the node's
 * null/zero/full/random/urandom/tty, /sys read-only and the pod volumes into the rootfs, sets
 * the hostname, and then execs `env -i` with the unit's environment, which execs
 * `unshare --root --wd --setuid --setgid` (chroot, chdir, drop to the user), which execs the
 * unit — so the unit itself is PID 1. Killing it ends the namespace; `--kill-child` ends it
 * too when the launcher dies. Mounts are private to the namespace and vanish with it.
 *
 * The unit's environment (the pod's Secret values among it) is on no command line, which any
 * user can read in /proc: the launcher's own environment carries each `NAME=value` in a
 * variable `MILPA_ENV_<n>`, and `env -i -S '-- ${MILPA_ENV_0} ${MILPA_ENV_1} ...'` (GNU env)
 * expands them into the new environment, dropping everything else. Only root can read a
 * process's environment. The shell cannot pass the unit's variables on itself: it drops names
 * that are no shell identifiers ("a.b") and rewrites IFS and PWD.
 *
 * Unlike runc this keeps root's capabilities in the unit and uses chroot, not pivot_root:
 * isolation, not a security boundary.
 */
import { descendants, signal } from "./proc.ts";
import type { ContainerProcess, LaunchedContainer, Launcher } from "./launcher.ts";

/** Paths of the host tools the launcher runs. */
export interface UnshareTools {
  unshare: string;
  sh: string;
  /** GNU env (coreutils 8.30 or later, for `-S`). */
  env: string;
  /** PATH the setup script runs with (mount, mkdir, ln). */
  path: string;
}

const SETUP = `set -e
root=$1 name=$2
shift 2
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o nosuid,mode=0755,size=65536k tmpfs "$root/dev"
for d in null zero full random urandom tty; do
  : > "$root/dev/$d"
  mount --bind "/dev/$d" "$root/dev/$d"
done
mkdir -m 1777 "$root/dev/shm"
mkdir -m 0755 "$root/dev/pts"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys" 2>/dev/null || true
while [ "$1" != "--" ]; do
  mount --rbind "$1" "$2"
  shift 2
done
shift
printf %s "$name" > /proc/sys/kernel/hostname
exec "$@"`;

/** Runs units with `unshare` and chroot. */
export class UnshareLauncher implements Launcher {
  readonly kind = "unshare";
  #tools: UnshareTools;

  constructor(tools: UnshareTools) {
    this.#tools = tools;
  }

  /** Spawns the run; see the module comment for the chain of execs. */
  spawn(p: ContainerProcess): LaunchedContainer {
    const t = this.#tools;
    const { carriers, expand } = envCarriers(p.env);
    const args = [
      "--pid",
      "--fork",
      "--kill-child",
      "--mount",
      "--propagation",
      "private",
      "--uts",
      "--",
      t.sh,
      "-c",
      SETUP,
      "milpa-unit",
      p.rootfs,
      p.hostname,
      ...p.mounts.flatMap((m) => [m.source, m.target]),
      "--",
      t.env,
      "-i",
      "-S",
      expand,
      t.unshare,
      `--root=${p.rootfs}`,
      `--wd=${p.cwd}`,
      `--setgid=${p.gid}`,
      `--setuid=${p.uid}`,
      "--",
      ...p.argv,
    ];
    const child = new Deno.Command(t.unshare, {
      args,
      clearEnv: true,
      env: { ...carriers, PATH: t.path },
      // Every exec in the chain keeps fd 0: the unit reads the pipe (closed without stdin).
      stdin: p.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return {
      child,
      signal: (sig) => {
        // PID 1 of the namespace is unshare's only child; before the fork there is none yet,
        // and signalling unshare itself ends the child through --kill-child.
        const init = descendants(child.pid).find((p) => p.ppid === child.pid);
        signal(init?.pid ?? child.pid, init ? sig : "SIGKILL");
        return Promise.resolve();
      },
    };
  }
}

/** Prefix of the variables that carry the unit's environment to `env -S`. */
const CARRIER = "MILPA_ENV_";

/**
 * The launcher's variables carrying `env` (`MILPA_ENV_<n>` = "NAME=value"), and the `env -S`
 * argument that expands them: `-- ${MILPA_ENV_0} ...`. An expanded value is one argument,
 * taken literally (no splitting, quoting or further expansion); after `--`, env takes every
 * argument holding "=" as a variable. Names that are empty or hold "=" cannot be set and are
 * left out.
 */
function envCarriers(
  env: Record<string, string>,
): { carriers: Record<string, string>; expand: string } {
  const carriers: Record<string, string> = {};
  const refs = ["--"];
  for (const [name, value] of Object.entries(env)) {
    if (name === "" || name.includes("=")) continue;
    const carrier = `${CARRIER}${refs.length - 1}`;
    carriers[carrier] = `${name}=${value}`;
    refs.push(`\${${carrier}}`);
  }
  return { carriers, expand: refs.join(" ") };
}
