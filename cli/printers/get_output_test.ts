import assert from "node:assert/strict";
import { findKind } from "../../model/kinds.ts";
import type { MilpaObject } from "../../model/meta.ts";
import { deletionFinished, type Pod, type PodPhase } from "../../model/pod.ts";
import { formatGetResult, getFormat, hiddenByDefault, WatchPrinter } from "./get_output.ts";
import { loadJsonPath, TemplateError } from "./jsonpath.ts";

await loadJsonPath();

const POD = findKind("pod")!;
const NOW = Date.parse("2024-05-01T12:00:00Z");

function pod(name: string, phase: PodPhase, deleted = false): Pod {
  return {
    kind: "Pod",
    apiVersion: "v1",
    metadata: {
      name,
      uid: `uid-${name}`,
      creationTimestamp: "2024-05-01T11:57:00Z",
      ...(deleted ? { deletionTimestamp: "2024-05-01T11:59:00Z" } : {}),
    },
    spec: { units: [{ name: "u" }], ...(deleted ? { phase: "Terminated" as const } : {}) },
    status: { phase },
  };
}

Deno.test("deletionFinished() is true only for a deleted pod that has ended", () => {
  assert.equal(deletionFinished(pod("a", "Terminated", true)), true);
  assert.equal(deletionFinished(pod("a", "Succeeded", true)), true);
  assert.equal(deletionFinished(pod("a", "Running", true)), false, "still draining or stopping");
  assert.equal(deletionFinished(pod("a", "Failed")), false, "ended on its own");
  assert.equal(deletionFinished(pod("a", "Terminated")), false, "its node was lost");
  assert.equal(hiddenByDefault(findKind("node")!, pod("a", "Terminated", true)), false);
});

Deno.test("getFormat() parses -o values, and a jsonpath template at once", () => {
  assert.deepEqual(getFormat(undefined), { type: "table", wide: false });
  assert.deepEqual(getFormat("wide"), { type: "table", wide: true });
  assert.deepEqual(getFormat("name"), { type: "name" });
  assert.equal(getFormat("jsonpath={.kind}").type, "jsonpath");
  assert.throws(() => getFormat("jsonpath={.kind"), TemplateError);
  assert.throws(() => getFormat("jsonpath="), TemplateError);
});

Deno.test("formatGetResult() applies a jsonpath template to the value -o json prints", () => {
  const objects = [pod("web", "Running"), pod("db", "Waiting")];
  const list = { kind: "PodList", apiVersion: "v1", metadata: {}, items: objects };
  const format = getFormat(
    "jsonpath={range .items[*]}{.metadata.name}={.status.phase}{'\\n'}{end}",
  );
  const result = { kind: POD, objects, value: list, headerWhenEmpty: true };
  assert.equal(formatGetResult(format, result, { now: NOW }), "web=Running\ndb=Waiting\n");
  const one = { ...result, objects: [objects[0]], value: objects[0] };
  assert.equal(formatGetResult(getFormat("jsonpath={.kind}"), one, { now: NOW }), "Pod");
  const none = { ...result, objects: [], value: undefined, headerWhenEmpty: false };
  assert.equal(formatGetResult(getFormat("jsonpath={.kind}"), none, { now: NOW }), "");
});

Deno.test("formatGetResult() prints names, JSON and tables, a header alone for an empty list", () => {
  const objects = [pod("web", "Running")];
  const result = { kind: POD, objects, value: objects[0], headerWhenEmpty: false };
  assert.equal(formatGetResult(getFormat("name"), result, { now: NOW }), "pod/web\n");
  assert.equal(JSON.parse(formatGetResult(getFormat("json"), result, { now: NOW })).kind, "Pod");
  assert.match(formatGetResult(getFormat(undefined), result, { now: NOW }), /^NAME .*\nweb /);
  const empty = { kind: POD, objects: [], value: undefined };
  const table = getFormat(undefined);
  assert.match(
    formatGetResult(table, { ...empty, headerWhenEmpty: true }, { now: NOW }),
    /^NAME +UNITS .*AGE\n$/,
  );
  assert.equal(formatGetResult(table, { ...empty, headerWhenEmpty: false }, { now: NOW }), "");
});

/** The lines a watch prints for these events. */
function watchLines(events: MilpaObject[], showAll = false): string[] {
  const printer = new WatchPrinter(getFormat("name"), POD, { now: NOW }, showAll);
  return events.map((e) => printer.event(e, NOW)).join("").split("\n").filter((l) => l);
}

Deno.test("WatchPrinter shows a deleted pod end once, and never one that ended before", () => {
  const events = [
    pod("old", "Terminated", true), // ended before the watch: left out
    pod("web", "Running"),
    pod("web", "Running", true), // draining
    pod("web", "Terminated", true), // the end: shown once
    pod("web", "Terminated", true), // the purge's DELETED event: left out
    pod("job", "Succeeded"), // ended on its own: shown
  ];
  assert.deepEqual(watchLines(events), ["pod/web", "pod/web", "pod/web", "pod/job"]);
  assert.equal(watchLines(events, true).length, 6);
});

Deno.test("WatchPrinter applies a jsonpath template to each object", () => {
  const printer = new WatchPrinter(getFormat("jsonpath={.metadata.name}{'\\n'}"), POD, {
    now: NOW,
  });
  assert.equal(
    printer.event(pod("a", "Running"), NOW) + printer.event(pod("b", "Running"), NOW),
    "a\nb\n",
  );
});

Deno.test("WatchPrinter aligns table rows under one header", () => {
  const printer = new WatchPrinter(getFormat(undefined), POD, { now: NOW });
  const text = printer.event(pod("web", "Waiting"), NOW) +
    printer.event(pod("web", "Running"), NOW);
  const lines = text.trimEnd().split("\n");
  assert.equal(lines.length, 3);
  assert.equal(lines[0].indexOf("STATUS"), lines[1].indexOf("Waiting"));
  assert.equal(lines[0].indexOf("STATUS"), lines[2].indexOf("Running"));
});
