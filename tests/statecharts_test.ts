/**
 * The statechart exports: docs/statecharts/ matches what the code draws, every Mermaid chart
 * parses with Mermaid's own parser, and `milpactl statechart pod --format dot | dot -Tsvg`
 * renders (for the machine and for a live actor), against a simulated controller.
 */
import assert from "node:assert/strict";
import { MACHINE_KINDS, machineDefinitions } from "../actors/definitions.ts";
import { chartOf } from "../actors/statechart.ts";
import { renderChart } from "../actors/statechart_render.ts";
import { generatedFiles, staleFiles } from "../scripts/statecharts.ts";
import { Workspace } from "./cli_harness.ts";
import { podManifest, startSimCluster } from "./support/sim_cluster.ts";

const hasDot = await new Deno.Command("dot", { args: ["-V"], stdout: "null", stderr: "null" })
  .output().then((o) => o.success, () => false);

/** Mermaid's parser. Mermaid sanitizes labels with DOMPurify, which needs a DOM: stubbed. */
async function mermaidParse(): Promise<(text: string) => Promise<unknown>> {
  const { default: purify } = await import("dompurify");
  Object.assign(purify, { addHook() {}, removeHook() {}, sanitize: (s: string) => s });
  const { default: mermaid } = await import("mermaid");
  return (text) => mermaid.parse(text);
}

/** Pipes `input` through `dot -Tsvg`. */
async function dotSvg(input: string): Promise<{ code: number; svg: string; stderr: string }> {
  const child = new Deno.Command("dot", {
    args: ["-Tsvg"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  const text = new TextDecoder();
  return { code: out.code, svg: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

Deno.test("docs/statecharts matches what the machine definitions draw", async () => {
  const files = generatedFiles();
  for (const kind of MACHINE_KINDS) {
    assert.ok(files.has(`${kind}.mmd`) && files.has(`${kind}.dot`), kind);
  }
  const stale = await staleFiles(files);
  assert.deepEqual(
    stale,
    [],
    `docs/statecharts is out of date (${stale.join(", ")}): run deno run -A scripts/statecharts.ts`,
  );
});

Deno.test("every machine's Mermaid chart parses with Mermaid's parser", async () => {
  const parse = await mermaidParse();
  await assert.rejects(parse("stateDiagram-v2\n  A -->\n"), "a broken chart is refused");
  const defs = machineDefinitions();
  for (const kind of MACHINE_KINDS) {
    const chart = chartOf(defs.get(kind)!);
    const text = renderChart(chart, "mermaid", { current: [chart.root.initial!] });
    await parse(text).catch((e) => assert.fail(`${kind}: ${e.message}\n${text}`));
  }
});

Deno.test({
  name: hasDot
    ? "milpactl statechart pod --format dot | dot -Tsvg renders the machine and a live actor"
    : "milpactl statechart pod --format dot | dot -Tsvg [ignored: graphviz `dot` missing]",
  ignore: !hasDot,
  async fn() {
    const cluster = await startSimCluster();
    const ws = await Workspace.create(cluster.controller.url, cluster.controller.token);
    try {
      const machine = await ws.run(["statechart", "pod", "--format", "dot"]);
      assert.equal(machine.code, 0, machine.stderr);
      assert.match(machine.stdout, /^digraph "pod" \{/);
      const svg = await dotSvg(machine.stdout);
      assert.equal(svg.code, 0, svg.stderr);
      assert.match(svg.svg, /<svg[\s\S]*Waiting[\s\S]*Dispatching[\s\S]*<\/svg>/);
      assert.doesNotMatch(svg.stderr, /syntax error/);

      const created = await cluster.api(
        "POST",
        "/api/v1/namespaces/default/pods",
        podManifest("web"),
      );
      await created.body?.cancel();
      await cluster.waitForPod("web", "Running");
      const live = await ws.run(["statechart", "pod", "web", "--format", "dot"]);
      assert.equal(live.code, 0, live.stderr);
      assert.match(live.stdout, /\/\/ actor pod\/default\/web: Running\.Applied \(active\)/);
      assert.match(
        live.stdout,
        /\/\/ +\S+Z {2}Waiting\.Requesting -> Dispatching {2}on NODE_BOUND/,
      );
      assert.match(live.stdout, /"Running.Applied" \[label="Applied", fillcolor="#ffd54f"/);
      const liveSvg = await dotSvg(live.stdout);
      assert.equal(liveSvg.code, 0, liveSvg.stderr);

      const mermaid = await ws.run(["statechart", "po", "web"]);
      assert.equal(mermaid.code, 0, mermaid.stderr);
      assert.match(mermaid.stdout, /class Running,Running_Applied current/);
      await (await mermaidParse())(mermaid.stdout);

      const json = JSON.parse(
        (await ws.run(["statechart", "pod", "web", "--format", "json"])).stdout,
      );
      assert.equal(json.actor.state, "Running.Applied");
      assert.deepEqual(json.chart.current, ["Running.Applied"]);

      const unknown = await ws.run(["statechart", "events"]);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /no state machine for "events"/);
      const missing = await ws.run(["statechart", "pod", "nope"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no actor "pod\/default\/nope"/);
    } finally {
      await ws.remove();
      await cluster.close();
    }
  },
});
