/**
 * `deno task bundle`: writes dist/milpactl (the bundled CLI behind a `deno run` shebang,
 * one executable file) and dist/agent.js (the node agent, one file, served to cloud nodes).
 */
const root = new URL("../", import.meta.url).pathname;

async function bundle(entry: string, out: string): Promise<void> {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "deno", "-o", out, entry],
    cwd: root,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`bundling ${entry} failed:\n${new TextDecoder().decode(stderr)}`);
}

await Deno.mkdir(`${root}dist`, { recursive: true });
await bundle("cli/milpactl.ts", "dist/milpactl.js");
const cli = await Deno.readTextFile(`${root}dist/milpactl.js`);
await Deno.writeTextFile(
  `${root}dist/milpactl`,
  `#!/usr/bin/env -S deno run --allow-net --allow-read --allow-env --no-config\n${cli}`,
  { mode: 0o755 },
);
await Deno.chmod(`${root}dist/milpactl`, 0o755);
await Deno.remove(`${root}dist/milpactl.js`);
await bundle("agent/main.ts", "dist/agent.js");
for (const f of ["dist/milpactl", "dist/agent.js"]) {
  const { size } = await Deno.stat(`${root}${f}`);
  console.log(`${f}  ${(size / 1024).toFixed(0)} KiB`);
}
