/**
 * `milpactl delete TYPE NAME...`, `delete TYPE/NAME...`, `delete TYPE --all`,
 * `delete TYPE -l SELECTOR` or `delete -f FILE`.
 */
import { Command, Option } from "commander";
import type { CliContext } from "../context.ts";
import { ApiError, CommandErrors, UsageError } from "../errors.ts";
import { FLAGS } from "../flags.ts";
import { hiddenByDefault } from "../printers/get_output.ts";
import { runBatch } from "./batch.ts";
import { ALL_NAMES, KIND_NAMES, type KindRequest, parseResourceArgs } from "../resource_args.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";

/** Options of `delete`. */
interface DeleteOptions {
  filename?: string[];
  cascade: boolean;
  all?: boolean;
  selector?: string;
}

/** `--all`: every object of the kinds given (kubectl's flag; it needs a kind). */
function allOption(): Option {
  return new Option("--all", "delete every object of the kinds given, in the namespace");
}

/** Owners before what they own, so a ReplicaSet does not replace pods just deleted. */
const DELETE_ORDER = ["Deployment", "ReplicaSet"];

function deleteOrder(requests: KindRequest[]): KindRequest[] {
  const rank = (r: KindRequest) => {
    const i = DELETE_ORDER.indexOf(r.kind.kind);
    return i < 0 ? DELETE_ORDER.length : i;
  };
  return [...requests].sort((a, b) => rank(a) - rank(b));
}

/** The kinds and names to delete; refuses a kind without names, --all or -l. */
function deleteRequests(args: string[], opts: DeleteOptions): KindRequest[] {
  const selecting = opts.all || opts.selector !== undefined;
  if (!args.length) {
    throw new UsageError(
      selecting
        ? `delete ${opts.all ? "--all" : "-l"} needs a kind, e.g. milpactl delete pods ` +
          (opts.all ? "--all" : `-l ${opts.selector}`)
        : "delete needs TYPE NAME..., TYPE/NAME..., TYPE --all, TYPE -l SELECTOR or -f FILE",
      "run 'milpactl delete --help' for examples",
    );
  }
  const { requests } = parseResourceArgs(args);
  const named = requests.some((r) => r.names.length);
  if (named && selecting) {
    throw new UsageError(`give names or ${opts.all ? "--all" : "-l"}, not both`);
  }
  if (!named && !selecting) {
    throw new UsageError(
      `no name given: milpactl delete ${args[0]} NAME..., or --all for every one, or -l SELECTOR`,
    );
  }
  return deleteOrder(requests);
}

async function runDelete(
  ctx: CliContext,
  args: string[],
  opts: DeleteOptions,
  cmd: Command,
): Promise<void> {
  const globals = globalsOf(cmd);
  if (opts.filename?.length) {
    if (args.length || opts.all || opts.selector !== undefined) {
      throw new UsageError("give either -f FILE or objects to delete (names, --all, -l), not both");
    }
    return await runBatch(ctx, globals, "delete", opts.filename, opts.cascade);
  }
  const requests = deleteRequests(args, opts);
  const namespace = namespaceOf(globals);
  const client = await connect(ctx, globals);
  const errors: Error[] = [];
  let deleted = 0;
  for (const { kind, names } of requests) {
    const ns = kind.namespaced ? namespace : undefined;
    // Listed objects that are gone by the time they are deleted are no error (kubectl's
    // --ignore-not-found, on for --all); a named one that is missing is. Pods whose deletion
    // finished are not listed, as get does not list them.
    const listed = !names.length;
    const targets = listed
      ? (await client.list(kind, { namespace: ns, labelSelector: opts.selector })).items
        .filter((o) => !hiddenByDefault(kind, o)).map((o) => o.metadata.name)
      : names;
    for (const name of targets) {
      try {
        await client.delete(kind, ns, name, opts.cascade);
        ctx.stdout.write(`${kind.singular} "${name}" deleted\n`);
        deleted++;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (!(listed && err.code === 404)) errors.push(err);
      }
    }
  }
  if (!deleted && !errors.length) {
    const namespaced = requests.some((r) => r.kind.namespaced);
    ctx.stderr.write(
      namespaced ? `No resources found in ${namespace} namespace.\n` : "No resources found.\n",
    );
  }
  if (errors.length) throw errors.length === 1 ? errors[0] : new CommandErrors(errors);
}

/** Builds the `delete` command. */
export function deleteCommand(ctx: CliContext): Command {
  return new Command("delete")
    .summary("delete objects by name, by label, all of a kind, or by manifest file")
    .description(
      "Delete objects named as in get (TYPE NAME..., TYPE,TYPE NAME..., TYPE/NAME...), every " +
        "object of the kinds given (--all) or those matching a label selector (-l), in the " +
        "namespace, as get lists them (not pods whose deletion finished); or every object in " +
        "manifest files (-f, in one all-or-nothing request).\n\n" +
        "Each object is deleted on its own: a name that is not found is reported (exit 1) and " +
        "the others are still deleted. Deployments go first, then replica sets, then the rest " +
        "(so no replica set replaces a pod just deleted); --all needs a kind (delete all --all: " +
        `${ALL_NAMES}).\n\n` +
        "Deleting a live pod asks for its termination: once it stopped and gave its node " +
        "back, get no longer lists it (get -a does, until 3 minutes later). Deleting a deployment or replica set also deletes the " +
        "replica sets and pods it owns, unless --cascade=false.\n\n" +
        `Kinds: ${KIND_NAMES}.`,
    )
    .argument("[type]", "kind of object (pod, svc, deploy, ...), a comma list, or TYPE/NAME")
    .argument("[names...]", "names of the objects, or more TYPE/NAME")
    .addOption(FLAGS.filename())
    .addOption(allOption())
    .addOption(FLAGS.selector())
    .addOption(FLAGS.cascade())
    .addHelpText(
      "after",
      examples([
        ["milpactl delete pod helloworld", "terminate a pod"],
        ["milpactl delete svc helloworld-svc", "delete a service"],
        ["milpactl delete deploy/backend-deployment svc/backend-svc", "two objects as TYPE/NAME"],
        ["milpactl delete pods --all", "every pod in the namespace"],
        ["milpactl delete pods,svc -l app=web", "pods and services labelled app=web"],
        ["milpactl delete -f nginx-deploy.yml", "delete everything in a file"],
        [
          "milpactl delete deploy nginx-deployment --cascade=false",
          "delete a deployment but keep its replica sets and pods",
        ],
      ]),
    )
    .action((type: string | undefined, names: string[], opts: DeleteOptions, cmd: Command) =>
      runDelete(ctx, type ? [type, ...names] : [], opts, cmd)
    );
}
