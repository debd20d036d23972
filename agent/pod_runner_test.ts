import assert from "node:assert/strict";
import { ValidationError } from "../model/errors.ts";
import { settle } from "../model/fake_clock.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { PodRunner } from "./pod_runner.ts";
import { desired, harness, unit } from "./pod_runner_harness.ts";

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
  for (const delay of [1_000, 2_000, 4_000]) {
    h.runtime.exit("job", 0);
    await h.clock.advance(delay);
  }
  assert.equal(h.runtime.launchCount("job"), 2 + 4);
});

Deno.test("PodRunner backs off a unit that exits 0 at once under Always", async () => {
  const starts: number[] = [];
  await using h = await harness(() => {
    starts.push(h.clock.now());
    return { exitAfterMs: 0, exitCode: 0 };
  });
  const begun = h.clock.now();
  await h.runner.apply(desired([unit("web")], { restartPolicy: "Always" }));
  await h.clock.advance(2 * 60_000);
  assert.deepEqual(starts.map((t) => (t - begun) / 1000), [0, 1, 3, 7, 15, 31, 63]);
  const web = h.unitState("web")!;
  assert.ok(web.restartCount < 10, `restarted ${web.restartCount} times in 2 min`);
  assert.equal(web.restartCount, 7);
  assert.deepEqual(web.state, {
    waiting: { reason: "Waiting for unit restart, last exit code: 0" },
  });
  assert.equal(web.lastState?.terminated?.exitCode, 0);
  assert.equal(h.clock.nextTimerIn(), (63 + 64 - 120) * 1000);
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
  const { podUid, unitStatuses } = h.runner.status();
  assert.equal(podUid, "uid-1", "the stopped pod's final statuses");
  assert.deepEqual(unitStatuses.map((u) => u.state.terminated?.reason), [
    "Killed by SIGTERM",
    "Killed by SIGTERM",
  ]);
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

Deno.test("PodRunner gives units their env, PATH, HOME, the node's HOSTNAME and a working directory", async () => {
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
    HOSTNAME: "ip-10-0-0-9",
    MILPA_POD_NAME: "web-pod",
    MILPA_NODE_NAME: "mine",
    GREETING: "hi",
    TOKEN: "s3cret",
  });
  // A host process shares the node's hostname; a container's is the pod name.
  assert.equal(web.context?.hostname, "web-pod");
  assert.equal(web.context?.specEnv.HOSTNAME, "web-pod");
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

Deno.test("PodRunner's default HOSTNAME is this machine's name; a unit's own HOSTNAME wins", async () => {
  const dataDir = await Deno.makeTempDir();
  const runtime = new FakeRuntime();
  const runner = new PodRunner({ dataDir, runtime });
  try {
    await runner.apply(desired([
      unit("web"),
      unit("named", { env: [{ name: "HOSTNAME", value: "mine" }] }),
    ]));
    assert.equal(runtime.unit("web")!.launch.env.HOSTNAME, Deno.hostname());
    assert.equal(runtime.unit("named")!.launch.env.HOSTNAME, "mine");
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
