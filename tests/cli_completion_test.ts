/**
 * `milpactl completion bash|zsh|fish`: each script is loaded by its real shell, with a
 * `milpactl` on the PATH that talks to a fake controller, and asked to complete lines. Tests
 * of a shell that is not installed are reported as ignored.
 */
import assert from "node:assert/strict";
import { type FakeController, json, withController, type Workspace } from "./cli_harness.ts";

const CLI = new URL("../cli/milpactl.ts", import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

function hasShell(name: string): boolean {
  try {
    return new Deno.Command(name, { args: ["-c", "true"] }).outputSync().success;
  } catch {
    return false;
  }
}

const HAS_ZSH = hasShell("zsh");
const HAS_FISH = hasShell("fish");

function pod(name: string, namespace = "default") {
  return { kind: "Pod", apiVersion: "v1", metadata: { name, namespace }, spec: { units: [] } };
}

/** The controller's objects: pods web and db in default, api in team, deployment backend. */
const ROUTES = {
  "GET /api/v1/namespaces/default/pods": () =>
    json({ kind: "PodList", apiVersion: "v1", metadata: {}, items: [pod("web"), pod("db")] }),
  "GET /api/v1/namespaces/team/pods": () =>
    json({ kind: "PodList", apiVersion: "v1", metadata: {}, items: [pod("api", "team")] }),
  "GET /api/v1/namespaces/default/deployments": () =>
    json({
      kind: "DeploymentList",
      apiVersion: "v1",
      metadata: {},
      items: [{ kind: "Deployment", apiVersion: "v1", metadata: { name: "backend" }, spec: {} }],
    }),
};

/** Runs `script` in `shell` with a `milpactl` on the PATH that reaches the fake controller. */
async function inShell(ws: Workspace, shell: string, script: string) {
  const bin = `${ws.dir}/bin`;
  await Deno.mkdir(bin, { recursive: true });
  await Deno.writeTextFile(
    `${bin}/milpactl`,
    `#!/bin/sh\nexec "${Deno.execPath()}" run -A --quiet --config "${CONFIG}" "${CLI}" "$@"\n`,
    { mode: 0o755 },
  );
  const out = await new Deno.Command(shell, {
    args: ["-c", script],
    cwd: ws.dir,
    clearEnv: true,
    env: {
      PATH: `${bin}:${Deno.env.get("PATH")}`,
      HOME: ws.dir,
      MILPA_HOME: ws.dir,
      NO_COLOR: "1",
      ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Shell code defining `comp WORD...`: prints `WORD... -> CANDIDATE...` for the last word. */
const BASH_COMP = `comp() {
  COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); COMPREPLY=()
  _milpactl
  echo "$* -> \${COMPREPLY[*]}"
}`;

/** The requests milpactl made to list pods, as namespaces. */
function podListings(controller: FakeController): string[] {
  return controller.received.filter((r) => r.path.endsWith("/pods"))
    .map((r) => r.path.split("/")[4]);
}

Deno.test("milpactl completion bash: bash sources it and milpactl is completed", async () => {
  await withController(ROUTES, async (ws) => {
    const r = await inShell(
      ws,
      "bash",
      "source <(milpactl completion bash) && complete -p milpactl",
    );
    assert.equal(r.stderr, "");
    assert.equal(r.stdout, "complete -F _milpactl milpactl\n");
    assert.equal(r.code, 0);
  });
});

Deno.test("bash completion: verbs, kinds, comma lists, flag values, TYPE/NAME and names by -n", async () => {
  await withController(ROUTES, async (ws, controller) => {
    const r = await inShell(
      ws,
      "bash",
      `source <(milpactl completion bash)\n${BASH_COMP}\n` + [
        "comp milpactl ge",
        "comp milpactl get repl",
        "comp milpactl get deploy,s",
        "comp milpactl get -o ''",
        "comp milpactl delete --a",
        "comp milpactl rollout st",
        "comp milpactl completion ''",
        "comp milpactl get pods ''",
        "comp milpactl describe pod/",
        "comp milpactl -n team logs ''",
        "comp milpactl rollout status deploy ''",
        "comp milpactl exec web -- ''",
      ].join("\n"),
    );
    assert.equal(r.stderr, "");
    assert.deepEqual(r.stdout.split("\n").slice(0, -1), [
      "milpactl ge -> get",
      "milpactl get repl -> replicasets replicaset",
      "milpactl get deploy,s -> deploy,services deploy,service deploy,svc deploy,secrets " +
      "deploy,secret",
      "milpactl get -o  -> json yaml wide name jsonpath=",
      "milpactl delete --a -> --all",
      "milpactl rollout st -> status",
      "milpactl completion  -> bash zsh fish",
      "milpactl get pods  -> web db",
      "milpactl describe pod/ -> pod/web pod/db",
      "milpactl -n team logs  -> api",
      "milpactl rollout status deploy  -> backend",
      "milpactl exec web --  -> ",
    ]);
    assert.deepEqual(podListings(controller), ["default", "default", "team"]);
  });
});

Deno.test({
  name: "milpactl completion zsh: zsh sources it and completes through bashcompinit",
  ignore: !HAS_ZSH,
  fn: async () => {
    await withController(ROUTES, async (ws) => {
      const r = await inShell(
        ws,
        "zsh",
        "source <(milpactl completion zsh) && print -r -- $_comps[milpactl]\n" +
          // What zsh's _bash_complete does for `milpactl get po<Tab>` and `get pods <Tab>`.
          "COMP_WORDS=(milpactl get po); COMP_CWORD=2; words=($COMP_WORDS); CURRENT=3\n" +
          "compgen -F _milpactl -- po | grep -x pods\n" +
          "COMP_WORDS=(milpactl get pods ''); COMP_CWORD=3; words=($COMP_WORDS); CURRENT=4\n" +
          "compgen -F _milpactl -- '' | tr '\\n' ' '",
      );
      assert.equal(r.stderr, "");
      assert.equal(r.stdout, "_bash_complete -F _milpactl\npods\nweb db ");
    });
  },
});

Deno.test({
  name: "milpactl completion fish: fish loads it and completes verbs, kinds, flags and names",
  ignore: !HAS_FISH,
  fn: async () => {
    await withController(ROUTES, async (ws, controller) => {
      const lines = [
        "milpactl ge",
        "milpactl get repl",
        "milpactl get -o y",
        "milpactl rollout st",
        "milpactl get pods ",
        "milpactl logs pod/",
        "milpactl -n team get pods ",
      ];
      const r = await inShell(
        ws,
        "fish",
        "milpactl completion fish | source\n" +
          `for line in ${lines.map((l) => `'${l}'`).join(" ")}\n` +
          "  echo $line '->' (complete -C $line | string replace -r '\\t.*' '' | string join ' ')\n" +
          "end",
      );
      assert.equal(r.stderr, "");
      assert.deepEqual(r.stdout.trimEnd().split("\n"), [
        "milpactl ge -> get",
        "milpactl get repl -> replicaset replicasets",
        "milpactl get -o y -> yaml",
        "milpactl rollout st -> status",
        "milpactl get pods  -> db web",
        "milpactl logs pod/ -> pod/db pod/web",
        "milpactl -n team get pods  -> api",
      ]);
      assert.ok(podListings(controller).includes("team"));
    });
  },
});

Deno.test("milpactl completion refuses a shell it has no script for, exit 2", async () => {
  await withController({}, async (ws) => {
    const r = await ws.run(["completion", "powershell"]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      'Error: no completion for the shell "powershell": give bash, zsh, fish\n',
    );
  });
});
