/** `milpactl get KIND [NAME...]`: tables, JSON or YAML, optionally watching for changes. */
import { Command } from "commander";
import type { WatchEvent } from "../../model/api_types.ts";
import type { KindInfo } from "../../model/kinds.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { ListOptions, MilpaClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import { ApiError, CommandErrors, UsageError } from "../errors.ts";
import { FLAGS, type OutputFormat } from "../flags.ts";
import { formatObject, listOf } from "../printers/output.ts";
import { renderTable, tableHeader, type TableOptions, tableRow } from "../printers/tables.ts";
import { StreamingTable } from "../printers/tabwriter.ts";
import { connect, examples, globalsOf, KIND_NAMES, namespaceOf, resolveKind } from "./shared.ts";

/** Options of `get`. */
interface GetOptions {
  output?: OutputFormat | "name";
  selector?: string;
  allNamespaces?: boolean;
  watch?: boolean;
  showLabels?: boolean;
  chunkSize?: number;
}

/** `pod/web`, as kubectl's `-o name` prints an object. */
function typeName(kind: KindInfo, o: MilpaObject): string {
  return `${kind.kind.toLowerCase()}/${o.metadata?.name}`;
}

async function getByName(
  client: MilpaClient,
  kind: KindInfo,
  namespace: string | undefined,
  names: string[],
): Promise<{ found: MilpaObject[]; errors: Error[] }> {
  const found: MilpaObject[] = [];
  const errors: Error[] = [];
  for (const name of names) {
    try {
      found.push(await client.get(kind, namespace, name));
    } catch (err) {
      // Keep going on "not found" like kubectl; anything else (unreachable, 401) is fatal.
      if (err instanceof ApiError && err.code === 404) errors.push(err);
      else throw err;
    }
  }
  return { found, errors };
}

/** A watch's events; one the controller ended because this client fell behind says what to do. */
async function* watchEvents(
  client: MilpaClient,
  kind: KindInfo,
  options: ListOptions,
): AsyncGenerator<WatchEvent> {
  try {
    yield* client.watch(kind, options);
  } catch (err) {
    if (err instanceof ApiError && err.status.reason === "Expired") {
      throw new ApiError(
        err.status,
        undefined,
        "run the command again: it lists afresh and watches from there",
      );
    }
    throw err;
  }
}

async function watch(
  ctx: CliContext,
  client: MilpaClient,
  kind: KindInfo,
  namespace: string | undefined,
  names: string[],
  opts: GetOptions,
  table: TableOptions,
): Promise<void> {
  const rows = new StreamingTable();
  let count = 0;
  for await (
    const event of watchEvents(client, kind, { namespace, labelSelector: opts.selector })
  ) {
    if (names.length && !names.includes(event.object.metadata?.name)) continue;
    if (opts.output === "json" || opts.output === "yaml") {
      if (opts.output === "yaml" && count > 0) ctx.stdout.write("---\n");
      ctx.stdout.write(formatObject(event.object, opts.output));
    } else if (opts.output === "name") {
      ctx.stdout.write(`${typeName(kind, event.object)}\n`);
    } else {
      const row = tableRow(kind.kind, event.object, { ...table, now: ctx.now() });
      if (count === 0) {
        // Size the header to the first row too, so they line up.
        const header = tableHeader(kind.kind, table);
        rows.widen(row);
        ctx.stdout.write(rows.row(header));
      }
      ctx.stdout.write(rows.row(row));
    }
    count++;
  }
}

async function runGet(
  ctx: CliContext,
  kindArg: string,
  names: string[],
  opts: GetOptions,
  cmd: Command,
): Promise<void> {
  const globals = globalsOf(cmd);
  const kind = resolveKind(kindArg);
  if (opts.allNamespaces && names.length) {
    throw new UsageError("a name cannot be looked up across all namespaces; use -n instead");
  }
  const namespace = !kind.namespaced || opts.allNamespaces ? undefined : namespaceOf(globals);
  const table: TableOptions = {
    wide: opts.output === "wide",
    showLabels: opts.showLabels,
    withNamespace: kind.namespaced && opts.allNamespaces,
    now: ctx.now(),
  };
  const client = await connect(ctx, globals);
  if (opts.watch) return await watch(ctx, client, kind, namespace, names, opts, table);

  let objects: MilpaObject[];
  let errors: Error[] = [];
  let machineValue: unknown;
  if (names.length) {
    ({ found: objects, errors } = await getByName(client, kind, namespace, names));
    machineValue = names.length === 1 ? objects[0] : listOf(kind, objects);
  } else {
    const list = await client.list(kind, {
      namespace,
      labelSelector: opts.selector,
      chunkSize: opts.chunkSize,
    });
    objects = list.items ?? [];
    machineValue = list;
  }

  if (opts.output === "json" || opts.output === "yaml") {
    if (machineValue !== undefined) ctx.stdout.write(formatObject(machineValue, opts.output));
  } else if (opts.output === "name") {
    for (const o of objects) ctx.stdout.write(`${typeName(kind, o)}\n`);
  } else if (objects.length || !names.length) {
    // An empty list prints the header alone, as Milpa's milpactl did.
    ctx.stdout.write(renderTable(kind.kind, objects, table));
  }
  if (errors.length) throw errors.length === 1 ? errors[0] : new CommandErrors(errors);
}

/** Builds the `get` command. */
export function getCommand(ctx: CliContext): Command {
  return new Command("get")
    .summary("list objects of a kind, or show some by name")
    .description(
      "List objects of a kind, or show the named ones.\n\n" +
        `Kinds: ${KIND_NAMES}.\n\n` +
        "Tables follow Milpa's layout; -o json prints one object for one name and a <Kind>List " +
        "otherwise; -w keeps printing a row per change until Ctrl-C.",
    )
    .argument("<kind>", "kind of object, e.g. pods, po, svc, deploy")
    .argument("[names...]", "names of the objects (all when none)")
    .addOption(FLAGS.getOutput())
    .addOption(FLAGS.selector())
    .addOption(FLAGS.allNamespaces())
    .addOption(FLAGS.watch())
    .addOption(FLAGS.showLabels())
    .addOption(FLAGS.chunkSize())
    .addHelpText(
      "after",
      examples([
        ["milpactl get pods", "list the pods in the default namespace"],
        ["milpactl get pod helloworld", "show one pod"],
        ["milpactl get -ojson pod helloworld", "the whole pod object as JSON"],
        ["milpactl get pod -oyaml haproxy", "the same as YAML"],
        ["milpactl get po -l app=nginx --show-labels", "pods with a label, and their labels"],
        ["milpactl get svc -o wide", "services with their selectors"],
        ["milpactl get pods -o name", "pod/NAME, one a line (for scripts)"],
        ["milpactl get nodes", "the nodes (one per running pod)"],
        ["milpactl get deploy -A", "deployments in every namespace"],
        ["milpactl get pods -w", "watch pods change until Ctrl-C"],
      ]),
    )
    .action((kind: string, names: string[], opts: GetOptions, cmd: Command) =>
      runGet(ctx, kind, names, opts, cmd)
    );
}
