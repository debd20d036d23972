/**
 * The Pod and Service Tutorial's first half on the embedded local cloud, as a user runs it:
 * a real controller process, real node agents and units, and milpactl.
 */
import assert from "node:assert/strict";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import { LocalCloud } from "./support/local_cloud.ts";

const HELLO = new URL("../docs/tutorial-files/helloworld-pod.yml", import.meta.url).pathname;
const SVC = new URL("../docs/tutorial-files/helloworld-svc.yml", import.meta.url).pathname;

/**
 * The body of GET http://ip:port/ on a new connection (as curl makes one; fetch would reuse a
 * pooled connection, which a firewall lets through once established), or undefined when
 * nothing answers within 1 s.
 */
async function curl(ip: string, port: number): Promise<string | undefined> {
  const deadline = AbortSignal.timeout(1000);
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await Promise.race([
      Deno.connect({ hostname: ip, port }),
      new Promise<never>((_, reject) =>
        deadline.addEventListener("abort", () => reject(deadline.reason))
      ),
    ]);
    await conn.write(new TextEncoder().encode(`GET / HTTP/1.0\r\nHost: ${ip}\r\n\r\n`));
    const chunks: Uint8Array[] = [];
    const reader = conn.readable.getReader();
    deadline.addEventListener("abort", () => reader.cancel());
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
    conn = undefined;
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    return text.startsWith("HTTP/1.") ? text.slice(text.indexOf("\r\n\r\n") + 4) : undefined;
  } catch {
    return undefined;
  } finally {
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

type List<T> = { items: T[] };

async function podIP(cloud: LocalCloud, name: string): Promise<string> {
  const pod = await cloud.getJson<Pod>("pod", name);
  return pod.status!.addresses!.find((a) => a.type === "PrivateIP")!.address;
}

Deno.test("the helloworld walkthrough works on the local cloud", async () => {
  const cloud = await LocalCloud.start();
  try {
    for (const kind of ["pods", "svc", "nodes"]) {
      const out = await cloud.ok("get", kind);
      assert.equal(out.trim().split("\n").length, 1, `${kind}: header only`);
    }
    assert.equal((await cloud.ok("create", "-f", HELLO)).trim(), "pod/helloworld created");
    await cloud.eventually(
      async () => /\sRunning\s/.test(await cloud.ok("get", "pod", "helloworld")),
      "Running",
    );
    const table = await cloud.ok("get", "pod", "helloworld");
    assert.match(table, /^NAME\s+UNITS\s+RUNNING\s+STATUS\s+RESTARTS\s+NODE\s+IP\s+AGE\n/);
    assert.match(table, /helloworld\s+1\s+1\s+Running\s+0\s/);

    const nodes = await cloud.getJson<List<Node>>("nodes");
    assert.equal(nodes.items.length, 1);
    assert.equal(nodes.items[0].status?.phase, "Claimed");
    assert.equal(nodes.items[0].spec.instanceType, "t3.nano");
    assert.match(await cloud.ok("get", "nodes"), /Claimed\s+t3\.nano\s+i-[0-9a-f]{17}\s/);

    const ip = await podIP(cloud, "helloworld");
    if (cloud.netns) {
      // The node's firewall is closed until a Service opens the port.
      await cloud.eventually(
        async () => (await cloud.ok("logs", "helloworld")).includes("Listening on"),
        "the server listens",
      );
      assert.equal(await curl(ip, 8002), undefined, "closed before the Service");
      assert.equal((await cloud.ok("create", "-f", SVC)).trim(), "service/helloworld-svc created");
    }
    const t0 = Date.now();
    const body = await cloud.eventually(() => curl(ip, 8002), "helloserver answers");
    const opened = Date.now() - t0;
    assert.ok(opened < 2000, `open within 2 s of the Service, took ${opened} ms`);
    assert.match(body, /^Hello Milpa from \S+ -\nEnv Vars:\n/);
    assert.match(body, /MILPA_POD_NAME=helloworld/);
    if (cloud.netns) {
      assert.match(
        await cloud.ok("get", "svc"),
        /helloworld-svc\s+8002\/TCP\s+0\.0\.0\.0\/0\s+<none>\s/,
      );
      await cloud.ok("delete", "svc", "helloworld-svc");
      const t1 = Date.now();
      await cloud.eventually(async () => await curl(ip, 8002) === undefined, "closed again");
      assert.ok(Date.now() - t1 < 2000, "closed within 2 s of deleting the Service");
    }

    const json = JSON.parse(await cloud.ok("get", "-ojson", "pod", "helloworld"));
    assert.equal(json.kind, "Pod");
    assert.equal(json.apiVersion, "v1");
    assert.deepEqual(json.metadata.labels, { app: "helloworld" });

    const logs = await cloud.ok("logs", "helloworld", "-u", "helloserver");
    assert.match(logs, /GET \//);

    await cloud.ok("delete", "pod", "helloworld");
    await cloud.eventually(
      async () => (await cloud.getJson<List<Node>>("nodes")).items.length === 0,
      "no nodes",
    );
    await cloud.eventually(async () => (await cloud.agentPids()).length === 0, "agents gone");
    assert.match(await cloud.ok("get", "pod", "helloworld"), /\sTerminated\s/);
    assert.doesNotMatch(await cloud.ok("get", "pods"), /helloworld/, "hidden once deleted");
    // The log was saved when the node was cleaned: it outlives the node.
    assert.match(await cloud.ok("logs", "helloworld"), /GET \//);
  } finally {
    await cloud.close();
  }
});

Deno.test("kill -9 of the controller leaves the pod running on the same node and processes", async () => {
  const cloud = await LocalCloud.start();
  try {
    await cloud.ok("create", "-f", HELLO);
    await cloud.eventually(
      async () => (await cloud.getJson<Pod>("pod", "helloworld")).status?.phase === "Running",
      "Running",
    );
    const before = await cloud.getJson<Pod>("pod", "helloworld");
    const nodesBefore = await cloud.getJson<List<Node>>("nodes");
    const pidsBefore = await cloud.nodeProcesses();
    assert.ok(pidsBefore.length >= 2, "an agent and its unit");

    await cloud.killController();
    await cloud.startController();

    // The agent dials the new controller: its logs can be read through it again.
    await cloud.eventually(
      async () => (await cloud.milpactl("logs", "helloworld")).stdout.includes("Listening on"),
      "the agent reconnected",
    );
    const after = await cloud.getJson<Pod>("pod", "helloworld");
    const nodesAfter = await cloud.getJson<List<Node>>("nodes");
    assert.equal(after.metadata.uid, before.metadata.uid);
    assert.equal(after.status?.boundNodeName, before.status?.boundNodeName);
    assert.equal(after.status?.boundInstanceID, before.status?.boundInstanceID);
    assert.equal(nodesAfter.items.length, 1, "no second node");
    assert.equal(nodesAfter.items[0].status?.instanceID, nodesBefore.items[0].status?.instanceID);
    assert.equal(after.status?.unitStatuses?.[0].restartCount, 0);
    assert.equal(
      after.status?.unitStatuses?.[0].state.running?.startedAt,
      before.status?.unitStatuses?.[0].state.running?.startedAt,
    );
    assert.deepEqual(await cloud.nodeProcesses(), pidsBefore, "agent and unit processes survived");
    if (cloud.netns) await cloud.ok("create", "-f", SVC);
    const ip = await podIP(cloud, "helloworld");
    const body = await cloud.eventually(() => curl(ip, 8002), "helloserver answers");
    assert.ok(body.startsWith("Hello Milpa"));
  } finally {
    await cloud.close();
  }
});

function job(name: string, restartPolicy: string, script: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: { restartPolicy, units: [{ name: "job", command: ["sh", "-c", script] }] },
  });
}

async function createFromText(cloud: LocalCloud, text: string): Promise<void> {
  const file = `${cloud.home}/${crypto.randomUUID()}.json`;
  await Deno.writeTextFile(file, text);
  await cloud.ok("create", "-f", file);
}

Deno.test("restart policies: OnFailure backs off, Never fails, exit 0 succeeds; nodes end", async () => {
  const cloud = await LocalCloud.start();
  try {
    await createFromText(cloud, job("flaky", "OnFailure", "date +%s.%N; exit 1"));
    await createFromText(cloud, job("never", "Never", "exit 1"));
    await createFromText(cloud, job("done", "Never", "echo finished; exit 0"));
    await createFromText(cloud, job("done-onfailure", "OnFailure", "exit 0"));

    const phase = async (name: string) => (await cloud.getJson<Pod>("pod", name)).status?.phase;
    await cloud.eventually(async () => await phase("never") === "Failed", "never Failed");
    assert.match(
      await cloud.ok("get", "pod", "never", "-o", "wide"),
      /Pod Failed - Unit Terminated: ExitCode:1/,
    );
    await cloud.eventually(async () => await phase("done") === "Succeeded", "done Succeeded");
    assert.match(
      await cloud.ok("get", "pod", "done", "-o", "wide"),
      /Pod Succeeded - Unit Terminated: ExitCode:0/,
    );
    await cloud.eventually(
      async () => await phase("done-onfailure") === "Succeeded",
      "OnFailure exit 0",
    );
    await cloud.eventually(async () => {
      const nodes = await cloud.getJson<List<Node>>("nodes");
      return !nodes.items.some((n) => n.status?.boundPodName === "default/done");
    }, "done's node gone");
    assert.equal((await cloud.ok("logs", "done")).trim(), "finished");

    // OnFailure: restarted after 1 s, 2 s, 4 s...; RESTARTS counts up while the pod runs.
    const flaky = await cloud.eventually(
      async () => {
        const p = await cloud.getJson<Pod>("pod", "flaky");
        return (p.status?.unitStatuses?.[0].restartCount ?? 0) >= 3 ? p : undefined;
      },
      "3 restarts",
      30_000,
    );
    assert.equal(flaky.status?.phase, "Running");
    assert.match(
      await cloud.ok("get", "pod", "flaky", "-o", "wide"),
      /flaky\s+1\s+0\s+Pod Running - Unit Waiting: Waiting for unit restart, last exit \.\.\.\s+[3-9]\s/,
    );
    const starts = await cloud.eventually(
      async () => {
        const lines = (await cloud.ok("logs", "flaky")).trim().split("\n").map(Number);
        return lines.length >= 4 ? lines : undefined;
      },
      "four starts",
      30_000,
    );
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    assert.ok(gaps.length >= 3, `gaps ${gaps}`);
    assert.ok(gaps[0] >= 0.9 && gaps[0] < 1.9, `first backoff ~1 s, got ${gaps[0]}`);
    assert.ok(gaps[1] >= 1.9 && gaps[1] < 2.9, `second backoff ~2 s, got ${gaps[1]}`);
    assert.ok(gaps[2] >= 3.9 && gaps[2] < 4.9, `third backoff ~4 s, got ${gaps[2]}`);

    // Only the still-running flaky pod keeps a node.
    await cloud.eventually(async () => {
      const nodes = await cloud.getJson<List<Node>>("nodes");
      return nodes.items.length === 1 && nodes.items[0].status?.boundPodName === "default/flaky";
    }, "finished pods' nodes terminated");
    await cloud.ok("delete", "pod", "flaky");
    await cloud.eventually(
      async () => (await cloud.getJson<List<Node>>("nodes")).items.length === 0,
      "no nodes",
    );
  } finally {
    await cloud.close();
  }
});

Deno.test("50 pods created at once all run, and deleted leave no node or process", async () => {
  const cloud = await LocalCloud.start();
  try {
    const docs = Array.from({ length: 50 }, (_, i) =>
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: `p${i}`, labels: { batch: "fifty" } },
        spec: { units: [{ name: "sleeper", command: ["sleep", "3600"] }] },
      })).join("\n---\n");
    const file = `${cloud.home}/fifty.yml`;
    await Deno.writeTextFile(file, docs);
    const created = await cloud.ok("create", "-f", file);
    assert.equal(created.trim().split("\n").length, 50);
    await cloud.eventually(
      async () => {
        const pods = await cloud.getJson<List<Pod>>("pods");
        return pods.items.filter((p) => p.status?.phase === "Running").length === 50;
      },
      "50 pods Running",
      120_000,
    );
    const nodes = await cloud.getJson<List<Node>>("nodes");
    assert.equal(nodes.items.length, 50);
    assert.equal(new Set(nodes.items.map((n) => n.status?.addresses?.[0]?.address)).size, 50);
    assert.equal((await cloud.agentPids()).length, 50);

    await cloud.ok("delete", "-f", file);
    await cloud.eventually(
      async () => (await cloud.getJson<List<Node>>("nodes")).items.length === 0,
      "no nodes",
      60_000,
    );
    await cloud.eventually(
      async () => (await cloud.nodeProcesses()).length === 0,
      "no processes",
      30_000,
    );
    const left = await Array.fromAsync(Deno.readDir(`${cloud.home}/local/instances`));
    assert.equal(left.length, 0, "no instance left");
  } finally {
    await cloud.close();
  }
});

Deno.test("a test cloud whose controller does not start leaves nothing behind", async () => {
  // Where Deno.makeTempDir() makes the cloud's home.
  const tmp = Deno.env.get("TMPDIR") || "/tmp";
  const homes = async () => {
    const found = new Set<string>();
    for await (const e of Deno.readDir(tmp)) {
      if (e.name.startsWith("milpa-e2e-")) found.add(e.name);
    }
    return found;
  };
  const before = await homes();
  const started = Date.now();
  await assert.rejects(
    () => LocalCloud.start({ serverYml: "cloud:\n  nowhere: {}\n" }),
    /controller did not start/,
  );
  assert.ok(Date.now() - started < 20_000, "it gives up once the controller exited");
  const left = [...await homes()].filter((h) => !before.has(h));
  assert.deepEqual(left, [], "its home is removed");
});
