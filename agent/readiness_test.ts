import assert from "node:assert/strict";
import type { Probe } from "../model/pod.ts";
import { FakeClock } from "../model/fake_clock.ts";
import { type FakeProbeOutcome, FakeProber } from "./fake_prober.ts";
import type { ProbeResult } from "./probe.ts";
import { ReadinessWorker } from "./readiness.ts";

/** A worker for `probe` on a fake clock; the prober answers from `outcomes`, then succeeds. */
function harness(probe: Omit<Probe, "tcpSocket">, outcomes: FakeProbeOutcome[] = []) {
  const clock = new FakeClock();
  const prober = new FakeProber({ script: () => outcomes.shift() });
  const changes: { at: number; ready: boolean; result: ProbeResult }[] = [];
  const start = clock.now();
  const worker = new ReadinessWorker({
    unit: "web",
    probe: { tcpSocket: { port: 80 }, ...probe },
    target: { host: "10.0.0.5", env: {}, cwd: "/" },
    prober,
    clock,
    startedAt: start,
    onChange: (ready, result) => changes.push({ at: clock.now() - start, ready, result }),
  });
  /** Offsets from the start at which checks were made. */
  const checkTimes: number[] = [];
  const script = prober.script;
  prober.script = (check) => {
    checkTimes.push(clock.now() - start);
    return script(check);
  };
  return { clock, prober, worker, changes, checkTimes, [Symbol.dispose]: () => worker.stop() };
}

Deno.test("ReadinessWorker uses Kubernetes' defaults: at once, every 10 s, 3 failures", async () => {
  using h = harness({}, [false, true, false, false, false]);
  await h.clock.advance(60_000);
  assert.deepEqual(h.checkTimes, [0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000]);
  assert.deepEqual(h.changes.map((c) => [c.at, c.ready]), [[10_000, true], [40_000, false], [
    50_000,
    true,
  ]]);
});

Deno.test("ReadinessWorker is not ready until the first success", async () => {
  using h = harness({ periodSeconds: 1 }, [false, false, false, false, false, true]);
  assert.equal(h.worker.ready, false);
  await h.clock.advance(4_000);
  assert.equal(h.worker.ready, false);
  assert.deepEqual(h.changes, []);
  await h.clock.advance(1_000);
  assert.equal(h.worker.ready, true);
  assert.deepEqual(h.changes, [{
    at: 5_000,
    ready: true,
    result: { ok: true, detail: "fake success" },
  }]);
});

Deno.test("ReadinessWorker is ready after successThreshold successes in a row", async () => {
  using h = harness({ periodSeconds: 1, successThreshold: 3 }, [true, true, false, true, true]);
  await h.clock.advance(3_000);
  assert.equal(h.worker.ready, false);
  await h.clock.advance(1_000);
  assert.equal(h.worker.ready, false, "two successes after the failure");
  await h.clock.advance(1_000);
  assert.equal(h.worker.ready, true);
  assert.deepEqual(h.changes.map((c) => c.at), [5_000]);
});

Deno.test("ReadinessWorker turns not ready after failureThreshold failures, ready again after recovery", async () => {
  using h = harness({ periodSeconds: 1, failureThreshold: 2 }, [
    true,
    false,
    true,
    false,
    { ok: false, detail: "HTTP probe http://10.0.0.5:80/: status 500" },
    false,
    true,
  ]);
  await h.clock.advance(3_000);
  assert.equal(h.worker.ready, true, "one failure at a time changes nothing");
  await h.clock.advance(1_000);
  assert.equal(h.worker.ready, false);
  await h.clock.advance(2_000);
  assert.equal(h.worker.ready, true);
  assert.deepEqual(h.changes.map((c) => [c.at, c.ready, c.result.detail]), [
    [0, true, "fake success"],
    [4_000, false, "HTTP probe http://10.0.0.5:80/: status 500"],
    [6_000, true, "fake success"],
  ]);
});

Deno.test("ReadinessWorker waits initialDelaySeconds before the first check", async () => {
  using h = harness({ initialDelaySeconds: 15, periodSeconds: 5 });
  await h.clock.advance(14_999);
  assert.deepEqual(h.checkTimes, []);
  await h.clock.advance(1);
  assert.deepEqual(h.checkTimes, [15_000]);
  assert.equal(h.worker.ready, true);
  await h.clock.advance(10_000);
  assert.deepEqual(h.checkTimes, [15_000, 20_000, 25_000]);
});

Deno.test("ReadinessWorker counts the initial delay from the run's start", async () => {
  const clock = new FakeClock();
  const prober = new FakeProber();
  const worker = new ReadinessWorker({
    unit: "web",
    probe: { exec: { command: ["true"] }, initialDelaySeconds: 10 },
    target: { host: "127.0.0.1", env: { A: "1" }, cwd: "/srv" },
    prober,
    clock,
    startedAt: clock.now() - 4_000,
    onChange: () => {},
  });
  await clock.advance(5_999);
  assert.equal(prober.checks.length, 0);
  await clock.advance(1);
  assert.deepEqual(prober.checks, [{
    unit: "web",
    type: "exec",
    command: ["true"],
    env: { A: "1" },
    cwd: "/srv",
  }]);
  worker.stop();
});

Deno.test("ReadinessWorker aborts a check after timeoutSeconds and counts it as a failure", async () => {
  using h = harness({ periodSeconds: 3, timeoutSeconds: 2, failureThreshold: 1 }, [
    true,
    "hang",
    true,
  ]);
  await h.clock.advance(3_000);
  assert.equal(h.worker.ready, true);
  assert.equal(h.prober.hanging, 1);
  await h.clock.advance(1_999);
  assert.equal(h.worker.ready, true);
  await h.clock.advance(1);
  assert.equal(h.prober.hanging, 0, "the check was aborted");
  assert.equal(h.worker.ready, false);
  assert.equal(h.changes.at(-1)?.result.detail, "timed out after 2 s");
  await h.clock.advance(1_000);
  assert.deepEqual(h.checkTimes, [0, 3_000, 6_000]);
  assert.equal(h.worker.ready, true);
});

Deno.test("ReadinessWorker delays the next check until a slow one ends", async () => {
  using h = harness({ periodSeconds: 1, timeoutSeconds: 5 }, ["hang"]);
  await h.clock.advance(7_000);
  assert.deepEqual(h.checkTimes, [0, 5_000, 6_000, 7_000]);
});

Deno.test("ReadinessWorker counts a prober that throws as a failure", async () => {
  const clock = new FakeClock();
  const changes: [boolean, string][] = [];
  let calls = 0;
  const worker = new ReadinessWorker({
    unit: "web",
    probe: { tcpSocket: { port: 80 }, periodSeconds: 1, failureThreshold: 1 },
    target: { host: "127.0.0.1", env: {}, cwd: "/" },
    prober: {
      check: () => {
        calls++;
        if (calls === 2) throw new Error("boom");
        if (calls === 3) return Promise.reject(new Error("bang"));
        return Promise.resolve({ ok: true, detail: "ok" });
      },
    },
    clock,
    startedAt: clock.now(),
    onChange: (ready, result) => changes.push([ready, result.detail]),
  });
  await clock.advance(3_000);
  worker.stop();
  assert.deepEqual(changes, [[true, "ok"], [false, "boom"], [true, "ok"]]);
});

Deno.test("ReadinessWorker.stop() cancels the next check and aborts a running one", async () => {
  using h = harness({ periodSeconds: 1, timeoutSeconds: 10 }, [true, "hang"]);
  await h.clock.advance(1_000);
  assert.equal(h.prober.hanging, 1);
  assert.equal(h.clock.pendingTimers, 1, "the check's timeout");
  h.worker.stop();
  assert.equal(h.clock.pendingTimers, 0);
  await h.clock.advance(60_000);
  assert.equal(h.prober.hanging, 0);
  assert.deepEqual(h.checkTimes, [0, 1_000]);
  assert.deepEqual(h.changes.map((c) => c.ready), [true]);

  using idle = harness({});
  idle.worker.stop();
  idle.worker.stop();
  assert.equal(idle.clock.pendingTimers, 0);
});
