/**
 * What a client sees while a Deployment rolls out: sends one request every 100 ms, each on a
 * fresh TCP connection, to an address in front of the Deployment (a LoadBalancer Service's
 * ingress, an HAProxy pod), rolls the Deployment out N times (each rollout is a `milpactl rollout
 * restart`: a new restartedAt annotation on its pod template, so every pod is replaced), and reports requests sent, failures and how
 * long each rollout took. Uses the controller milpactl uses (client.yaml, MILPA_ENDPOINT).
 *
 *   deno run -A scripts/rollout_availability.ts --target 198.18.255.254:80 \
 *     --deployment backend-deployment --rollouts 5
 */
import { parseArgs } from "node:util";
import { MilpaClient } from "../cli/client.ts";
import { withRestartAnnotation } from "../cli/commands/rollout.ts";
import { loadClientConfig } from "../cli/config.ts";
import { rolloutStatus } from "../cli/printers/rollout.ts";
import { findKind } from "../model/kinds.ts";
import type { Deployment } from "../model/deployment.ts";
import { startProbing, summarize } from "../tests/support/availability.ts";

const USAGE = `usage: rollout_availability.ts --target HOST:PORT --deployment NAME
  [--namespace default] [--rollouts 5] [--interval-ms 100] [--expect "Hello Milpa"]
  [--settle-seconds 40] [--timeout-seconds 300]`;

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    deployment: { type: "string" },
    namespace: { type: "string", default: "default" },
    rollouts: { type: "string", default: "5" },
    "interval-ms": { type: "string", default: "100" },
    expect: { type: "string", default: "Hello Milpa" },
    "settle-seconds": { type: "string", default: "40" },
    "timeout-seconds": { type: "string", default: "300" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help || !values.target || !values.deployment) {
  console.log(USAGE);
  Deno.exit(values.help ? 0 : 2);
}
const [hostname, portText] = values.target.split(":");
const port = Number(portText ?? 80);
const ns = values.namespace!;
const name = values.deployment;
const kind = findKind("deployments")!;
const client = new MilpaClient(
  await loadClientConfig({
    env: (k) => Deno.env.get(k),
    cwd: Deno.cwd(),
    readTextFile: (p) => Deno.readTextFile(p),
  }, {}),
);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const probe = startProbing(hostname, port, values.expect!, Number(values["interval-ms"]));
const durations: number[] = [];
try {
  for (let i = 1; i <= Number(values.rollouts); i++) {
    const started = Date.now();
    await client.modify<Deployment>(kind, ns, name, (d) => withRestartAnnotation(d, started));
    const deadline = started + Number(values["timeout-seconds"]) * 1000;
    while (!rolloutStatus(await client.get<Deployment>(kind, ns, name)).done) {
      if (Date.now() > deadline) throw new Error(`rollout ${i} did not complete in time`);
      await sleep(200);
    }
    durations.push(Date.now() - started);
    console.log(`rollout ${i}: complete in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  // Old pods drain after a rollout completes: keep asking until they are gone.
  await sleep(Number(values["settle-seconds"]) * 1000);
} finally {
  const s = summarize(await probe.stop());
  console.log(
    `requests: ${s.sent}, failed: ${s.failed}` +
      (s.why.length ? ` (${s.why.join("; ")})` : ""),
  );
  if (durations.length) {
    console.log(
      `rollout seconds: ${durations.map((d) => (d / 1000).toFixed(1)).join(", ")}`,
    );
  }
}
