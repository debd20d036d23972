/**
 * What `create`, `update`, `apply` and `delete -f` share: parse every file first, then send
 * every document in one all-or-nothing `POST /api/v1/batch`, then print one line per item.
 */
import { Command } from "commander";
import type { BatchOperation, BatchResultItem } from "../../model/api_types.ts";
import { findKind } from "../../model/kinds.ts";
import type { CliContext } from "../context.ts";
import { ApiError, UsageError } from "../errors.ts";
import { FLAGS, type GlobalOptions } from "../flags.ts";
import {
  describeDocument,
  documentIdentity,
  type ManifestDocument,
  manifestWarnings,
  readManifests,
} from "../manifest.ts";
import { connect, examples, globalsOf } from "./shared.ts";

/** What kubectl prints for each batch action. */
const ACTION_WORDS: Record<BatchResultItem["action"], string> = {
  created: "created",
  updated: "configured",
  unchanged: "unchanged",
  deleted: "deleted",
};

/** `pod/helloworld created`. */
export function formatBatchItem(item: BatchResultItem): string {
  const kind = findKind(item.kind)?.singular ?? item.kind.toLowerCase();
  return `${kind}/${item.name} ${ACTION_WORDS[item.action] ?? item.action}`;
}

/**
 * With an explicit `-n`, puts namespaced documents that name none into it; a document
 * that names another namespace is a usage error (as in kubectl).
 */
export function withNamespace(docs: ManifestDocument[], namespace?: string): ManifestDocument[] {
  if (!namespace) return docs;
  return docs.map((doc) => {
    const { kind } = documentIdentity(doc);
    const meta = doc.object.metadata;
    if (findKind(kind ?? "")?.namespaced === false || typeof meta !== "object" || !meta) {
      return doc;
    }
    const current = (meta as Record<string, unknown>).namespace;
    if (current !== undefined && current !== namespace) {
      throw new UsageError(
        `${describeDocument(doc)}: its namespace "${current}" does not match ` +
          `--namespace "${namespace}"`,
      );
    }
    return { ...doc, object: { ...doc.object, metadata: { ...meta, namespace } } };
  });
}

/** Reads the files and sends one batch; prints warnings to stderr and results to stdout. */
export async function runBatch(
  ctx: CliContext,
  globals: GlobalOptions,
  operation: BatchOperation,
  files: string[],
  cascade = true,
): Promise<void> {
  const docs = withNamespace(await readManifests(ctx, files), globals.namespace);
  for (const doc of docs) {
    for (const warning of manifestWarnings(doc)) ctx.stderr.write(`Warning: ${warning}\n`);
  }
  const client = await connect(ctx, globals);
  let items: BatchResultItem[];
  try {
    items = await client.batch(operation, docs.map((d) => d.object), cascade);
  } catch (err) {
    const index = err instanceof ApiError ? err.status.details?.index : undefined;
    if (err instanceof ApiError && typeof index === "number" && docs[index]) {
      throw err.withContext(describeDocument(docs[index]));
    }
    throw err;
  }
  for (const item of items) ctx.stdout.write(formatBatchItem(item) + "\n");
}

/** How one of create/update/apply is described. */
export interface BatchCommandSpec {
  name: "create" | "update" | "apply";
  summary: string;
  description: string;
  examples: Array<[string, string]>;
}

/** Builds create, update or apply: `-f FILE` (repeatable), one batch of that operation. */
export function batchCommand(ctx: CliContext, spec: BatchCommandSpec): Command {
  return new Command(spec.name)
    .summary(spec.summary)
    .description(
      spec.description +
        "\n\nEvery file is parsed before anything is sent, and all documents go in one " +
        "request: either all of them are written or none is.",
    )
    .addOption(FLAGS.filename().makeOptionMandatory())
    .addHelpText("after", examples(spec.examples))
    .action(async (opts: { filename: string[] }, cmd: Command) => {
      await runBatch(ctx, globalsOf(cmd), spec.name, opts.filename);
    });
}
