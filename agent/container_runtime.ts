/**
 * Runs units from their images. `prepare` pulls the image into the node's layer store (shared
 * by every pod), unpacks it into `<stateDir>/rootfs`, copies the node's resolv.conf in,
 * resolves the command (Kubernetes command/args over Entrypoint/Cmd), working directory, user
 * and volume mount points, and records them in `<stateDir>/unit.json`; restarts of the same
 * definition reuse all of it. `start` launches one isolated run through a {@linkcode Launcher}
 * (runc or unshare) with the image's Env under the pod's env.
 */
import { keepStdin, pipeOutput } from "./child_output.ts";
import { spawnProblem } from "./host_runtime.ts";
import type { ContainerMount, LaunchedContainer, Launcher } from "./launcher.ts";
import { ImageError } from "./oci/errors.ts";
import {
  containerEnv,
  imageEnv,
  resolveUser,
  unitArgv,
  unitWorkingDir,
} from "./oci/image_config.ts";
import type { ImagePuller, PulledImage } from "./oci/image_puller.ts";
import { resolveInRoot } from "./oci/root_path.ts";
import { unpackImage } from "./oci/unpack.ts";
import { makePrivateDir } from "./private_files.ts";
import {
  type RunningUnit,
  type UnitContext,
  type UnitExit,
  type UnitLaunch,
  type UnitRuntime,
  UnitStartError,
  type UnitStdin,
} from "./unit_runtime.ts";

/** Options of {@linkcode ContainerRuntime}. */
export interface ContainerRuntimeOptions {
  puller: ImagePuller;
  launcher: Launcher;
  /** The node's resolver configuration, copied into every rootfs. @default "/etc/resolv.conf" */
  resolvConf?: string;
  /** The agent's own log. */
  log?: (message: string) => void;
}

/** What `prepare` records for `start` in `<stateDir>/unit.json`. */
interface PreparedUnit {
  image: string;
  digest: string;
  argv: string[];
  cwd: string;
  uid: number;
  gid: number;
  home: string;
  imageEnv: Record<string, string>;
  mounts: ContainerMount[];
}

/** The runtime of units with an image. */
export class ContainerRuntime implements UnitRuntime {
  #o: ContainerRuntimeOptions;

  constructor(options: ContainerRuntimeOptions) {
    this.#o = options;
  }

  /** The launcher's kind: "runc" or "unshare". */
  get kind(): Launcher["kind"] {
    return this.#o.launcher.kind;
  }

  /** Pulls and unpacks the unit's image unless this definition was prepared already. */
  async prepare(launch: UnitLaunch, signal: AbortSignal): Promise<void> {
    const ctx = contextOf(launch);
    const image = launch.image!;
    try {
      await this.#prepare(image, ctx, signal);
    } catch (err) {
      if (signal.aborted || err instanceof UnitStartError) throw err;
      throw new UnitStartError(`Cannot run image "${image}": ${messageOf(err)}`, { cause: err });
    }
  }

  /** Starts one isolated run from the prepared rootfs. */
  start(launch: UnitLaunch): RunningUnit {
    const ctx = contextOf(launch);
    let p: PreparedUnit;
    try {
      p = JSON.parse(Deno.readTextFileSync(`${ctx.stateDir}/unit.json`));
    } catch {
      throw new UnitStartError(`image "${launch.image}" of unit "${launch.name}" is not prepared`);
    }
    const id = `${launch.name}-${crypto.randomUUID().slice(0, 8)}`;
    let launched: LaunchedContainer;
    try {
      launched = this.#o.launcher.spawn({
        id,
        stateDir: ctx.stateDir,
        rootfs: `${ctx.stateDir}/rootfs`,
        hostname: ctx.hostname,
        argv: p.argv,
        env: containerEnv(p.imageEnv, ctx.specEnv, p.home),
        cwd: p.cwd,
        uid: p.uid,
        gid: p.gid,
        mounts: p.mounts,
        stdin: launch.stdin === true,
      });
    } catch (err) {
      throw new UnitStartError(`${this.#o.launcher.kind}: ${spawnProblem(err)}`, { cause: err });
    }
    return new ContainerUnit(launched, launch);
  }

  async #prepare(image: string, ctx: UnitContext, signal: AbortSignal): Promise<void> {
    const record = `${ctx.stateDir}/unit.json`;
    if (await exists(record)) return;
    const { puller } = this.#o;
    const began = Date.now();
    const before = puller.store.pullStats();
    let pulled: PulledImage;
    try {
      pulled = await puller.pull(image, ctx.credentials, signal);
    } catch (err) {
      if (signal.aborted) throw err;
      throw new UnitStartError(messageOf(err), { cause: err });
    }
    const argv = unitArgv(pulled.config, ctx.unit, image);
    const rootfs = `${ctx.stateDir}/rootfs`;
    await Deno.remove(rootfs, { recursive: true }).catch(() => {});
    // Private: launchers keep the unit's environment here (runc's config.json).
    await makePrivateDir(ctx.stateDir);
    const layers = pulled.layers.map((l) => puller.store.path(l.digest));
    await unpackImage(rootfs, layers, { signal });
    await this.#nodeFiles(rootfs);
    for (const dir of ["/proc", "/dev", "/sys"]) await resolveInRoot(rootfs, dir, { create: true });
    const cwd = unitWorkingDir(pulled.config, ctx.unit);
    await resolveInRoot(rootfs, cwd, { create: true });
    const user = await resolveUser(rootfs, pulled.config.config?.User);
    const mounts: ContainerMount[] = [];
    for (const m of ctx.unit.volumeMounts ?? []) {
      const source = ctx.volumes[m.name];
      if (!source) {
        throw new ImageError(`volume mount "${m.name}": the pod has no volume "${m.name}"`);
      }
      const target = await resolveInRoot(rootfs, m.mountPath, { create: true });
      mounts.push({ source, destination: m.mountPath, target });
    }
    const prepared: PreparedUnit = {
      image,
      digest: pulled.digest,
      argv,
      cwd,
      ...user,
      imageEnv: imageEnv(pulled.config),
      mounts,
    };
    await Deno.writeTextFile(record, JSON.stringify(prepared));
    const after = puller.store.pullStats();
    this.#o.log?.(
      `unit "${ctx.unit.name}": image "${image}" (${pulled.digest}) ready in ${
        Date.now() - began
      } ms; ${after.blobsFetched - before.blobsFetched} blobs (${
        after.bytesFetched - before.bytesFetched
      } bytes) fetched`,
    );
  }

  /** Puts the node's resolv.conf (replacing whatever the image has) and /etc/hosts in. */
  async #nodeFiles(rootfs: string): Promise<void> {
    const etc = await resolveInRoot(rootfs, "/etc", { create: true });
    let resolv: Uint8Array | undefined;
    try {
      resolv = await Deno.readFile(this.#o.resolvConf ?? "/etc/resolv.conf");
    } catch {
      // A node without a resolver configuration: leave the image's.
    }
    if (resolv) {
      await Deno.remove(`${etc}/resolv.conf`).catch(() => {});
      await Deno.writeFile(`${etc}/resolv.conf`, resolv, { mode: 0o644 });
    }
    if (!(await exists(`${etc}/hosts`))) {
      await Deno.writeTextFile(`${etc}/hosts`, "127.0.0.1\tlocalhost\n::1\tlocalhost\n");
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function contextOf(launch: UnitLaunch): UnitContext {
  if (!launch.image) throw new UnitStartError(`unit "${launch.name}" has no image`);
  if (!launch.context) {
    throw new UnitStartError(`unit "${launch.name}": the container runtime needs a pod context`);
  }
  return launch.context;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** One isolated run: output as for host units, stop through the launcher. */
class ContainerUnit implements RunningUnit {
  readonly pid: number;
  readonly exited: Promise<UnitExit>;
  readonly stdin?: UnitStdin;
  #launched: LaunchedContainer;
  #done = false;
  #killed = false;
  #stopping?: Promise<void>;

  constructor(launched: LaunchedContainer, launch: UnitLaunch) {
    this.#launched = launched;
    this.pid = launched.child.pid;
    const drained = pipeOutput(launched.child, launch);
    const stdin = launch.stdin ? keepStdin(launched.child) : undefined;
    this.stdin = stdin;
    this.exited = (async () => {
      const status = await launched.child.status;
      this.#done = true;
      await stdin?.close();
      await drained();
      await launched.cleanup?.();
      if (this.#killed) return { code: 137, signal: "SIGKILL" };
      return status.signal ? { code: status.code, signal: status.signal } : { code: status.code };
    })();
  }

  stop(graceMs: number): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #stop(graceMs: number): Promise<void> {
    if (!this.#done) {
      await this.#launched.signal("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise((resolve) => timer = setTimeout(resolve, Math.max(0, graceMs)));
      await Promise.race([this.exited, grace]);
      clearTimeout(timer);
      if (!this.#done) {
        this.#killed = true;
        await this.#launched.signal("SIGKILL");
      }
    }
    await this.exited;
  }
}
