/** `milpactl scale --replicas N (KIND NAME | -f FILE)`: set spec.replicas. */
import { Command } from "commander";
import type { KindInfo } from "../../model/kinds.ts";
import type { CliContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { FLAGS } from "../flags.ts";
import { describeDocument, documentIdentity, readManifests } from "../manifest.ts";
import { connect, examples, globalsOf, namespaceOf, resolveKind } from "./shared.ts";

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

function scalable(kindName: string, where: string): KindInfo {
  const kind = resolveKind(kindName);
  if (kind.kind !== "Deployment" && kind.kind !== "ReplicaSet") {
    throw new UsageError(`${where}: only deployments and replica sets can be scaled`);
  }
  return kind;
}

async function runScale(
  ctx: CliContext,
  kindArg: string | undefined,
  name: string | undefined,
  opts: ScaleOptions,
  cmd: Command,
): Promise<void> {
  const globals = globalsOf(cmd);
  const targets: Target[] = [];
  if (opts.filename?.length) {
    if (kindArg) throw new UsageError("give either -f FILE or KIND NAME, not both");
    for (const doc of await readManifests(ctx, opts.filename)) {
      const id = documentIdentity(doc);
      const where = describeDocument(doc);
      if (!id.kind || !id.name) throw new UsageError(`${where}: needs kind and metadata.name`);
      const meta = doc.object.metadata as { namespace?: string };
      targets.push({
        kind: scalable(id.kind, where),
        namespace: meta.namespace ?? namespaceOf(globals),
        name: id.name,
      });
    }
  } else {
    if (!kindArg || !name) throw new UsageError("scale needs KIND and NAME, or -f FILE");
    targets.push({ kind: scalable(kindArg, kindArg), namespace: namespaceOf(globals), name });
  }
  const client = await connect(ctx, globals);
  for (const t of targets) {
    // Read, set, PUT with the read resourceVersion; a status write in between (409) is retried.
    await client.modify(t.kind, t.namespace, t.name, (obj) => ({
      ...obj,
      spec: { ...obj.spec, replicas: opts.replicas },
    }));
    ctx.stdout.write(`${t.kind.singular}/${t.name} scaled\n`);
  }
}

/** Builds the `scale` command. */
export function scaleCommand(ctx: CliContext): Command {
  return new Command("scale")
    .summary("set the number of replicas of a deployment or replica set")
    .description(
      "Set spec.replicas of deployments or replica sets, named directly or by the manifests " +
        "in -f files (only their kind and name are used).",
    )
    .argument("[kind]", "deployment (deploy) or replicaset (rs)")
    .argument("[name]", "name of the object")
    .addOption(FLAGS.replicas())
    .addOption(FLAGS.filename())
    .addHelpText(
      "after",
      examples([
        ["milpactl scale --replicas=3 -f nginx-deploy.yml", "scale the deployment in a file"],
        ["milpactl scale deploy nginx-deployment --replicas 1", "scale by name"],
      ]),
    )
    .action((kind: string | undefined, name: string | undefined, opts: ScaleOptions, cmd) =>
      runScale(ctx, kind, name, opts, cmd)
    );
}
