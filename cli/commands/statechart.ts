/**
 * `milpactl statechart KIND [NAME] [--format mermaid|dot|json]`: a machine's statechart, as
 * the controller draws it from its definition; with NAME, one live actor's chart with its
 * current state highlighted, preceded by comments with a context summary and its last
 * transitions (the output stays valid Mermaid or DOT, so it can be piped to a renderer).
 */
import { Command, Option } from "commander";
import { findKind } from "../../model/kinds.ts";
import type { CliContext } from "../context.ts";
import { UsageError } from "../errors.ts";
import { connect, examples, globalsOf, namespaceOf } from "./shared.ts";

/** Chart formats the controller draws. */
export const STATECHART_FORMATS = ["mermaid", "dot", "json"] as const;

/** A chart format. */
export type StatechartFormat = (typeof STATECHART_FORMATS)[number];

/** Machines, in the order the help lists them, with the names milpactl also accepts. */
const MACHINES: Record<string, string[]> = {
  pod: [],
  node: [],
  nodepool: ["pool"],
  replicaset: [],
  deployment: [],
  service: [],
  supervisor: ["root"],
};

/** The machines, as `statechart` takes them (for completion). */
export const MACHINE_NAMES: readonly string[] = Object.keys(MACHINES);

/** An actor as `GET /api/v1/actors/{id}` returns it. */
export interface ActorDetail {
  id: string;
  kind: string;
  state: string;
  status: string;
  updatedAt: string;
  states: string[];
  context: Record<string, unknown>;
  transitions: { at: string; event: string; from: string | null; to: string }[];
}

/** The machine a user named: a machine kind, or any name or alias of its object kind. */
export function resolveMachine(name: string): string {
  const n = name.toLowerCase();
  const direct = Object.entries(MACHINES).find(([k, aliases]) => k === n || aliases.includes(n));
  if (direct) return direct[0];
  const kind = findKind(n);
  if (kind && kind.singular in MACHINES) return kind.singular;
  throw new UsageError(
    `no state machine for "${name}"`,
    `machines: ${Object.keys(MACHINES).join(", ")}`,
  );
}

/** The system id of a machine's actor named `name`. */
export function actorId(machine: string, namespace: string, name: string): string {
  if (machine === "node") return `node/${name}`;
  if (machine === "nodepool" || machine === "supervisor") {
    if (name !== machine) {
      throw new UsageError(
        `there is one ${machine} actor, named "${machine}"`,
        `run 'milpactl statechart ${machine} ${machine}'`,
      );
    }
    return machine;
  }
  return `${machine}/${namespace}/${name}`;
}

const oneLine = (v: unknown) => String(v).replace(/\s+/g, " ");

/** The comment lines describing an actor: state, context and last transitions, oldest first. */
export function actorComments(actor: ActorDetail, transitions = 10): string[] {
  const lines = [
    `actor ${actor.id}: ${actor.state} (${actor.status}) since ${actor.updatedAt}`,
    "context:",
    ...Object.entries(actor.context).map(([k, v]) => `  ${k}: ${oneLine(v)}`),
    `last transitions (of ${actor.transitions.length} kept):`,
    ...actor.transitions.slice(-transitions).map((t) =>
      `  ${t.at}  ${t.from ?? "(start)"} -> ${t.to}  on ${t.event}`
    ),
  ];
  return lines;
}

/** Puts an actor's comments into a chart right after its first line (Mermaid `%%`, DOT `//`). */
export function annotateChart(chart: string, format: "mermaid" | "dot", actor: ActorDetail) {
  const mark = format === "mermaid" ? "%%" : "//";
  const [first, ...rest] = chart.split("\n");
  const notes = actorComments(actor).map((l) => `  ${mark} ${l}`);
  return [first, ...notes, ...rest].join("\n");
}

interface StatechartOptions {
  format: StatechartFormat;
}

async function runStatechart(
  ctx: CliContext,
  kindName: string,
  name: string | undefined,
  opts: StatechartOptions,
  cmd: Command,
) {
  const machine = resolveMachine(kindName);
  const globals = globalsOf(cmd);
  const id = name === undefined ? undefined : actorId(machine, namespaceOf(globals), name);
  const client = await connect(ctx, globals);
  const actor = id === undefined ? undefined : await (await client.request(
    "GET",
    `/api/v1/actors/${id.split("/").map(encodeURIComponent).join("/")}`,
  )).json() as ActorDetail;
  const chart = await (await client.request(
    "GET",
    `/api/v1/statecharts/${machine}`,
    { query: { format: opts.format, current: actor?.states.join(",") } },
  )).text();
  if (!actor) return ctx.stdout.write(chart);
  if (opts.format === "json") {
    return ctx.stdout.write(JSON.stringify({ actor, chart: JSON.parse(chart) }, null, 2) + "\n");
  }
  ctx.stdout.write(annotateChart(chart, opts.format, actor));
}

/** Builds the `statechart` command. */
export function statechartCommand(ctx: CliContext): Command {
  return new Command("statechart")
    .summary("draw a state machine, or where one actor is in it")
    .description(
      "Print the statechart of a machine (" + Object.keys(MACHINES).join(", ") + ") as " +
        "the controller draws it from the machine's definition: states, nested states, " +
        "events, guards [in brackets] and delays. With NAME, print one live actor's chart " +
        "with its current state highlighted, after comment lines with a short summary of " +
        "its context and its last transitions. The web view at <endpoint>/ui shows the " +
        "same, live.",
    )
    .argument("<kind>", "machine: pod, node, nodepool, replicaset, deployment, service, supervisor")
    .argument("[name]", "an actor of that machine (nodepool and supervisor: their own name)")
    .addOption(
      new Option("--format <format>", "mermaid, dot (Graphviz) or json")
        .choices(STATECHART_FORMATS).default("mermaid"),
    )
    .addHelpText(
      "after",
      examples([
        ["milpactl statechart pod", "the pod machine as Mermaid"],
        ["milpactl statechart pod --format dot | dot -Tsvg > pod.svg", "render it with Graphviz"],
        ["milpactl statechart pod helloworld", "where pod helloworld is and how it got there"],
        ["milpactl statechart deploy web --format json", "a deployment's actor, as JSON"],
        ["milpactl statechart supervisor supervisor", "the root actor"],
      ]),
    )
    .action((kind: string, name: string | undefined, opts: StatechartOptions, cmd: Command) =>
      runStatechart(ctx, kind, name, opts, cmd)
    );
}
