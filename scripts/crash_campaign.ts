/**
 * The crash campaign of issue 10, as a new user would run it: a controller on the local cloud
 * (its own MILPA_HOME, port and bridge), a deployment updated `--rounds` times (template and
 * replica count) with the controller killed with SIGKILL 0–3 s after each update and started
 * again, then a final update; it reports how long after the last restart the live nodes took to
 * equal the live pods, or what was left over. Cleans up after itself.
 *
 *   deno run -A scripts/crash_campaign.ts --rounds 20 --replicas 20 --repeat 3
 */
import { parseArgs } from "node:util";
import { runCampaign } from "../tests/support/crash_campaign.ts";
import { LocalCloud } from "../tests/support/local_cloud.ts";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "20" },
    replicas: { type: "string", default: "20" },
    jitter: { type: "string", default: "3" },
    "max-wait-ms": { type: "string", default: "3000" },
    "settle-seconds": { type: "string", default: "120" },
    repeat: { type: "string", default: "1" },
  },
});
let failed = 0;
for (let run = 1; run <= Number(values.repeat); run++) {
  const cloud = await LocalCloud.start();
  try {
    const r = await runCampaign(cloud, {
      rounds: Number(values.rounds),
      replicas: Number(values.replicas),
      jitter: Number(values.jitter),
      maxWaitMs: Number(values["max-wait-ms"]),
      settleMs: Number(values["settle-seconds"]) * 1000,
      log: (line) => console.log(`  ${line}`),
    });
    if (r.convergedMs === undefined) {
      failed++;
      // Keep what tells why: the controller's log, the agents' logs, nodes and pods.
      const keep = await Deno.makeTempDir({ prefix: "milpa-campaign-" });
      await new Deno.Command("cp", {
        args: ["-r", `${cloud.home}/controller.log`, `${cloud.home}/local`, keep],
      }).output();
      const dumps = [
        ["nodes", "/api/v1/nodes"],
        ["pods", "/api/v1/namespaces/default/pods"],
        ["replicasets", "/api/v1/namespaces/default/replicasets"],
        ["deployments", "/api/v1/namespaces/default/deployments"],
      ];
      for (const [file, path] of dumps) {
        await Deno.writeTextFile(
          `${keep}/${file}.json`,
          JSON.stringify(await cloud.api(path), null, 2),
        );
      }
      console.log(`  kept the controller's log, agents' logs, nodes and pods in ${keep}`);
    }
    console.log(
      `run ${run}: ` +
        (r.convergedMs !== undefined
          ? `live nodes = live pods = ${r.pods} (${r.agents} agents) ${
            (r.convergedMs / 1000).toFixed(1)
          } s after the last restart`
          : `NOT converged: ${r.pods} pods, ${r.nodes} nodes, ${r.agents} agents; strays: ${
            r.strays.join(", ")
          }`),
    );
  } finally {
    await cloud.close();
  }
}
Deno.exit(failed ? 1 : 0);
