/** Helpers every command uses: global options, kinds, connecting, help examples. */
import type { Command } from "commander";
import denoJson from "../../deno.json" with { type: "json" };
import { findKind, type KindInfo, KINDS } from "../../model/kinds.ts";
import { DEFAULT_NAMESPACE } from "../../model/meta.ts";
import { MilpaClient } from "../client.ts";
import { loadClientConfig } from "../config.ts";
import type { CliContext } from "../context.ts";
import { UsageError } from "../errors.ts";
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

/** Every kind with its aliases, for help texts: "pods (po), nodes (no), ...". */
export const KIND_NAMES = KINDS.map((k) =>
  k.aliases.length ? `${k.plural} (${k.aliases.join(", ")})` : k.plural
).join(", ");

/** The kind a user typed (any plural, singular, kind name or alias, any case). */
export function resolveKind(name: string): KindInfo {
  const kind = findKind(name);
  if (!kind) {
    throw new UsageError(
      `unknown resource type "${name}"`,
      `known types: ${KIND_NAMES}`,
    );
  }
  return kind;
}

/** A client for the configured controller; throws ConfigError when none is configured. */
export async function connect(ctx: CliContext, globals: GlobalOptions): Promise<MilpaClient> {
  return new MilpaClient(await loadClientConfig(ctx, globals), ctx.fetch);
}

/** An "Examples:" help section; each example is `[command, what it does]`. */
export function examples(list: Array<[string, string]>): string {
  return "\nExamples:\n" + list.map(([cmd, what]) => `  # ${what}\n  $ ${cmd}\n`).join("\n");
}
