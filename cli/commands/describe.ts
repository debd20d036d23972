/** `milpactl describe KIND [NAME...]`: a readable view of objects and their events. */
import { Command } from "commander";
import type { Event } from "../../model/event.ts";
import type { ReplicaSet } from "../../model/deployment.ts";
import { findKind, type KindInfo } from "../../model/kinds.ts";
import type { MilpaObject } from "../../model/meta.ts";
import type { Pod } from "../../model/pod.ts";
import type { MilpaClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import { ApiError, CommandErrors } from "../errors.ts";
import { FLAGS } from "../flags.ts";
import { describeObject, eventsFor, type Related } from "../printers/describe.ts";
import { connect, examples, globalsOf, KIND_NAMES, namespaceOf, resolveKind } from "./shared.ts";

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

async function runDescribe(
  ctx: CliContext,
  kindArg: string,
  names: string[],
  opts: { selector?: string },
  cmd: Command,
): Promise<void> {
  const globals = globalsOf(cmd);
  const kind = resolveKind(kindArg);
  const namespace = kind.namespaced ? namespaceOf(globals) : undefined;
  const client = await connect(ctx, globals);
  const objects: MilpaObject[] = [];
  const errors: Error[] = [];
  if (names.length) {
    for (const name of names) {
      try {
        objects.push(await client.get(kind, namespace, name));
      } catch (err) {
        if (err instanceof ApiError && err.code === 404) errors.push(err);
        else throw err;
      }
    }
  } else {
    objects.push(...(await client.list(kind, { namespace, labelSelector: opts.selector })).items);
    if (!objects.length) {
      ctx.stderr.write(
        namespace ? `No resources found in ${namespace} namespace.\n` : "No resources found.\n",
      );
    }
  }
  if (objects.length) {
    // Cluster-scoped objects (nodes) may have events in any namespace.
    const events = kind.kind === "Event" ? [] : await readAll<Event>(client, "events", namespace);
    const related = await readRelated(client, kind, namespace);
    const now = ctx.now();
    ctx.stdout.write(
      objects.map((obj) =>
        describeObject(
          obj,
          typeof events === "string" ? events : eventsFor(obj, events),
          now,
          related,
        )
      ).join("\n"),
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
        `in each phase.\n\nKinds: ${KIND_NAMES}.`,
    )
    .argument("<kind>", "kind of object, e.g. pod, node, svc")
    .argument("[names...]", "names of the objects (all when none)")
    .addOption(FLAGS.selector())
    .addHelpText(
      "after",
      examples([
        ["milpactl describe pod helloworld", "a pod, its units and its events"],
        ["milpactl describe nodes", "every node"],
        ["milpactl describe deploy -l app=nginx", "deployments with a label"],
        [
          "milpactl describe deploy backend-deployment",
          "a deployment's strategy, conditions, replica sets and events",
        ],
      ]),
    )
    .action((kind: string, names: string[], opts: { selector?: string }, cmd: Command) =>
      runDescribe(ctx, kind, names, opts, cmd)
    );
}
