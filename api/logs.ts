/** `GET .../pods/{name}/log`: a unit's log from its node's agent, whole or followed. */
import { Hono } from "hono";
import { stream } from "hono/streaming";
import type { AgentHub } from "../actors/agent_hub.ts";
import { BadRequestError, NotFoundError, UnavailableError } from "../model/errors.ts";
import type { Pod } from "../model/pod.ts";
import { allUnits } from "../model/pod.ts";
import type { ObjectStore } from "../store/object_store.ts";

/** The log route. */
export function logRoutes(deps: { store: ObjectStore; hub: AgentHub }): Hono {
  const app = new Hono();
  app.get("/api/v1/namespaces/:ns/pods/:name/log", async (c) => {
    const name = c.req.param("name");
    const pod = await deps.store.mustGet<Pod>("pods", c.req.param("ns"), name);
    const units = allUnits(pod.spec).map((u) => u.name);
    let unit = c.req.query("unit");
    if (!unit) {
      if (pod.spec.units.length !== 1) {
        throw new BadRequestError(
          `pod "${name}" has ${pod.spec.units.length} units (${
            units.join(", ")
          }): name one with -u`,
        );
      }
      unit = pod.spec.units[0].name;
    }
    if (!units.includes(unit)) {
      throw new NotFoundError(
        `unit "${unit}" not found in pod "${name}"; its units: ${units.join(", ")}`,
      );
    }
    const node = pod.status?.boundNodeName;
    if (!node) {
      throw new UnavailableError(
        `pod "${name}" has no node yet (Pod ${
          pod.status?.phase ?? "Waiting"
        }); try again when it runs`,
      );
    }
    if (!deps.hub.isConnected(node)) {
      throw new UnavailableError(
        `the node of pod "${name}" (${node}) is not connected; its logs cannot be read now`,
      );
    }
    const linesParam = c.req.query("lines");
    const lines = linesParam === undefined ? undefined : Number(linesParam);
    if (lines !== undefined && (!Number.isInteger(lines) || lines < 0)) {
      throw new BadRequestError(`lines must be a non-negative integer, not "${linesParam}"`);
    }
    c.header("Content-Type", "text/plain; charset=utf-8");
    if (c.req.query("follow") !== "true" && c.req.query("follow") !== "1") {
      return c.body(await deps.hub.logs(node, unit, lines));
    }
    return stream(c, async (s) => {
      await new Promise<void>((resolve) => {
        const cancel = deps.hub.followLogs(
          node,
          unit!,
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
