/**
 * `deno task bundle [--out DIR]`: writes DIR/milpactl (the bundled CLI behind a launcher head
 * that finds a Deno, even one that came only from npm: `deno_launcher.ts`; one executable file)
 * and DIR/agent.js (the node agent, one file, served to cloud nodes). DIR defaults to dist/.
 * `deno task compile` makes a self-contained binary instead, where dl.deno.land is reachable.
 */
import { withLauncher } from "./deno_launcher.ts";

const root = new URL("../", import.meta.url).pathname;

function outDir(args: string[]): string {
  const i = args.findIndex((a) => a === "--out" || a.startsWith("--out="));
  if (i < 0) return `${root}dist`;
  const dir = args[i].startsWith("--out=") ? args[i].slice("--out=".length) : args[i + 1];
  if (!dir) throw new Error("--out needs a directory");
  return dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
}

async function bundle(entry: string, out: string): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", out, entry],
    cwd: root,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`bundling ${entry} failed:\n${new TextDecoder().decode(stderr)}`);
}

const dist = outDir(Deno.args);
await Deno.mkdir(dist, { recursive: true });
await bundle("cli/milpactl.ts", `${dist}/milpactl.js`);
const cli = await Deno.readTextFile(`${dist}/milpactl.js`);
await Deno.writeTextFile(
  `${dist}/milpactl`,
  withLauncher(cli, {
    name: "milpactl",
    runFlags: ["--allow-net", "--allow-read", "--allow-env", "--no-config"],
    denoVersion: Deno.version.deno,
  }),
  { mode: 0o755 },
);
await Deno.chmod(`${dist}/milpactl`, 0o755);
await Deno.remove(`${dist}/milpactl.js`);
await bundle("agent/main.ts", `${dist}/agent.js`);
for (const f of ["milpactl", "agent.js"]) {
  const { size } = await Deno.stat(`${dist}/${f}`);
  console.log(`${dist}/${f}  ${(size / 1024).toFixed(0)} KiB`);
}
