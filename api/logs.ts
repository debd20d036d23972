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
import { savedLog } from "../store/log_store.ts";
import type { ObjectStore } from "../store/object_store.ts";

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

/** The log route. */
export function logRoutes(deps: { store: ObjectStore; hub: AgentHub; clock: Clock }): Hono {
  const app = new Hono();
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
    if (!node || !deps.hub.isConnected(node)) {
      const saved = await savedLog(deps.store.kv, {
        namespace: pod.metadata.namespace ?? "default",
        pod: name,
        uid: pod.metadata.uid!,
        unit,
      }, deps.clock.now());
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
      return c.body(await deps.hub.logs(node, unit, lines));
    }
    return stream(c, async (s) => {
      await new Promise<void>((resolve) => {
        const cancel = deps.hub.followLogs(
          node,
          unit,
          lines,
          (text) => void s.write(text),
          (err) => {
            if (err) void s.write(`\n[log stream ended: ${err}]\n`);
            resolve();
          },
        );
        s.onAbort(() => {
          cancel();
          resolve();
        });
      });
    });
  });
  return app;
}
