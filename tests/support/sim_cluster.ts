/**
 * A whole controller in this process on the simulated cloud: `:memory:` KV, the real
 * actors and API (over real HTTP on 127.0.0.1), and for every node a real NodeAgent on a
 * fake unit runtime. For integration tests and the benchmark.
 */
import { connectInProcess, type InProcessAgent } from "../../agent/in_process.ts";
import { FakeRuntime, type FakeScript } from "../../agent/fake_runtime.ts";
import type { Timings } from "../../actors/supervisor.ts";
import { type Controller, startController } from "../../controller.ts";
import { SimProvider } from "../../cloud/sim/sim_provider.ts";
import { resolveConfig } from "../../model/config.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { Pod, PodPhase } from "../../model/pod.ts";

/** Options of a simulated cluster. */
export interface SimClusterOptions {
  /** server.yml contents (merged over the defaults). */
  config?: Record<string, unknown>;
  timings?: Partial<Timings>;
  /** How fake units behave. */
  script?: FakeScript;
  launchLatencyMs?: number;
  /** An existing KV (to restart a controller on the same state). */
  kv?: Deno.Kv;
  /** Agents of an earlier controller to hand over (restart tests), with their runtimes. */
  agents?: Map<string, InProcessAgent>;
  runtimes?: Map<string, FakeRuntime>;
}

/** A running simulated cluster. */
export interface SimCluster {
  controller: Controller;
  sim: SimProvider;
  kv: Deno.Kv;
  agents: Map<string, InProcessAgent>;
  runtimes: Map<string, FakeRuntime>;
  /** An authenticated request to the API. */
  api(method: string, path: string, body?: unknown): Promise<Response>;
  /** Re-evaluates `check` on every store change (and every 50 ms) until it returns a value. */
  waitUntil<T>(
    check: () => Promise<T | undefined | false>,
    what: string,
    timeoutMs?: number,
  ): Promise<T>;
  /** Waits until pod `name` reports `phase`. */
  waitForPod(name: string, phase: PodPhase, timeoutMs?: number): Promise<Pod>;
  /** Stops the controller; agents keep running unless `stopAgents`. */
  close(opts?: { stopAgents?: boolean; keepKv?: boolean }): Promise<void>;
}

/** A minimal pod manifest. */
export function podManifest(
  name: string,
  extra: Partial<Pod["spec"]> = {},
  labels = {},
): MilpaObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels },
    spec: { units: [{ name: "main", command: ["serve"] }], ...extra },
  };
}

/** Starts a simulated cluster. */
export async function startSimCluster(opts: SimClusterOptions = {}): Promise<SimCluster> {
  const kv = opts.kv ?? await Deno.openKv(":memory:");
  const dataDir = await Deno.makeTempDir({ prefix: "milpa-sim-" });
  const agents = opts.agents ?? new Map<string, InProcessAgent>();
  const runtimes = opts.runtimes ?? new Map<string, FakeRuntime>();
  let sim!: SimProvider;
  const controller = await startController({
    config: resolveConfig(opts.config ?? {}),
    kv,
    home: dataDir,
    listen: "127.0.0.1:0",
    timings: opts.timings,
    cloud: ({ hub }) => {
      sim = new SimProvider({
        launchLatencyMs: opts.launchLatencyMs,
        startAgent: (instance) => {
          const runtime = new FakeRuntime({ script: opts.script });
          runtimes.set(instance.nodeName, runtime);
          const agent = connectInProcess(hub, {
            nodeName: instance.nodeName,
            podIP: instance.addresses[0]?.address,
            dataDir: `${dataDir}/${instance.nodeName}`,
            runtime,
          });
          agents.set(instance.nodeName, agent);
          return () => void agent.stop();
        },
      });
      return sim;
    },
  });
  // Agents handed over from an earlier controller dial the new one.
  if (opts.agents) { for (const a of agents.values()) a.reconnect(controller.hub); }
  const cluster: SimCluster = {
    controller,
    sim,
    kv,
    agents,
    runtimes,
    api: (method, path, body) =>
      fetch(`${controller.url}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${controller.token}`,
          "Content-Type": "application/json",
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    waitUntil: (check, what, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        let done = false;
        let running = false;
        const finish = (fn: () => void) => {
          done = true;
          unwatch();
          clearInterval(tick);
          clearTimeout(timer);
          fn();
        };
        const attempt = async () => {
          if (done || running) return;
          running = true;
          try {
            const v = await check();
            if (v !== undefined && v !== false && !done) finish(() => resolve(v as never));
          } catch (e) {
            finish(() => reject(e));
          } finally {
            running = false;
          }
        };
        const unwatch = controller.store.watch(() => void attempt());
        const tick = setInterval(() => void attempt(), 50);
        const timer = setTimeout(
          () =>
            finish(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`))),
          timeoutMs,
        );
        void attempt();
      }),
    waitForPod: (name, phase, timeoutMs) =>
      cluster.waitUntil(
        async () => {
          const p = await controller.store.get<Pod>("pods", "default", name);
          return p?.status?.phase === phase ? p : undefined;
        },
        `pod ${name} to be ${phase}`,
        timeoutMs,
      ),
    async close(o = {}) {
      await controller.close({ keepKv: o.keepKv });
      for (const a of agents.values()) {
        if (o.stopAgents !== false) await a.stop();
        else a.disconnect();
      }
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    },
  };
  return cluster;
}
