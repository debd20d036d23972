/**
 * The state machines and their live actors: every machine's chart (Mermaid, DOT or JSON,
 * drawn from the definitions), the actors the transition recorder has seen with their
 * current state, one actor's recent transitions, and a stream of state changes (SSE).
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import { StreamSlots } from "./limits.ts";
import { SseQueue } from "./sse.ts";
import { isMachineKind, MACHINE_KINDS, machineDefinitions } from "../actors/definitions.ts";
import type { MachineKind } from "../actors/definitions.ts";
import type { ActorChange, TransitionRecorder } from "../actors/inspection.ts";
import { allStates, type Chart, chartOf } from "../actors/statechart.ts";
import { CHART_FORMATS, isChartFormat, renderChart } from "../actors/statechart_render.ts";
import { BadRequestError, NotFoundError } from "../model/errors.ts";
import { API_VERSION } from "../model/meta.ts";

/** What the statechart routes read. */
export interface StatechartDeps {
  /** The controller's transition recorder; without one no actor is listed. */
  recorder?: TransitionRecorder;
  /** The controller's open streams; an actor watch takes one while it lasts. */
  streams?: StreamSlots;
}

/** Content types of the chart formats. */
const CONTENT_TYPE = {
  mermaid: "text/vnd.mermaid; charset=utf-8",
  dot: "text/vnd.graphviz; charset=utf-8",
  json: "application/json; charset=utf-8",
};

let cached: Map<MachineKind, Chart> | undefined;

/** Every machine's chart, read once from the definitions. */
export function charts(): Map<MachineKind, Chart> {
  cached ??= new Map([...machineDefinitions()].map(([k, m]) => [k, chartOf(m)]));
  return cached;
}

function chartFor(kind: string): Chart {
  if (!isMachineKind(kind)) {
    throw new NotFoundError(
      `no state machine "${kind}"; the machines are ${MACHINE_KINDS.join(", ")}`,
    );
  }
  return charts().get(kind)!;
}

const isWatch = (c: Context) => c.req.query("watch") === "true" || c.req.query("watch") === "1";

/** The statechart and actor routes. */
export function statechartRoutes(deps: StatechartDeps): Hono {
  const app = new Hono();
  const streams = deps.streams ?? new StreamSlots();

  app.get("/api/v1/statecharts", (c) =>
    c.json({
      kind: "StatechartList",
      apiVersion: API_VERSION,
      formats: CHART_FORMATS,
      items: MACHINE_KINDS.map((kind) => {
        const chart = charts().get(kind)!;
        return { kind, initial: chart.root.initial, states: allStates(chart).map((s) => s.id) };
      }),
    }));

  app.get("/api/v1/statecharts/:kind", (c) => {
    const chart = chartFor(c.req.param("kind"));
    const format = c.req.query("format") ?? "json";
    if (!isChartFormat(format)) {
      throw new BadRequestError(
        `format must be one of ${CHART_FORMATS.join(", ")}, not "${format}"`,
      );
    }
    const current = (c.req.query("current") ?? "").split(",").map((s) => s.trim())
      .filter(Boolean);
    const known = new Set(allStates(chart).map((s) => s.id));
    const unknown = current.filter((s) => !known.has(s));
    if (unknown.length) {
      throw new BadRequestError(
        `the ${chart.id} machine has no state ${unknown.map((s) => `"${s}"`).join(", ")}`,
      );
    }
    c.header("Content-Type", CONTENT_TYPE[format]);
    return c.body(renderChart(chart, format, { current }));
  });

  app.get("/api/v1/actors", (c) => {
    const kind = c.req.query("kind");
    if (kind !== undefined) chartFor(kind);
    const matches = (a: { kind: string }) => kind === undefined || a.kind === kind;
    if (isWatch(c)) return watchActors(c, deps.recorder, matches, streams.acquire());
    const items = (deps.recorder?.list() ?? []).filter(matches);
    return c.json({ kind: "ActorList", apiVersion: API_VERSION, items });
  });

  app.get("/api/v1/actors/:id{.+}", (c) => {
    const id = c.req.param("id");
    const actor = deps.recorder?.get(id);
    if (!actor) {
      throw new NotFoundError(
        `no actor "${id}" was seen (system ids look like pod/<namespace>/<name>, node/<name>, nodepool, supervisor)`,
      );
    }
    return c.json(actor);
  });

  return app;
}

/** SSE: one ADDED per known actor, then ADDED, MODIFIED and DELETED as they happen. */
function watchActors(
  c: Context,
  recorder: TransitionRecorder | undefined,
  matches: (a: { kind: string }) => boolean,
  release: () => void,
) {
  return streamSSE(c, async (stream) => {
    const queue = new SseQueue<ActorChange>((e) => ({
      event: e.type,
      data: JSON.stringify(e.actor),
    }));
    const stop = recorder?.subscribe((change) => {
      if (matches(change.actor)) queue.push(change);
    }, () => queue.end());
    if (stop) queue.onEnd(stop); // a client too far behind stops costing anything at once
    stream.onAbort(() => queue.end());
    // Subscribing and listing happen in one tick, so nothing falls between them.
    for (const actor of recorder?.list() ?? []) {
      if (matches(actor)) queue.push({ type: "ADDED", actor });
    }
    try {
      await queue.pump(stream);
    } finally {
      stop?.();
      release();
    }
  });
}
