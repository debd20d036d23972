/** `milpactl version`: the client's version and the controller's. */
import { Command, Option } from "commander";
import type { CliContext } from "../context.ts";
import { formatObject } from "../printers/output.ts";
import { CLIENT_VERSION, connect, examples, globalsOf } from "./shared.ts";

interface VersionOptions {
  output?: "json" | "yaml";
}

/** Builds the `version` command. */
export function versionCommand(ctx: CliContext): Command {
  return new Command("version")
    .summary("print the client and server versions")
    .description(
      "Print the client's version, then the controller's: its version, the Deno and platform it " +
        "runs on, and its cloud. If the controller cannot be reached, the client line is still " +
        "printed and the command fails. -o json|yaml prints both as one object.",
    )
    .addOption(
      new Option("-o, --output <format>", "json or yaml: both versions as one object").choices([
        "json",
        "yaml",
      ]),
    )
    .addHelpText(
      "after",
      examples([
        ["milpactl version", "both versions"],
        ["milpactl version -o json", "as JSON, for scripts"],
      ]),
    )
    .action(async (opts: VersionOptions, cmd: Command) => {
      if (!opts.output) ctx.stdout.write(`Client Version: ${CLIENT_VERSION}\n`);
      const client = await connect(ctx, globalsOf(cmd));
      const server = await client.version() as Record<string, unknown>;
      if (opts.output) {
        ctx.stdout.write(
          formatObject({ clientVersion: CLIENT_VERSION, serverVersion: server }, opts.output),
        );
        return;
      }
      const about = [server.platform, server.cloud ? `cloud ${server.cloud}` : undefined]
        .filter(Boolean).join(", ");
      ctx.stdout.write(`Server Version: ${server.gitVersion}${about ? ` (${about})` : ""}\n`);
    });
}
