import assert from "node:assert/strict";
import { HostRuntime } from "./host_runtime.ts";
import { filesHolding, modeOf, processesShowing } from "./leak_testing.ts";
import { desired, harness, unit } from "./pod_runner_harness.ts";
import { PodRunner } from "./pod_runner.ts";
import { UnitStartError } from "./unit_runtime.ts";

/** A promise with its resolvers. */
function deferred() {
  let resolve!: () => void, reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => (resolve = res, reject = rej));
  return { promise, resolve, reject };
}

Deno.test("PodRunner shows an image unit as pulling while the runtime prepares it", async () => {
  const pull = deferred();
  await using h = await harness();
  h.runtime.preparer = () => pull.promise;
  await h.runner.apply(desired([{ name: "web", image: "reg.test/web:1" }]));
  assert.deepEqual(h.unitState("web")?.state, {
    waiting: { reason: 'Pulling image "reg.test/web:1"' },
  });
  assert.equal(h.runtime.launches.length, 0);
  pull.resolve();
  await h.until((s) => s.unitStatuses[0].state.running !== undefined);
  h.runtime.exit("web", 1);
  await h.until((s) => s.unitStatuses[0].restartCount === 1);
  await h.clock.advance(1_000);
  assert.equal(h.runtime.launchCount("web"), 2);
  assert.equal(h.runtime.prepares.length, 1, "a restart does not prepare again");
});

Deno.test("PodRunner makes a failed prepare the unit's waiting reason", async () => {
  await using h = await harness();
  h.runtime.preparer = () =>
    Promise.reject(new UnitStartError('Cannot pull image "x": registry "r" requires auth'));
  await h.runner.apply(desired([{ name: "web", image: "x" }]));
  await h.until((s) => s.unitStatuses[0].state.waiting?.startFailure === true);
  assert.deepEqual(h.unitState("web")?.state, {
    waiting: { reason: 'Cannot pull image "x": registry "r" requires auth', startFailure: true },
  });
  assert.equal(h.runtime.launches.length, 0);
});

Deno.test("PodRunner aborts a pending prepare when the pod stops", async () => {
  await using h = await harness();
  let aborted = false;
  h.runtime.preparer = (_launch, signal) =>
    new Promise((_, reject) =>
      signal.addEventListener("abort", () => {
        aborted = true;
        reject(signal.reason);
      })
    );
  await h.runner.apply(desired([{ name: "web", image: "x" }]));
  await h.runner.stop();
  assert.ok(aborted);
  assert.equal(h.runtime.launches.length, 0);
});

Deno.test("PodRunner gives runtimes the unit's pod context and removes the pod's files", async () => {
  await using h = await harness();
  const pod = desired([unit("web", { volumeMounts: [{ name: "data", mountPath: "/d" }] })], {
    initUnits: [unit("init")],
  });
  pod.spec.volumes = [{ name: "data", emptyDir: {} }];
  pod.credentials = { "reg.test": { username: "u", password: "p" } };
  await h.runner.apply(pod);
  h.runtime.exit("init", 0);
  await h.until((s) => s.unitStatuses[0].state.running !== undefined);
  const [init, web] = h.runtime.launches.map((l) => l.context!);
  const podDir = `${h.dataDir}/pods/uid-1`;
  assert.equal(modeOf(podDir), "700", "the pod's files are private");
  assert.equal(modeOf(`${h.dataDir}/logs`), "700");
  assert.equal(modeOf(`${h.dataDir}/logs/web.log`), "600");
  assert.equal(web.hostname, "web-pod");
  assert.deepEqual(web.volumes, { data: `${podDir}/volumes/data` });
  assert.ok((await Deno.stat(`${podDir}/volumes/data`)).isDirectory);
  assert.equal(web.specEnv.MILPA_POD_NAME, "web-pod");
  assert.equal(web.specEnv.PATH, undefined, "no node PATH in the spec env");
  assert.deepEqual(web.credentials, pod.credentials);
  assert.equal(web.unit.name, "web");
  assert.notEqual(init.stateDir, web.stateDir);
  assert.ok(web.stateDir.startsWith(`${podDir}/units/web.`));
  await Deno.mkdir(web.stateDir, { recursive: true });
  const changed = structuredClone(pod);
  changed.spec.units[0].args = ["--new"];
  await h.runner.apply(changed);
  await h.until((s) => s.unitStatuses[0].restartCount === 1);
  await assert.rejects(Deno.stat(web.stateDir), Deno.errors.NotFound);
  assert.notEqual(h.runtime.launches.at(-1)!.context!.stateDir, web.stateDir);
  await h.runner.stop();
  await assert.rejects(Deno.stat(podDir), Deno.errors.NotFound);
});

Deno.test("PodRunner keeps a unit's secret off command lines and in private files only", async () => {
  const dataDir = await Deno.makeTempDir();
  const runner = new PodRunner({ dataDir, runtime: new HostRuntime(), stopGraceMs: 0 });
  const secret = `s3cret-${crypto.randomUUID()}`;
  try {
    // As the controller sends it: the secretKeyRef resolved to its value.
    const pod = desired([unit("web", {
      command: ["sh", "-c", 'echo "token=$TOKEN"; exec sleep 1006'],
      env: [{ name: "TOKEN", value: secret }],
    })]);
    await runner.apply(pod);
    const log = `${dataDir}/logs/web.log`;
    for (let i = 0; i < 250; i++) {
      if ((await Deno.readTextFile(log).catch(() => "")).includes(secret)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(processesShowing(secret), []);
    assert.deepEqual(await filesHolding(dataDir, secret), [{ path: log, mode: 0o600 }]);
    assert.equal(modeOf(`${dataDir}/logs`), "700");
    assert.equal(modeOf(`${dataDir}/pods/${pod.uid}`), "700");
  } finally {
    await runner.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
