import assert from "node:assert/strict";
import type { AppliedMessage, DesiredPod, HelloMessage } from "../model/agent_protocol.ts";
import { isAlive, type ProcEntry, readProc } from "./proc.ts";
import { startStubController } from "../tests/support/oci_controller.ts";

/** The agent entry under test; MILPA_AGENT_ENTRY can point at a bundle (deno bundle -o agent.js). */
const MAIN = Deno.env.get("MILPA_AGENT_ENTRY") ?? new URL("./main.ts", import.meta.url).pathname;

/** Processes whose environment holds `mark` (the unit and its children). */
function processesMarked(mark: string): ProcEntry[] {
  const found: ProcEntry[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (!Deno.readTextFileSync(`/proc/${entry.name}/environ`).includes(mark)) continue;
    } catch {
      continue;
    }
    const proc = readProc(Number(entry.name));
    if (proc && isAlive(proc)) found.push(proc);
  }
  return found;
}

/** Rejects after `ms` so a broken agent fails the test instead of hanging it. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name: "main.ts connects, runs a unit, serves its log and stops it on SIGTERM",
  ignore: Deno.build.os !== "linux",
  async fn() {
    const dir = await Deno.makeTempDir();
    const mark = `MILPA_TEST_MARK=${crypto.randomUUID()}`;
    const controller = startStubController();
    const { next, send } = controller;

    const config = `${dir}/agent.json`;
    await Deno.writeTextFile(
      config,
      JSON.stringify({
        controllerURL: controller.url,
        nodeName: "node-main-test",
        token: "node-token",
        dataDir: `${dir}/data`,
        logFile: `${dir}/agent.log`,
      }),
    );
    const agent = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "--config", config],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const output = Promise.all([agent.stdout.text(), agent.stderr.text()]);
    let exited = false;
    try {
      const hello = await next<HelloMessage>("hello", (m) => m.type === "hello");
      assert.equal(hello.node, "node-main-test");
      assert.deepEqual(controller.headers, ["Bearer node-token", "node-main-test"]);

      const pod: DesiredPod = {
        namespace: "default",
        name: "hello",
        uid: "uid-main-test",
        spec: { units: [{ name: "hello", command: ["sh", "-c", "echo hello; sleep 60"] }] },
        env: { MILPA_POD_NAME: "hello", MILPA_TEST_MARK: mark.split("=")[1] },
      };
      send({ type: "apply", id: 1, pod });
      const applied = await next<AppliedMessage>(
        "applied",
        (m) => m.type === "applied" && m.id === 1,
      );
      assert.equal(applied.error, undefined);
      await next(
        "a status with the unit running",
        (m) =>
          m.type === "status" && m.podUid === pod.uid &&
          m.unitStatuses[0]?.state.running !== undefined,
      );

      send({ type: "logs", id: 2, unit: "hello", follow: true });
      await next(
        "the log line",
        (m) =>
          (m.type === "logs.result" || m.type === "logs.data") && m.id === 2 &&
          (m.text ?? "").includes("hello\n"),
      );
      send({ type: "logs.cancel", id: 2 });

      const unitProcs = processesMarked(mark);
      assert.ok(unitProcs.length >= 2, `sh and sleep run, found ${unitProcs.length}`);

      agent.kill("SIGTERM");
      const status = await within(20_000, "the agent to exit", agent.status);
      exited = true;
      assert.equal(status.code, 0);
      assert.deepEqual(unitProcs.filter(isAlive), []);
      assert.deepEqual(processesMarked(mark), []);
      const log = await Deno.readTextFile(`${dir}/agent.log`);
      assert.match(log, /SIGTERM: stopping units/);
      assert.equal(await Deno.readTextFile(`${dir}/data/logs/hello.log`), "hello\n");
    } finally {
      if (!exited) {
        agent.kill("SIGKILL");
        await agent.status;
        for (const proc of processesMarked(mark)) Deno.kill(proc.pid, "SIGKILL");
      }
      const [stdout, stderr] = await output;
      if (stdout || stderr) console.log(`agent output:\n${stdout}${stderr}`);
      await controller.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("main.ts exits 2 with a clear error for a missing config file", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--config", "/no/such/agent.json"],
    stdin: "null",
  }).output();
  assert.equal(out.code, 2);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /Cannot read agent config "\/no\/such\/agent.json": no such file/,
  );
});
