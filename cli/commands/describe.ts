/** `milpactl describe KIND [NAME...]`: a readable view of objects and their events. */
import { Command } from "commander";
import type { Event } from "../../model/event.ts";
import type { ReplicaSet } from "../../model/deployment.ts";
import { findKind, type KindInfo } from "../../model/kinds.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { Pod } from "../../model/pod.ts";
import type { MilpaClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import { ApiError, CommandErrors, UsageError } from "../errors.ts";
import { FLAGS } from "../flags.ts";
import { describeObject, eventsFor, type Related } from "../printers/describe.ts";
import { ALL_NAMES, KIND_NAMES, type KindRequest, parseResourceArgs } from "../resource_args.ts";
import { type FetchOptions, fetchRequest } from "./get_kinds.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";

/** Objects of a kind in one namespace (every one when undefined), or why they could not be read. */
async function readAll<T extends MilpaObject>(
  client: MilpaClient,
  plural: string,
  namespace: string | undefined,
): Promise<T[] | string> {
  try {
    const list = await client.list(findKind(plural)!, { namespace });
    return (list.items ?? []) as T[];
  } catch (err) {
    if (err instanceof ApiError) return err.message;
    throw err;
  }
}

/** A deployment's replica sets and a replica set's pods, read once for every object described. */
async function readRelated(
  client: MilpaClient,
  kind: KindInfo,
  namespace: string | undefined,
): Promise<Related> {
  if (kind.kind === "Deployment") {
    return { replicaSets: await readAll<ReplicaSet>(client, "replicasets", namespace) };
  }
  if (kind.kind === "ReplicaSet") return { pods: await readAll<Pod>(client, "pods", namespace) };
  return {};
}

/** The objects of one request described, or "" when it found none. */
async function describeRequest(
  ctx: CliContext,
  client: MilpaClient,
  request: KindRequest,
  options: FetchOptions,
): Promise<{ text: string; errors: Error[] }> {
  const { kind, objects, errors } = await fetchRequest(client, request, options);
  if (!objects.length) return { text: "", errors };
  const namespace = kind.namespaced ? options.namespace : undefined;
  // Cluster-scoped objects (nodes) may have events in any namespace.
  const events = kind.kind === "Event" ? [] : await readAll<Event>(client, "events", namespace);
  const related = await readRelated(client, kind, namespace);
  const now = ctx.now();
  const text = objects.map((obj) =>
    describeObject(obj, typeof events === "string" ? events : eventsFor(obj, events), now, related)
  ).join("\n");
  return { text, errors };
}

async function runDescribe(
  ctx: CliContext,
  args: string[],
  opts: { selector?: string },
  cmd: Command,
): Promise<void> {
  const globals = globalsOf(cmd);
  const { requests } = parseResourceArgs(args);
  if (opts.selector && requests.some((r) => r.names.length)) {
    throw new UsageError("give names or -l, not both: a selector picks among all objects");
  }
  const namespace = namespaceOf(globals);
  const client = await connect(ctx, globals);
  const texts: string[] = [];
  const errors: Error[] = [];
  for (const request of requests) {
    const done = await describeRequest(ctx, client, request, {
      namespace,
      selector: opts.selector,
    });
    if (done.text) texts.push(done.text);
    errors.push(...done.errors);
  }
  if (texts.length) ctx.stdout.write(texts.join("\n"));
  else if (!errors.length) {
    const namespaced = requests.some((r) => r.kind.namespaced);
    ctx.stderr.write(
      namespaced ? `No resources found in ${namespace} namespace.\n` : "No resources found.\n",
    );
  }
  if (errors.length) throw errors.length === 1 ? errors[0] : new CommandErrors(errors);
}

/** Builds the `describe` command. */
export function describeCommand(ctx: CliContext): Command {
  return new Command("describe")
    .summary("show objects in detail, with their events")
    .description(
      "Show objects in detail: metadata, spec and status in words, then the events about " +
        "them, oldest first. Without names, describes every object of the kind. A deployment " +
        "also shows its old and new replica sets; a replica set, how many of its pods are " +
        "in each phase.\n\n" +
        "Objects are named as in get: TYPE [NAME...], TYPE,TYPE [NAME...] or TYPE/NAME....\n\n" +
        `Kinds: ${KIND_NAMES}; "all" stands for ${ALL_NAMES}.`,
    )
    .argument("<type>", "kind of object (pod, node, svc, ...), a comma list, or TYPE/NAME")
    .argument("[names...]", "names of the objects (all when none), or more TYPE/NAME")
    .addOption(FLAGS.selector())
    .addHelpText(
      "after",
      examples([
        ["milpactl describe pod helloworld", "a pod, its units and its events"],
        ["milpactl describe deploy/backend-deployment svc/backend-svc", "two objects as TYPE/NAME"],
        ["milpactl describe nodes", "every node"],
        ["milpactl describe deploy -l app=nginx", "deployments with a label"],
        [
          "milpactl describe deploy backend-deployment",
          "a deployment's strategy, conditions, replica sets and events",
        ],
      ]),
    )
    .action((type: string, names: string[], opts: { selector?: string }, cmd: Command) =>
      runDescribe(ctx, [type, ...names], opts, cmd)
    );
}
