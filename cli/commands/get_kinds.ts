/**
 * `milpactl get` of several kinds at once (`get deploy,svc`, `get all`, `get pod/a svc/b`):
 * one table per kind, separated by a blank line, names as TYPE/NAME as kubectl prints them;
 * `-o json|yaml|jsonpath` see one `List` of every object, `-o name` gives a TYPE/NAME a line.
 */
import type { KindInfo } from "../../model/kinds.ts";
import { API_VERSION, type MilpaObject, type ObjectList } from "../../model/meta.ts";
import type { MilpaClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import { ApiError } from "../errors.ts";
import type { GetOutputFormat } from "../flags.ts";
import { formatGetResult, getFormat, hiddenByDefault, typeName } from "../printers/get_output.ts";
import { loadJsonPath } from "../printers/jsonpath.ts";
import { tableHeader, type TableOptions, tableRow } from "../../api/table/rows.ts";
import { formatTable } from "../printers/tabwriter.ts";
import type { KindRequest } from "../resource_args.ts";

/** What one request found: the objects, and the names that were not there. */
interface Found {
  kind: KindInfo;
  objects: MilpaObject[];
  errors: Error[];
}

/** How the objects are read. */
export interface FetchOptions {
  /** The namespace of namespaced kinds; undefined for every namespace. */
  namespace: string | undefined;
  selector?: string;
  chunkSize?: number;
}

/**
 * The named objects of a kind, or all of them (`-l` filtered) when none is named. A name that
 * is not found is kept as an error and the rest still read, as kubectl does; any other error
 * (unreachable, 401) stops everything.
 */
export async function fetchRequest(
  client: MilpaClient,
  { kind, names }: KindRequest,
  options: FetchOptions,
): Promise<Found> {
  const namespace = kind.namespaced ? options.namespace : undefined;
  if (!names.length) {
    const list = await client.list(kind, {
      namespace,
      labelSelector: options.selector,
      chunkSize: options.chunkSize,
    });
    return { kind, objects: list.items ?? [], errors: [] };
  }
  const found: Found = { kind, objects: [], errors: [] };
  for (const name of names) {
    try {
      found.objects.push(await client.get(kind, namespace, name));
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) found.errors.push(err);
      else throw err;
    }
  }
  return found;
}

/** A kind's table with every NAME cell that holds the object's name written as TYPE/NAME. */
function tableWithTypes(kind: KindInfo, objects: MilpaObject[], options: TableOptions): string {
  const header = tableHeader(kind.kind, options);
  const nameColumn = header.indexOf("NAME");
  const rows = objects.map((o) => {
    const row = tableRow(kind.kind, o, options);
    // An event's NAME is the name of the object it is about: that one keeps it.
    if (row[nameColumn] === o.metadata?.name) row[nameColumn] = typeName(kind, o);
    return row;
  });
  return formatTable([header, ...rows]);
}

/** How several kinds are read and printed. */
export interface GetKindsOptions extends FetchOptions {
  /** The `-o` value. */
  output?: GetOutputFormat;
  /** Also list the pods whose deletion finished (`-a`). */
  showAll?: boolean;
  /** The table options of a kind. */
  table: (kind: KindInfo) => TableOptions;
}

/**
 * Reads and prints several kinds. Tables leave out kinds with no object; when no kind has
 * any, "No resources found" goes to stderr (as kubectl says it). -o json, yaml and jsonpath
 * see one `List` of every object. Returns the errors of names not found, for the caller to
 * throw once everything found is printed.
 */
export async function getKinds(
  ctx: CliContext,
  client: MilpaClient,
  requests: KindRequest[],
  options: GetKindsOptions,
): Promise<Error[]> {
  const format = getFormat(options.output);
  if (format.type === "jsonpath") await loadJsonPath();
  const found: Found[] = [];
  for (const request of requests) {
    const f = await fetchRequest(client, request, options);
    // Listed pods whose deletion finished are left out, as in a get of one kind.
    if (!request.names.length && !options.showAll) {
      f.objects = f.objects.filter((o) => !hiddenByDefault(f.kind, o));
    }
    found.push(f);
  }
  const objects = found.flatMap((f) => f.objects);
  if (format.type === "table") {
    ctx.stdout.write(
      found.filter((f) => f.objects.length)
        .map((f) => tableWithTypes(f.kind, f.objects, options.table(f.kind)))
        .join("\n"),
    );
  } else if (format.type === "name") {
    for (const { kind, objects } of found) {
      const result = { kind, objects, value: undefined, headerWhenEmpty: false };
      ctx.stdout.write(formatGetResult(format, result, options.table(kind)));
    }
  } else {
    // json, yaml and jsonpath print one List of every object, whatever its kind.
    const list: ObjectList = {
      kind: "List",
      apiVersion: API_VERSION,
      metadata: {},
      items: objects,
    };
    const { kind } = found[0];
    const result = { kind, objects, value: list, headerWhenEmpty: false };
    ctx.stdout.write(formatGetResult(format, result, options.table(kind)));
  }
  const errors = found.flatMap((f) => f.errors);
  const printsList = format.type !== "table" && format.type !== "name";
  if (!objects.length && !errors.length && !printsList) {
    ctx.stderr.write(
      options.namespace
        ? `No resources found in ${options.namespace} namespace.\n`
        : "No resources found.\n",
    );
  }
  return errors;
}
