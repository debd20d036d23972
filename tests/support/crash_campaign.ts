/**
 * A crash campaign on the local cloud: rounds of (change a deployment's template and replica
 * count, wait a random 0–`maxWaitMs`, kill -9 the controller, start it again), then a final
 * update; then it measures how long after the last restart the live nodes equal the live pods
 * (every node bound to a live pod of the deployment, no other node, one agent process each).
 * For tests/local_crash_test.ts and scripts/crash_campaign.ts.
 */
import type { Node } from "../../model/node.ts";
import type { Pod } from "../../model/pod.ts";
import { isActivePod } from "../../model/workload.ts";
import type { LocalCloud } from "./local_cloud.ts";

type List<T> = { items: T[] };

/** How a campaign runs. */
export interface CampaignOptions {
  rounds: number;
  /** Replicas of the final update; rounds use this ± `jitter`. */
  replicas: number;
  jitter: number;
  /** Longest random wait between an update and the kill. */
  maxWaitMs: number;
  /** How long after the last restart the nodes may take to match the pods. */
  settleMs: number;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** What a campaign found. */
export interface CampaignResult {
  /** Milliseconds from the last restart until live nodes equalled live pods (undefined: never). */
  convergedMs?: number;
  pods: number;
  nodes: number;
  /** Nodes not bound to a live pod of the deployment, when it did not converge. */
  strays: string[];
  agents: number;
}

function deployment(replicas: number, round: number) {
  return {
    apiVersion: "v1",
    kind: "Deployment",
    metadata: { name: "crash" },
    spec: {
      replicas,
      template: {
        metadata: { labels: { app: "crash" }, annotations: { "test/round": String(round) } },
        spec: { units: [{ name: "sleep", command: ["sleep", "3600"] }] },
      },
    },
  };
}

/** Runs a campaign on `cloud` (a controller it may kill and restart). */
export async function runCampaign(
  cloud: LocalCloud,
  o: CampaignOptions,
): Promise<CampaignResult> {
  const log = o.log ?? (() => {});
  const file = `${cloud.home}/crash.json`;
  const apply = async (replicas: number, round: number) => {
    await Deno.writeTextFile(file, JSON.stringify(deployment(replicas, round)));
    await cloud.ok("apply", "-f", file);
  };
  await apply(o.replicas, 0);
  let restarted = Date.now();
  for (let round = 1; round <= o.rounds; round++) {
    const replicas = o.replicas + Math.round((Math.random() * 2 - 1) * o.jitter);
    await apply(replicas, round);
    const wait = Math.round(Math.random() * o.maxWaitMs);
    await new Promise((r) => setTimeout(r, wait));
    await cloud.killController();
    await cloud.startController();
    restarted = Date.now();
    log(`round ${round}: ${replicas} replicas, killed after ${wait} ms`);
  }
  await apply(o.replicas, o.rounds + 1);
  let last: Omit<CampaignResult, "convergedMs"> = { pods: 0, nodes: 0, strays: [], agents: 0 };
  while (Date.now() - restarted < o.settleMs) {
    const all = (await cloud.api<List<Pod>>("/api/v1/namespaces/default/pods")).items;
    const pods = all.filter((p) => isActivePod(p) && p.status?.phase === "Running");
    const live = new Set(pods.map((p) => `default/${p.metadata.name}`));
    const nodes = (await cloud.api<List<Node>>("/api/v1/nodes")).items
      .filter((n) => n.status?.phase !== "Terminated");
    // Each stray says what its node and its pod are doing, for the failure message.
    const podState = (key: string) => {
      const p = all.find((p) => `default/${p.metadata.name}` === key);
      if (!p) return "gone";
      const units = (p.status?.unitStatuses ?? []).map((u) => JSON.stringify(u.state)).join(",");
      return `${p.spec.phase}/${p.status?.phase}${
        p.status?.message ? `: ${p.status.message}` : ""
      }` +
        (units ? ` units ${units}` : "");
    };
    const strays = nodes.filter((n) => !live.has(n.status?.boundPodName ?? "")).map((n) => {
      const pod = n.status?.boundPodName;
      return `${n.metadata.name} (${n.status?.phase}${
        n.status?.message ? `: ${n.status.message}` : ""
      }, pod ${pod ? `${pod} ${podState(pod)}` : "none"})`;
    });
    const agents = (await cloud.agentPids()).length;
    last = { pods: pods.length, nodes: nodes.length, strays, agents };
    const latest = pods.every((p) =>
      p.metadata.annotations?.["test/round"] === String(o.rounds + 1)
    );
    if (
      latest && pods.length === o.replicas && nodes.length === o.replicas && strays.length === 0 &&
      agents === o.replicas
    ) {
      return { convergedMs: Date.now() - restarted, ...last };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return last;
}
