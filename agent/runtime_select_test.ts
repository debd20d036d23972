import assert from "node:assert/strict";
import { detectContainerSupport, findTool } from "./container_support.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { type RuntimeMode, SelectingRuntime } from "./runtime_select.ts";
import { type UnitLaunch, UnitStartError } from "./unit_runtime.ts";

const launch = (argv: string[], image?: string): UnitLaunch => ({
  name: "u",
  argv,
  image,
  env: {},
  cwd: "/",
  onStdout: () => {},
  onStderr: () => {},
});

function pick(mode: RuntimeMode, withContainer: boolean, l: UnitLaunch) {
  const host = new FakeRuntime();
  const container = new FakeRuntime();
  const runtime = new SelectingRuntime({
    mode,
    host,
    container: withContainer ? container : undefined,
    unavailable: "the agent runs as uid 1000, not root",
  });
  const chosen = runtime.pick(l);
  return chosen === host ? "host" : chosen === container ? "container" : "?";
}

Deno.test("SelectingRuntime sends image units to containers and commands to the host", () => {
  for (const mode of ["auto", "oci"] as const) {
    assert.equal(pick(mode, true, launch([], "img")), "container", mode);
    assert.equal(pick(mode, true, launch(["/bin/x"], "img")), "container", mode);
    assert.equal(pick(mode, true, launch(["/bin/x"])), "host", mode);
  }
  assert.equal(pick("host", true, launch(["/bin/x"], "img")), "host");
  assert.equal(pick("auto", false, launch(["/bin/x"], "img")), "host");
});

Deno.test("SelectingRuntime fails image units it cannot run with a reason, never silently", () => {
  const fails = (mode: RuntimeMode, container: boolean, l: UnitLaunch, why: RegExp) =>
    assert.throws(
      () => pick(mode, container, l),
      (e) => e instanceof UnitStartError && why.test(e.message),
    );
  fails(
    "auto",
    false,
    launch([], "img"),
    /image "img" needs a container runtime, which this node does not have \(the agent runs as uid 1000, not root\)/,
  );
  fails(
    "oci",
    false,
    launch(["/bin/x"], "img"),
    /runtime is "oci" but it cannot run containers \(the agent runs as uid 1000/,
  );
  fails("host", true, launch([], "img"), /this node's runtime is "host"/);
});

Deno.test("SelectingRuntime prepares and starts on the chosen runtime", async () => {
  const host = new FakeRuntime();
  const container = new FakeRuntime({ preparer: () => Promise.resolve() });
  const runtime = new SelectingRuntime({ mode: "auto", host, container });
  await runtime.prepare(launch([], "img"), new AbortController().signal);
  runtime.start(launch([], "img"));
  assert.equal(runtime.prepare(launch(["/bin/x"]), new AbortController().signal), undefined);
  runtime.start(launch(["/bin/x"]));
  assert.deepEqual([container.prepares.length, container.launches.length], [1, 1]);
  assert.deepEqual([host.prepares.length, host.launches.length], [1, 1]);
  await Promise.all([...host.runs, ...container.runs].map((r) => r.stop(0)));
});

Deno.test("detectContainerSupport() finds a launcher as root, else says why not", async () => {
  const support = await detectContainerSupport({ dataDir: "/nonexistent" });
  if (Deno.uid() !== 0) {
    assert.equal(support.launcher, undefined);
    assert.match(support.reason!, /not root/);
  } else {
    assert.equal(support.launcher?.kind, findTool("runc") ? "runc" : "unshare");
    const unshare = await detectContainerSupport({ dataDir: "/x", prefer: "unshare" });
    assert.equal(unshare.launcher?.kind, "unshare");
    // Without a cgroup mount (as under `ip netns exec`, which mounts a fresh /sys) runc cannot
    // run containers, so unshare is used.
    const noCgroups = await Deno.makeTempFile();
    try {
      await Deno.writeTextFile(noCgroups, "22 1 0:21 / /sys rw - sysfs sysfs rw\n");
      const without = await detectContainerSupport({ dataDir: "/x", mountinfo: noCgroups });
      assert.equal(without.launcher?.kind, "unshare");
    } finally {
      await Deno.remove(noCgroups);
    }
  }
  const none = await detectContainerSupport({ dataDir: "/x", path: "/nonexistent" });
  assert.equal(none.launcher, undefined);
  assert.ok(none.reason);
});

Deno.test({
  name: "detectContainerSupport() refuses unshare with an env that cannot expand -S (root)",
  ignore: Deno.uid() !== 0 || !findTool("unshare") || !findTool("busybox"),
  async fn() {
    // busybox's env has no -S: units would not get their environment.
    const bin = await Deno.makeTempDir();
    try {
      for (const tool of ["unshare", "sh", "mount"]) {
        await Deno.symlink(findTool(tool)!, `${bin}/${tool}`);
      }
      await Deno.symlink(findTool("busybox")!, `${bin}/env`);
      const support = await detectContainerSupport({ dataDir: "/x", path: bin, prefer: "unshare" });
      assert.equal(support.launcher, undefined);
      assert.match(support.reason!, /env cannot hand units their environment/);
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  },
});
