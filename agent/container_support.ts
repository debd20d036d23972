/**
 * Whether this node can run units from images, found out once when the agent starts, and the
 * composition of the node's runtime from the agent config. Containers need Linux, root, and
 * either runc (preferred) or util-linux's unshare able to make PID, mount and UTS namespaces.
 */
import { ContainerRuntime } from "./container_runtime.ts";
import { HostRuntime } from "./host_runtime.ts";
import type { Launcher } from "./launcher.ts";
import { ImagePuller } from "./oci/image_puller.ts";
import { LayerStore } from "./oci/layer_store.ts";
import { RegistryClient, registryFetch, type RegistryProxy } from "./oci/registry_client.ts";
import { HOST_PATH } from "./pod_spec.ts";
import { RuncLauncher } from "./runc_launcher.ts";
import { type RuntimeMode, SelectingRuntime } from "./runtime_select.ts";
import type { UnitRuntime } from "./unit_runtime.ts";
import { UnshareLauncher } from "./unshare_launcher.ts";

/** The outcome of {@linkcode detectContainerSupport}: a launcher, or why there is none. */
export interface ContainerSupport {
  launcher?: Launcher;
  reason?: string;
}

/** Options of {@linkcode detectContainerSupport}. */
export interface DetectOptions {
  /** Holds runc's state (`<dataDir>/runc`). */
  dataDir: string;
  /** Where tools are looked for. @default HOST_PATH */
  path?: string;
  /** Skip runc even when it is there. @default "runc" */
  prefer?: "runc" | "unshare";
  /** Read to find cgroup mounts; without one runc is skipped. @default "/proc/self/mountinfo" */
  mountinfo?: string;
}

/** The first executable `name` in `path` (colon-separated directories). */
export function findTool(name: string, path = HOST_PATH): string | undefined {
  for (const dir of path.split(":")) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111)) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function runs(program: string, args: string[], path: string): Promise<string | true> {
  try {
    const out = await new Deno.Command(program, {
      args,
      clearEnv: true,
      env: { PATH: path },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    return out.success || new TextDecoder().decode(out.stderr).trim() || `exit ${out.code}`;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** Finds out, once, how this node can run containers. */
export async function detectContainerSupport(o: DetectOptions): Promise<ContainerSupport> {
  const path = o.path ?? HOST_PATH;
  if (Deno.build.os !== "linux") return { reason: "containers need Linux" };
  const uid = Deno.uid();
  if (uid !== 0) return { reason: `the agent runs as uid ${uid}, not root` };
  const runc = findTool("runc", path);
  const unshare = findTool("unshare", path);
  if (
    runc && o.prefer !== "unshare" && await hasCgroupMount(o.mountinfo) &&
    (await runs(runc, ["--version"], path)) === true
  ) {
    return { launcher: new RuncLauncher(runc, `${o.dataDir}/runc`, unshare) };
  }
  const sh = findTool("sh", path);
  const env = findTool("env", path);
  if (!unshare || !sh || !env) {
    return { reason: "neither runc nor unshare (util-linux) is installed" };
  }
  const probe = await runs(
    unshare,
    ["--pid", "--fork", "--kill-child", "--mount", "--uts", "--", sh, "-c", "exit 0"],
    path,
  );
  if (probe !== true) return { reason: `unshare cannot create namespaces: ${probe}` };
  if (!(await expandsEnv(env, sh, path))) {
    return { reason: `${env} cannot hand units their environment (needs GNU env 8.30 or later)` };
  }
  return { launcher: new UnshareLauncher({ unshare, sh, env, path }) };
}

/**
 * Whether `env` is GNU env with `-S` and its `${VAR}` expansion, which the unshare launcher
 * hands a unit its environment with (see unshare_launcher.ts).
 */
async function expandsEnv(env: string, sh: string, path: string): Promise<boolean> {
  try {
    const out = await new Deno.Command(env, {
      args: ["-i", "-S", "-- ${MILPA_ENV_0}", sh, "-c", 'test "$MILPA_PROBE" = "a b"'],
      clearEnv: true,
      env: { PATH: path, MILPA_ENV_0: "MILPA_PROBE=a b" },
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/** Whether a cgroup hierarchy is mounted (runc cannot run a container without one). */
async function hasCgroupMount(mountinfo = "/proc/self/mountinfo"): Promise<boolean> {
  const text = await Deno.readTextFile(mountinfo).catch(() => "");
  return text.split("\n").some((l) => / - cgroup2? /.test(l));
}

/** Options of {@linkcode createNodeRuntime}. */
export interface NodeRuntimeOptions {
  mode: RuntimeMode;
  dataDir: string;
  /** @default "<dataDir>/images" */
  imageDir?: string;
  insecureRegistries?: string[];
  /** Every registry request goes through this proxy (the agent config's `registryProxy`). */
  registryProxy?: RegistryProxy;
  /**
   * CAs (PEM) https registries are checked against besides the process's roots: the machine's,
   * for an agent whose process trusts only the controller's CA (agent/trust.ts).
   */
  registryCaCerts?: string[];
  log?: (message: string) => void;
}

/** The node's runtime, built from the config, and how it runs images (for `hello`). */
export async function createNodeRuntime(
  o: NodeRuntimeOptions,
): Promise<{ runtime: UnitRuntime; containerRuntime?: Launcher["kind"]; reason?: string }> {
  const host = new HostRuntime();
  if (o.mode === "host") return { runtime: new SelectingRuntime({ mode: "host", host }) };
  const support = await detectContainerSupport({ dataDir: o.dataDir });
  if (!support.launcher) {
    return {
      runtime: new SelectingRuntime({ mode: o.mode, host, unavailable: support.reason }),
      reason: support.reason,
    };
  }
  if (support.launcher instanceof RuncLauncher) await support.launcher.removeStale();
  // The proxy's client lives as long as the agent: it is never closed.
  const client = new RegistryClient({
    insecureRegistries: o.insecureRegistries,
    fetch: o.registryProxy || o.registryCaCerts?.length
      ? registryFetch({ proxy: o.registryProxy, caCerts: o.registryCaCerts }).fetch
      : undefined,
  });
  const store = new LayerStore(o.imageDir ?? `${o.dataDir}/images`);
  const container = new ContainerRuntime({
    puller: new ImagePuller({ store, client }),
    launcher: support.launcher,
    log: o.log,
  });
  return {
    runtime: new SelectingRuntime({ mode: o.mode, host, container }),
    containerRuntime: support.launcher.kind,
  };
}
