import assert from "node:assert/strict";
import type { LaunchRequest } from "../cloud/provider.ts";
import { SimProvider } from "../cloud/sim/sim_provider.ts";
import { defaultConfig } from "../model/config.ts";
import { launchNode } from "./effects.ts";

const node = {
  name: "n-1",
  instanceType: "t3.nano",
  spot: false,
  privateIPOnly: false,
  volumeSizeGiB: 5,
};

/** Launches n-1 on a sim cloud that does or does not fetch the agent; the agent config sent. */
async function agentOf(fetchesAgent: boolean, caCertificate?: string) {
  const cloud = new SimProvider();
  Object.defineProperty(cloud, "fetchesAgent", { value: fetchesAgent });
  let bundled = 0;
  await launchNode({
    cloud,
    controllerURL: "https://127.0.0.1:54555",
    nodeToken: (n) => Promise.resolve(`token-${n}`),
    config: defaultConfig(),
    caCertificate,
    agentSha256: () => {
      bundled++;
      return Promise.resolve("ab".repeat(32));
    },
  }, node);
  const req = cloud.calls.find((c) => c.method === "launch")!.arg as LaunchRequest;
  return { agent: req.agent, bundled };
}

Deno.test("launchNode() gives the node the controller's CA", async () => {
  const { agent } = await agentOf(false, "PEM");
  assert.equal(agent.caCertificate, "PEM");
  assert.equal(agent.controllerURL, "https://127.0.0.1:54555");
  assert.equal((await agentOf(false)).agent.caCertificate, undefined);
});

Deno.test("launchNode() adds the agent program's sha256 only for clouds whose nodes fetch it", async () => {
  const local = await agentOf(false, "PEM");
  assert.equal(local.agent.agentSha256, undefined);
  assert.equal(local.bundled, 0, "no bundling for a cloud that runs the agent from source");
  const aws = await agentOf(true, "PEM");
  assert.equal(aws.agent.agentSha256, "ab".repeat(32));
});
