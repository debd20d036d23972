import assert from "node:assert/strict";
import { ValidationError } from "../model/errors.ts";
import type { Unit } from "../model/pod.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { PodRunner } from "./pod_runner.ts";
import { desired, harness, unit } from "./pod_runner_harness.ts";

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
