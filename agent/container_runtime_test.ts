import assert from "node:assert/strict";
import { findTool } from "./container_support.ts";
import { ContainerRuntime } from "./container_runtime.ts";
import type { Launcher } from "./launcher.ts";
import { FakeRegistry } from "./oci/fake_registry.ts";
import { ImagePuller } from "./oci/image_puller.ts";
import { LayerStore } from "./oci/layer_store.ts";
import { RegistryClient } from "./oci/registry_client.ts";
import { buildImage, busyboxLayer, haveStaticBusybox, tarArchive } from "./oci/testing.ts";
import { containerEnv } from "./oci/image_config.ts";
import { filesHolding, modeOf, processesShowing } from "./leak_testing.ts";
import { RuncLauncher } from "./runc_launcher.ts";
import type { Unit } from "../model/pod.ts";
import type { UnitLaunch } from "./unit_runtime.ts";
import { UnshareLauncher } from "./unshare_launcher.ts";

const root = Deno.uid() === 0 && haveStaticBusybox();
const decoder = new TextDecoder();

function launchers(dataDir: string): Launcher[] {
  const out: Launcher[] = [];
  const unshare = findTool("unshare"), sh = findTool("sh"), env = findTool("env");
  if (unshare && sh && env) {
    out.push(new UnshareLauncher({ unshare, sh, env, path: "/usr/sbin:/usr/bin:/sbin:/bin" }));
  }
  const runc = findTool("runc");
  if (runc) out.push(new RuncLauncher(runc, `${dataDir}/runc`, unshare));
  return out;
}

/** A registry with a busybox image, and a runtime per launcher on a temp data dir. */
async function setup(fn: (rt: ContainerRuntime, image: string, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir();
  const reg = await FakeRegistry.start();
  try {
    const image = await buildImage(
      [
        busyboxLayer(),
        tarArchive([{ path: "etc/junk", content: "x" }]),
        tarArchive([{
          path: "etc/.wh.junk",
          content: "",
        }]),
      ],
      { Entrypoint: ["/bin/sh", "-c"], Cmd: ["echo from-cmd"], Env: ["FOO=image", "BAR=image"] },
    );
    reg.push("test/bb", "1", image);
    reg.push("test/bb-web", "1", await buildImage([busyboxLayer()], { User: "web" }));
    const store = new LayerStore(`${dir}/images`);
    const puller = new ImagePuller({ store, client: new RegistryClient() });
    for (const launcher of launchers(dir)) {
      await fn(new ContainerRuntime({ puller, launcher }), `${reg.host}/test/bb:1`, dir);
    }
  } finally {
    await reg.close();
    await Deno.remove(dir, { recursive: true });
  }
}

let seq = 0;
/** A launch of `unit` in pod "mypod" that collects its output. */
function launch(dir: string, unit: Unit, volumes: Record<string, string> = {}) {
  const out = { stdout: "", stderr: "" };
  const l: UnitLaunch = {
    name: unit.name,
    argv: [...(unit.command ?? []), ...(unit.args ?? [])],
    image: unit.image,
    env: { PATH: "/host/path" },
    cwd: "/",
    onStdout: (c) => out.stdout += decoder.decode(c),
    onStderr: (c) => out.stderr += decoder.decode(c),
    context: {
      unit,
      hostname: "mypod",
      specEnv: { BAR: "pod", HOSTNAME: "mypod" },
      volumes,
      stateDir: `${dir}/state/${unit.name}.${++seq}`,
      credentials: {},
    },
  };
  return { l, out };
}

Deno.test({
  name: "ContainerRuntime runs an image unit as PID 1 with the pod's hostname (root, busybox)",
  ignore: !root,
  fn: () =>
    setup(async (rt, image, dir) => {
      const script = 'echo "pid=$$ host=$(hostname) uid=$(id -u) cwd=$(pwd) foo=$FOO bar=$BAR";' +
        "tr '\\0' ' ' < /proc/1/cmdline; echo; ls /dev; test -e /etc/junk && echo JUNK''PRESENT; exit 3";
      const { l, out } = launch(dir, { name: "u", image, args: [script], workingDir: "/work" });
      await rt.prepare(l, new AbortController().signal);
      const exit = await rt.start(l).exited;
      assert.equal(exit.code, 3, `${rt.kind}: ${out.stderr}`);
      const [first, cmdline] = out.stdout.split("\n");
      assert.equal(first, "pid=1 host=mypod uid=0 cwd=/work foo=image bar=pod", rt.kind);
      assert.equal(cmdline.trim(), `/bin/sh -c ${script}`);
      for (const dev of ["null", "zero", "random", "urandom", "tty"]) {
        assert.match(out.stdout, new RegExp(`\\b${dev}\\b`), `${rt.kind}: /dev/${dev}`);
      }
      assert.doesNotMatch(out.stdout, /JUNKPRESENT/, "whiteout applied");
      const { l: l2, out: out2 } = launch(dir, { name: "d", image });
      await rt.prepare(l2, new AbortController().signal);
      assert.equal((await rt.start(l2).exited).code, 0);
      assert.equal(out2.stdout, "from-cmd\n");
    }),
});

Deno.test({
  name: "ContainerRuntime.stop() kills the unit's whole PID namespace (root, busybox)",
  ignore: !root,
  fn: () =>
    setup(async (rt, image, dir) => {
      const { l, out } = launch(dir, {
        name: "s",
        image,
        command: ["/bin/sh", "-c", "sleep 1000 & echo started; wait"],
      });
      await rt.prepare(l, new AbortController().signal);
      const unit = rt.start(l);
      for (let i = 0; i < 250 && !out.stdout.includes("started"); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(out.stdout, /started/, `${rt.kind}: ${out.stderr}`);
      // "started" may come before the background sh has exec'd sleep.
      for (let i = 0; i < 250 && !findProcess("sleep 1000"); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(findProcess("sleep 1000"), "the unit's child runs");
      const begun = Date.now();
      await unit.stop(300);
      assert.ok(Date.now() - begun >= 250, `${rt.kind}: waited for the grace period`);
      assert.deepEqual(await unit.exited, { code: 137, signal: "SIGKILL" });
      assert.equal(findProcess("sleep 1000"), undefined, `${rt.kind}: no process left`);
    }),
});

Deno.test({
  name:
    "ContainerRuntime.stop() sends SIGTERM first: a unit handling it ends at once (root, busybox)",
  ignore: !root,
  fn: () =>
    setup(async (rt, image, dir) => {
      const { l, out } = launch(dir, {
        name: "t",
        image,
        command: ["/bin/sh", "-c", "trap 'echo bye; exit 0' TERM; echo started; sleep 1001 & wait"],
      });
      await rt.prepare(l, new AbortController().signal);
      const unit = rt.start(l);
      for (let i = 0; i < 250 && !out.stdout.includes("started"); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.match(out.stdout, /started/, `${rt.kind}: ${out.stderr}`);
      const begun = Date.now();
      await unit.stop(30_000);
      assert.ok(Date.now() - begun < 5_000, `${rt.kind}: stopped in ${Date.now() - begun} ms`);
      assert.deepEqual(await unit.exited, { code: 0 }, rt.kind);
      assert.equal(out.stdout, "started\nbye\n", rt.kind);
      assert.equal(findProcess("sleep 1001"), undefined, `${rt.kind}: no process left`);
    }),
});

Deno.test({
  name: "A unit dies with its launcher when the agent is killed (root, busybox)",
  ignore: !root,
  fn: () =>
    setup(async (rt, image, dir) => {
      const { l, out } = launch(dir, {
        name: "k",
        image,
        command: ["/bin/sh", "-c", "echo started; exec sleep 999"],
      });
      await rt.prepare(l, new AbortController().signal);
      const unit = rt.start(l);
      for (let i = 0; i < 250 && !out.stdout.includes("started"); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(findProcess("sleep 999"), `${rt.kind}: ${out.stderr}`);
      Deno.kill(unit.pid!, "SIGKILL");
      await unit.exited;
      for (let i = 0; i < 50 && findProcess("sleep 999"); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(
        findProcess("sleep 999"),
        undefined,
        `${rt.kind}: the unit outlived its launcher`,
      );
    }),
});

Deno.test({
  name: "ContainerRuntime mounts pod volumes and runs as the image's user (root, busybox)",
  ignore: !root,
  fn: () =>
    setup(async (rt, image, dir) => {
      const vol = `${dir}/vol-${rt.kind}`;
      await Deno.mkdir(vol);
      await Deno.writeTextFile(`${vol}/in`, "from host\n");
      const unit: Unit = {
        name: "v",
        image,
        command: ["/bin/sh", "-c", "cat /data/in; echo out > /data/out; id -u"],
        volumeMounts: [{ name: "shared", mountPath: "/data" }],
      };
      const { l, out } = launch(dir, unit, { shared: vol });
      await rt.prepare(l, new AbortController().signal);
      assert.equal((await rt.start(l).exited).code, 0, out.stderr);
      assert.equal(out.stdout, "from host\n0\n");
      assert.equal(await Deno.readTextFile(`${vol}/out`), "out\n");
      const web = launch(dir, {
        name: "w",
        image: image.replace("/bb:", "/bb-web:"),
        command: ["/bin/sh", "-c", 'echo "$(id -u):$(id -g) $HOME"; echo x > /data/by-web'],
        volumeMounts: [{ name: "shared", mountPath: "/data" }],
      }, { shared: vol });
      await Deno.chmod(vol, 0o777);
      await rt.prepare(web.l, new AbortController().signal);
      assert.equal((await rt.start(web.l).exited).code, 0, web.out.stderr);
      assert.equal(web.out.stdout, "1000:1000 /home/web\n");
      assert.equal((await Deno.stat(`${vol}/by-web`)).uid, 1000);
      const missing = launch(dir, {
        ...unit,
        name: "m",
        volumeMounts: [{ name: "x", mountPath: "/x" }],
      });
      await assert.rejects(
        rt.prepare(missing.l, new AbortController().signal),
        /Cannot run image ".*": volume mount "x": the pod has no volume "x"/,
      );
    }),
});

Deno.test({
  name: "ContainerRuntime hands a unit its environment exactly, through no process's command " +
    "line, and only private files hold it (root, busybox)",
  ignore: !root,
  fn: () =>
    setup(async (rt, image, dir) => {
      const secret = `s3cret-${crypto.randomUUID()}`;
      const odd = `two words\n'single' "double" \\ $HOME \${X} -x=y ${secret}`;
      const { l, out } = launch(dir, {
        name: "env",
        image,
        command: ["/bin/sh", "-c", "cat /proc/1/environ; echo; echo started; exec sleep 1003"],
      });
      const ctx = l.context!;
      ctx.specEnv = { ...ctx.specEnv, TOKEN: secret, "odd.name-x": odd, "-dash": "d" };
      await rt.prepare(l, new AbortController().signal);
      const unit = rt.start(l);
      try {
        for (let i = 0; i < 250 && !out.stdout.includes("\nstarted\n"); i++) {
          await new Promise((r) => setTimeout(r, 20));
        }
        const environ = out.stdout.slice(0, out.stdout.indexOf("\nstarted\n"));
        assert.ok(environ, `${rt.kind}: ${out.stderr}`);
        const expected = containerEnv({ FOO: "image", BAR: "image" }, ctx.specEnv, "/root");
        assert.deepEqual(
          environ.split("\0").filter((e) => e !== "").sort(),
          Object.entries(expected).map(([k, v]) => `${k}=${v}`).sort(),
          rt.kind,
        );
        assert.deepEqual(processesShowing(secret), [], `${rt.kind}: no command line shows it`);
        const files = await filesHolding(dir, secret);
        const private_ = files.filter((f) => f.mode === 0o600).map((f) => f.path);
        assert.deepEqual(
          files.map((f) => f.path),
          private_,
          `${rt.kind}: ${JSON.stringify(files)}`,
        );
        assert.deepEqual(
          private_.map((f) => f.slice(ctx.stateDir.length + 1)),
          rt.kind === "runc" ? ["config.json"] : [],
          rt.kind,
        );
        assert.equal(modeOf(ctx.stateDir), "700", rt.kind);
      } finally {
        await unit.stop(0);
      }
    }),
});

function findProcess(cmdline: string): number | undefined {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const text = Deno.readTextFileSync(`/proc/${e.name}/cmdline`).replaceAll("\0", " ").trim();
      if (text === cmdline) return Number(e.name);
    } catch {
      // gone
    }
  }
  return undefined;
}
