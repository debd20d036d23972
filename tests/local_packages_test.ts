/**
 * Packages on the embedded local cloud, with real agents (in network namespaces as root):
 * `milpactl deploy` into a packagePath volume (a 50 MB package arrives intact; a unit waits
 * for it, visibly), and `milpactl run` (exit codes, output, parallel runs, Ctrl-C), each
 * leaving no node behind.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { LocalCloud } from "./support/local_cloud.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const decoder = new TextDecoder();

interface Nodes {
  items: { metadata: { name: string } }[];
}

/** milpactl with this cloud's MILPA_HOME and PATH (for tar), in `cwd`. */
function milpactl(cloud: LocalCloud, args: string[], cwd?: string): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}cli/milpactl.ts`, ...args],
    env: { NO_COLOR: "1", MILPA_HOME: cloud.home, PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    clearEnv: true,
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function finish(child: Deno.ChildProcess) {
  const out = await child.output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function noNodesLeft(cloud: LocalCloud): Promise<void> {
  await cloud.eventually(
    async () => {
      const nodes = await cloud.api<Nodes>("/api/v1/nodes");
      return nodes.items.length === 0 && (await cloud.agentPids()).length === 0;
    },
    "every node to be gone",
    60_000,
  );
}

/** A directory with a passing and a failing test script. */
async function scripts(dir: string): Promise<void> {
  await Deno.writeTextFile(
    `${dir}/run-tests.sh`,
    '#!/bin/sh\necho "testing" $(ls)\nfor i in 1 2 3; do echo "ok $i"; done\n' +
      'cat data.txt\necho "to stderr" >&2\nexit 0\n',
    { mode: 0o755 },
  );
  await Deno.writeTextFile(
    `${dir}/fail.sh`,
    '#!/bin/sh\necho "not ok 1 - $GREETING"\nexit 1\n',
    { mode: 0o755 },
  );
  await Deno.writeTextFile(`${dir}/data.txt`, "payload from the workdir\n");
}

/** Python: writes a .tar.gz (argv[1]) with a "../escaped.txt" entry or an absolute symlink. */
const EVIL_TAR = `
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as t:
    ok = tarfile.TarInfo("fine.txt"); data = b"fine\\n"; ok.size = len(data)
    t.addfile(ok, io.BytesIO(data))
    if sys.argv[2] == "dotdot":
        bad = tarfile.TarInfo("../escaped.txt"); bad.size = len(data)
        t.addfile(bad, io.BytesIO(data))
    else:
        link = tarfile.TarInfo("etc-link"); link.type = tarfile.SYMTYPE; link.linkname = "/etc"
        t.addfile(link)
`;

Deno.test({
  name:
    "milpactl deploy: a 50 MB package reaches the pod's volume intact, a waiting unit then runs; a package reaching outside is refused whole",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cloud = await LocalCloud.start();
    try {
      // 50 MB of random bytes: the tarball cannot shrink much.
      const big = new Uint8Array(50 * 1024 * 1024);
      for (let i = 0; i < big.length; i += 65536) {
        crypto.getRandomValues(big.subarray(i, i + 65536));
      }
      const want = createHash("sha256").update(big).digest("hex");
      const src = `${cloud.home}/src`;
      await Deno.mkdir(src);
      await Deno.writeFile(`${src}/big.bin`, big);
      const tgz = `${cloud.home}/pkg.tgz`;
      const tar = await new Deno.Command("tar", { args: ["-czf", tgz, "-C", src, "."] }).output();
      assert.equal(tar.code, 0);
      const pod = `${cloud.home}/pod.json`;
      await Deno.writeTextFile(
        pod,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "pkg" },
          spec: {
            restartPolicy: "Never",
            volumes: [{ name: "data", packagePath: {} }],
            units: [{
              name: "check",
              command: ["sh", "-c", "sha256sum big.bin; sleep 3600"],
              workingDir: "/data",
              volumeMounts: [{ name: "data", mountPath: "/data" }],
            }],
          },
        }),
      );
      await cloud.ok("create", "-f", pod);
      const waiting = await cloud.eventually(
        async () => {
          const p = await cloud.api<{ status?: { phase: string; unitStatuses?: unknown[] } }>(
            "/api/v1/namespaces/default/pods/pkg",
          );
          const reason = JSON.stringify(p.status?.unitStatuses ?? []);
          return p.status?.phase === "Running" && reason.includes("waiting for package") && reason;
        },
        "the unit to wait for its package",
        60_000,
      );
      assert.match(waiting, /waiting for package \\"data\\" \(milpactl deploy pkg data FILE\)/);

      const wrong = await finish(milpactl(cloud, ["deploy", "pkg", "nope", tgz]));
      assert.equal(wrong.code, 1, wrong.stderr);
      assert.match(wrong.stderr, /pod "pkg" has no packagePath volume named "nope".*"data"/);
      const missing = await finish(milpactl(cloud, ["deploy", "ghost", "data", tgz]));
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /pods "ghost" not found/);

      const began = Date.now();
      const deployed = await finish(milpactl(cloud, ["deploy", "pkg", "data", tgz]));
      const seconds = (Date.now() - began) / 1000;
      assert.equal(deployed.code, 0, deployed.stderr);
      const tgzSha = createHash("sha256").update(await Deno.readFile(tgz)).digest("hex");
      assert.match(
        deployed.stdout,
        new RegExp(`deployed to pod/pkg: \\d+ bytes, sha256 ${tgzSha}`),
      );
      console.log(`50 MB package deployed in ${seconds.toFixed(1)} s`);
      const log = await cloud.eventually(async () => {
        const text = await cloud.ok("logs", "pkg");
        return text.includes("big.bin") && text;
      }, "the unit to hash the package");
      assert.equal(log.trim(), `${want}  big.bin`);
      // Nothing stays on the controller once the node has it.
      assert.deepEqual([...Deno.readDirSync(`${cloud.home}/packages`)], []);

      // Packages that would write or point outside their volume are refused whole.
      for (const [what, entry] of [["../ entry", "dotdot"], ["absolute symlink", "abslink"]]) {
        const evil = `${cloud.home}/${entry}.tgz`;
        const made = await new Deno.Command("python3", {
          args: ["-c", EVIL_TAR, evil, entry],
        }).output();
        assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
        const refused = await finish(milpactl(cloud, ["deploy", "pkg", "data", evil]));
        assert.equal(refused.code, 1, `${what}: ${refused.stderr}`);
        console.log(`${what}: ${refused.stderr.trim()}`);
        assert.match(
          refused.stderr,
          entry === "dotdot" ? /\.\.\/escaped\.txt.*path with "\.\."/ : /link.*absolute/i,
          what,
        );
      }
      const escaped = await new Deno.Command("find", {
        args: [cloud.home, "-name", "escaped.txt"],
      }).output();
      assert.equal(new TextDecoder().decode(escaped.stdout), "", "nothing written anywhere");
      // The package deployed before is still in place: the unit hashes it again.
      const again = await finish(milpactl(cloud, ["exec", "pkg", "--", "sha256sum", "big.bin"]));
      assert.equal(again.stdout.trim(), `${want}  big.bin`, again.stderr);
      await cloud.ok("delete", "pod", "pkg");
      await noNodesLeft(cloud);
    } finally {
      await cloud.close();
    }
  },
});

Deno.test({
  name: "milpactl run: exit codes and output of a passing and a failing script, 10 in parallel",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cloud = await LocalCloud.start();
    try {
      const dir = `${cloud.home}/helloserver`;
      await Deno.mkdir(dir);
      await scripts(dir);
      const [pass, fail] = await Promise.all([
        finish(milpactl(cloud, ["run", "unit-tests", "--workdir", dir, "--", "./run-tests.sh"])),
        finish(
          milpactl(cloud, [
            "run",
            "failing",
            "--workdir",
            dir,
            "--env",
            "GREETING=hello there",
            "--",
            "./fail.sh",
          ]),
        ),
      ]);
      assert.equal(pass.code, 0, pass.stderr);
      assert.equal(
        pass.stdout,
        "testing data.txt fail.sh run-tests.sh\nok 1\nok 2\nok 3\npayload from the workdir\nto stderr\n",
      );
      assert.match(pass.stderr, /pod\/unit-tests-[a-z0-9]{5}: Waiting \(/);
      assert.match(pass.stderr, /pod\/unit-tests-[a-z0-9]{5} deleted/);
      assert.equal(fail.code, 1, fail.stderr);
      assert.equal(fail.stdout, "not ok 1 - hello there\n");
      assert.match(fail.stderr, /unit "failing" exited with code 1/);

      const began = Date.now();
      const runs = await Promise.all(
        Array.from(
          { length: 10 },
          (_, i) => finish(milpactl(cloud, ["run", "par", "--", "sh", "-c", `echo run ${i}`])),
        ),
      );
      console.log(`10 parallel runs took ${((Date.now() - began) / 1000).toFixed(1)} s`);
      runs.forEach((r, i) => {
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `run ${i}\n`);
      });
      const names = new Set(runs.map((r) => r.stderr.match(/pod\/(par-[a-z0-9]{5}) created/)![1]));
      assert.equal(names.size, 10);
      await noNodesLeft(cloud);
      const pods = await cloud.api<Nodes>("/api/v1/namespaces/default/pods");
      assert.deepEqual(pods.items, []);
    } finally {
      await cloud.close();
    }
  },
});

Deno.test({
  name: "milpactl run: Ctrl-C mid-run deletes the pod (exit 130); --timeout does too (exit 124)",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const cloud = await LocalCloud.start();
    try {
      const child = milpactl(cloud, [
        "run",
        "sleeper",
        "--",
        "sh",
        "-c",
        "echo started; sleep 600",
      ]);
      const stdout = child.stdout.getReader();
      const first = await stdout.read();
      assert.equal(decoder.decode(first.value), "started\n");
      child.kill("SIGINT");
      const [status, stderr] = await Promise.all([
        child.status,
        new Response(child.stderr).text(),
        (async () => {
          while (!(await stdout.read()).done) { /* drain */ }
        })(),
      ]);
      const rest = { code: status.code, stderr };
      assert.equal(rest.code, 130, rest.stderr);
      assert.match(rest.stderr, /pod\/sleeper-[a-z0-9]{5} deleted/);
      assert.match(rest.stderr, /interrupted \(SIGINT\)/);

      const timed = await finish(
        milpactl(cloud, ["run", "slow", "--timeout", "4s", "--", "sleep", "600"]),
      );
      assert.equal(timed.code, 124, timed.stderr);
      assert.match(timed.stderr, /pod\/slow-[a-z0-9]{5} did not finish within --timeout 4 s/);
      assert.match(timed.stderr, /pod\/slow-[a-z0-9]{5} deleted/);
      await noNodesLeft(cloud);
    } finally {
      await cloud.close();
    }
  },
});
