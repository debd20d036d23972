/**
 * Draws a chart (`statechart.ts`) as Mermaid `stateDiagram-v2`, Graphviz DOT or JSON,
 * optionally with the active states of one actor highlighted (DOT: fill colour; Mermaid:
 * `classDef current` + `class`). Output is deterministic, so generated files can be diffed.
 */
import { activeIds, type Chart, type ChartState } from "./statechart.ts";

/** Formats a chart can be drawn in. */
export const CHART_FORMATS = ["mermaid", "dot", "json"] as const;

/** A chart format. */
export type ChartFormat = (typeof CHART_FORMATS)[number];

/** Whether `name` is a chart format. */
export function isChartFormat(name: string): name is ChartFormat {
  return (CHART_FORMATS as readonly string[]).includes(name);
}

/** Drawing options. */
export interface RenderOptions {
  /** Active leaf state ids of an actor (`Running.Applied`); they and their ancestors are highlighted. */
  current?: readonly string[];
}

/** Fill and border of the active states. */
const ACTIVE_FILL = "#ffd54f";
const ACTIVE_BORDER = "#e65100";
const ACTIVE_CLUSTER_FILL = "#fff8e1";

/** Draws a chart in `format`. */
export function renderChart(chart: Chart, format: ChartFormat, opts: RenderOptions = {}): string {
  if (format === "mermaid") return toMermaid(chart, opts);
  if (format === "dot") return toDot(chart, opts);
  return JSON.stringify({ ...chart, current: [...(opts.current ?? [])] }, null, 2) + "\n";
}

/** Texts written inside a state: its invoked actors, the work it starts, its targetless transitions. */
export function stateNotes(s: ChartState): string[] {
  return [
    ...s.invokes.map((src) => `invoke ${src}`),
    ...s.starts.map((action) => `starts ${action}`),
    ...s.internal.map((t) =>
      `on ${t.label}${t.actions.length ? ` / ${t.actions.join(", ")}` : ""}`
    ),
  ];
}

/** One arrow: every transition between the same two states, in definition order. */
export interface Arrow {
  source: string;
  target: string;
  labels: string[];
  /** Whether every transition on it is an `always` one (drawn dashed). */
  eventless: boolean;
}

/** The arrows of a chart: transitions with the same ends share one. */
export function arrowsOf(chart: Chart): Arrow[] {
  const out = new Map<string, Arrow>();
  for (const t of chart.transitions) {
    for (const target of t.targets) {
      const key = `${t.source}\u0000${target}`;
      const arrow = out.get(key) ??
        { source: t.source, target, labels: [], eventless: true };
      arrow.labels.push(t.label);
      arrow.eventless &&= t.trigger === "always";
      out.set(key, arrow);
    }
  }
  return [...out.values()];
}

function parentId(id: string): string {
  const i = id.lastIndexOf(".");
  return i < 0 ? "" : id.slice(0, i);
}

function isWithin(id: string, ancestor: string): boolean {
  return ancestor === "" || id === ancestor || id.startsWith(`${ancestor}.`);
}

/** The innermost state strictly containing both ends: where the arrow is declared. */
function scopeOf(a: Arrow): string {
  let scope = parentId(a.source);
  while (!(isWithin(a.target, scope) && a.target !== scope)) scope = parentId(scope);
  return scope;
}

function byScope(chart: Chart): Map<string, Arrow[]> {
  const out = new Map<string, Arrow[]>();
  for (const a of arrowsOf(chart)) out.set(scopeOf(a), [...(out.get(scopeOf(a)) ?? []), a]);
  return out;
}

const MERMAID_WORDS = new Set([
  "state",
  "note",
  "end",
  "class",
  "classdef",
  "direction",
  "style",
  "as",
  "hide",
  "scale",
]);

function mermaidId(id: string): string {
  const raw = id.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[A-Za-z]/.test(raw) && !MERMAID_WORDS.has(raw.toLowerCase()) ? raw : `s_${raw}`;
}

/** Mermaid ends a statement at `;` and a comment at `%%`. */
function mermaidText(text: string): string {
  return text.replace(/;/g, ",").replace(/%%/g, "%").replace(/[\r\n]+/g, " ");
}

/** The chart as Mermaid `stateDiagram-v2`. */
export function toMermaid(chart: Chart, opts: RenderOptions = {}): string {
  const lines = ["stateDiagram-v2"];
  const scoped = byScope(chart);
  const block = (parent: ChartState, depth: number) => {
    const pad = "  ".repeat(depth);
    const here = (s: string) => lines.push(pad + s);
    if (parent.initial) here(`[*] --> ${mermaidId(parent.initial)}`);
    for (const s of parent.states) {
      const id = mermaidId(s.id);
      const notes = stateNotes(s);
      if (s.states.length) {
        here(id === s.key ? `state ${id} {` : `state "${mermaidText(s.key)}" as ${id} {`);
        block(s, depth + 1);
        here("}");
        if (notes.length) {
          here(`note right of ${id}`);
          for (const n of notes) here(`  ${mermaidText(n)}`);
          here("end note");
        }
      } else {
        here(id === s.key ? id : `state "${mermaidText(s.key)}" as ${id}`);
        for (const n of notes) here(`${id} : ${mermaidText(n)}`);
      }
      if (s.type === "final") here(`${id} --> [*]`);
    }
    for (const a of scoped.get(parent.id) ?? []) {
      here(
        `${mermaidId(a.source)} --> ${mermaidId(a.target)} : ${mermaidText(a.labels.join(", "))}`,
      );
    }
  };
  block(chart.root, 1);
  const everywhere = stateNotes(chart.root);
  if (everywhere.length && chart.root.initial) {
    lines.push(`  note left of ${mermaidId(chart.root.initial)}`, "    in every state:");
    for (const n of everywhere) lines.push(`    ${mermaidText(n)}`);
    lines.push("  end note");
  }
  const current = [...activeIds(opts.current ?? [])];
  if (current.length) {
    lines.push(
      `  classDef current fill:${ACTIVE_FILL},stroke:${ACTIVE_BORDER},stroke-width:3px`,
      `  class ${current.map(mermaidId).join(",")} current`,
    );
  }
  return lines.join("\n") + "\n";
}

function q(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** The node an arrow to or from a state attaches to: compound states attach at their start point. */
function anchor(s: ChartState): string {
  return s.states.length ? `${s.id}.__start` : s.id;
}

/** The chart as a Graphviz DOT digraph. */
export function toDot(chart: Chart, opts: RenderOptions = {}): string {
  const active = activeIds(opts.current ?? []);
  const states = new Map<string, ChartState>();
  const lines = [
    `digraph ${q(chart.id)} {`,
    "  compound=true;",
    "  rankdir=TB;",
    '  fontname="Helvetica";',
    "  fontsize=12;",
    "  labelloc=t;",
    `  label=${q([chart.id, ...everywhere(chart.root)].join("\n"))};`,
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  const block = (parent: ChartState, depth: number) => {
    const pad = "  ".repeat(depth);
    const start = parent.id === "" ? "__start" : `${parent.id}.__start`;
    if (parent.initial) {
      lines.push(`${pad}${q(start)} [shape=point, width=0.12, label=""];`);
      // A compound initial state is entered at its own start point, drawn to its box.
      const first = parent.states.find((s) => s.id === parent.initial);
      const into = first?.states.length ? ` [lhead=${q(`cluster_${first.id}`)}]` : "";
      lines.push(`${pad}${q(start)} -> ${q(first ? anchor(first) : parent.initial)}${into};`);
    } else if (parent.id !== "") {
      lines.push(`${pad}${q(start)} [shape=point, style=invis, width=0.01, label=""];`);
    }
    for (const s of parent.states) {
      states.set(s.id, s);
      const label = [s.key, ...stateNotes(s)].join("\n");
      if (s.states.length) {
        lines.push(`${pad}subgraph ${q(`cluster_${s.id}`)} {`);
        lines.push(`${pad}  label=${q(label)};`);
        lines.push(
          active.has(s.id)
            ? `${pad}  style="rounded,filled"; fillcolor=${q(ACTIVE_CLUSTER_FILL)}; color=${
              q(ACTIVE_BORDER)
            }; penwidth=2;`
            : `${pad}  style=rounded;`,
        );
        block(s, depth + 1);
        lines.push(`${pad}}`);
        continue;
      }
      const attrs = [`label=${q(label)}`];
      if (s.type === "final") attrs.push("peripheries=2");
      if (s.type === "history") attrs.push("shape=circle");
      if (active.has(s.id)) {
        attrs.push(`fillcolor=${q(ACTIVE_FILL)}`, `color=${q(ACTIVE_BORDER)}`, "penwidth=2");
      }
      lines.push(`${pad}${q(s.id)} [${attrs.join(", ")}];`);
    }
  };
  block(chart.root, 1);
  for (const a of arrowsOf(chart)) {
    const from = states.get(a.source)!;
    const to = states.get(a.target)!;
    const attrs = [`label=${q(a.labels.join("\n"))}`];
    if (from.states.length && !isWithin(a.target, from.id)) {
      attrs.push(`ltail=${q(`cluster_${from.id}`)}`);
    }
    if (to.states.length && !isWithin(a.source, to.id)) {
      attrs.push(`lhead=${q(`cluster_${to.id}`)}`);
    }
    if (a.eventless) attrs.push("style=dashed");
    lines.push(`  ${q(anchor(from))} -> ${q(anchor(to))} [${attrs.join(", ")}];`);
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

function everywhere(root: ChartState): string[] {
  const notes = stateNotes(root);
  return notes.length ? [`in every state: ${notes.join(", ")}`] : [];
}
