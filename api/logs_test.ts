import assert from "node:assert/strict";
import type { AttachedAgent } from "../actors/agent_hub.ts";
import type { ControllerMessage } from "../model/agent_protocol.ts";
import type { Pod } from "../model/pod.ts";
import { LOG_FOLLOW_MAX_PENDING_BYTES } from "./logs.ts";
import { SavedLogs } from "../store/log_store.ts";
import { readAll, withTestApi } from "./testing.ts";

const LOG = "/api/v1/namespaces/default/pods/web/log";

/** What a test sees: the follow request, an agent to answer it, and what the agent was sent. */
interface Follow {
  res: Response;
  agent: AttachedAgent;
  id: number;
  sent: ControllerMessage[];
}

/** Opens `GET .../log?follow=true` of pod "web" on node-1, whose agent the test plays. */
async function withFollow(fn: (f: Follow) => Promise<void>): Promise<void> {
  await withTestApi(async ({ store, hub, call }) => {
    const pod = {
      kind: "Pod",
      apiVersion: "v1",
      metadata: { name: "web", namespace: "default" },
      spec: { resources: { memory: "0.4Gi" }, units: [{ name: "main", command: ["serve"] }] },
    };
    const created = await call("POST", "/api/v1/namespaces/default/pods", pod);
    assert.equal(created.status, 201, await created.text());
    await store.mutate<Pod>("pods", "default", "web", (p) => ({
      ...p,
      status: { phase: "Running", boundNodeName: "node-1" },
    }));
    const sent: ControllerMessage[] = [];
    const agent = hub.attach("node-1", { send: (m) => sent.push(m), close: () => {} });
    const res = await call("GET", `${LOG}?follow=true`);
    assert.equal(res.status, 200);
    const ask = sent.find((m) => m.type === "logs");
    assert.ok(ask, "the agent was asked to follow");
    await fn({ res, agent, id: ask.id, sent });
  });
}

Deno.test("API log follow passes the agent's text on in order and ends with the agent's logs.end", async () => {
  await withFollow(async ({ res, agent, id }) => {
    agent.receive({ type: "logs.result", id, text: "one\n" });
    agent.receive({ type: "logs.data", id, text: "two\n" });
    agent.receive({ type: "logs.data", id, text: "three\n" });
    agent.receive({ type: "logs.end", id });
    assert.equal(await readAll(res.body!), "one\ntwo\nthree\n");
  });
});

Deno.test("API log follow cuts off a client that reads nothing: the agent is told to stop and the body ends saying why", async () => {
  await withFollow(async ({ res, agent, id, sent }) => {
    agent.receive({ type: "logs.result", id, text: "" });
    const chunk = "y".repeat(63) + "\n";
    const text = chunk.repeat(1024); // 64 KiB
    // Up to 3 MiB while the client reads nothing.
    for (let n = 0; n < 48 && !sent.some((m) => m.type === "logs.cancel"); n++) {
      agent.receive({ type: "logs.data", id, text });
    }
    assert.deepEqual(sent.at(-1), { type: "logs.cancel", id }, "the agent stops sending");
    agent.receive({ type: "logs.data", id, text: "after the cut\n" });
    const body = await readAll(res.body!);
    assert.ok(
      body.length < LOG_FOLLOW_MAX_PENDING_BYTES / 4,
      `the body carried ${body.length} characters: the waiting text was dropped`,
    );
    assert.ok(!body.includes("after the cut"));
    assert.match(
      body,
      /\n\[log stream ended: this client fell more than 1048576 bytes behind; follow the log again\]\n$/,
    );
  });
});

Deno.test("API log of a pod whose node disconnects while asked answers with the log saved when the node was cleaned", async () => {
  await withTestApi(async ({ kv, store, hub, call, clock }) => {
    const created = await call("POST", "/api/v1/namespaces/default/pods", {
      kind: "Pod",
      apiVersion: "v1",
      metadata: { name: "web", namespace: "default" },
      spec: { resources: { memory: "0.4Gi" }, units: [{ name: "main", command: ["serve"] }] },
    });
    const pod = await created.json() as Pod;
    await store.mutate<Pod>("pods", "default", "web", (p) => ({
      ...p,
      status: { phase: "Succeeded", boundNodeName: "node-1" },
    }));
    const sent: ControllerMessage[] = [];
    const agent = hub.attach("node-1", { send: (m) => sent.push(m), close: () => {} });
    const res = call("GET", LOG);
    // The node is cleaned (its log saved) and goes before it answers.
    while (!sent.some((m) => m.type === "logs")) await new Promise((r) => setTimeout(r, 1));
    await new SavedLogs(kv).save(
      { namespace: "default", pod: "web", uid: pod.metadata.uid!, unit: "main" },
      "run 3\n",
      clock.now(),
    );
    agent.closed();
    const answer = await res;
    assert.equal(answer.status, 200);
    assert.equal(await answer.text(), "run 3\n");
  });
});
