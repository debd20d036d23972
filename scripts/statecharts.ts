/**
 * Writes docs/statecharts/: `<kind>.mmd` (Mermaid) and `<kind>.dot` (Graphviz) for every
 * machine, drawn from the machine definitions, plus a README that shows them all.
 * `--check` writes nothing and fails when a file differs from what the code draws
 * (tests/statecharts_test.ts does the same).
 *
 *   deno run -A scripts/statecharts.ts [--check]
 */
import { MACHINE_KINDS, machineDefinitions } from "../actors/definitions.ts";
import { chartOf } from "../actors/statechart.ts";
import { renderChart } from "../actors/statechart_render.ts";

/** Where the generated files live. */
export const STATECHART_DIR = new URL("../docs/statecharts/", import.meta.url);

const NOTICE = "Generated from the machine definitions by scripts/statecharts.ts; do not edit.";

const TITLES: Record<string, string> = {
  pod: "Pod",
  node: "Node",
  nodepool: "Node pool",
  replicaset: "ReplicaSet",
  deployment: "Deployment",
  service: "Service",
  supervisor: "Supervisor (root)",
};

/** Every generated file by name, with its contents. */
export function generatedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  const defs = machineDefinitions();
  const readme = [
    "# Statecharts",
    "",
    `<!-- ${NOTICE} -->`,
    "",
    "Every machine the controller runs, drawn from its definition. Guards are in brackets,",
    "`done:`/`error:` arrows follow an invoked actor, dashed (DOT) arrows are `always` transitions.",
    "`starts X` is work the state starts when entered and hears the end of by event (`LAUNCHED`,",
    "`DISPATCHED`); an actor restored in that state starts it again. `milpactl statechart KIND [NAME]`",
    "prints the same, and the controller's web view at `/ui` shows where each live actor is.",
    "",
    "Render a DOT file with `dot -Tsvg pod.dot > pod.svg`.",
  ];
  for (const kind of MACHINE_KINDS) {
    const chart = chartOf(defs.get(kind)!);
    const mermaid = renderChart(chart, "mermaid");
    files.set(`${kind}.mmd`, `%% ${NOTICE}\n${mermaid}`);
    files.set(`${kind}.dot`, `// ${NOTICE}\n${renderChart(chart, "dot")}`);
    readme.push(
      "",
      `## ${TITLES[kind] ?? kind}`,
      "",
      `[${kind}.mmd](${kind}.mmd), [${kind}.dot](${kind}.dot)`,
      "",
      "```mermaid",
      mermaid.trimEnd(),
      "```",
    );
  }
  files.set("README.md", readme.join("\n") + "\n");
  return files;
}

/** Names of the files in `dir` that differ from `files` or are missing. */
export async function staleFiles(files: Map<string, string>, dir = STATECHART_DIR) {
  const stale: string[] = [];
  for (const [name, text] of files) {
    const have = await Deno.readTextFile(new URL(name, dir)).catch(() => undefined);
    if (have !== text) stale.push(name);
  }
  return stale;
}

if (import.meta.main) {
  const files = generatedFiles();
  if (Deno.args.includes("--check")) {
    const stale = await staleFiles(files);
    if (stale.length) {
      console.error(`out of date in docs/statecharts: ${stale.join(", ")}`);
      console.error("run: deno run -A scripts/statecharts.ts");
      Deno.exit(1);
    }
    console.log("docs/statecharts is up to date");
  } else {
    await Deno.mkdir(STATECHART_DIR, { recursive: true });
    for (const [name, text] of files) await Deno.writeTextFile(new URL(name, STATECHART_DIR), text);
    console.log(`wrote ${files.size} files to docs/statecharts/`);
  }
}
