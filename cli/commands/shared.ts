/** Helpers every command uses: global options, connecting, help examples. */
import type { Command } from "commander";
import denoJson from "../../deno.json" with { type: "json" };
import { DEFAULT_NAMESPACE } from "../../model/meta.ts";
import { MilpaClient } from "../client.ts";
import { loadClientConfig } from "../config.ts";
import type { CliContext } from "../context.ts";
import type { GlobalOptions } from "../flags.ts";

/** The client's version, from deno.json. */
export const CLIENT_VERSION: string = denoJson.version;

/** The root options (`--endpoint`, `--token`, `-n`) as seen from a subcommand. */
export function globalsOf(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals<GlobalOptions>();
}

/** `-n`, or "default". */
export function namespaceOf(globals: GlobalOptions): string {
  return globals.namespace ?? DEFAULT_NAMESPACE;
}

/** A client for the configured controller; throws ConfigError when none is configured. */
export async function connect(ctx: CliContext, globals: GlobalOptions): Promise<MilpaClient> {
  return new MilpaClient(await loadClientConfig(ctx, globals), ctx.fetch);
}

/** An "Examples:" help section; each example is `[command, what it does]`. */
export function examples(list: Array<[string, string]>): string {
  return "\nExamples:\n" + list.map(([cmd, what]) => `  # ${what}\n  $ ${cmd}\n`).join("\n");
}
