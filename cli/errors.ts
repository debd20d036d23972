/**
 * The CLI's error classes, the one table that maps them to exit codes, and the one
 * error printer. Commands throw; only `run()` catches, prints and turns errors into codes.
 */
import type { Status } from "../model/api_types.ts";
import { BadRequestError, MilpaError } from "../model/errors.ts";
import type { Output } from "./context.ts";

/** Base class of CLI errors; `hint` is printed on its own line after the message. */
export class CliError extends MilpaError {
  constructor(message: string, readonly hint?: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Bad flags or arguments. */
export class UsageError extends CliError {}

/**
 * A kind Milpa does not have (`get pdos`): kubectl's "the server doesn't have a resource
 * type", which exits 1 as kubectl does; the message suggests the nearest kinds.
 */
export class UnknownKindError extends CliError {}

/** A field that a kind's schema does not have (`explain pod.spec.foo`); exits 1. */
export class UnknownFieldError extends CliError {}

/** A manifest file that cannot be read or parsed; nothing was sent. */
export class ManifestError extends CliError {}

/** No controller endpoint or token could be found, or client.yaml is broken. */
export class ConfigError extends CliError {}

/** The controller did not answer at all (connection refused, DNS failure, ...). */
export class UnreachableError extends CliError {
  constructor(readonly endpoint: string, options?: ErrorOptions) {
    super(
      `cannot reach the Milpa controller at ${endpoint}: is it running? ` +
        "(start it with `deno task start`)",
      undefined,
      options,
    );
  }
}

/**
 * The controller's TLS did not check out (a certificate no given CA vouches for, a name it
 * does not carry), or it speaks the other scheme than the endpoint's.
 */
export class TlsError extends CliError {
  constructor(readonly endpoint: string, message: string, hint: string, options?: ErrorOptions) {
    super(message, hint, options);
  }
}

/**
 * The error for a request that got no answer: TlsError when the TLS handshake failed or the
 * endpoint's scheme is not the one the controller serves, else UnreachableError. Deno's fetch
 * gives these as a TypeError whose cause says which, in words only: so they are read here, once.
 */
export function connectionError(
  config: { endpoint: string; caCertificate?: string; caSource?: string },
  err: unknown,
): Error {
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  const text = cause instanceof Error ? cause.message : String(cause);
  const detail = text.replace(/^.*client error \((Connect|SendRequest)\): /s, "");
  const at = `the Milpa controller at ${config.endpoint}`;
  if (/invalid peer certificate|certificate/i.test(text)) {
    return new TlsError(
      config.endpoint,
      `cannot verify ${at}: ${detail}`,
      config.caCertificate
        ? `its certificate is not one the CA from ${config.caSource} vouches for: is that the ` +
          `CA of this controller (its $MILPA_HOME/ca.crt)? MILPA_CA_FILE names another`
        : "no CA was given for it (certificateAuthority in client.yaml, MILPA_CA_FILE): set " +
          "MILPA_CA_FILE to the controller's $MILPA_HOME/ca.crt",
      { cause: err },
    );
  }
  if (config.endpoint.startsWith("https:") && /InvalidContentType|corrupt message/.test(text)) {
    return new TlsError(
      config.endpoint,
      `${at} does not answer TLS: ${detail}`,
      "it may serve plain http (tls.enabled: false): use an http:// endpoint",
      { cause: err },
    );
  }
  if (config.endpoint.startsWith("http:") && /invalid HTTP version/.test(text)) {
    return new TlsError(
      config.endpoint,
      `${at} does not answer plain http: ${detail}`,
      "it serves https: use an https:// endpoint (the controller's client.yaml has it)",
      { cause: err },
    );
  }
  return new UnreachableError(config.endpoint, { cause: err });
}

/** The controller answered with an error Status. `context` names what the error is about. */
export class ApiError extends CliError {
  constructor(readonly status: Status, readonly context?: string, hint?: string) {
    super(context ? `${context}: ${status.message}` : status.message, hint);
  }

  /** HTTP status code of the answer. */
  get code(): number {
    return this.status.code;
  }

  /** The same error, with `context` (a file and document, an object) in front of the message. */
  withContext(context: string): ApiError {
    return new ApiError(this.status, context, this.hint);
  }
}

/**
 * A rollout that failed or cannot be done as asked: a deployment past its progress deadline,
 * a wait that timed out, pausing what is already paused. Nothing the controller refused.
 */
export class RolloutError extends CliError {}

/**
 * A command that ends with an exit code of its own (`run`: the unit's exit code, 130 when
 * interrupted); the message says why.
 */
export class CommandExit extends CliError {
  constructor(readonly code: number, message: string, hint?: string) {
    super(message, hint);
  }
}

/** Several independent failures of one command (e.g. two of three names not found). */
export class CommandErrors extends CliError {
  constructor(readonly errors: Error[]) {
    super(errors.map((e) => e.message).join("; "));
  }
}

/** Process exit codes. */
export const EXIT = {
  ok: 0,
  /**
   * The controller answered with an error (4xx/5xx), a rollout failed or timed out, or a kind
   * or field is unknown.
   */
  api: 1,
  /** Bad flags or arguments, unreadable or malformed file. */
  usage: 2,
  /** The controller cannot be reached or verified, or no client config was found. */
  unreachable: 3,
} as const;

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;

/** The one error → exit-code table; the first matching class wins. Anything else exits 1. */
const EXIT_CODES: ReadonlyArray<readonly [ErrorClass, number]> = [
  [ApiError, EXIT.api],
  [RolloutError, EXIT.api],
  [UnknownKindError, EXIT.api],
  [UnknownFieldError, EXIT.api],
  [UsageError, EXIT.usage],
  [ManifestError, EXIT.usage],
  [BadRequestError, EXIT.usage],
  [ConfigError, EXIT.unreachable],
  [UnreachableError, EXIT.unreachable],
  [TlsError, EXIT.unreachable],
];

/** The exit code for an error; for CommandErrors, the code of its first error. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof CommandErrors) {
    return err.errors.length ? exitCodeFor(err.errors[0]) : EXIT.api;
  }
  if (err instanceof CommandExit) return err.code;
  for (const [cls, code] of EXIT_CODES) {
    if (err instanceof cls) return code;
  }
  return EXIT.api;
}

/** A cause as the printer lists it: `spec.units[0]: a unit needs an image or a command`. */
function causeText(cause: { field?: string; message: string }): string {
  return cause.field ? `${cause.field}: ${cause.message}` : cause.message;
}

/**
 * The message of an error answer without the causes it repeats: the controller's message ends
 * with every cause, joined by "; ", and the printer lists them one a line instead.
 */
function withoutCauses(message: string, causes: { field?: string; message: string }[]): string {
  const tail = causes.map(causeText).join("; ");
  return causes.length && message.endsWith(tail)
    ? message.slice(0, -tail.length).replace(/[:;]?\s*$/, ":")
    : message;
}

/** The text the error printer writes for an error: `Error: ...` lines, causes, hint. */
export function formatError(err: unknown): string {
  if (err instanceof CommandErrors) return err.errors.map(formatError).join("");
  const causes = err instanceof ApiError ? err.status.details?.causes ?? [] : [];
  const message = err instanceof Error ? err.message : String(err);
  let text = `Error: ${withoutCauses(message, causes)}\n`;
  for (const cause of causes) text += `  * ${causeText(cause)}\n`;
  if (err instanceof CliError && err.hint) {
    text += err.hint.split("\n").map((line) => `  ${line}\n`).join("");
  }
  return text;
}

/** The one error printer: writes the error to `stderr` and returns the exit code for it. */
export function reportError(err: unknown, stderr: Output): number {
  stderr.write(formatError(err));
  return exitCodeFor(err);
}
