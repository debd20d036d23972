/**
 * Node credentials end to end, on the simulated cloud with the real API over HTTP: a node's
 * token opens only its own agent routes, its own pod and the secrets that pod references, and
 * nothing once the node terminates.
 */
import assert from "node:assert/strict";
import type { ControllerMessage } from "../model/agent_protocol.ts";
import type { Node } from "../model/node.ts";
import type { LaunchRequest } from "../cloud/provider.ts";
import { podManifest, type SimCluster, startSimCluster } from "./support/sim_cluster.ts";

const fast = { watchdogPeriodMs: 50, purgePeriodMs: 100, reconcilePeriodMs: 100 };

/** A pod whose unit gets `value` from secret `secret`. */
function podWithSecret(name: string, secret: string) {
  const pod = podManifest(name);
  return {
    ...pod,
    spec: {
      units: [{
        name: "main",
        command: ["serve"],
        env: [{ name: "PASSWORD", valueFrom: { secretKeyRef: { name: secret, key: "password" } } }],
      }],
    },
  };
}

/** The node a pod runs on and the token its agent was given at launch. */
async function nodeOf(c: SimCluster, pod: string): Promise<{ node: string; token: string }> {
  const p = await c.waitForPod(pod, "Running");
  const node = p.status!.boundNodeName!;
  const launch = c.sim.calls.find((call) =>
    call.method === "launch" && (call.arg as LaunchRequest).nodeName === node
  );
  return { node, token: (launch!.arg as LaunchRequest).agent.token };
}

/** A request to the controller as a node agent would send it. */
function asNode(c: SimCluster, path: string, node: string, token: string, init: RequestInit = {}) {
  return fetch(`${c.controller.url}${path}`, {
    ...init,
    headers: {
      Authorization: `Bearer ${token}`,
      "X-Milpa-Node": node,
      ...(init.body ? { "Content-Type": "application/json" } : {}),
    },
  });
}

async function status(res: Promise<Response>): Promise<number> {
  const r = await res;
  await r.body?.cancel();
  return r.status;
}

/** Dials /agent/v1/connect as `node`, says hello and collects what the controller sends. */
async function dialAgent(c: SimCluster, node: string, token: string) {
  const ws = new WebSocket(`${c.controller.url.replace(/^http/, "ws")}/agent/v1/connect`, {
    headers: { Authorization: `Bearer ${token}`, "X-Milpa-Node": node },
  });
  const received: ControllerMessage[] = [];
  const waiting: [(m: ControllerMessage) => boolean, (m: ControllerMessage) => void][] = [];
  ws.onmessage = (e) => {
    const msg = JSON.parse(String(e.data)) as ControllerMessage;
    received.push(msg);
    for (const [i, [match, resolve]] of waiting.entries()) {
      if (match(msg)) {
        waiting.splice(i, 1);
        resolve(msg);
        break;
      }
    }
  };
  const closed = new Promise<void>((resolve) => ws.onclose = () => resolve());
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`the agent connection of ${node} was refused`));
  });
  ws.send(JSON.stringify({ type: "hello", node, protocolVersion: 1 }));
  return {
    ws,
    received,
    next(match: (m: ControllerMessage) => boolean, ms = 5_000): Promise<ControllerMessage> {
      const seen = received.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching message in ${ms} ms`)), ms);
        waiting.push([match, (m) => {
          clearTimeout(timer);
          resolve(m);
        }]);
      });
    },
    async close() {
      ws.close();
      await closed;
    },
  };
}

Deno.test("node A's token cannot read node B's pods or secrets; after A terminates its token gets 401", async () => {
  const c = await startSimCluster({ timings: fast });
  try {
    for (const [name, password] of [["a-secret", "alpha-pw"], ["b-secret", "bravo-pw"]]) {
      const r = await c.api("POST", "/api/v1/namespaces/default/secrets", {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name },
        stringData: { password },
      });
      assert.equal(await status(Promise.resolve(r)), 201);
    }
    await c.api("POST", "/api/v1/namespaces/default/pods", podWithSecret("pod-a", "a-secret"));
    await c.api("POST", "/api/v1/namespaces/default/pods", podWithSecret("pod-b", "b-secret"));
    const a = await nodeOf(c, "pod-a");
    const b = await nodeOf(c, "pod-b");
    assert.notEqual(a.token, b.token);

    // Every user API route wants the API token: a node token opens none of them.
    for (
      const path of [
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/default/pods/pod-b",
        "/api/v1/namespaces/default/secrets",
        "/api/v1/namespaces/default/secrets/b-secret",
        "/api/v1/nodes",
        `/api/v1/namespaces/default/pods/pod-b/log?unit=main`,
        "/version",
      ]
    ) {
      for (const node of [a.node, b.node]) {
        assert.equal(await status(asNode(c, path, node, a.token)), 401, `GET ${path} as ${node}`);
      }
    }
    assert.equal(
      await status(asNode(c, "/api/v1/namespaces/default/pods", a.node, a.token, {
        method: "POST",
        body: JSON.stringify(podManifest("intruder")),
      })),
      401,
    );
    assert.equal(await c.controller.store.get("pods", "default", "intruder"), null);

    // Node A's token with node B's name opens neither B's channel nor the agent program.
    assert.equal(await status(asNode(c, "/agent/v1/connect", b.node, a.token)), 401);
    assert.equal(await status(asNode(c, "/agent/v1/agent.js", b.node, a.token)), 401);

    // On its own channel, A is sent its own pod with its own secret, and nothing of B's.
    const agentA = await dialAgent(c, a.node, a.token);
    try {
      const apply = await agentA.next((m) => m.type === "apply" && m.pod !== null);
      assert.ok(apply.type === "apply" && apply.pod);
      assert.equal(apply.pod.name, "pod-a");
      assert.deepEqual(apply.pod.spec.units[0].env, [{ name: "PASSWORD", value: "alpha-pw" }]);
      agentA.ws.send(JSON.stringify({ type: "applied", id: apply.id }));
      const everything = JSON.stringify(agentA.received);
      assert.ok(!everything.includes("bravo-pw"), "B's secret never reaches A's channel");
      assert.ok(!everything.includes("pod-b"), "nor B's pod");
    } finally {
      await agentA.close();
      c.agents.get(a.node)!.reconnect();
    }

    // Node A goes with its pod; its token opens nothing any more. B's still works.
    const deleted = await c.api("DELETE", "/api/v1/namespaces/default/pods/pod-a");
    assert.equal(await status(Promise.resolve(deleted)), 200);
    await c.waitUntil(async () => {
      const n = await c.controller.store.get<Node>("nodes", undefined, a.node);
      return !n || n.status?.phase === "Terminated";
    }, `node ${a.node} to terminate`);
    const records = await Array.fromAsync(c.kv.list({ prefix: ["nodeCredentials"] }));
    assert.deepEqual(records, [], "tokens come from the node objects: no records in KV");
    assert.equal(await status(asNode(c, "/agent/v1/connect", a.node, a.token)), 401);
    assert.equal(await status(asNode(c, "/agent/v1/agent.js", a.node, a.token)), 401);
    const agentB = await dialAgent(c, b.node, b.token);
    await agentB.close();
    c.agents.get(b.node)!.reconnect();
  } finally {
    await c.close();
  }
});
