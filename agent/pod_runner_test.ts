import assert from "node:assert/strict";
import type { DesiredPod } from "../model/agent_protocol.ts";
import { ValidationError } from "../model/errors.ts";
import type { RestartPolicy, Unit } from "../model/pod.ts";
import { FakeClock, settle } from "./clock.ts";
import { FakeProber } from "./fake_prober.ts";
import { type FakeBehavior, FakeRuntime } from "./fake_runtime.ts";
import { PodRunner, type PodRunnerStatus } from "./pod_runner.ts";
import type { UnitLaunch } from "./unit_runtime.ts";

function desired(
  units: Unit[],
  opts: { uid?: string; initUnits?: Unit[]; restartPolicy?: RestartPolicy } = {},
): DesiredPod {
  return {
    namespace: "default",
    name: "web-pod",
    uid: opts.uid ?? "uid-1",
    spec: { units, initUnits: opts.initUnits, restartPolicy: opts.restartPolicy },
    env: { MILPA_POD_NAME: "web-pod", MILPA_NODE_NAME: "node-1" },
  };
}

const unit = (name: string, extra: Partial<Unit> = {}): Unit => ({
  name,
  command: ["/bin/serve", name],
  ...extra,
});

/** A runner on a fake clock and runtime, with a temp data dir; dispose() stops and cleans up. */
async function harness(
  script?: (launch: UnitLaunch) => FakeBehavior | undefined,
  opts: { podIP?: string } = {},
) {
  const clock = new FakeClock();
  const runtime = new FakeRuntime({ clock, script });
  const prober = new FakeProber();
  const dataDir = await Deno.makeTempDir();
  const listeners = new Set<() => void>();
  let changes = 0;
  const runner = new PodRunner({
    dataDir,
    runtime,
    prober,
    podIP: opts.podIP,
    clock,
    path: "/agent/bin:/usr/bin:/bin",
    home: "/home/agent",
    onChange: () => {
      changes++;
      for (const l of [...listeners]) l();
    },
  });
  /** Resolves once the status satisfies `pred` (checked on every change). */
  const until = (pred: (s: PodRunnerStatus) => boolean) =>
    new Promise<void>((resolve) => {
      const check = () => {
        if (!pred(runner.status())) return;
        listeners.delete(check);
        resolve();
      };
      listeners.add(check);
      check();
    });
  const unitState = (name: string) =>
    [...runner.status().unitStatuses, ...runner.status().initUnitStatuses].find((u) =>
      u.name === name
    );
  return {
    clock,
    runtime,
    prober,
    dataDir,
    runner,
    until,
    unitState,
    changes: () => changes,
    async [Symbol.asyncDispose]() {
      await runner.stop();
      await Deno.remove(dataDir, { recursive: true });
    },
  };
}

Deno.test("PodRunner runs init units one at a time, in order, then all units", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("web"), unit("side")], { initUnits: [unit("a"), unit("b")] }));
  assert.deepEqual(h.runtime.runningUnits(), ["a"]);
  assert.deepEqual(h.unitState("web")?.state, { waiting: { reason: "Unit waiting" } });
  assert.deepEqual(h.unitState("b")?.state, { waiting: { reason: "Unit waiting" } });
  h.runtime.exit("a", 0);
  await h.until((s) => s.initUnitStatuses[1].state.running !== undefined);
  assert.deepEqual(h.runtime.runningUnits(), ["b"]);
  assert.equal(h.unitState("a")?.state.terminated?.exitCode, 0);
  h.runtime.exit("b", 0);
  await h.until((s) => s.unitStatuses.every((u) => u.state.running));
  assert.deepEqual(h.runtime.runningUnits(), ["web", "side"]);
  assert.deepEqual(h.runtime.launches.map((l) => l.name), ["a", "b", "web", "side"]);
});

Deno.test("PodRunner fails the pod when an init unit fails under Never", async () => {
  await using h = await harness();
  await h.runner.apply(
    desired([unit("web")], { initUnits: [unit("a"), unit("b")], restartPolicy: "Never" }),
  );
  h.runtime.exit("a", 7);
  await h.until((s) => s.initUnitStatuses[0].state.terminated !== undefined);
  await h.clock.advance(60_000);
  assert.equal(h.unitState("a")?.state.terminated?.exitCode, 7);
  assert.deepEqual(h.unitState("b")?.state, { waiting: { reason: "Unit waiting" } });
  assert.deepEqual(h.unitState("web")?.state, { waiting: { reason: "Unit waiting" } });
  assert.deepEqual(h.runtime.launches.map((l) => l.name), ["a"]);
});

Deno.test("PodRunner retries a failed init unit under Always, but not a clean exit", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("web")], { initUnits: [unit("a")], restartPolicy: "Always" }));
  h.runtime.exit("a", 1);
  await h.until((s) => s.initUnitStatuses[0].restartCount === 1);
  const a = h.unitState("a")!;
  assert.deepEqual(a.state, { waiting: { reason: "Waiting for unit restart, last exit code: 1" } });
  assert.equal(a.lastState?.terminated?.exitCode, 1);
  assert.equal(h.runtime.launchCount("a"), 1);
  await h.clock.advance(1_000);
  assert.equal(h.runtime.launchCount("a"), 2);
  h.runtime.exit("a", 0);
  await h.until((s) => s.unitStatuses[0].state.running !== undefined);
  assert.equal(h.unitState("a")?.state.terminated?.exitCode, 0);
  assert.equal(h.runtime.launchCount("a"), 2);
});

Deno.test("PodRunner restarts a failing unit after 1 s, 2 s, 4 s, 8 s", async () => {
  const starts: number[] = [];
  await using h = await harness(() => {
    starts.push(h.clock.now());
    return { exitAfterMs: 10, exitCode: 1 };
  });
  await h.runner.apply(desired([unit("web")]));
  await h.clock.advance(10 + 1_000 + 10 + 2_000 + 10 + 4_000 + 10 + 8_000);
  const gaps = starts.slice(1).map((t, i) => t - starts[i] - 10);
  assert.deepEqual(gaps, [1_000, 2_000, 4_000, 8_000]);
  const web = h.unitState("web")!;
  assert.equal(web.restartCount, 4);
  assert.ok(web.state.running);
  assert.equal(web.lastState?.terminated?.exitCode, 1);
  await h.clock.advance(10);
  assert.equal(h.unitState("web")?.restartCount, 5);
  assert.equal(h.clock.nextTimerIn(), 16_000);
});

Deno.test("PodRunner leaves a unit terminated under Never", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("job")], { restartPolicy: "Never" }));
  const startedAt = h.unitState("job")?.state.running?.startedAt;
  await h.clock.advance(5_000);
  h.runtime.exit("job", 2);
  await h.until((s) => s.unitStatuses[0].state.terminated !== undefined);
  await h.clock.advance(10 * 60_000);
  assert.deepEqual(h.unitState("job"), {
    name: "job",
    restartCount: 0,
    ready: false,
    state: {
      terminated: {
        exitCode: 2,
        startedAt,
        finishedAt: new Date(Date.parse(startedAt!) + 5_000).toISOString(),
      },
    },
  });
  assert.equal(h.runtime.launchCount("job"), 1);
});

Deno.test("PodRunner under OnFailure restarts failures only; Always restarts clean exits too", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("job")], { restartPolicy: "OnFailure" }));
  h.runtime.exit("job", 3);
  await h.clock.advance(1_000);
  assert.equal(h.runtime.launchCount("job"), 2);
  h.runtime.exit("job", 0);
  await h.clock.advance(60_000);
  assert.equal(h.runtime.launchCount("job"), 2);
  assert.equal(h.unitState("job")?.state.terminated?.exitCode, 0);

  await h.runner.apply(desired([unit("job")], { uid: "uid-2", restartPolicy: "Always" }));
  for (let i = 0; i < 3; i++) {
    h.runtime.exit("job", 0);
    await h.clock.advance(1_000);
  }
  assert.equal(h.runtime.launchCount("job"), 2 + 4);
});

Deno.test("PodRunner.apply() of the same pod again changes nothing", async () => {
  await using h = await harness();
  const pod = desired([unit("web", { env: [{ name: "A", value: "1" }] })], {
    initUnits: [unit("init")],
  });
  await h.runner.apply(pod);
  h.runtime.exit("init", 0);
  await h.until((s) => s.unitStatuses[0].state.running !== undefined);
  const before = h.runner.status();
  const changes = h.changes();
  await h.runner.apply(structuredClone(pod));
  await h.runner.apply(structuredClone(pod));
  assert.deepEqual(h.runner.status(), before);
  assert.equal(h.changes(), changes);
  assert.deepEqual(h.runtime.launches.map((l) => l.name), ["init", "web"]);
});

Deno.test("PodRunner restarts a changed unit and leaves the others running", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("web"), unit("side")]));
  const changed = desired([unit("web", { args: ["--port", "81"] }), unit("side")]);
  await h.runner.apply(changed);
  assert.deepEqual(h.runtime.runs.map((r) => [r.launch.name, r.exit?.code]), [
    ["web", 143],
    ["side", undefined],
    ["web", undefined],
  ]);
  assert.deepEqual(h.runtime.unit("web")?.launch.argv, ["/bin/serve", "web", "--port", "81"]);
  const web = h.unitState("web")!;
  assert.ok(web.state.running);
  assert.equal(web.restartCount, 1);
  assert.equal(web.lastState?.terminated?.exitCode, 143);
  assert.equal(h.unitState("side")?.restartCount, 0);

  for (
    const edit of [{ env: [{ name: "X", value: "y" }] }, { workingDir: h.dataDir }, {
      ports: [{ containerPort: 80 }],
    }]
  ) {
    const before = h.runtime.launchCount("web");
    await h.runner.apply(desired([unit("web", { args: ["--port", "81"], ...edit }), unit("side")]));
    assert.equal(h.runtime.launchCount("web"), before + 1, JSON.stringify(edit));
  }
  assert.equal(h.runtime.launchCount("side"), 1);
});

Deno.test("PodRunner holds a unit changed during init until the init units are done", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("web")], { initUnits: [unit("init")] }));
  await h.runner.apply(
    desired([unit("web", { args: ["-v"] }), unit("side")], { initUnits: [unit("init")] }),
  );
  assert.deepEqual(h.runtime.runningUnits(), ["init"]);
  assert.deepEqual(h.runner.status().unitStatuses.map((u) => u.state), [
    { waiting: { reason: "Unit waiting" } },
    { waiting: { reason: "Unit waiting" } },
  ]);
  h.runtime.exit("init", 0);
  await h.until((s) => s.unitStatuses.every((u) => u.state.running));
  assert.deepEqual(h.runtime.unit("web")?.launch.argv, ["/bin/serve", "web", "-v"]);
  assert.deepEqual(h.runtime.launches.map((l) => l.name), ["init", "web", "side"]);
});

Deno.test("PodRunner stops removed units and starts added ones", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("web"), unit("old")]));
  await h.runner.apply(desired([unit("web"), unit("new")]));
  assert.deepEqual(h.runtime.runningUnits(), ["web", "new"]);
  assert.deepEqual(h.runner.status().unitStatuses.map((u) => u.name), ["web", "new"]);
  assert.equal(h.runner.logs("old"), undefined);
  assert.ok(h.runner.logs("new"));
});

Deno.test("PodRunner replaces everything for a new uid", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("web")], { uid: "uid-1" }));
  h.runtime.write("web", "from the first pod\n");
  await h.runner.apply(desired([unit("web")], { uid: "uid-2" }));
  assert.equal(h.runner.status().podUid, "uid-2");
  assert.deepEqual(h.runtime.runs.map((r) => [r.launch.name, r.exit?.code]), [
    ["web", 143],
    ["web", undefined],
  ]);
  assert.equal(h.unitState("web")?.restartCount, 0);
  assert.equal(h.runner.logs("web")?.tail(), "");
});

Deno.test("PodRunner.apply(null) stops everything", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("web"), unit("side")]));
  const log = h.runner.logs("web")!;
  let ended = false;
  log.follow(() => {}, () => ended = true);
  await h.runner.apply(null);
  assert.deepEqual(h.runtime.runningUnits(), []);
  assert.deepEqual(h.runner.status(), { unitStatuses: [], initUnitStatuses: [] });
  assert.equal(h.runner.pod, undefined);
  assert.ok(ended);
  await h.runner.apply(null);
});

Deno.test("PodRunner cancels a pending restart when the pod stops", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("web")]));
  h.runtime.exit("web", 1);
  await settle();
  assert.equal(h.clock.pendingTimers, 1);
  await h.runner.apply(null);
  assert.equal(h.clock.pendingTimers, 0);
  assert.equal(h.runtime.launchCount("web"), 1);
});

Deno.test("PodRunner gives units their env, PATH, HOME, HOSTNAME and a working directory", async () => {
  await using h = await harness();
  await h.runner.apply(desired([
    unit("web", {
      env: [
        { name: "GREETING", value: "hi" },
        { name: "MILPA_NODE_NAME", value: "mine" },
        { name: "TOKEN", value: "s3cret", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
      ],
    }),
    unit("tool", { workingDir: "/srv" }),
  ]));
  const web = h.runtime.unit("web")!.launch;
  assert.deepEqual(web.env, {
    PATH: "/agent/bin:/usr/bin:/bin",
    HOME: "/home/agent",
    HOSTNAME: "web-pod",
    MILPA_POD_NAME: "web-pod",
    MILPA_NODE_NAME: "mine",
    GREETING: "hi",
    TOKEN: "s3cret",
  });
  assert.equal(web.cwd, `${h.dataDir}/units/web`);
  assert.ok((await Deno.stat(web.cwd)).isDirectory);
  assert.equal(h.runtime.unit("tool")!.launch.cwd, "/srv");
});

Deno.test("PodRunner's default PATH puts the agent's deno first", async () => {
  const dataDir = await Deno.makeTempDir();
  const runtime = new FakeRuntime();
  const runner = new PodRunner({ dataDir, runtime });
  try {
    await runner.apply(desired([unit("web")]));
    const path = runtime.unit("web")!.launch.env.PATH;
    const execDir = Deno.execPath().slice(0, Deno.execPath().lastIndexOf("/"));
    assert.equal(path, `${execDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`);
  } finally {
    await runner.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("PodRunner reports a start failure and does not retry it", async () => {
  await using h = await harness((l) =>
    l.name === "web" ? { startError: 'exec "foo": not found' } : undefined
  );
  await h.runner.apply(desired([unit("web"), unit("side")]));
  await h.clock.advance(60_000);
  assert.deepEqual(h.unitState("web")?.state, {
    waiting: { reason: 'exec "foo": not found', startFailure: true },
  });
  assert.equal(h.runtime.launchCount("web"), 1);
  assert.ok(h.unitState("side")?.state.running);
});

Deno.test("PodRunner keeps each unit's output in its log and log file", async () => {
  await using h = await harness((l) => ({ stdout: `${l.name} says hi\n` }));
  await h.runner.apply(desired([unit("web")]));
  h.runtime.write("web", "more\npart");
  h.runtime.exit("web", 1);
  await settle();
  assert.equal(h.runner.logs("web")?.tail(), "web says hi\nmore\npart\n");
  await h.clock.advance(1_000);
  assert.equal(h.runner.logs("web")?.tail(1), "web says hi\n");
  assert.equal(
    await Deno.readTextFile(`${h.dataDir}/logs/web.log`),
    "web says hi\nmore\npart\nweb says hi\n",
  );
});

Deno.test("PodRunner.apply() rejects a pod it cannot run", async () => {
  await using h = await harness();
  await assert.rejects(
    h.runner.apply(desired([unit("web"), unit("../etc")], { initUnits: [unit("web")] })),
    (err) =>
      err instanceof ValidationError &&
      err.fields.map((f) => f.field).join(",") === "spec.units[0].name,spec.units[1].name",
  );
  assert.equal(h.runner.pod, undefined);
});

Deno.test("PodRunner fires onChange for every status change", async () => {
  await using h = await harness();
  const c0 = h.changes();
  await h.runner.apply(desired([unit("web")]));
  const c1 = h.changes();
  assert.ok(c1 > c0);
  h.runtime.exit("web", 1);
  await settle();
  assert.ok(h.changes() > c1);
});

const probed = (name: string, probe: Unit["readinessProbe"], extra: Partial<Unit> = {}) =>
  unit(name, { readinessProbe: probe, ...extra });

Deno.test("PodRunner reports a unit without a readiness probe ready while it runs", async () => {
  await using h = await harness();
  await h.runner.apply(desired([unit("web")], { restartPolicy: "Never" }));
  assert.equal(h.unitState("web")?.ready, true);
  h.runtime.exit("web", 0);
  await h.until((s) => s.unitStatuses[0].state.terminated !== undefined);
  assert.equal(h.unitState("web")?.ready, false);
  assert.equal(h.prober.checks.length, 0);
});

Deno.test("PodRunner keeps a probed unit not ready until its probe passes", async () => {
  await using h = await harness(undefined, { podIP: "10.0.0.5" });
  const results = [false, true];
  h.prober.script = () => results.shift();
  await h.runner.apply(desired([probed("web", { httpGet: { port: 8080, path: "/healthz" } })]));
  const web = h.unitState("web")!;
  assert.ok(web.state.running);
  assert.equal(web.ready, false);
  const before = h.runner.status();
  const changes = h.changes();
  await h.clock.advance(0);
  assert.deepEqual(h.runner.status(), before, "a failure leaves it not ready");
  assert.equal(h.changes(), changes);
  await h.clock.advance(10_000);
  assert.deepEqual(h.runner.status(), {
    ...before,
    unitStatuses: [{ ...before.unitStatuses[0], ready: true }],
  }, "only ready changed");
  assert.equal(h.changes(), changes + 1);
  assert.deepEqual(h.prober.checks[0], {
    unit: "web",
    type: "httpGet",
    scheme: "HTTP",
    host: "10.0.0.5",
    port: 8080,
    path: "/healthz",
  });
});

Deno.test("PodRunner probes 127.0.0.1 when the pod IP is unknown, exec with the unit's env and cwd", async () => {
  await using h = await harness();
  await h.runner.apply(desired([
    probed("web", { tcpSocket: { port: 80 } }),
    probed("db", { exec: { command: ["pg_isready"] } }, {
      workingDir: "/srv",
      env: [{ name: "PGPORT", value: "5433" }],
    }),
  ]));
  await h.clock.advance(0);
  const [tcp, exec] = h.prober.checks;
  assert.ok(tcp.type === "tcpSocket" && tcp.host === "127.0.0.1");
  assert.ok(exec.type === "exec" && exec.cwd === "/srv");
  assert.deepEqual(exec.env, h.runtime.unit("db")!.launch.env);
  assert.deepEqual(h.runner.status().unitStatuses.map((u) => u.ready), [true, true]);
});

Deno.test("PodRunner turns a unit not ready after failureThreshold failures and ready on recovery", async () => {
  await using h = await harness();
  let healthy = true;
  h.prober.script = () => healthy;
  await h.runner.apply(
    desired([probed("web", { exec: { command: ["check"] }, periodSeconds: 5 })]),
  );
  await h.clock.advance(0);
  assert.equal(h.unitState("web")?.ready, true);
  healthy = false;
  await h.clock.advance(10_000);
  assert.equal(h.unitState("web")?.ready, true, "two failures");
  await h.clock.advance(5_000);
  assert.equal(h.unitState("web")?.ready, false);
  assert.ok(h.unitState("web")?.state.running, "readiness does not touch the state");
  healthy = true;
  await h.clock.advance(5_000);
  assert.equal(h.unitState("web")?.ready, true);
  assert.equal(h.runtime.launchCount("web"), 1);
});

Deno.test("PodRunner starts probing after initialDelaySeconds", async () => {
  await using h = await harness();
  await h.runner.apply(
    desired([probed("web", { tcpSocket: { port: 80 }, initialDelaySeconds: 30 })]),
  );
  await h.clock.advance(29_999);
  assert.equal(h.prober.checks.length, 0);
  assert.equal(h.unitState("web")?.ready, false);
  await h.clock.advance(1);
  assert.equal(h.prober.checks.length, 1);
  assert.equal(h.unitState("web")?.ready, true);
});

Deno.test("PodRunner resets readiness when a unit restarts", async () => {
  await using h = await harness();
  await h.runner.apply(
    desired([probed("web", { tcpSocket: { port: 80 }, initialDelaySeconds: 5 })]),
  );
  await h.clock.advance(5_000);
  assert.equal(h.unitState("web")?.ready, true);
  h.runtime.exit("web", 1);
  await h.until((s) => s.unitStatuses[0].restartCount === 1);
  assert.equal(h.unitState("web")?.ready, false);
  await h.clock.advance(999);
  assert.equal(h.prober.checks.length, 1, "no probing while the unit waits");
  await h.clock.advance(1);
  assert.ok(h.unitState("web")?.state.running);
  assert.equal(h.unitState("web")?.ready, false, "the new run starts not ready");
  await h.clock.advance(4_999);
  assert.equal(h.prober.checks.length, 1, "the initial delay counts from the restart");
  await h.clock.advance(1);
  assert.equal(h.prober.checks.length, 2);
  assert.equal(h.unitState("web")?.ready, true);
});

Deno.test("PodRunner stops probing when the unit stops", async () => {
  await using h = await harness();
  h.prober.script = (check) => check.unit === "slow" ? "hang" : true;
  await h.runner.apply(desired([
    probed("web", { tcpSocket: { port: 80 } }),
    probed("slow", { tcpSocket: { port: 81 }, timeoutSeconds: 100, periodSeconds: 100 }),
  ], { restartPolicy: "Never" }));
  await h.clock.advance(0);
  assert.equal(h.prober.hanging, 1);
  h.runtime.exit("web", 0);
  await h.until((s) => s.unitStatuses[0].state.terminated !== undefined);
  await h.clock.advance(60_000);
  assert.equal(h.prober.checkCount("web"), 1);
  await h.runner.apply(null);
  assert.equal(h.prober.hanging, 0, "the running check was aborted");
  assert.equal(h.clock.pendingTimers, 0);
  await h.clock.advance(60_000);
  assert.equal(h.prober.checkCount("slow"), 1);
});

Deno.test("PodRunner applies a changed readiness probe without restarting the unit", async () => {
  await using h = await harness();
  const probe = { tcpSocket: { port: 80 } };
  await h.runner.apply(desired([probed("web", probe)]));
  await h.clock.advance(0);
  assert.equal(h.unitState("web")?.ready, true);

  const changes = h.changes();
  await h.runner.apply(desired([probed("web", { ...probe, periodSeconds: 10 })]));
  assert.equal(h.changes(), changes, "the same probe, spelled out, changes nothing");
  assert.equal(h.unitState("web")?.ready, true);

  h.prober.script = () => false;
  await h.runner.apply(desired([probed("web", { exec: { command: ["check"] } })]));
  assert.equal(h.unitState("web")?.ready, false, "a new probe starts not ready");
  await h.clock.advance(0);
  assert.equal(h.prober.checks.at(-1)?.type, "exec");

  await h.runner.apply(desired([unit("web")]));
  assert.equal(h.unitState("web")?.ready, true, "no probe: ready while running");
  await h.clock.advance(60_000);
  assert.equal(h.prober.checks.at(-1)?.type, "exec");
  assert.equal(h.runtime.launchCount("web"), 1);
  assert.equal(h.unitState("web")?.restartCount, 0);
});

Deno.test("PodRunner ignores readiness probes of init units", async () => {
  await using h = await harness();
  await h.runner.apply(
    desired([unit("web")], { initUnits: [probed("init", { tcpSocket: { port: 80 } })] }),
  );
  assert.equal(h.unitState("init")?.ready, true);
  await h.clock.advance(60_000);
  assert.equal(h.prober.checks.length, 0);
});

Deno.test("PodRunner.apply() rejects a pod with a probe it cannot run", async () => {
  await using h = await harness();
  await assert.rejects(
    h.runner.apply(desired([probed("web", { periodSeconds: 5 } as Unit["readinessProbe"])])),
    (err) =>
      err instanceof ValidationError &&
      err.message.includes("spec.units[0].readinessProbe needs exactly one of") &&
      err.fields[0].field === "spec.units[0].readinessProbe",
  );
  await assert.rejects(
    h.runner.apply(desired([probed("web", { tcpSocket: { port: 0 } })])),
    (err) =>
      err instanceof ValidationError &&
      err.fields[0].field === "spec.units[0].readinessProbe.tcpSocket.port",
  );
});

Deno.test("PodRunner with the host prober makes a unit ready once its HTTP endpoint answers", async () => {
  const dataDir = await Deno.makeTempDir();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("ok"),
  );
  const { promise: ready, resolve } = Promise.withResolvers<void>();
  const runner: PodRunner = new PodRunner({
    dataDir,
    runtime: new FakeRuntime(),
    onChange: () => runner.status().unitStatuses[0]?.ready && resolve(),
  });
  try {
    await runner.apply(desired([probed("web", { httpGet: { port: server.addr.port } })]));
    assert.equal(runner.status().unitStatuses[0].ready, false);
    await ready;
    assert.equal(runner.status().unitStatuses[0].ready, true);
  } finally {
    await runner.stop();
    await server.shutdown();
    await Deno.remove(dataDir, { recursive: true });
  }
});
