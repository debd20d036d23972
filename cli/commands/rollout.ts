/**
 * `milpactl rollout status|history|undo|restart|pause|resume deploy/NAME`: manage a
 * Deployment's rollout, as kubectl does. Changes read the deployment and PUT it back through
 * `MilpaClient.modify()` (the read resourceVersion kept, retried on 409).
 */
import { Command } from "commander";
import type { Deployment, ReplicaSet } from "../../model/deployment.ts";
import { findKind } from "../../model/kinds.ts";
import type { CliContext } from "../context.ts";
import { RolloutError, UsageError } from "../errors.ts";
import { FLAGS } from "../flags.ts";
import { replicaSetsOf, revisionOf } from "../printers/replica_sets.ts";
import { deploymentRef, historyTable, revisionDetail } from "../printers/rollout.ts";
import { followRollout } from "./rollout_status.ts";
import { parseResourceArgs } from "../resource_args.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";

const DEPLOYMENTS = findKind("deployments")!;
const REPLICA_SETS = findKind("replicasets")!;

/** The pod-template annotation `rollout restart` sets; a new value means a new template. */
export const RESTARTED_AT_ANNOTATION = "milpa.elotl.co/restartedAt";

/**
 * The deployment named by kubectl's forms: `deploy/NAME` (one argument), or `deploy NAME`
 * (two); any name of the Deployment kind works (deploy, deployment, deployments).
 */
export function deploymentName(target: string, name?: string): string {
  const { requests } = parseResourceArgs(name === undefined ? [target] : [target, name]);
  const [{ kind, names }] = requests;
  if (requests.length > 1 || kind.kind !== "Deployment") {
    const what = requests.length > 1 ? `"${target}"` : kind.plural;
    throw new UsageError(`rollout works on deployments, not ${what}`);
  }
  if (!names.length) {
    throw new UsageError(
      "rollout needs the deployment's name: deploy/NAME or deploy NAME",
      "run 'milpactl rollout --help' for examples",
    );
  }
  return names[0];
}

/** Now as RFC 3339 in UTC, to the second, as kubectl writes restartedAt. */
export function rfc3339(now: number): string {
  return new Date(now).toISOString().replace(/\.\d+Z$/, "Z");
}

/** The deployment with its pod template stamped `restartedAt: now`, so every pod is replaced. */
export function withRestartAnnotation(d: Deployment, now: number): Deployment {
  const meta = d.spec.template.metadata ?? {};
  return {
    ...d,
    spec: {
      ...d.spec,
      template: {
        ...d.spec.template,
        metadata: {
          ...meta,
          annotations: { ...meta.annotations, [RESTARTED_AT_ANNOTATION]: rfc3339(now) },
        },
      },
    },
  };
}

/** The deployment with `spec.paused` set; refuses when it already is as asked, like kubectl. */
export function withPaused(d: Deployment, paused: boolean): Deployment {
  if (Boolean(d.spec.paused) === paused) {
    const name = d.metadata.name;
    throw new RolloutError(
      paused ? `deployment "${name}" is already paused` : `deployment "${name}" is not paused`,
    );
  }
  return { ...d, spec: { ...d.spec, paused } };
}

/** What every rollout subcommand starts from: the deployment's name and namespace, a client. */
async function target(
  ctx: CliContext,
  targetArg: string,
  nameArg: string | undefined,
  cmd: Command,
) {
  const name = deploymentName(targetArg, nameArg);
  const globals = globalsOf(cmd);
  return { name, namespace: namespaceOf(globals), client: await connect(ctx, globals) };
}

/** A subcommand taking `deploy/NAME` or `deploy NAME`. */
function subcommand(name: string, summary: string, description: string): Command {
  return new Command(name)
    .summary(summary)
    .description(description)
    .argument("<deployment>", "deploy/NAME, or deploy (then NAME)")
    .argument("[name]", "the deployment's name, when not given as deploy/NAME");
}

function statusCommand(ctx: CliContext): Command {
  return subcommand(
    "status",
    "wait for a deployment's rollout to finish",
    "Print the progress of a deployment's rollout each time it changes, until every desired " +
      "replica runs the current template and is available; then exit 0. Exit 1 when the " +
      "rollout exceeds its progress deadline (spec.progressDeadlineSeconds) or --timeout " +
      "passes first. A paused deployment makes no progress until `milpactl rollout resume`.\n\n" +
      "Watches the controller's deployment events (no polling); with --watch=false, prints " +
      "the current state once and exits 0 only if the rollout is complete.",
  )
    .addOption(FLAGS.watchRollout())
    .addOption(FLAGS.timeout())
    .addHelpText(
      "after",
      examples([
        ["milpactl rollout status deploy/backend-deployment", "wait for a rollout to finish"],
        [
          "milpactl rollout status deployment backend-deployment --timeout 5m",
          "give up (exit 1) after 5 minutes",
        ],
        [
          "milpactl rollout status deploy/backend-deployment --watch=false",
          "look once: exit 0 if rolled out, 1 if not",
        ],
      ]),
    )
    .action(async (t: string, n: string | undefined, opts, cmd: Command) => {
      const { name, namespace, client } = await target(ctx, t, n, cmd);
      await followRollout(
        client,
        namespace,
        name,
        { watch: opts.watch, timeout: opts.timeout },
        (text) => ctx.stdout.write(text),
      );
    });
}

function historyCommand(ctx: CliContext): Command {
  return subcommand(
    "history",
    "list a deployment's revisions",
    "List the revisions of a deployment (one per replica set it owns) with their change " +
      "cause (the kubernetes.io/change-cause annotation); with --revision, print that " +
      "revision's pod template.",
  )
    .addOption(FLAGS.revision())
    .addHelpText(
      "after",
      examples([
        ["milpactl rollout history deploy/backend-deployment", "every revision"],
        [
          "milpactl rollout history deploy/backend-deployment --revision 1",
          "the pod template of revision 1",
        ],
      ]),
    )
    .action(async (t: string, n: string | undefined, opts: { revision?: number }, cmd) => {
      const { name, namespace, client } = await target(ctx, t, n, cmd);
      const d = await client.get<Deployment>(DEPLOYMENTS, namespace, name);
      const list = await client.list(REPLICA_SETS, { namespace });
      const sets = replicaSetsOf(d, (list.items ?? []) as ReplicaSet[]);
      if (!opts.revision) return void ctx.stdout.write(historyTable(name, sets));
      const rs = sets.find((s) => revisionOf(s) === opts.revision);
      if (!rs) {
        throw new RolloutError(
          `deployment "${name}" has no revision ${opts.revision}; revisions: ` +
            (sets.map(revisionOf).join(", ") || "none"),
        );
      }
      ctx.stdout.write(revisionDetail(name, rs));
    });
}

function undoCommand(ctx: CliContext): Command {
  return subcommand(
    "undo",
    "roll a deployment back to an earlier revision",
    "Set a deployment's pod template back to the one of an earlier revision (the previous " +
      "one unless --to-revision is given); the controller then rolls that template out as " +
      "the newest revision. A paused deployment must be resumed first.",
  )
    .addOption(FLAGS.toRevision())
    .addHelpText(
      "after",
      examples([
        ["milpactl rollout undo deploy/backend-deployment", "back to the previous revision"],
        [
          "milpactl rollout undo deploy/backend-deployment --to-revision=1",
          "back to revision 1 (see `milpactl rollout history`)",
        ],
      ]),
    )
    .action(async (t: string, n: string | undefined, opts: { toRevision?: number }, cmd) => {
      const { name, namespace, client } = await target(ctx, t, n, cmd);
      const before = await client.get<Deployment>(DEPLOYMENTS, namespace, name);
      if (before.spec?.paused) {
        throw new RolloutError(
          `cannot roll back the paused deployment "${name}"`,
          `resume it first with 'milpactl rollout resume deploy/${name}' and try again`,
        );
      }
      const after = await client.rollback(namespace, name, opts.toRevision || undefined);
      const generation = before.metadata.generation;
      if (typeof generation === "number" && after.metadata?.generation === generation) {
        const which = opts.toRevision ? `revision ${opts.toRevision}` : "the previous revision";
        ctx.stdout.write(
          `${deploymentRef(name)} skipped rollback (current template already matches ${which})\n`,
        );
      } else {
        ctx.stdout.write(`${deploymentRef(name)} rolled back\n`);
      }
    });
}

function restartCommand(ctx: CliContext): Command {
  return subcommand(
    "restart",
    "replace every pod of a deployment, a few at a time",
    `Stamp the deployment's pod template with a ${RESTARTED_AT_ANNOTATION} annotation (the ` +
      "current time): a new template, so a new replica set replaces every pod by the " +
      "deployment's rolling-update rules.",
  )
    .addHelpText(
      "after",
      examples([
        ["milpactl rollout restart deploy/backend-deployment", "replace every backend pod"],
        ["milpactl rollout status deploy/backend-deployment", "then wait for it to finish"],
      ]),
    )
    .action(async (t: string, n: string | undefined, _opts: unknown, cmd: Command) => {
      const { name, namespace, client } = await target(ctx, t, n, cmd);
      await client.modify<Deployment>(DEPLOYMENTS, namespace, name, (d) => {
        if (d.spec.paused) {
          throw new RolloutError(
            `cannot restart the paused deployment "${name}"`,
            `resume it first with 'milpactl rollout resume deploy/${name}'`,
          );
        }
        return withRestartAnnotation(d, ctx.now());
      });
      ctx.stdout.write(`${deploymentRef(name)} restarted\n`);
    });
}

function pauseCommand(ctx: CliContext, paused: boolean): Command {
  const verb = paused ? "pause" : "resume";
  return subcommand(
    verb,
    paused ? "stop rolling out a deployment's changes" : "roll out a paused deployment's changes",
    paused
      ? "Set spec.paused: template changes are kept but not rolled out (no new replica set) " +
        "until `milpactl rollout resume`. Scaling still works."
      : "Clear spec.paused: the controller rolls out the template changes made while paused.",
  )
    .addHelpText(
      "after",
      examples([
        ["milpactl rollout pause deploy/backend-deployment", "hold back rollouts"],
        ["milpactl update -f backend-deploy.yml", "change the template (not rolled out yet)"],
        ["milpactl rollout resume deploy/backend-deployment", "roll the changes out at once"],
      ]),
    )
    .action(async (t: string, n: string | undefined, _opts: unknown, cmd: Command) => {
      const { name, namespace, client } = await target(ctx, t, n, cmd);
      await client.modify<Deployment>(DEPLOYMENTS, namespace, name, (d) => withPaused(d, paused));
      ctx.stdout.write(`${deploymentRef(name)} ${paused ? "paused" : "resumed"}\n`);
    });
}

/** Builds the `rollout` command and its subcommands. */
export function rolloutCommand(ctx: CliContext): Command {
  return new Command("rollout")
    .summary("watch, undo, restart, pause or resume a deployment's rollout")
    .description(
      "Manage the rollout of a deployment: each change of its pod template makes a new " +
        "revision (a replica set) that replaces the old pods by the rolling-update rules " +
        "(maxSurge, maxUnavailable). Deployments are named deploy/NAME or deploy NAME.",
    )
    .addCommand(statusCommand(ctx))
    .addCommand(historyCommand(ctx))
    .addCommand(undoCommand(ctx))
    .addCommand(restartCommand(ctx))
    .addCommand(pauseCommand(ctx, true))
    .addCommand(pauseCommand(ctx, false))
    .addHelpText(
      "after",
      examples([
        ["milpactl rollout status deploy/backend-deployment", "wait for a rollout to finish"],
        ["milpactl rollout history deploy/backend-deployment", "list the revisions"],
        ["milpactl rollout undo deploy/backend-deployment", "back to the previous revision"],
        ["milpactl rollout restart deploy/backend-deployment", "replace every pod"],
        ["milpactl rollout pause deploy/backend-deployment", "hold back template changes"],
        ["milpactl rollout status --help", "help on one subcommand"],
      ]),
    );
}
