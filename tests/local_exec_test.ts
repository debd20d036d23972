/**
 * `milpactl exec`, `attach` and `port-forward` against a real controller and real node agents
 * on the local cloud, with milpactl as a subprocess (under `script` for a real terminal).
 */
import assert from "node:assert/strict";
import { CHANNEL, decodeFrame, encodeFrame, resizeFrame } from "../model/stream_frames.ts";
import { haveStaticBusybox, webImage } from "../agent/oci/testing.ts";
import { LocalCloud } from "./support/local_cloud.ts";
import { startRegistry, type TestRegistry } from "./support/oci_registry.ts";
import { runMilpactl } from "./support/milpactl.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const HELLO = `${ROOT}docs/tutorial-files/helloworld-pod.yml`;
const MILPACTL = [
  Deno.execPath(),
  "run",
  "-A",
  "--config",
  `${ROOT}deno.json`,
  `${ROOT}cli/milpactl.ts`,
];

/** A milpactl subprocess with piped stdio. */
function spawnMilpactl(cloud: LocalCloud, args: string[]): Deno.ChildProcess {
  const [program, ...rest] = MILPACTL;
  return new Deno.Command(program, {
    args: [...rest, ...args],
    env: { NO_COLOR: "1", MILPA_HOME: cloud.home },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * `printf INPUT | milpactl attach -i POD -u UNIT` until `until` shows in its output, then Ctrl-C:
 * what it printed, and its stderr.
 */
async function attachWithInput(
  cloud: LocalCloud,
  pod: string,
  unit: string,
  input: string,
  until: string,
): Promise<{ seen: string; stderr: string }> {
  const child = spawnMilpactl(cloud, ["attach", "-i", pod, "-u", unit]);
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes(until)) {
    const r = await reader.read();
    if (r.done) break;
    seen += new TextDecoder().decode(r.value);
  }
  child.kill("SIGINT");
  await child.status;
  reader.releaseLock();
  await child.stdout.cancel();
  return { seen, stderr: await child.stderr.text() };
}

/** Runs milpactl with `input` on its stdin. */
async function milpactlWithInput(cloud: LocalCloud, input: string, ...args: string[]) {
  const child = spawnMilpactl(cloud, args);
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The pids below `pid` (from /proc). */
function descendantsOf(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...children.get(ppid) ?? [], Number(e.name)]);
    } catch { /* gone */ }
  }
  const out: number[] = [];
  const queue = [pid];
  for (let p = queue.shift(); p !== undefined; p = queue.shift()) {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

async function startHello(cloud: LocalCloud): Promise<void> {
  await cloud.ok("create", "-f", HELLO);
  await cloud.eventually(
    async () => /\sRunning\s/.test(await cloud.ok("get", "pod", "helloworld")),
    "Running",
    60_000,
  );
  await cloud.eventually(
    async () => (await cloud.ok("logs", "helloworld")).includes("Listening on"),
    "the server listens",
  );
}

Deno.test("milpactl exec runs commands in a unit: output, exit codes, stdin, errors", async (t) => {
  const cloud = await LocalCloud.start();
  try {
    await startHello(cloud);

    await t.step("the unit's environment, stdout and stderr, and its exit code", async () => {
      const r = await cloud.milpactl(
        "exec",
        "helloworld",
        "-u",
        "helloserver",
        "--",
        "sh",
        "-c",
        "echo $MILPA_POD_NAME; echo oops >&2; exit 3",
      );
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, "helloworld\n");
      assert.equal(r.stderr, "oops\n");
      const ok = await cloud.milpactl("exec", "helloworld", "--", "true");
      assert.equal(ok.code, 0, ok.stderr);
      const killed = await cloud.milpactl("exec", "helloworld", "--", "sh", "-c", "kill -9 $$");
      assert.equal(killed.code, 137, killed.stderr);
    });

    await t.step("stdin reaches the command, and its end closes the command's stdin", async () => {
      const r = await milpactlWithInput(
        cloud,
        "hi\nthere\n",
        "exec",
        "-i",
        "helloworld",
        "--",
        "cat",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "hi\nthere\n");
      const big = "x".repeat(300_000) + "\n";
      const wc = await milpactlWithInput(cloud, big, "exec", "-i", "helloworld", "--", "wc", "-c");
      assert.equal(wc.stdout.trim(), String(big.length));
    });

    await t.step("bad requests fail clearly with a non-zero exit", async () => {
      const missing = await cloud.milpactl("exec", "nopod", "--", "true");
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /pods "nopod" not found|nopod/);
      const unit = await cloud.milpactl("exec", "helloworld", "-u", "nounit", "--", "true");
      assert.equal(unit.code, 1);
      assert.match(
        unit.stderr,
        /unit "nounit" not found in pod "helloworld"; its units: helloserver/,
      );
      const cmd = await cloud.milpactl("exec", "helloworld", "--", "no-such-program-x");
      assert.equal(cmd.code, 127, cmd.stderr);
      assert.match(cmd.stderr, /no-such-program-x.*not found/);
    });

    await t.step("50 execs in a row leave no process behind on the node", async () => {
      const before = (await cloud.nodeProcesses()).length;
      for (let i = 0; i < 50; i++) {
        const r = await cloud.milpactl("exec", "helloworld", "--", "sh", "-c", `echo ${i}`);
        assert.equal(r.stdout, `${i}\n`, r.stderr);
      }
      await cloud.eventually(
        async () => (await cloud.nodeProcesses()).length === before,
        "no exec process left",
        5_000,
      );
    });

    await t.step("closing milpactl (Ctrl-C) kills the remote command", async () => {
      const child = spawnMilpactl(cloud, [
        "exec",
        "helloworld",
        "--",
        "sh",
        "-c",
        "echo started; sleep 600",
      ]);
      const reader = child.stdout.getReader();
      const first = await reader.read();
      assert.equal(new TextDecoder().decode(first.value), "started\n");
      const agents = await cloud.agentPids();
      const sleeping = () =>
        agents.flatMap(descendantsOf).filter((p) => {
          try {
            return Deno.readTextFileSync(`/proc/${p}/cmdline`).startsWith("sleep\x00600");
          } catch {
            return false;
          }
        });
      assert.equal(sleeping().length, 1);
      child.kill("SIGINT");
      const status = await child.status;
      reader.releaseLock();
      await child.stdout.cancel();
      await child.stderr.cancel();
      assert.equal(status.code, 130);
      await cloud.eventually(() => Promise.resolve(sleeping().length === 0), "sleep killed", 5_000);
    });

    await t.step("-it runs on a real terminal that follows resizes", async () => {
      // `script` gives milpactl a terminal of its own; stty sets the size it starts with.
      const cmd = `stty cols 91 rows 33; ${MILPACTL.join(" ")} exec -it helloworld -- sh`;
      const child = new Deno.Command("script", {
        args: ["-qfec", cmd, "/dev/null"],
        env: {
          NO_COLOR: "1",
          MILPA_HOME: cloud.home,
          PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        },
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      const enc = new TextEncoder();
      let seen = "";
      const reading = (async () => {
        for await (const chunk of child.stdout) seen += new TextDecoder().decode(chunk);
      })();
      const waitFor = async (re: RegExp) => {
        const deadline = Date.now() + 20_000;
        while (!re.test(seen)) {
          if (Date.now() > deadline) throw new Error(`no ${re} in ${JSON.stringify(seen)}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      };
      await new Promise((r) => setTimeout(r, 1500));
      await writer.write(enc.encode("tty; stty size; echo MARK$((6*7))\r"));
      await waitFor(/MARK42/);
      assert.match(seen, /\/dev\/pts\/\d+/);
      assert.match(seen, /33 91/);
      await writer.write(enc.encode("exit 5\r"));
      const status = await child.status;
      await reading;
      await writer.close().catch(() => {});
      await child.stderr.cancel();
      assert.equal(status.code, 5, seen);
    });

    await t.step(
      "a resize frame reaches the program on the terminal (SIGWINCH, stty size)",
      async () => {
        const ws = await execSocket(cloud, "command=sh&stdin=1&tty=1&cols=80&rows=24");
        let out = "";
        ws.onmessage = (e) => {
          const f = decodeFrame(e.data);
          if (f?.channel === CHANNEL.stdout) out += new TextDecoder().decode(f.payload);
        };
        const send = (text: string) => ws.send(encodeFrame(CHANNEL.stdin, text));
        send("stty size; echo A$((1+1))\r");
        await waitUntil(() => /A2/.test(out), () => out);
        assert.match(out, /24 80/);
        ws.send(resizeFrame({ cols: 132, rows: 50 }));
        send("trap 'echo WINCH' WINCH; sleep 0.3; stty size; echo B$((2+1))\r");
        await waitUntil(() => /B3/.test(out), () => out);
        assert.match(out, /50 132/);
        ws.send(resizeFrame({ cols: 100, rows: 30 }));
        send("sleep 0.3; echo C$((3+1))\r");
        await waitUntil(() => /C4/.test(out), () => out);
        assert.match(out, /WINCH/, "the shell got SIGWINCH");
        const closed = new Promise((r) => ws.onclose = r);
        send("exit 4\r");
        await closed;
      },
    );

    await t.step("attach shows the unit's output from now on; -i is refused", async () => {
      const child = spawnMilpactl(cloud, ["attach", "helloworld"]);
      const reader = child.stdout.getReader();
      await new Promise((r) => setTimeout(r, 2000));
      const pod = await cloud.api<{ status: { addresses: { type: string; address: string }[] } }>(
        "/api/v1/namespaces/default/pods/helloworld",
      );
      const ip = pod.status.addresses.find((a) => a.type === "PrivateIP")!.address;
      // A request from inside the node (its firewall is closed) makes the server log a line.
      await cloud.ok(
        "exec",
        "helloworld",
        "--",
        "deno",
        "eval",
        `await fetch("http://${ip}:8002/attach-probe")`,
      );
      let seen = "";
      while (!seen.includes("/attach-probe")) {
        const r = await reader.read();
        if (r.done) break;
        seen += new TextDecoder().decode(r.value);
      }
      assert.match(seen, /GET \/attach-probe/);
      assert.doesNotMatch(seen, /Listening on/, "only output from now on");
      child.kill("SIGINT");
      await child.status;
      reader.releaseLock();
      await child.stdout.cancel();
      await child.stderr.cancel();
      const i = await cloud.milpactl("attach", "-i", "helloworld");
      assert.equal(i.code, 1);
      assert.match(i.stderr, /stdin closed/);
      const tty = await cloud.milpactl("attach", "-t", "helloworld");
      assert.equal(tty.code, 1);
      assert.match(
        tty.stderr,
        /unit "helloserver" has no terminal \(tty is not supported for units\)/,
      );
    });

    await t.step("attach -i writes to a stdin: true unit, whose stdin stays open", async () => {
      const file = `${cloud.home}/repl.yml`;
      await Deno.writeTextFile(
        file,
        `apiVersion: v1
kind: Pod
metadata: {name: repl}
spec:
  resources: {memory: 0.4Gi}
  units:
    - name: repl
      stdin: true
      command: [sh, -c, "echo ready; while read l; do echo got:$l; done; echo eof"]
`,
      );
      await cloud.ok("create", "-f", file);
      await cloud.eventually(
        async () => (await cloud.ok("logs", "repl")).includes("ready"),
        "the repl unit runs",
        60_000,
      );
      const attach = (input: string, until: string) =>
        attachWithInput(cloud, "repl", "repl", input, until);
      const first = await attach("a\nb\n", "got:b");
      assert.equal(first.seen, "got:a\ngot:b\n", first.stderr);
      // The first attach's input ended, the unit's stdin did not: a second attach still works.
      const second = await attach("c\n", "got:c");
      assert.equal(second.seen, "got:c\n", second.stderr);
      const logs = await cloud.ok("logs", "repl");
      assert.match(logs, /ready\ngot:a\ngot:b\ngot:c\n/);
      assert.doesNotMatch(logs, /eof/);
    });

    await t.step(
      "port-forward: 100 requests through the tunnel, two forwards at once",
      async () => {
        const [a, b] = [freePort(), freePort()];
        const one = spawnMilpactl(cloud, ["port-forward", "helloworld", `${a}:8002`]);
        const two = spawnMilpactl(cloud, ["port-forward", "helloworld", `${b}:8002`, ":9"]);
        try {
          const firstLine = async (c: Deno.ChildProcess) => {
            const r = await c.stdout.getReader().read();
            return new TextDecoder().decode(r.value);
          };
          assert.equal(await firstLine(one), `Forwarding from 127.0.0.1:${a} -> 8002\n`);
          assert.match(await firstLine(two), new RegExp(`Forwarding from 127.0.0.1:${b} -> 8002`));
          let ok = 0;
          for (let i = 0; i < 100; i++) {
            const res = await fetch(`http://127.0.0.1:${i % 2 ? a : b}/n${i}`, {
              headers: { Connection: "close" },
            });
            if ((await res.text()).startsWith("Hello Milpa from")) ok++;
          }
          assert.equal(ok, 100);
        } finally {
          for (const c of [one, two]) {
            c.kill("SIGINT");
            await c.status;
            await c.stdout.cancel().catch(() => {});
            await c.stderr.cancel().catch(() => {});
          }
        }
      },
    );

    await t.step(
      "port-forward to a closed port: that connection fails with a clear error",
      async () => {
        const port = freePort();
        const pf = spawnMilpactl(cloud, ["port-forward", "helloworld", `${port}:8999`]);
        const reader = pf.stdout.getReader();
        await reader.read();
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        const buf = new Uint8Array(10);
        // Closed (or reset) by milpactl once the node says the port refused.
        assert.equal(await conn.read(buf).catch(() => null), null, "closed at once");
        conn.close();
        pf.kill("SIGINT");
        const out = await pf.stderr.text();
        await pf.status;
        reader.releaseLock();
        await pf.stdout.cancel();
        assert.match(out, /127\.0\.0\.1:\d+ -> 8999: port 8999 of the pod: connection refused/);
        const missing = await cloud.milpactl("port-forward", "nopod", "18000:80");
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /nopod/);
      },
    );

    await t.step("a view token may not exec: 403 naming the missing write access", async () => {
      const view = (await cloud.ok("token", "create", "--role", "view")).trim().split(/\s+/).pop()!;
      const r = await runMilpactl(
        { env: { MILPA_HOME: cloud.home, MILPA_TOKEN: view } },
        "exec",
        "helloworld",
        "--",
        "true",
      );
      assert.equal(r.code, 1);
      assert.match(r.stderr, /cannot write in namespace "default"/);
    });
  } finally {
    await cloud.close();
  }
});

Deno.test("exec and port-forward refuse a pod that is not running", async () => {
  const cloud = await LocalCloud.start();
  try {
    const file = `${cloud.home}/never.yml`;
    await Deno.writeTextFile(
      file,
      `apiVersion: v1
kind: Pod
metadata: {name: never}
spec:
  resources: {memory: 0.4Gi}
  restartPolicy: Never
  units:
    - {name: main, command: [sh, -c, "exit 0"]}
`,
    );
    await cloud.ok("create", "-f", file);
    await cloud.eventually(
      async () => /Succeeded|Terminated|Failed/.test(await cloud.ok("get", "pod", "never")),
      "the pod ended",
      60_000,
    );
    const r = await cloud.milpactl("exec", "never", "--", "true");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pod "never" is not running \(Pod (Succeeded|Terminated|Failed)\)/);
    const pf = await cloud.milpactl("port-forward", "never", "18001:80");
    assert.equal(pf.code, 1);
    assert.match(pf.stderr, /pod "never" is not running/);
  } finally {
    await cloud.close();
  }
});

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitUntil(ok: () => boolean, seen: () => string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out; seen ${JSON.stringify(seen())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An exec WebSocket to helloworld, straight through the API (no milpactl). */
function execSocket(cloud: LocalCloud, query: string): Promise<WebSocket> {
  return execSocketTo(cloud, "helloworld", query);
}

/** An exec WebSocket to a pod, straight through the API (no milpactl). */
async function execSocketTo(cloud: LocalCloud, pod: string, query: string): Promise<WebSocket> {
  const { endpoint, token, certificateAuthority } = await cloud.clientConfig();
  const url = `${
    endpoint.replace(/^http/, "ws")
  }/api/v1/namespaces/default/pods/${pod}/exec?${query}`;
  const client = certificateAuthority
    ? Deno.createHttpClient({ caCerts: [certificateAuthority] })
    : undefined;
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` }, client });
  ws.binaryType = "arraybuffer";
  ws.addEventListener("close", () => client?.close());
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  return ws;
}

Deno.test({
  name:
    "exec into a unit from an image runs in its namespaces and root, on a terminal too; attach -i reaches its stdin",
  ignore: !(Deno.uid() === 0 && haveStaticBusybox()),
  async fn() {
    let gatewayRegistry: TestRegistry | undefined;
    const cloud = await LocalCloud.start({
      extraYml: ({ gateway }) =>
        gateway ? `nodes:\n  insecureRegistries: ["${gateway}"]\n  runtime: oci\n` : "",
    });
    try {
      assert.ok(cloud.gateway, "nodes have namespaces as root");
      gatewayRegistry = await startRegistry(undefined, cloud.gateway);
      await gatewayRegistry.push("milpa/web", "1", await webImage("hello from the image\n", "80"));
      const file = `${cloud.home}/web.yml`;
      await Deno.writeTextFile(
        file,
        `apiVersion: v1
kind: Pod
metadata: {name: imgpod}
spec:
  resources: {memory: 0.4Gi}
  units:
    - name: web
      image: ${gatewayRegistry.host}/milpa/web:1
      env: [{name: GREETING, value: hola}]
    - name: repl
      image: ${gatewayRegistry.host}/milpa/web:1
      command: [sh, -c, "echo ready; while read l; do echo got:$l; done"]
      stdin: true
`,
      );
      await cloud.ok("create", "-f", file);
      await cloud.eventually(
        async () => {
          // busybox in this image has no `true`: an exec that finds one ran outside the unit.
          const r = await cloud.milpactl("exec", "imgpod", "--", "sh", "-c", "exit 0");
          if (r.code !== 0) throw new Error(`exec exited ${r.code}: ${r.stderr}`);
          return true;
        },
        "the image unit runs",
        60_000,
      );
      const r = await cloud.milpactl(
        "exec",
        "imgpod",
        "--",
        "sh",
        "-c",
        'hostname; cat /www/index.html; echo "$GREETING"; ps -o pid,args | grep -c httpd; exit 7',
      );
      assert.equal(r.code, 7, r.stderr);
      const [hostname, index, greeting, httpd] = r.stdout.trim().split("\n");
      assert.equal(hostname, "imgpod");
      assert.equal(index, "hello from the image");
      assert.equal(greeting, "hola");
      assert.ok(Number(httpd) >= 1, "the unit's processes are visible: same PID namespace");
      const ws = await execSocketTo(cloud, "imgpod", "command=sh&stdin=1&tty=1&cols=70&rows=20");
      let out = "";
      ws.onmessage = (e) => {
        const f = decodeFrame(e.data);
        if (f?.channel === CHANNEL.stdout) out += new TextDecoder().decode(f.payload);
      };
      ws.send(encodeFrame(CHANNEL.stdin, "stty size; echo T$((4+4))\r"));
      await waitUntil(() => /T8/.test(out), () => out);
      assert.match(out, /20 70/);
      const closed = new Promise((r) => ws.onclose = r);
      ws.send(encodeFrame(CHANNEL.stdin, "exit\r"));
      await closed;

      // attach -i reaches an image unit's stdin (runc passes its stdin to the container).
      await cloud.eventually(
        async () => (await cloud.ok("logs", "imgpod", "-u", "repl")).includes("ready"),
        "the image repl unit runs",
        60_000,
      );
      const { seen, stderr } = await attachWithInput(cloud, "imgpod", "repl", "x\ny\n", "got:y");
      assert.equal(seen, "got:x\ngot:y\n", stderr);
    } finally {
      await cloud.close();
      await gatewayRegistry?.close();
    }
  },
});
