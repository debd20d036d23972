import assert from "node:assert/strict";
import { ConflictError, NotFoundError, UnavailableError } from "./errors.ts";
import {
  describeError,
  formatRecord,
  isTeardown,
  Logger,
  type LogLevel,
  parseLogLevel,
  retryLevel,
} from "./log.ts";

const T = Date.parse("2026-12-06T02:15:09.123Z");

function capture(level: LogLevel): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: new Logger({ level, write: (l) => lines.push(l), now: () => T }), lines };
}

Deno.test("Logger writes a timestamp, the level and the message, then key=value fields", () => {
  const { logger, lines } = capture("info");
  logger.info("controller listening", { url: "https://127.0.0.1:54555", cloud: "local" });
  logger.warn("node n-1: bad message", { reason: "not JSON", length: 12 });
  assert.deepEqual(lines, [
    "2026-12-06T02:15:09.123Z INFO  controller listening url=https://127.0.0.1:54555 cloud=local",
    '2026-12-06T02:15:09.123Z WARN  node n-1: bad message reason="not JSON" length=12',
  ]);
});

Deno.test("Logger drops records below its level, and its level can change", () => {
  const { logger, lines } = capture("warn");
  logger.debug("d");
  logger.info("i");
  logger.warn("w");
  logger.error("e");
  logger.at("debug", "d2");
  assert.deepEqual(lines.map((l) => l.slice(25)), ["WARN  w", "ERROR e"]);
  logger.level = "debug";
  logger.debug("d3");
  assert.equal(lines.at(-1), "2026-12-06T02:15:09.123Z DEBUG d3");
  assert.equal(logger.enabled("info"), true);
});

Deno.test("Logger prints an error as name and message, its stack only at debug", () => {
  const error = new ConflictError("objects changed", {
    cause: new UnavailableError("kv busy"),
  });
  const info = capture("info");
  info.logger.warn("garbage collection failed", { error });
  assert.deepEqual(info.lines, [
    "2026-12-06T02:15:09.123Z WARN  garbage collection failed " +
    'error="ConflictError: objects changed: caused by UnavailableError: kv busy"',
  ]);
  const debug = capture("debug");
  debug.logger.debug("garbage collection failed", { error });
  const [first, ...rest] = debug.lines[0].split("\n");
  assert.match(first, /DEBUG garbage collection failed error="ConflictError: objects changed/);
  assert.ok(rest.length > 2, "stack lines follow");
  assert.ok(rest.every((l) => l.startsWith("    ")), "indented");
  assert.ok(rest.some((l) => l.includes("log_test.ts")), rest.join("\n"));
});

Deno.test("formatRecord() quotes values with spaces, quotes or '=' and leaves undefined out", () => {
  assert.equal(
    formatRecord(T, "error", "m", { a: "x y", b: 'q"', c: "k=v", d: undefined, e: null, f: [1] }),
    '2026-12-06T02:15:09.123Z ERROR m a="x y" b="q\\"" c="k=v" e=null f=[1]',
  );
  assert.equal(formatRecord(T, "info", "m", { s: "" }), '2026-12-06T02:15:09.123Z INFO  m s=""');
});

Deno.test("describeError() names non-Error values and stops at a cause cycle", () => {
  assert.equal(describeError("plain"), "plain");
  const a = new Error("a");
  a.cause = a;
  assert.equal(describeError(a), "Error: a");
});

Deno.test("parseLogLevel() takes the four levels in any case, and warning", () => {
  assert.equal(parseLogLevel("DEBUG"), "debug");
  assert.equal(parseLogLevel("warning"), "warn");
  assert.equal(parseLogLevel("error"), "error");
  assert.equal(parseLogLevel("verbose"), undefined);
});

Deno.test("retryLevel() is debug for a lost race or a vanished object, warn for the rest", () => {
  assert.equal(retryLevel(new ConflictError("changed")), "debug");
  assert.equal(retryLevel(new NotFoundError("gone")), "debug");
  assert.equal(retryLevel(new UnavailableError("kv down")), "warn");
  assert.equal(retryLevel("text"), "warn");
});

Deno.test("isTeardown() knows a peer that went away from a real failure", () => {
  assert.equal(isTeardown(new Deno.errors.ConnectionReset("reset")), true);
  assert.equal(isTeardown(new Deno.errors.BrokenPipe("pipe")), true);
  assert.equal(isTeardown(new DOMException("aborted", "AbortError")), true);
  assert.equal(isTeardown(new TypeError("x is undefined")), false);
});
