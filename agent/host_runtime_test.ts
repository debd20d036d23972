import assert from "node:assert/strict";
import { HostRuntime } from "./host_runtime.ts";
import { processesShowing } from "./leak_testing.ts";
import { descendants, isAlive, readProc } from "./proc.ts";
import { type UnitLaunch, UnitStartError } from "./unit_runtime.ts";

const decoder = new TextDecoder();

/**
 * The processes of `tree` still alive once they had 2 s to die: a SIGKILL is delivered
 * asynchronously, so one sent just before stop() resolved may not have landed yet.
 */
async function survivors(tree: ReturnType<typeof readProc>[]): Promise<unknown[]> {
  const deadline = Date.now() + 2_000;
  let alive = tree.filter((p) => p && isAlive(p));
  while (alive.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    alive = alive.filter((p) => p && isAlive(p));
  }
  return alive;
}

/** A launch of `argv` that collects stdout; `line(text)` resolves once a line contains text. */
function launch(argv: string[], extra: Partial<UnitLaunch> = {}) {
  let out = "";
  let err = "";
  const waiters: { text: string; resolve: () => void }[] = [];
  const spec: UnitLaunch = {
    name: "test",
    argv,
    env: { PATH: "/usr/local/bin:/usr/bin:/bin" },
    cwd: "/",
    onStdout: (chunk) => {
      out += decoder.decode(chunk);
      for (const w of waiters.filter((w) => out.includes(w.text))) w.resolve();
    },
    onStderr: (chunk) => err += decoder.decode(chunk),
    ...extra,
  };
  return {
    spec,
    out: () => out,
    err: () => err,
    line: (text: string) =>
      new Promise<void>((resolve) =>
        out.includes(text) ? resolve() : waiters.push({ text, resolve })
      ),
  };
}

Deno.test("HostRuntime runs a command and reports its exit code and output", async () => {
  const l = launch(["sh", "-c", "echo hi; echo err >&2; exit 3"]);
  const unit = new HostRuntime().start(l.spec);
  assert.ok(unit.pid && unit.pid > 0);
  assert.deepEqual(await unit.exited, { code: 3 });
  assert.equal(l.out(), "hi\n");
  assert.equal(l.err(), "err\n");
});

Deno.test("HostRuntime gives the unit exactly its env and cwd", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const l = launch(["sh", "-c", 'echo "$FOO|$HOME|$USER"; pwd'], {
      env: { PATH: "/usr/bin:/bin", FOO: "bar" },
      cwd: dir,
    });
    const unit = new HostRuntime().start(l.spec);
    assert.equal((await unit.exited).code, 0);
    assert.equal(l.out(), `bar||\n${await Deno.realPath(dir)}\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HostRuntime hands the unit its environment through no process's command line", async () => {
  const secret = `s3cret-${crypto.randomUUID()}`;
  // No exec: while sh becomes sleep, /proc/<pid>/environ can read empty.
  const l = launch(["sh", "-c", "echo started; sleep 1005"], {
    env: { PATH: "/usr/bin:/bin", TOKEN: secret },
  });
  const unit = new HostRuntime().start(l.spec);
  try {
    await l.line("started");
    assert.ok(Deno.readTextFileSync(`/proc/${unit.pid}/environ`).includes(`TOKEN=${secret}`));
    assert.deepEqual(processesShowing(secret), []);
  } finally {
    await unit.stop(0);
  }
});

Deno.test("HostRuntime.stop() kills a sleep and its child", async () => {
  const l = launch(["sh", "-c", "sleep 60 & sleep 61 & echo started; wait"]);
  const unit = new HostRuntime().start(l.spec);
  await l.line("started");
  const tree = [readProc(unit.pid!)!, ...descendants(unit.pid!)];
  assert.ok(tree.length >= 3, `sh and two sleeps, got ${tree.length}`);
  await unit.stop(5_000);
  const exit = await unit.exited;
  assert.equal(exit.signal, "SIGTERM");
  assert.equal(exit.code, 143);
  assert.deepEqual(await survivors(tree), []);
});

Deno.test("HostRuntime.stop() uses SIGKILL after the grace period, also on a new session", async () => {
  const l = launch(["sh", "-c", "trap '' TERM; setsid sleep 60 & sleep 61 & echo started; wait"]);
  const unit = new HostRuntime().start(l.spec);
  await l.line("started");
  const tree = [readProc(unit.pid!)!, ...descendants(unit.pid!)];
  assert.ok(tree.length >= 3, `sh and two sleeps, got ${tree.length}`);
  const begun = Date.now();
  await unit.stop(300);
  assert.ok(Date.now() - begun >= 250, "waited for the grace period");
  assert.equal((await unit.exited).signal, "SIGKILL");
  assert.deepEqual(await survivors(tree), []);
});

Deno.test("HostRuntime reports a missing program as a start failure", () => {
  assert.throws(
    () => new HostRuntime().start(launch(["no-such-program-here"]).spec),
    (err) =>
      err instanceof UnitStartError && err.message === 'exec "no-such-program-here": not found',
  );
});

Deno.test("HostRuntime refuses image-only units and volume mounts", () => {
  const runtime = new HostRuntime();
  assert.throws(
    () => runtime.start(launch([], { image: "nginx:latest" }).spec),
    (err) =>
      err instanceof UnitStartError &&
      err.message ===
        'image "nginx:latest" needs the container runtime, which this node does not have; ' +
          "give the unit a command to run it as a host process",
  );
  assert.throws(
    () =>
      runtime.start(
        launch(["true"], { volumeMounts: [{ name: "data", mountPath: "/data" }] }).spec,
      ),
    (err) =>
      err instanceof UnitStartError &&
      /volume mount "data" at "\/data" needs the container runtime/.test(err.message),
  );
  assert.throws(
    () => runtime.start(launch(["true"], { cwd: "/no/such/dir" }).spec),
    (err) =>
      err instanceof UnitStartError &&
      err.message === 'working directory "/no/such/dir": not found',
  );
});
