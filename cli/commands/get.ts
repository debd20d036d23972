/**
 * `milpactl get TYPE[,TYPE...] [NAME...]` or `get TYPE/NAME...`: tables, JSON, YAML or a
 * jsonpath template, optionally watching for changes. Several kinds are read and printed by get_kinds.ts.
 */
import { Command } from "commander";
import type { WatchEvent } from "../../model/api_types.ts";
import type { KindInfo } from "../../model/kinds.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { ListOptions, MilpaClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import { ApiError, CommandErrors, UsageError } from "../errors.ts";
import { FLAGS, type GetOutputFormat } from "../flags.ts";
import {
  formatGetResult,
  type GetFormat,
  getFormat,
  hiddenByDefault,
  WatchPrinter,
} from "../printers/get_output.ts";
import { loadJsonPath } from "../printers/jsonpath.ts";
import { listOf } from "../printers/output.ts";
import { renderTableRows } from "../printers/tables.ts";
import type { TableOptions } from "../../api/table/rows.ts";
import { ALL_NAMES, KIND_NAMES, type KindRequest, parseResourceArgs } from "../resource_args.ts";
import { fetchRequest, getKinds } from "./get_kinds.ts";
import { PodNodes } from "./get_pod_nodes.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";

/** Options of `get`. */
interface GetOptions {
  output?: GetOutputFormat;
  showAll?: boolean;
  selector?: string;
  allNamespaces?: boolean;
  watch?: boolean;
  showLabels?: boolean;
  chunkSize?: number;
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
  output: { format: GetFormat; table: TableOptions; nodes?: PodNodes },
): Promise<void> {
  const { format, table, nodes } = output;
  // Objects asked for by name are shown whatever their state.
  const printer = new WatchPrinter(format, kind, table, opts.showAll || names.length > 0);
  for await (
    const event of watchEvents(client, kind, { namespace, labelSelector: opts.selector })
  ) {
    if (names.length && !names.includes(event.object.metadata?.name)) continue;
    await nodes?.readNodesOf([event.object]);
    ctx.stdout.write(printer.event(event.object, ctx.now(), nodes?.nodes));
  }
}

/** The kinds and names asked for, checked against the flags given with them. */
function getRequests(args: string[], opts: GetOptions): KindRequest[] {
  const { requests } = parseResourceArgs(args);
  const named = requests.some((r) => r.names.length);
  if (opts.allNamespaces && named) {
    throw new UsageError("a name cannot be looked up across all namespaces; use -n instead");
  }
  if (opts.selector && named) {
    throw new UsageError("give names or -l, not both: a selector picks among all objects");
  }
  if (opts.watch && requests.length > 1) {
    throw new UsageError("-w watches one kind at a time");
  }
  return requests;
}

/** Several kinds: read in turn, printed one table each (get_kinds.ts). */
async function runGetKinds(
  ctx: CliContext,
  requests: KindRequest[],
  opts: GetOptions,
  cmd: Command,
): Promise<void> {
  const globals = globalsOf(cmd);
  const client = await connect(ctx, globals);
  const wide = opts.output === "wide";
  // The pods' node columns of -o wide come from their nodes.
  const nodes = wide && requests.some((r) => r.kind.kind === "Pod")
    ? new PodNodes(client)
    : undefined;
  await nodes?.readAll();
  const errors = await getKinds(ctx, client, requests, {
    namespace: opts.allNamespaces ? undefined : namespaceOf(globals),
    selector: opts.selector,
    chunkSize: opts.chunkSize,
    output: opts.output,
    showAll: opts.showAll,
    table: (kind) => ({
      wide,
      showLabels: opts.showLabels,
      withNamespace: kind.namespaced && opts.allNamespaces,
      now: ctx.now(),
      nodes: nodes?.nodes,
    }),
  });
  if (errors.length) throw errors.length === 1 ? errors[0] : new CommandErrors(errors);
}

async function runGet(
  ctx: CliContext,
  args: string[],
  opts: GetOptions,
  cmd: Command,
): Promise<void> {
  const globals = globalsOf(cmd);
  const requests = getRequests(args, opts);
  // A bad jsonpath template fails here, before anything is read.
  const format = getFormat(opts.output);
  if (format.type === "jsonpath") await loadJsonPath();
  if (requests.length > 1) return await runGetKinds(ctx, requests, opts, cmd);
  const [{ kind, names }] = requests;
  const namespace = !kind.namespaced || opts.allNamespaces ? undefined : namespaceOf(globals);
  const wide = format.type === "table" && format.wide;
  const table: TableOptions = {
    wide,
    showLabels: opts.showLabels,
    withNamespace: kind.namespaced && opts.allNamespaces,
    now: ctx.now(),
  };
  const client = await connect(ctx, globals);
  // A listing as a table: the controller fills in the cells (kubectl's server-side printing),
  // so the objects are not sent, decoded and summarized here (10,000 pods: 10 MB of JSON).
  if (format.type === "table" && !names.length && !opts.watch) {
    const rows = await client.listTable(kind, {
      namespace,
      labelSelector: opts.selector,
      chunkSize: opts.chunkSize,
      wide,
    });
    if (rows) {
      ctx.stdout.write(renderTableRows(rows, { ...table, showAll: opts.showAll }));
      return;
    }
  }
  // The pods' node columns of -o wide come from their nodes.
  const nodes = wide && kind.kind === "Pod" ? new PodNodes(client) : undefined;
  await nodes?.readAll();
  if (opts.watch) {
    return await watch(ctx, client, kind, namespace, names, opts, { format, table, nodes });
  }

  let objects: MilpaObject[];
  let errors: Error[] = [];
  let machineValue: unknown;
  if (names.length) {
    ({ objects, errors } = await fetchRequest(client, { kind, names }, { namespace }));
    machineValue = names.length === 1 ? objects[0] : listOf(kind, objects);
  } else {
    const list = await client.list(kind, {
      namespace,
      labelSelector: opts.selector,
      chunkSize: opts.chunkSize,
    });
    // Pods whose deletion finished are left out, as kubectl no longer lists them.
    objects = (list.items ?? []).filter((o) => opts.showAll || !hiddenByDefault(kind, o));
    machineValue = { ...list, items: objects };
  }

  ctx.stdout.write(
    formatGetResult(format, {
      kind,
      objects,
      value: machineValue,
      headerWhenEmpty: !names.length,
    }, { ...table, nodes: nodes?.nodes }),
  );
  if (errors.length) throw errors.length === 1 ? errors[0] : new CommandErrors(errors);
}

/** Builds the `get` command. */
export function getCommand(ctx: CliContext): Command {
  return new Command("get")
    .summary("list objects of one or more kinds, or show some by name")
    .description(
      "List objects of one or more kinds, or show the named ones: TYPE [NAME...], several " +
        "kinds as TYPE,TYPE [NAME...] (each name looked up in each kind), or TYPE/NAME... " +
        "(pod/web svc/web; not mixed with the first form).\n\n" +
        `Kinds: ${KIND_NAMES}; "all" stands for ${ALL_NAMES} (not nodes, events or ` +
        "secrets).\n\n" +
        "Tables follow Milpa's layout; several kinds print one table each, separated by a " +
        "blank line, with names as TYPE/NAME. -o json prints one object for one name, a " +
        "<Kind>List for one kind and a List for several; -w keeps printing a row per change " +
        "until Ctrl-C (one kind only).\n\n" +
        "Pod tables show a one-word STATUS (Running, Draining, LaunchBackOff, ExitCode:1...) " +
        "and node UUIDs cut to 8 characters. -o wide shows Milpa's whole STATUS text and node " +
        "names and adds columns: pods INSTANCE-TYPE, PRICE/HR, INSTANCE, PUBLIC-IP, IMAGES; " +
        "nodes PRICE/HR, PRIVATE-IP, POD; deployments and replica sets UNITS, IMAGES, " +
        "SELECTOR; services SELECTOR. PRICE/HR is the bundled catalog's on-demand price of the " +
        "node's instance type (us-east-1), <unknown> for spot nodes.\n\n" +
        "-o jsonpath=TEMPLATE prints kubectl's JSONPath template ({.field}, {range ...}{end}, " +
        '{"\\n"}) applied to what -o json prints.\n\n' +
        "Pods whose deletion finished (stopped, their node given back) are not listed, as in " +
        "kubectl; -a shows them until the controller drops them 3 minutes later. Pods that " +
        "ended on their own (Succeeded, Failed) are listed.",
    )
    .argument("<type>", "kind of object (pods, po, svc, deploy, ...), a comma list, or TYPE/NAME")
    .argument("[names...]", "names of the objects (all when none), or more TYPE/NAME")
    .addOption(FLAGS.getOutput())
    .addOption(FLAGS.selector())
    .addOption(FLAGS.allNamespaces())
    .addOption(FLAGS.watch())
    .addOption(FLAGS.showLabels())
    .addOption(FLAGS.showAll())
    .addOption(FLAGS.chunkSize())
    .addHelpText(
      "after",
      examples([
        ["milpactl get pods", "list the pods in the default namespace"],
        ["milpactl get pod helloworld", "show one pod"],
        ["milpactl get pod/helloworld svc/helloworld-svc", "a pod and a service, as TYPE/NAME"],
        ["milpactl get deploy,svc", "deployments and services, a table each"],
        ["milpactl get all", `${ALL_NAMES} in the namespace`],
        ["milpactl get -ojson pod helloworld", "the whole pod object as JSON"],
        ["milpactl get pod -oyaml haproxy", "the same as YAML"],
        ["milpactl get po -l app=nginx --show-labels", "pods with a label, and their labels"],
        ["milpactl get svc -o wide", "services with their selectors"],
        ["milpactl get pods -o name", "pod/NAME, one a line (for scripts)"],
        ["milpactl get pods -o wide", "also instance type, price per hour, images"],
        ["milpactl get pods -o jsonpath='{.items[*].metadata.name}'", "the pods' names"],
        [
          `milpactl get pods -o jsonpath='{range .items[*]}{.metadata.name}{"\\t"}` +
          `{.status.phase}{"\\n"}{end}'`,
          "name and phase, a pod a line",
        ],
        ["milpactl get pod helloworld -o jsonpath='{.status.phase}'", "one field of one pod"],
        ["milpactl get pods -a", "also the pods whose deletion finished"],
        ["milpactl get nodes", "the nodes (one per running pod)"],
        ["milpactl get deploy -A", "deployments in every namespace"],
        ["milpactl get pods -w", "watch pods change until Ctrl-C"],
      ]),
    )
    .action((type: string, names: string[], opts: GetOptions, cmd: Command) =>
      runGet(ctx, [type, ...names], opts, cmd)
    );
}
