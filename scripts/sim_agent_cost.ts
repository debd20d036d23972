/**
 * What one simulated node's agent costs, without the controller: N agents attached to a bare
 * AgentHub, each given a one-unit pod, then RSS and V8 heap per agent (after a GC).
 *
 *   deno run -A --v8-flags=--expose-gc scripts/sim_agent_cost.ts sim 2000
 *   deno run -A --v8-flags=--expose-gc scripts/sim_agent_cost.ts real 2000
 *   deno run -A --v8-flags=--expose-gc scripts/sim_agent_cost.ts cloud 2000
 *
 * `sim` is the user-facing simulated cloud's agent (`agent/sim_agent.ts`); `real` the real
 * NodeAgent on a FakeRuntime, as tests run it (`agent/in_process.ts`; it makes a directory and
 * opens a log file per node); `cloud` the whole simulated node as `cloud.sim` makes it: the
 * SimProvider's instance (kept in an in-memory KV, `record: false`) and its `sim` agent.
 */
import { AgentHub } from "../actors/agent_hub.ts";
import { FakeRuntime } from "../agent/fake_runtime.ts";
import { connectInProcess, type InProcessAgent } from "../agent/in_process.ts";
import { SimAgents } from "../agent/sim_agent.ts";
import { SimProvider } from "../cloud/sim/sim_provider.ts";
import { SimInstanceStore } from "../store/sim_instances.ts";
import type { DesiredPod } from "../model/agent_protocol.ts";

const kind = Deno.args[0] ?? "sim";
const N = Number(Deno.args[1] ?? 2000);
if (!["sim", "real", "cloud"].includes(kind)) {
  throw new Error("usage: sim_agent_cost.ts sim|real|cloud [N]");
}

const gc = (globalThis as { gc?: () => void }).gc;
function settle(): { rss: number; heap: number; committed: number } {
  for (let i = 0; i < 3; i++) gc?.();
  const m = Deno.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, committed: m.heapTotal };
}

function pod(i: number): DesiredPod {
  return {
    namespace: "default",
    name: `pod-${i}`,
    uid: crypto.randomUUID(),
    spec: { units: [{ name: "main", command: ["serve"] }] } as DesiredPod["spec"],
    env: { MILPA_POD_NAME: `pod-${i}` },
  };
}

const hub = new AgentHub();
const dataDir = kind === "real" ? await Deno.makeTempDir({ prefix: "milpa-agent-cost-" }) : "";
const pods = Array.from({ length: N }, (_, i) => pod(i));
// Warm up the code paths once, so that compiled code is not counted per agent.
const warm = new SimAgents(new AgentHub());
warm.close();
const kv = await Deno.openKv(":memory:");
await new Promise((r) => setTimeout(r, 50));
const before = settle();

const fleet = new SimAgents(hub);
const cloud = kind === "cloud"
  ? await SimProvider.open({
    store: new SimInstanceStore(kv),
    record: false,
    startAgent: fleet.start,
  })
  : undefined;
await cloud?.startAgents();
const launches: Promise<unknown>[] = [];
const real: InProcessAgent[] = [];
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  const node = `node-${i}`;
  const address = `10.0.${i >> 8}.${i & 255}`;
  if (cloud) {
    launches.push(cloud.launch({
      clientToken: node,
      nodeName: node,
      instanceType: "t3.nano",
      spot: false,
      privateIPOnly: true,
      volumeSizeGiB: 8,
      agent: { controllerURL: "https://127.0.0.1:54555", nodeName: node, token: "t" },
    }));
  } else if (kind === "sim") {
    fleet.start({
      id: `i-${i}`,
      nodeName: node,
      instanceType: "t3.nano",
      state: "running",
      spot: false,
      addresses: [{ type: "PrivateIP", address }],
      launchedAt: Date.now(),
    });
  } else {
    real.push(connectInProcess(hub, {
      nodeName: node,
      podIP: address,
      dataDir: `${dataDir}/${node}`,
      runtime: new FakeRuntime(),
    }));
  }
}
await Promise.all(launches);
await new Promise((r) => setTimeout(r, 10));
await Promise.all(pods.map((p, i) => hub.apply(`node-${i}`, p)));
const elapsed = performance.now() - t0;
await new Promise((r) => setTimeout(r, 100));
const after = settle();
const running =
  hub.connectedNodes().filter((n) => hub.lastStatus(n)?.unitStatuses[0]?.state.running).length;

const kib = (b: number) => (b / 1024).toFixed(2);
console.log(`${kind} agents:       ${N} (${running} running their pod)`);
console.log(`start + apply:     ${elapsed.toFixed(0)} ms`);
console.log(`RSS per agent:     ${kib((after.rss - before.rss) / N)} KiB`);
console.log(
  `heap per agent:    ${kib((after.heap - before.heap) / N)} KiB used, ${
    kib((after.committed - before.committed) / N)
  } KiB committed`,
);
console.log(`RSS total:         ${(after.rss / 2 ** 20).toFixed(0)} MiB`);

fleet.close();
await cloud?.close();
kv.close();
await Promise.all(real.map((a) => a.stop()));
hub.closeAll();
if (dataDir) await Deno.remove(dataDir, { recursive: true });
