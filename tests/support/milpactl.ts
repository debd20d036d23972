/** milpactl as a user runs it: a subprocess of `deno run -A cli/milpactl.ts`. */
const ROOT = new URL("../../", import.meta.url).pathname;

/** Output of one milpactl run. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs milpactl with `args`, only `env` (plus NO_COLOR) in its environment, in `cwd`. */
export async function runMilpactl(
  opts: { env: Record<string, string>; cwd?: string },
  ...args: string[]
): Promise<CliResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", `${ROOT}deno.json`, `${ROOT}cli/milpactl.ts`, ...args],
    env: { NO_COLOR: "1", ...opts.env },
    cwd: opts.cwd,
    stdin: "null",
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}
