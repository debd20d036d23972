/** `milpactl update -f FILE`: replace labels, annotations and spec of existing objects. */
import type { Command } from "commander";
import type { CliContext } from "../context.ts";
import { batchCommand } from "./batch.ts";

/** Builds the `update` command. */
export function updateCommand(ctx: CliContext): Command {
  return batchCommand(ctx, {
    name: "update",
    summary: "update existing objects from manifest files",
    description: "Replace the labels, annotations and spec of existing objects with those in " +
      "manifest files. Fails if any of them does not exist, or if a document carries a " +
      "metadata.resourceVersion that is no longer current.",
    examples: [
      ["milpactl update -f backend-deploy.yml", "roll out a changed deployment"],
    ],
  });
}
