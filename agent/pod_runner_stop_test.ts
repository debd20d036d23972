import assert from "node:assert/strict";
import type { UnitStatus } from "../model/pod.ts";
import { settle } from "../model/fake_clock.ts";
import type { FakeRuntime } from "./fake_runtime.ts";
import { HostRuntime } from "./host_runtime.ts";
import { PodRunner } from "./pod_runner.ts";
import { desired, harness, unit } from "./pod_runner_harness.ts";

/** Tracks whether a promise settled yet. */
function tracked<T>(promise: Promise<T>) {
  const t = { settled: false, promise };
  promise.finally(() => t.settled = true).catch(() => {});
  return t;
}

/**
 * Resolves once the live run of each named unit was asked to stop, so that time advanced after
 * this counts from the stop (the runner reaches it through real file I/O, not only promises).
 */
async function untilStopping(h: { runtime: FakeRuntime }, ...names: string[]): Promise<void> {
  for (let turn = 0; turn < 5_000; turn++) {
    const asked = names.every((n) =>
      h.runtime.runs.some((r) => r.launch.name === n && r.stopRequested)
    );
    if (asked) return;
    await settle();
  }
  throw new Error(`${names.join(", ")} never asked to stop`);
}

/** The unit's state in a stopped pod's statuses, without times. */
function ending(statuses: UnitStatus[], name: string) {
  const t = statuses.find((s) => s.name === name)?.state.terminated;
  return t && { exitCode: t.exitCode, reason: t.reason };
}

const killedByTerm = { exitCode: 143, reason: "Killed by SIGTERM" };
const killedByKill = { exitCode: 137, reason: "Killed by SIGKILL" };

Deno.test("PodRunner.apply(null) gives units the pod's grace period, then SIGKILL", async () => {
  await using h = await harness((l) => ({ ignoreTerm: l.name === "stubborn" }));
  await h.runner.apply(
    desired([unit("polite"), unit("stubborn")], { terminationGracePeriodSeconds: 5 }),
  );
  const stop = tracked(h.runner.apply(null));
  await untilStopping(h, "polite", "stubborn");
  assert.deepEqual(h.runtime.runningUnits(), ["stubborn"]);
  await h.clock.advance(4_999);
  assert.equal(stop.settled, false, "resolves only once every unit stopped");
  assert.deepEqual(h.runtime.runningUnits(), ["stubborn"]);
  await h.clock.advance(1);
  await stop.promise;
  assert.deepEqual(h.runtime.runningUnits(), []);
  const { unitStatuses } = h.runner.status();
  assert.deepEqual(ending(unitStatuses, "polite"), killedByTerm);
  assert.deepEqual(ending(unitStatuses, "stubborn"), killedByKill);
});

Deno.test("PodRunner stops units after 30 s by default, at once with a grace period of 0", async () => {
  for (const [grace, waitMs] of [[undefined, 30_000], [0, 0]] as const) {
    await using h = await harness(() => ({ ignoreTerm: true }));
    await h.runner.apply(desired([unit("web")], { terminationGracePeriodSeconds: grace }));
    const stop = tracked(h.runner.stop());
    await untilStopping(h, "web");
    if (waitMs > 0) {
      await h.clock.advance(waitMs - 1);
      assert.equal(stop.settled, false, `grace ${grace}`);
    }
    await h.clock.advance(1);
    await stop.promise;
    assert.deepEqual(ending(h.runner.status().unitStatuses, "web"), killedByKill);
  }
});

Deno.test("PodRunner replaces a pod after the old pod's grace period", async () => {
  await using h = await harness((l) => ({ ignoreTerm: l.env.GEN === "old" }));
  const web = (gen: string) => unit("web", { env: [{ name: "GEN", value: gen }] });
  await h.runner.apply(desired([web("old")], { terminationGracePeriodSeconds: 3 }));
  const replace = tracked(
    h.runner.apply(desired([web("new")], { uid: "uid-2", terminationGracePeriodSeconds: 60 })),
  );
  await untilStopping(h, "web");
  await h.clock.advance(2_999);
  assert.equal(replace.settled, false);
  assert.equal(h.runtime.launchCount("web"), 1, "the new pod waits for the old one");
  await h.clock.advance(1);
  await replace.promise;
  assert.deepEqual(h.runtime.runs.map((r) => r.exit), [
    { code: 137, signal: "SIGKILL" },
    undefined,
  ]);
});

Deno.test("PodRunner restarts a changed unit after the pod's grace period", async () => {
  await using h = await harness((l) => ({ ignoreTerm: l.argv.length === 2 }));
  await h.runner.apply(desired([unit("web")], { terminationGracePeriodSeconds: 2 }));
  const change = tracked(
    h.runner.apply(
      desired([unit("web", { args: ["-v"] })], { terminationGracePeriodSeconds: 2 }),
    ),
  );
  await untilStopping(h, "web");
  await h.clock.advance(1_999);
  assert.equal(change.settled, false);
  await h.clock.advance(1);
  await change.promise;
  const web = h.unitState("web")!;
  assert.ok(web.state.running);
  assert.deepEqual(web.lastState?.terminated?.reason, "Killed by SIGKILL");
});

Deno.test("PodRunner keeps the stopped pod's logs and statuses until another pod is applied", async () => {
  await using h = await harness(() => ({ stdout: "hello\n" }));
  await h.runner.apply(desired([unit("web"), unit("side")], { uid: "uid-1" }));
  h.runtime.write("web", "bye, no newline");
  await h.runner.apply(null);

  assert.equal(h.runner.pod, undefined);
  assert.equal(h.runner.stoppedPod?.uid, "uid-1");
  const status = h.runner.status();
  assert.equal(status.podUid, "uid-1");
  assert.deepEqual(status.unitStatuses.map((s) => ending([s], s.name)), [
    killedByTerm,
    killedByTerm,
  ]);
  assert.equal(h.runner.logs("web")?.tail(), "hello\nbye, no newline\n");
  let ended = false;
  h.runner.logs("side")!.follow(() => assert.fail("no new text"), () => ended = true);
  assert.ok(ended, "following a stopped unit's log ends at once");

  await h.runner.apply(null);
  assert.deepEqual(h.runner.status(), status, "a repeated stop keeps it");
  await h.runner.apply(desired([unit("web")], { uid: "uid-2" }));
  assert.equal(h.runner.stoppedPod, undefined);
  assert.equal(h.runner.status().podUid, "uid-2");
  assert.equal(h.runner.logs("side"), undefined);
  assert.equal(h.runner.logs("web")?.tail(), "hello\n");
});

Deno.test("PodRunner reports a stopping pod's units until each one exited", async () => {
  await using h = await harness((l) => ({ ignoreTerm: l.name === "stubborn" }));
  await h.runner.apply(
    desired([unit("polite"), unit("stubborn")], {
      initUnits: [unit("init")],
      terminationGracePeriodSeconds: 1,
    }),
  );
  h.runtime.exit("init", 0);
  await h.until((s) => s.unitStatuses.every((u) => u.state.running));
  const stop = tracked(h.runner.apply(null));
  await untilStopping(h, "polite", "stubborn");
  let status = h.runner.status();
  assert.equal(status.podUid, "uid-1");
  assert.deepEqual(ending(status.unitStatuses, "polite"), killedByTerm);
  assert.ok(status.unitStatuses[1].state.running, "stubborn is in its grace period");
  await h.clock.advance(1_000);
  await stop.promise;
  status = h.runner.status();
  assert.deepEqual(ending(status.unitStatuses, "stubborn"), killedByKill);
  assert.deepEqual(ending(status.initUnitStatuses, "init"), { exitCode: 0, reason: undefined });
  assert.ok(
    [...status.unitStatuses, ...status.initUnitStatuses].every((u) => !u.state.running),
  );
});

Deno.test("PodRunner refuses a grace period that is not a number of seconds", async () => {
  await using h = await harness();
  const pod = desired([unit("web")]);
  pod.spec.terminationGracePeriodSeconds = -1;
  await assert.rejects(
    h.runner.apply(pod),
    /spec\.terminationGracePeriodSeconds must be a number of seconds, 0 or more/,
  );
});

Deno.test("PodRunner on host processes: SIGKILL after a 1 s grace for a unit ignoring SIGTERM, at once for one that exits", async () => {
  const dataDir = await Deno.makeTempDir();
  const runner = new PodRunner({ dataDir, runtime: new HostRuntime() });
  /** Resolves once the unit's log holds `text`. */
  const logged = (name: string, text: string) =>
    new Promise<void>((resolve) => {
      const log = runner.logs(name)!;
      const cancel = log.follow(() => {
        if (!log.tail().includes(text)) return;
        cancel();
        resolve();
      });
      if (log.tail().includes(text)) {
        cancel();
        resolve();
      }
    });
  const sh = (name: string, script: string) => unit(name, { command: ["sh", "-c", script] });
  try {
    await runner.apply(desired([
      sh("stubborn", 'trap "" TERM; echo started; sleep 60'),
      sh("polite", "trap 'echo bye; exit 0' TERM; echo started; sleep 60 & wait"),
    ], { terminationGracePeriodSeconds: 1 }));
    await Promise.all([logged("stubborn", "started"), logged("polite", "started")]);
    let begun = Date.now();
    await runner.apply(null);
    const took = Date.now() - begun;
    assert.ok(took >= 1_000 && took < 5_000, `stopped in ${took} ms`);
    const { unitStatuses } = runner.status();
    assert.deepEqual(ending(unitStatuses, "stubborn"), killedByKill);
    assert.deepEqual(ending(unitStatuses, "polite"), { exitCode: 0, reason: undefined });
    assert.equal(runner.logs("polite")?.tail(), "started\nbye\n");

    await runner.apply(desired([sh("polite", "echo started; exec sleep 60")], {
      uid: "uid-2",
      terminationGracePeriodSeconds: 30,
    }));
    await logged("polite", "started");
    begun = Date.now();
    await runner.apply(null);
    assert.ok(Date.now() - begun < 2_000, `stopped in ${Date.now() - begun} ms`);
    assert.deepEqual(ending(runner.status().unitStatuses, "polite"), killedByTerm);
  } finally {
    await runner.stop(0);
    await Deno.remove(dataDir, { recursive: true });
  }
});
