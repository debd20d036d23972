/** `milpactl apply -f FILE`: create what does not exist, update the rest. */
import type { Command } from "commander";
import type { CliContext } from "../context.ts";
import { batchCommand } from "./batch.ts";

/** Builds the `apply` command. */
export function applyCommand(ctx: CliContext): Command {
  return batchCommand(ctx, {
    name: "apply",
    summary: "create or update the objects in manifest files",
    description: "Create the objects in manifest files that do not exist yet and update the " +
      "others; prints created, configured or unchanged for each.",
    examples: [
      ["milpactl apply -f nginx-deploy.yml", "create or update a deployment"],
      ["milpactl apply -f web.yml -f db.yml", "several files, still one all-or-nothing request"],
    ],
  });
}
