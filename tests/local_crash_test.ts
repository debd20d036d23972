/**
 * No node outlives its pod, whatever crashes: a deployment updated again and again while the
 * controller is killed with SIGKILL at random moments ends with exactly one node (and one agent
 * process) per live pod, soon after the last restart. (The full campaign, 20 rounds of 20
 * replicas, is `deno run -A scripts/crash_campaign.ts`.)
 */
import assert from "node:assert/strict";
import { runCampaign } from "./support/crash_campaign.ts";
import { LocalCloud } from "./support/local_cloud.ts";

Deno.test("kill -9 at random moments of a deployment's updates leaves one node per live pod", async () => {
  const cloud = await LocalCloud.start();
  try {
    const r = await runCampaign(cloud, {
      rounds: 5,
      replicas: 4,
      jitter: 2,
      maxWaitMs: 3_000,
      settleMs: 60_000,
    });
    assert.ok(
      r.convergedMs !== undefined,
      `live nodes never matched live pods: ${JSON.stringify(r)}\n${await cloud.controllerLog()}`,
    );
  } finally {
    await cloud.close();
  }
});
