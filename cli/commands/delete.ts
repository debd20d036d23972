/** `milpactl delete KIND NAME...` or `milpactl delete -f FILE`. */
import { Command } from "commander";
import type { CliContext } from "../context.ts";
import { ApiError, CommandErrors, UsageError } from "../errors.ts";
import { FLAGS } from "../flags.ts";
import { runBatch } from "./batch.ts";
import { connect, examples, globalsOf, KIND_NAMES, namespaceOf, resolveKind } from "./shared.ts";

/** Options of `delete`. */
interface DeleteOptions {
  filename?: string[];
  cascade: boolean;
}

async function runDelete(
  ctx: CliContext,
  kindArg: string | undefined,
  names: string[],
  opts: DeleteOptions,
  cmd: Command,
): Promise<void> {
  const globals = globalsOf(cmd);
  if (opts.filename?.length) {
    if (kindArg) throw new UsageError("give either -f FILE or KIND NAME..., not both");
    return await runBatch(ctx, globals, "delete", opts.filename, opts.cascade);
  }
  if (!kindArg || !names.length) {
    throw new UsageError(
      "delete needs KIND and at least one NAME, or -f FILE",
      "run 'milpactl delete --help' for examples",
    );
  }
  const kind = resolveKind(kindArg);
  const namespace = kind.namespaced ? namespaceOf(globals) : undefined;
  const client = await connect(ctx, globals);
  const errors: Error[] = [];
  for (const name of names) {
    try {
      await client.delete(kind, namespace, name, opts.cascade);
      ctx.stdout.write(`${kind.singular} "${name}" deleted\n`);
    } catch (err) {
      if (err instanceof ApiError) errors.push(err);
      else throw err;
    }
  }
  if (errors.length) throw errors.length === 1 ? errors[0] : new CommandErrors(errors);
}

/** Builds the `delete` command. */
export function deleteCommand(ctx: CliContext): Command {
  return new Command("delete")
    .summary("delete objects by name or by manifest file")
    .description(
      "Delete objects by kind and name, or every object in manifest files (in one " +
        "all-or-nothing request).\n\n" +
        "Deleting a live pod asks for its termination: it shows `Pod Terminated` and goes " +
        "away 3 minutes later. Deleting a deployment or replica set also deletes the " +
        "replica sets and pods it owns, unless --cascade=false.\n\n" +
        `Kinds: ${KIND_NAMES}.`,
    )
    .argument("[kind]", "kind of object, e.g. pod, svc, deploy")
    .argument("[names...]", "names of the objects")
    .addOption(FLAGS.filename())
    .addOption(FLAGS.cascade())
    .addHelpText(
      "after",
      examples([
        ["milpactl delete pod helloworld", "terminate a pod"],
        ["milpactl delete svc helloworld-svc", "delete a service"],
        ["milpactl delete -f nginx-deploy.yml", "delete everything in a file"],
        [
          "milpactl delete deploy nginx-deployment --cascade=false",
          "delete a deployment but keep its replica sets and pods",
        ],
      ]),
    )
    .action((kind: string | undefined, names: string[], opts: DeleteOptions, cmd: Command) =>
      runDelete(ctx, kind, names, opts, cmd)
    );
}
