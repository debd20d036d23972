/**
 * How an image unit runs, from its image config and its unit: the program with Kubernetes
 * command/args semantics, the working directory, the user (looked up in the image's
 * /etc/passwd and /etc/group) and the environment.
 */
import { ImageError } from "./errors.ts";
import type { ImageConfig } from "./manifest.ts";
import { resolveInRoot } from "./root_path.ts";

/** PATH of an image unit whose image and spec set none. */
export const CONTAINER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** The unit fields that decide how its image runs. */
export interface UnitCommand {
  command?: string[];
  args?: string[];
  workingDir?: string;
}

/**
 * The program and its arguments, as Kubernetes decides them: `command` replaces the image's
 * Entrypoint and drops its Cmd; `args` alone replace Cmd; neither runs Entrypoint + Cmd.
 */
export function unitArgv(config: ImageConfig, unit: UnitCommand, image: string): string[] {
  const entrypoint = config.config?.Entrypoint ?? [];
  const cmd = config.config?.Cmd ?? [];
  const argv = unit.command?.length
    ? [...unit.command, ...(unit.args ?? [])]
    : [...entrypoint, ...(unit.args?.length ? unit.args : cmd)];
  if (argv.length === 0) {
    throw new ImageError(
      `image "${image}" has no Entrypoint or Cmd and the unit gives no command`,
    );
  }
  return argv;
}

/** The working directory: the unit's, else the image's, else "/". */
export function unitWorkingDir(config: ImageConfig, unit: UnitCommand): string {
  const dir = unit.workingDir || config.config?.WorkingDir || "/";
  return dir.startsWith("/") ? dir : `/${dir}`;
}

/** The image's Env as a record (later entries win). */
export function imageEnv(config: ImageConfig): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of config.config?.Env ?? []) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return env;
}

/**
 * A unit's environment: PATH and HOME defaults, overridden by the image's Env, overridden by
 * what the pod spec sets (pod env, then the unit's env).
 */
export function containerEnv(
  image: Record<string, string>,
  spec: Record<string, string>,
  home: string,
): Record<string, string> {
  return { PATH: CONTAINER_PATH, HOME: home, ...image, ...spec };
}

/** The user a unit runs as. */
export interface UnitUser {
  uid: number;
  gid: number;
  /** Home directory from /etc/passwd, else "/root" for root and "/" for others. */
  home: string;
}

/**
 * Resolves an image's `User` ("", "name", "uid", "name:group", "uid:gid") against the
 * image's /etc/passwd and /etc/group. A numeric uid needs no passwd entry (gid 0 then).
 */
export async function resolveUser(root: string, user = ""): Promise<UnitUser> {
  const [u, g] = user.split(":", 2);
  const passwd = await table(root, "/etc/passwd");
  const numeric = /^\d+$/;
  let uid = 0, gid = 0, home: string | undefined;
  if (u) {
    const entry = passwd.find((f) => (numeric.test(u) ? f[2] === u : f[0] === u));
    if (!entry && !numeric.test(u)) {
      throw new ImageError(`user "${u}" is not in the image's /etc/passwd`);
    }
    uid = entry ? Number(entry[2]) : Number(u);
    gid = entry ? Number(entry[3]) : 0;
    home = entry?.[5];
  } else {
    home = passwd.find((f) => f[2] === "0")?.[5];
  }
  if (g) {
    if (numeric.test(g)) gid = Number(g);
    else {
      const group = (await table(root, "/etc/group")).find((f) => f[0] === g);
      if (!group) throw new ImageError(`group "${g}" is not in the image's /etc/group`);
      gid = Number(group[2]);
    }
  }
  return { uid, gid, home: home || (uid === 0 ? "/root" : "/") };
}

/** The colon-separated lines of a file inside the root; [] when it is missing. */
async function table(root: string, path: string): Promise<string[][]> {
  try {
    const text = await Deno.readTextFile(await resolveInRoot(root, path));
    return text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
  } catch {
    return [];
  }
}
