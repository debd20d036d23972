/**
 * The CI tutorial (docs/tutorial-ci.md) on the local cloud: Buildbot in a pod that drives Milpa
 * polls a git repository; a commit builds in a fresh pod (`milpactl run`), Buildbot records
 * success, a breaking commit is recorded as failure with the test output in the log, and no
 * build node is left. Needs root (the nodes' network) and Debian's buildbot and
 * buildbot-worker; ignored without them.
 */
import assert from "node:assert/strict";
import type { Node } from "../model/node.ts";
import type { Pod } from "../model/pod.ts";
import { LocalCloud } from "./support/local_cloud.ts";

const TUTORIAL = new URL("../docs/tutorial-files/ci/", import.meta.url).pathname;

async function has(program: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${program}`], stdout: "null" })
    .output().catch(() => ({ code: 1 }));
  return r.code === 0;
}

const missing = Deno.uid() !== 0
  ? "needs root for the nodes' network"
  : !(await has("buildbot")) || !(await has("buildbot-worker"))
  ? "needs buildbot and buildbot-worker (apt-get install buildbot buildbot-worker)"
  : !(await has("git"))
  ? "needs git"
  : undefined;
const NAME = "the CI tutorial: a commit builds in its own pod, Buildbot records pass and fail";

async function git(cwd: string, ...args: string[]): Promise<void> {
  const r = await new Deno.Command("git", {
    args: ["-c", "user.name=ci", "-c", "user.email=ci@example.invalid", ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (r.code !== 0) throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

interface Build {
  buildid: number;
  number: number;
  complete: boolean;
  results: number | null;
}

Deno.test({
  name: missing ? `${NAME} [ignored: ${missing}]` : NAME,
  ignore: missing !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "milpa-ci-" });
    const cloud = await LocalCloud.start();
    try {
      // The tutorial's directory and repository, in a temp dir instead of /tmp/milpa-ci.
      await Deno.copyFile(`${TUTORIAL}master.cfg`, `${dir}/master.cfg`);
      await new Deno.Command("cp", { args: ["-r", `${TUTORIAL}www`, `${dir}/www`] }).output();
      const repo = `${dir}/repo`;
      await Deno.mkdir(repo);
      for (const f of ["server.py", "run-tests.sh"]) {
        await Deno.copyFile(`${TUTORIAL}helloserver/${f}`, `${repo}/${f}`);
        await Deno.chmod(`${repo}/${f}`, 0o755);
      }
      await git(repo, "init", "-q", "-b", "master");
      await git(repo, "add", ".");
      await git(repo, "commit", "-q", "-m", "helloserver");
      const manifest = (await Deno.readTextFile(`${TUTORIAL}buildbot-pod.yml`))
        .replaceAll("/tmp/milpa-ci", dir)
        // First prove the pod drives Milpa (its own pod is listed), then the tutorial's step.
        .replace(
          "        - name: CI_REPO\n",
          `        - name: CI_BUILD_COMMAND\n          value: '"$MILPACTL" get pods && ` +
            `"$MILPACTL" run build --workdir . -- ./run-tests.sh'\n        - name: CI_REPO\n`,
        );
      await Deno.writeTextFile(`${dir}/buildbot-pod.yml`, manifest);
      await cloud.ok("create", "-f", `${dir}/buildbot-pod.yml`);
      const ip = await cloud.eventually(
        async () => {
          const pod = await cloud.api<Pod>("/api/v1/namespaces/default/pods/buildbot");
          return pod.status?.phase === "Running" &&
            pod.status.addresses?.find((a) => a.type === "PrivateIP")?.address;
        },
        "the buildbot pod runs",
        60_000,
      );
      const api = async <T>(path: string): Promise<T> => {
        const r = await fetch(`http://${ip}:8010/api/v2${path}`);
        if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
        return await r.json() as T;
      };
      const rawLog = async (buildid: number): Promise<string> => {
        const { steps } = await api<{ steps: { stepid: number }[] }>(`/builds/${buildid}/steps`);
        const last = steps[steps.length - 1];
        const { logs } = await api<{ logs: { logid: number }[] }>(`/steps/${last.stepid}/logs`);
        const r = await fetch(`http://${ip}:8010/api/v2/logs/${logs[0].logid}/raw`);
        return await r.text();
      };
      await cloud.eventually(
        async () =>
          (await api<{ workers: { connected_to: unknown[] }[] }>("/workers"))
            .workers[0]?.connected_to.length > 0,
        "Buildbot's UI answers and its worker is connected",
        90_000,
      );
      // Let the poller see the first commit (pollAtLaunch) before the next one.
      await new Promise((r) => setTimeout(r, 3_000));

      const buildAfter = async (seen: number, what: string): Promise<[Build, number]> => {
        const t0 = Date.now();
        const build = await cloud.eventually(
          async () => {
            const { builds } = await api<{ builds: Build[] }>("/builds");
            return builds.find((b) => b.number > seen && b.complete);
          },
          what,
          120_000,
        );
        return [build, (Date.now() - t0) / 1000];
      };

      await Deno.writeTextFile(`${repo}/README`, "helloserver\n");
      await git(repo, "add", ".");
      await git(repo, "commit", "-q", "-m", "a readme");
      const [ok, okSeconds] = await buildAfter(0, "the build of the first commit");
      const okLog = await rawLog(ok.buildid);
      assert.match(okLog, /buildbot\s+\d+\s+\d+\s+Running\s/, "milpactl in the pod lists it");
      assert.equal(ok.results, 0, `the build passes; its log:\n${okLog}`);
      assert.match(okLog, /PASS: helloserver/);
      console.log(`commit to result (success): ${okSeconds.toFixed(1)} s`);

      await Deno.writeTextFile(
        `${repo}/server.py`,
        (await Deno.readTextFile(`${repo}/server.py`)).replace("Env Vars", "Environment"),
      );
      await git(repo, "commit", "-q", "-am", "break the test");
      const [bad, badSeconds] = await buildAfter(ok.number, "the build of the breaking commit");
      const badLog = await rawLog(bad.buildid);
      assert.equal(bad.results, 2, `the build fails; its log:\n${badLog}`);
      assert.ok(
        !okLog.includes("MILPA_TOKEN") && !badLog.includes("MILPA_TOKEN"),
        "no token in logs",
      );
      assert.match(badLog, /FAIL: the answer lacks "Env Vars"/);
      console.log(`commit to result (failure): ${badSeconds.toFixed(1)} s`);

      await cloud.eventually(
        async () => {
          const pods = await cloud.api<{ items: Pod[] }>("/api/v1/namespaces/default/pods");
          return pods.items.every((p) => p.metadata.name === "buildbot");
        },
        "the build pods are gone",
        60_000,
      );
      await cloud.ok("delete", "-f", `${dir}/buildbot-pod.yml`);
      await cloud.eventually(
        async () => (await cloud.api<{ items: Node[] }>("/api/v1/nodes")).items.length === 0,
        "no node is left",
        90_000,
      );
    } finally {
      await cloud.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
