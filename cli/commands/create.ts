/** `milpactl create -f FILE`: create every object in the files, or none. */
import type { Command } from "commander";
import type { CliContext } from "../context.ts";
import { batchCommand } from "./batch.ts";

/** Builds the `create` command. */
export function createCommand(ctx: CliContext): Command {
  return batchCommand(ctx, {
    name: "create",
    summary: "create the objects in manifest files",
    description: "Create the objects in manifest files (YAML with --- documents, or JSON). " +
      "Fails if any of them already exists.",
    examples: [
      ["milpactl create -f helloworld-pod.yml", "create a pod"],
      ["milpactl create -f mongo.yml", "create every object in a multi-document file"],
      ["cat pod.json | milpactl create -f -", "create from standard input"],
    ],
  });
}
