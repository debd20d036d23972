/**
 * A node whose agent cannot start, on the local cloud: the agent process exits at once, which
 * is a failed launch seen then (not after the 300 s boot timeout); the pod tries again after
 * 10 s, and after nodes.maxLaunchAttempts it ends Failed with what the agent said.
 */
import assert from "node:assert/strict";
import type { Event } from "../model/event.ts";
import type { Pod } from "../model/pod.ts";
import { LocalCloud } from "./support/local_cloud.ts";

Deno.test("an agent that exits at once fails the launch at once; the pod backs off, then fails", async () => {
  const cloud = await LocalCloud.start({
    agentCommand: ["sh", "-c", "echo 'no agent here' >&2; exit 3", "broken-agent"],
    extraYml: () => "nodes:\n  maxLaunchAttempts: 2\n",
  });
  try {
    const file = `${cloud.home}/web.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "web" },
        spec: { units: [{ name: "main", command: ["sleep", "60"] }] },
      }),
    );
    const started = Date.now();
    await cloud.ok("create", "-f", file);
    const backingOff = await cloud.eventually(
      async () => {
        const p = await cloud.api<Pod>("/api/v1/namespaces/default/pods/web");
        return p.status?.reason === "LaunchBackOff" ? p : undefined;
      },
      "the first failed launch",
      20_000,
    );
    assert.ok(Date.now() - started < 20_000, "seen when the agent exited, not at the boot timeout");
    assert.match(
      backingOff.status!.message!,
      /\(attempt 1 of 2\): launch failed: agent process exited with code 3/,
    );
    assert.match(backingOff.status!.message!, /stderr: no agent here/);
    assert.match(await cloud.ok("get", "pod", "web"), /\sLaunchBackOff\s/);
    assert.match(await cloud.ok("get", "pod", "web", "-o", "wide"), /Pod Waiting - LaunchBackOff/);

    const failed = await cloud.eventually(
      async () => {
        const p = await cloud.api<Pod>("/api/v1/namespaces/default/pods/web");
        return p.status?.phase === "Failed" ? p : undefined;
      },
      "the pod Failed after its second launch",
      40_000,
    );
    assert.match(
      failed.status!.message!,
      /^node launch failed 2 times: launch failed: agent process exited with code 3/,
    );
    const events = (await cloud.api<{ items: Event[] }>("/api/v1/namespaces/default/events"))
      .items.filter((e) => e.involvedObject.name === "web" && e.status === "pod-launch-failed");
    assert.equal(events.length, 2, "each failed launch is a Warning event");
    await cloud.eventually(
      async () => (await cloud.api<{ items: unknown[] }>("/api/v1/nodes")).items.length === 0,
      "no node left",
    );
  } finally {
    await cloud.close();
  }
});
