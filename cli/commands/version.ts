/** `milpactl version`: the client's version and the controller's. */
import { Command } from "commander";
import type { CliContext } from "../context.ts";
import { CLIENT_VERSION, connect, examples, globalsOf } from "./shared.ts";

/** Builds the `version` command. */
export function versionCommand(ctx: CliContext): Command {
  return new Command("version")
    .summary("print the client and server versions")
    .description(
      "Print the client version, then the controller's version object. If the controller " +
        "cannot be reached, the client line is still printed and the command fails.",
    )
    .addHelpText("after", examples([["milpactl version", "both versions"]]))
    .action(async (_opts: unknown, cmd: Command) => {
      ctx.stdout.write(`milpactl version ${CLIENT_VERSION}\n`);
      const client = await connect(ctx, globalsOf(cmd));
      const version = await client.version();
      ctx.stdout.write(`Milpa server version: ${JSON.stringify(version)}\n`);
    });
}
