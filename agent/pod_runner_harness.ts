/** Test helpers for PodRunner tests: desired pods, units and a runner on fakes. */
import type { DesiredPod } from "../model/agent_protocol.ts";
import type { RestartPolicy, Unit } from "../model/pod.ts";
import { FakeClock } from "../model/fake_clock.ts";
import { FakeProber } from "./fake_prober.ts";
import { type FakeBehavior, FakeRuntime } from "./fake_runtime.ts";
import { PodRunner, type PodRunnerStatus } from "./pod_runner.ts";
import type { UnitLaunch } from "./unit_runtime.ts";

/** A desired pod named default/web-pod. */
export function desired(
  units: Unit[],
  opts: {
    uid?: string;
    initUnits?: Unit[];
    restartPolicy?: RestartPolicy;
    terminationGracePeriodSeconds?: number;
  } = {},
): DesiredPod {
  const { initUnits, restartPolicy, terminationGracePeriodSeconds } = opts;
  return {
    namespace: "default",
    name: "web-pod",
    uid: opts.uid ?? "uid-1",
    spec: { units, initUnits, restartPolicy, terminationGracePeriodSeconds },
    env: { MILPA_POD_NAME: "web-pod", MILPA_NODE_NAME: "node-1" },
  };
}

/** A unit running /bin/serve. */
export const unit = (name: string, extra: Partial<Unit> = {}): Unit => ({
  name,
  command: ["/bin/serve", name],
  ...extra,
});

/** A runner on a fake clock and runtime, with a temp data dir; dispose() stops and cleans up. */
export async function harness(
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
    hostname: "ip-10-0-0-9",
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
