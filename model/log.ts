/**
 * The controller's log: one line per record, `<ISO time> <LEVEL> <message> key=value...`, e.g.
 * `2026-12-06T02:15:09.123Z WARN  garbage collection failed error="UnavailableError: ..."`.
 *
 * Errors in fields print as `Name: message` (and their causes); their stack traces only when the
 * level is `debug`. Expected trouble that is retried anyway (a KV write that lost a race, a peer
 * that hung up) goes at `debug`; what an operator should look at goes at `warn` or `error`.
 *
 * `log` is the process's logger, which `main.ts` configures (`--log-level`, `logLevel`); code
 * that takes a `log` option is given it there, tests make their own {@linkcode Logger}.
 * Nothing is written when this module is imported.
 */

import { ConflictError, NotFoundError } from "./errors.ts";

/** The levels, least severe first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** How severe a record is. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Context of a record, printed as `key=value` after the message. */
export type LogFields = Record<string, unknown>;

/** What takes log records: the {@linkcode Logger}, or a test's stand-in. */
export interface Log {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A record at a level chosen at run time (`debug` for an expected error, else `warn`). */
  at(level: LogLevel, message: string, fields?: LogFields): void;
}

/**
 * The level of a failure that is retried anyway: `debug` when it is expected (a write that lost
 * a race with another, `ConflictError`; an object gone meanwhile, `NotFoundError`), else `warn`.
 */
export function retryLevel(error: unknown): LogLevel {
  return error instanceof ConflictError || error instanceof NotFoundError ? "debug" : "warn";
}

/**
 * Whether an error only says that the other end went away (a client that hung up, a stream
 * cancelled, a socket closed during shutdown): routine, worth `debug` at most.
 */
export function isTeardown(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    (error instanceof DOMException && error.name === "AbortError");
}

/** How a {@linkcode Logger} is made. */
export interface LoggerOptions {
  /** The least severe level written. @default "info" */
  level?: LogLevel;
  /** Where each formatted line goes (without its newline). @default standard error */
  write?: (line: string) => void;
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number;
}

/** The level named by `text` (any case), or undefined. */
export function parseLogLevel(text: string): LogLevel | undefined {
  const t = text.trim().toLowerCase();
  if (t === "warning") return "warn";
  return (LOG_LEVELS as readonly string[]).includes(t) ? t as LogLevel : undefined;
}

const SAFE = /^[^\s"=\\]+$/;

/** A value as it appears after `key=`: bare when it can be, else a JSON string. */
function formatValue(value: unknown): string {
  let text: string;
  if (value instanceof Error) text = describeError(value);
  else if (typeof value === "string") text = value;
  else if (value === undefined || value === null || typeof value !== "object") text = String(value);
  else {
    try {
      text = JSON.stringify(value);
    } catch {
      text = String(value);
    }
  }
  return SAFE.test(text) ? text : JSON.stringify(text);
}

/** `Name: message`, then each cause's, joined by `: caused by `. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  for (let e = error; e !== undefined && e !== null && !seen.has(e);) {
    seen.add(e);
    if (e instanceof Error) {
      parts.push(e.message ? `${e.name}: ${e.message}` : e.name);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(": caused by ");
}

/** The stack traces of the errors among the fields, each line indented, or "". */
function stacks(fields: LogFields): string {
  const out: string[] = [];
  for (const v of Object.values(fields)) {
    for (let e: unknown = v, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
      if (e.stack) out.push(...e.stack.split("\n").map((l) => `    ${l.trim()}`));
    }
  }
  return out.length ? `\n${out.join("\n")}` : "";
}

/** One record as its line: time, level, message, then `key=value` pairs (stacks when asked). */
export function formatRecord(
  time: number,
  level: LogLevel,
  message: string,
  fields: LogFields = {},
  withStacks = false,
): string {
  const pairs = Object.entries(fields).filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${formatValue(v)}`).join("");
  const head = `${new Date(time).toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`;
  return `${head}${pairs}${withStacks ? stacks(fields) : ""}`;
}

/** Writes records at or above its level as lines (see the module's description). */
export class Logger implements Log {
  #level: LogLevel;
  readonly #write: (line: string) => void;
  readonly #now: () => number;

  constructor(options: LoggerOptions = {}) {
    this.#level = options.level ?? "info";
    this.#write = options.write ?? ((line) => console.error(line));
    this.#now = options.now ?? Date.now;
  }

  /** The least severe level written. */
  get level(): LogLevel {
    return this.#level;
  }

  set level(level: LogLevel) {
    this.#level = level;
  }

  /** Whether records of `level` are written. */
  enabled(level: LogLevel): boolean {
    return LOG_LEVELS.indexOf(level) >= LOG_LEVELS.indexOf(this.#level);
  }

  /** A record at `level`. */
  at(level: LogLevel, message: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    this.#write(formatRecord(this.#now(), level, message, fields, this.#level === "debug"));
  }

  /** Detail for finding a fault: expected retries, routine teardown. */
  debug(message: string, fields?: LogFields): void {
    this.at("debug", message, fields);
  }

  /** What the controller is doing: start, stop, where it listens. */
  info(message: string, fields?: LogFields): void {
    this.at("info", message, fields);
  }

  /** Something failed and will be retried, or is degraded; worth a look. */
  warn(message: string, fields?: LogFields): void {
    this.at("warn", message, fields);
  }

  /** Something failed that will not fix itself. */
  error(message: string, fields?: LogFields): void {
    this.at("error", message, fields);
  }
}

/** The process's logger (`main.ts` sets its level). */
export const log: Logger = new Logger();
