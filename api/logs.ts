/**
 * `GET .../pods/{name}/log`: a unit's log from its node's agent, whole or followed; once the
 * node is gone, the log saved when the node was cleaned.
 */
import { Hono } from "hono";
import { stream } from "hono/streaming";
import type { AgentHub } from "../actors/agent_hub.ts";
import type { Clock } from "../model/clock.ts";
import { BadRequestError, NotFoundError, UnavailableError } from "../model/errors.ts";
import type { Pod } from "../model/pod.ts";
import { allUnits } from "../model/pod.ts";
import type { SavedLogs } from "../store/log_store.ts";
import type { ObjectStore } from "../store/object_store.ts";
import { StreamSlots } from "./limits.ts";

/**
 * Most bytes of followed log text held for a client that reads slower than the unit writes.
 * Past it the follow is cancelled at the agent, the waiting text is dropped and the client
 * gets a last line saying so. (Text always fits an empty queue: one agent message at most.)
 */
export const LOG_FOLLOW_MAX_PENDING_BYTES = 1024 * 1024;

const encoder = new TextEncoder();

/** Hono's text stream (its class is not exported). */
type TextStream = Parameters<Parameters<typeof stream>[1]>[0];

/** The last `n` lines of a text (all of it when n is undefined or 0). */
export function lastLines(text: string, n: number | undefined): string {
  if (!n) return text;
  const trailing = text.endsWith("\n") ? 1 : 0;
  return text.split("\n").slice(-(n + trailing)).join("\n");
}

function unitOf(pod: Pod, asked: string | undefined): string {
  const name = pod.metadata.name;
  const units = allUnits(pod.spec).map((u) => u.name);
  if (!asked) {
    if (pod.spec.units.length !== 1) {
      throw new BadRequestError(
        `pod "${name}" has ${pod.spec.units.length} units (${units.join(", ")}): name one with -u`,
      );
    }
    return pod.spec.units[0].name;
  }
  if (!units.includes(asked)) {
    throw new NotFoundError(
      `unit "${asked}" not found in pod "${name}"; its units: ${units.join(", ")}`,
    );
  }
  return asked;
}

/** The log route; a follow takes one of `streams` (the controller's open streams) while it lasts. */
export function logRoutes(
  deps: {
    store: ObjectStore;
    savedLogs: SavedLogs;
    hub: AgentHub;
    clock: Clock;
    streams?: StreamSlots;
  },
): Hono {
  const app = new Hono();
  const streams = deps.streams ?? new StreamSlots();
  app.get("/api/v1/namespaces/:ns/pods/:name/log", async (c) => {
    const name = c.req.param("name");
    const pod = await deps.store.mustGet<Pod>("pods", c.req.param("ns"), name);
    const unit = unitOf(pod, c.req.query("unit"));
    const linesParam = c.req.query("lines");
    const lines = linesParam === undefined ? undefined : Number(linesParam);
    if (lines !== undefined && (!Number.isInteger(lines) || lines < 0)) {
      throw new BadRequestError(`lines must be a non-negative integer, not "${linesParam}"`);
    }
    c.header("Content-Type", "text/plain; charset=utf-8");
    const node = pod.status?.boundNodeName;
    const savedLog = () =>
      deps.savedLogs.get({
        namespace: pod.metadata.namespace ?? "default",
        pod: name,
        uid: pod.metadata.uid!,
        unit,
      }, deps.clock.now());
    if (!node || !deps.hub.isConnected(node)) {
      const saved = await savedLog();
      if (saved) return c.body(lastLines(saved.text, lines));
      if (!node) {
        throw new UnavailableError(
          `pod "${name}" has no node yet (Pod ${
            pod.status?.phase ?? "Waiting"
          }); try again when it runs`,
        );
      }
      throw new UnavailableError(
        `the node of pod "${name}" (${node}) is not connected and no log was saved; try again shortly`,
      );
    }
    if (c.req.query("follow") !== "true" && c.req.query("follow") !== "1") {
      try {
        return c.body(await deps.hub.logs(node, unit, lines));
      } catch (e) {
        // The node went away while asked: its pod ended and the node was cleaned, which saved
        // the log first (milpactl run asks just then).
        const saved = e instanceof UnavailableError ? await savedLog() : undefined;
        if (!saved) throw e;
        return c.body(lastLines(saved.text, lines));
      }
    }
    const release = streams.acquire();
    return stream(c, async (s) => {
      try {
        await followLog(s, deps.hub, node, unit, lines);
      } finally {
        release();
      }
    });
  });
  return app;
}

/**
 * Streams a followed unit log into `s` until the agent ends it, the client goes away or
 * falls LOG_FOLLOW_MAX_PENDING_BYTES behind. Text is written one chunk at a time, so what
 * waits for a slow client is counted here rather than piling up in the stream.
 */
async function followLog(
  s: TextStream,
  hub: AgentHub,
  node: string,
  unit: string,
  lines: number | undefined,
): Promise<void> {
  let chunks: Uint8Array[] = [];
  let pendingBytes = 0;
  let ended = false;
  let why: string | undefined;
  let wake: (() => void) | undefined;
  const end = (error?: string) => {
    if (ended) return;
    ended = true;
    why = error;
    wake?.();
  };
  const drop = () => {
    chunks = [];
    pendingBytes = 0;
  };
  const cancel = hub.followLogs(node, unit, lines, (text) => {
    if (ended) return;
    const bytes = encoder.encode(text);
    if (chunks.length && pendingBytes + bytes.length > LOG_FOLLOW_MAX_PENDING_BYTES) {
      drop();
      cancel();
      end(
        `this client fell more than ${LOG_FOLLOW_MAX_PENDING_BYTES} bytes behind; ` +
          "follow the log again",
      );
      return;
    }
    chunks.push(bytes);
    pendingBytes += bytes.length;
    wake?.();
  }, end);
  s.onAbort(() => {
    cancel();
    drop();
    end();
  });
  for (;;) {
    const chunk = chunks.shift();
    if (chunk) {
      pendingBytes -= chunk.length;
      await s.write(chunk);
    } else if (ended) break;
    else await new Promise<void>((resolve) => wake = resolve);
    wake = undefined;
  }
  if (why && !s.aborted) await s.write(`\n[log stream ended: ${why}]\n`);
}
