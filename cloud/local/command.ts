/** Runs the network commands (`ip`, `nft`) of the local cloud. */
import { MilpaError } from "../../model/errors.ts";

/** A network command (`ip`, `nft`) failed; `stderr` says why. */
export class NetworkCommandError extends MilpaError {
  constructor(readonly argv: string[], readonly code: number, readonly stderr: string) {
    super(`Command "${argv.join(" ")}" failed (exit ${code}): ${stderr.trim()}`);
  }
}

/** Runs a command; throws {@link NetworkCommandError} unless it exits 0. */
export async function run(argv: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  if (!out.success) throw new NetworkCommandError(argv, out.code, dec.decode(out.stderr));
  return dec.decode(out.stdout);
}
