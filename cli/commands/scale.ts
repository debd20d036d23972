/** `milpactl scale --replicas N (TYPE NAME... | TYPE/NAME... | -f FILE)`: set spec.replicas. */
import { Command } from "commander";
import type { KindInfo } from "../../model/kinds.ts";
import type { CliContext } from "../context.ts";
import { ApiError, CommandErrors, UsageError } from "../errors.ts";
import { FLAGS } from "../flags.ts";
import { describeDocument, documentIdentity, readManifests } from "../manifest.ts";
import { parseResourceArgs, resolveKind } from "../resource_args.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";

/** Options of `scale`. */
interface ScaleOptions {
  replicas: number;
  filename?: string[];
}

interface Target {
  kind: KindInfo;
  namespace: string;
  name: string;
}

function scalable(kind: KindInfo, where: string): KindInfo {
  if (kind.kind !== "Deployment" && kind.kind !== "ReplicaSet") {
    throw new UsageError(`${where}: only deployments and replica sets can be scaled`);
  }
  return kind;
}

/** The objects that the -f files name. */
async function fileTargets(ctx: CliContext, files: string[], namespace: string) {
  const targets: Target[] = [];
  for (const doc of await readManifests(ctx, files)) {
    const id = documentIdentity(doc);
    const where = describeDocument(doc);
    if (!id.kind || !id.name) throw new UsageError(`${where}: needs kind and metadata.name`);
    const meta = doc.object.metadata as { namespace?: string };
    targets.push({
      kind: scalable(resolveKind(id.kind), where),
      namespace: meta.namespace ?? namespace,
      name: id.name,
    });
  }
  return targets;
}

/** The objects that TYPE NAME... or TYPE/NAME... arguments name. */
function argTargets(args: string[], namespace: string): Target[] {
  if (!args.length) {
    throw new UsageError(
      "scale needs TYPE NAME, TYPE/NAME or -f FILE",
      "run 'milpactl scale --help' for examples",
    );
  }
  return parseResourceArgs(args).requests.flatMap(({ kind, names }) => {
    scalable(kind, `cannot scale ${kind.plural}`);
    if (!names.length) {
      throw new UsageError(`scale needs a name: ${args[0]} NAME, or ${kind.singular}/NAME`);
    }
    return names.map((name) => ({ kind, namespace, name }));
  });
}

async function runScale(
  ctx: CliContext,
  args: string[],
  opts: ScaleOptions,
  cmd: Command,
): Promise<void> {
  const globals = globalsOf(cmd);
  if (opts.filename?.length && args.length) {
    throw new UsageError("give either -f FILE or TYPE NAME, not both");
  }
  const targets = opts.filename?.length
    ? await fileTargets(ctx, opts.filename, namespaceOf(globals))
    : argTargets(args, namespaceOf(globals));
  const client = await connect(ctx, globals);
  const errors: Error[] = [];
  for (const t of targets) {
    try {
      // Read, set, PUT with the read resourceVersion; a status write in between (409) is retried.
      await client.modify(t.kind, t.namespace, t.name, (obj) => ({
        ...obj,
        spec: { ...obj.spec, replicas: opts.replicas },
      }));
      ctx.stdout.write(`${t.kind.singular}/${t.name} scaled\n`);
    } catch (err) {
      // One that is missing (or refused) does not stop the others, as in kubectl.
      if (err instanceof ApiError) errors.push(err);
      else throw err;
    }
  }
  if (errors.length) throw errors.length === 1 ? errors[0] : new CommandErrors(errors);
}

/** Builds the `scale` command. */
export function scaleCommand(ctx: CliContext): Command {
  return new Command("scale")
    .summary("set the number of replicas of a deployment or replica set")
    .description(
      "Set spec.replicas of deployments or replica sets, named as TYPE NAME..., TYPE/NAME... " +
        "or by the manifests in -f files (only their kind and name are used). One that is not " +
        "found is reported (exit 1) and the others are still scaled.",
    )
    .argument("[type]", "deployment (deploy) or replicaset (rs), or TYPE/NAME")
    .argument("[names...]", "names of the objects, or more TYPE/NAME")
    .addOption(FLAGS.replicas())
    .addOption(FLAGS.filename())
    .addHelpText(
      "after",
      examples([
        ["milpactl scale --replicas=3 -f nginx-deploy.yml", "scale the deployment in a file"],
        ["milpactl scale deploy nginx-deployment --replicas 1", "scale by name"],
        ["milpactl scale deploy/nginx-deployment --replicas=3", "the same as TYPE/NAME"],
      ]),
    )
    .action((type: string | undefined, names: string[], opts: ScaleOptions, cmd) =>
      runScale(ctx, type ? [type, ...names] : [], opts, cmd)
    );
}
