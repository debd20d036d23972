import assert from "node:assert/strict";
import { launcher, withLauncher } from "./deno_launcher.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const OPTIONS = { name: "probe", runFlags: ["--allow-env", "--no-config"], denoVersion: "2.9.6" };
/** A PATH with sh and coreutils but no deno. */
const NO_DENO_PATH = "/usr/bin:/bin";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "milpa-launcher-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `file` with only PATH and HOME set (and `extra`). */
async function run(
  file: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(file, { args, env, clearEnv: true, stdin: "null" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A small program behind the launcher that prints its arguments. */
async function probe(dir: string): Promise<string> {
  const file = `${dir}/probe`;
  await Deno.writeTextFile(
    file,
    withLauncher(`console.log(JSON.stringify(Deno.args));\n`, OPTIONS),
    { mode: 0o755 },
  );
  return file;
}

/** A HOME whose npx cache holds Deno the way `npx -y deno@2.9.6` leaves it (`path` under it). */
async function npxHome(dir: string, path: string): Promise<string> {
  const home = `${dir}/home`;
  const bin = `${home}/.npm/_npx/7a40be787520bede/node_modules/${path}`;
  await Deno.mkdir(bin.slice(0, bin.lastIndexOf("/")), { recursive: true });
  await Deno.symlink(Deno.execPath(), bin);
  return home;
}

Deno.test("launcher() is a sh head inside one JavaScript comment", () => {
  const head = launcher(OPTIONS);
  assert.ok(head.startsWith("#!/bin/sh\ntrue /*\n"));
  assert.ok(head.endsWith("\n*/;\n"));
  assert.equal(head.indexOf("*/"), head.length - 4, "nothing closes the comment early");
  assert.match(head, /exec "\$deno" run --allow-env --no-config "\$0" "\$@"/);
});

Deno.test("a launched file runs with npx's cached Deno when PATH has none, arguments intact", async () => {
  const found = await new Deno.Command("sh", {
    args: ["-c", "command -v deno"],
    env: { PATH: NO_DENO_PATH },
    clearEnv: true,
  }).output();
  assert.notEqual(found.code, 0, `${NO_DENO_PATH} must hold no deno for this test`);
  await withDir(async (dir) => {
    const file = await probe(dir);
    const args = ["get", "a b", "$HOME", "*", "'q'"];
    for (const layout of ["deno/deno", "@deno/linux-x64-glibc/deno"]) {
      const home = await npxHome(`${dir}/${layout.split("/")[0]}`, layout);
      const r = await run(file, args, { PATH: NO_DENO_PATH, HOME: home });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), args, layout);
    }
  });
});

Deno.test("a launched file prefers deno on PATH, and MILPA_DENO over both", async () => {
  await withDir(async (dir) => {
    const file = await probe(dir);
    await Deno.mkdir(`${dir}/bin`);
    await Deno.symlink(Deno.execPath(), `${dir}/bin/deno`);
    const onPath = await run(file, ["x"], { PATH: `${dir}/bin:${NO_DENO_PATH}`, HOME: dir });
    assert.deepEqual([onPath.code, onPath.stdout], [0, '["x"]\n']);
    const broken = `${dir}/broken-deno`;
    await Deno.writeTextFile(broken, "#!/bin/sh\necho chosen >&2\nexit 9\n", { mode: 0o755 });
    const chosen = await run(file, ["x"], {
      PATH: `${dir}/bin:${NO_DENO_PATH}`,
      MILPA_DENO: broken,
    });
    assert.deepEqual([chosen.code, chosen.stderr], [9, "chosen\n"]);
  });
});

Deno.test("a launched file with no Deno anywhere says what to run and exits 127", async () => {
  await withDir(async (dir) => {
    const file = await probe(dir);
    // A cached "deno" that does not run is passed over.
    const home = `${dir}/home`;
    await Deno.mkdir(`${home}/.npm/_npx/x/node_modules/deno`, { recursive: true });
    await Deno.writeTextFile(`${home}/.npm/_npx/x/node_modules/deno/deno`, "#!/bin/sh\nexit 1\n", {
      mode: 0o755,
    });
    const r = await run(file, ["get", "pods"], { PATH: NO_DENO_PATH, HOME: home });
    assert.equal(r.code, 127);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^probe: no Deno to run it with: none on PATH, in ~\/\.deno\/bin/);
    assert.ok(
      r.stderr.includes(`npx -y deno@2.9.6 run --allow-env --no-config ${file} <arguments>`),
      r.stderr,
    );
    assert.match(r.stderr, /install Deno 2\.9\.6/);
  });
});

Deno.test("deno task bundle writes a dist/milpactl that runs where Deno came only from npx", async () => {
  await withDir(async (dir) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}scripts/bundle.ts`, "--out", `${dir}/dist`],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const milpactl = `${dir}/dist/milpactl`;
    assert.equal((await Deno.stat(milpactl)).mode! & 0o111, 0o111, "executable");
    const home = await npxHome(dir, "deno/deno");
    const help = await run(milpactl, ["--help"], { PATH: NO_DENO_PATH, HOME: home });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: milpactl/);
    const none = await run(milpactl, ["get", "pods"], { PATH: NO_DENO_PATH, HOME: dir });
    assert.equal(none.code, 127);
    assert.match(none.stderr, /npx -y deno@\d+\.\d+\.\d+ run --allow-net --allow-read/);
  });
});
