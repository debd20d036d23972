/**
 * `milpactl explain KIND[.field[.field...]]`: the documentation of a kind or a field, from
 * the schemas that the controller validates manifests with (bundled in milpactl: no
 * controller needed), in kubectl explain's layout.
 */
import { Command, Option } from "commander";
import type { CliContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { resolveKind } from "../resource_args.ts";
import { examples } from "./shared.ts";

async function runExplain(
  ctx: CliContext,
  target: string,
  opts: { recursive?: boolean },
): Promise<void> {
  const [kindWord, ...fields] = target.split(".");
  if (kindWord.includes("/") || fields.includes("")) {
    throw new UsageError(
      `"${target}" is not KIND[.field...]: e.g. pods, pod.spec or deployment.spec.template`,
    );
  }
  const kind = resolveKind(kindWord);
  // The schemas (zod) load only here: not at every milpactl start.
  const { explain } = await import("./explain_schema.ts");
  ctx.stdout.write(explain(kind, fields, opts.recursive));
}

/** Builds the `explain` command. */
export function explainCommand(ctx: CliContext): Command {
  return new Command("explain")
    .summary("document a kind and its fields, from the manifest schemas")
    .description(
      "Print the documentation of a kind, or of one of its fields given as a dotted path " +
        "(lists are gone through: pod.spec.units.ports): its KIND, VERSION, the FIELD and its " +
        "TYPE, the DESCRIPTION, and its FIELDS with their types and descriptions (-required- " +
        "marks fields a manifest must have; enum: lists the values a field takes).\n\n" +
        "It reads the schemas the controller checks manifests with, built into milpactl, so " +
        "it needs no controller. It covers the kinds you write: pods, services, deployments, " +
        "replicasets, secrets. A field that does not exist is an error (exit 1) that suggests " +
        "the nearest.",
    )
    .argument("<kind[.field...]>", "e.g. pods, pod.spec.units, deploy.spec.strategy")
    .addOption(new Option("--recursive", "list every field below, as a tree, without descriptions"))
    .addHelpText(
      "after",
      examples([
        ["milpactl explain pods", "what a pod is, and its top-level fields"],
        ["milpactl explain pod.spec.resources", "the fields that pick a pod's instance type"],
        ["milpactl explain svc.spec.ports.portRangeSize", "one field"],
        ["milpactl explain deployment.spec --recursive", "every field of a deployment's spec"],
      ]),
    )
    .action((target: string, opts: { recursive?: boolean }) => runExplain(ctx, target, opts));
}
