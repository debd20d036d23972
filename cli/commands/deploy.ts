/** `milpactl deploy POD PACKAGE FILE`: uploads a tarball into a pod's packagePath volume. */
import { Command } from "commander";
import type { CliContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { podName } from "../resource_args.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";

/** Streams `file` (a .tar.gz or .tar) to the pod's volume `pkg` and prints what arrived. */
async function runDeploy(ctx: CliContext, pod: string, pkg: string, file: string, cmd: Command) {
  const globals = globalsOf(cmd);
  if (!ctx.openFile) throw new UsageError("deploy cannot read files here");
  let data: ReadableStream<Uint8Array>;
  try {
    data = await ctx.openFile(file);
  } catch (err) {
    throw new UsageError(
      `cannot read "${file}": ${err instanceof Deno.errors.NotFound ? "no such file" : err}`,
    );
  }
  const client = await connect(ctx, globals);
  try {
    const done = await client.deployPackage(namespaceOf(globals), pod, pkg, data);
    ctx.stdout.write(
      `package "${done.name}" deployed to pod/${done.pod}: ${done.size} bytes, ` +
        `sha256 ${done.sha256}\n`,
    );
  } finally {
    client.close();
  }
}

/** Builds the `deploy` command. */
export function deployCommand(ctx: CliContext): Command {
  return new Command("deploy")
    .summary("upload a package (.tar.gz) into a pod's packagePath volume")
    .description(
      "Upload FILE, a .tar.gz (or .tar), as package PACKAGE of a running pod: its node unpacks " +
        "it into the pod's packagePath volume named PACKAGE (replacing what an earlier deploy " +
        "put there, at once), and units that mount that volume, which wait for it, start. " +
        "At most 1 GiB; paths in the tarball must stay inside it (no absolute paths, no '..', " +
        "no links out, no device files).",
    )
    .argument("<pod>", "the pod: NAME or pod/NAME")
    .argument("<package>", "package name: the name of the pod's packagePath volume")
    .argument("<file>", "the tarball")
    .addHelpText(
      "after",
      examples([
        ["tar czf site.tgz -C ./site . && milpactl deploy web site site.tgz", "ship a directory"],
      ]),
    )
    .action((pod: string, pkg: string, file: string, _opts: unknown, cmd: Command) =>
      runDeploy(ctx, podName(pod, "deploy"), pkg, file, cmd)
    );
}
