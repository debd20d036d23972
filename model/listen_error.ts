/**
 * Start-up errors of listeners: "Address already in use (os error 98)" alone does not say which
 * of the controller's listeners failed, on which address, nor what to change. `listenError()`
 * says all three.
 */
import { MilpaError } from "./errors.ts";

/** A listener the controller could not open: its address is taken, foreign or privileged. */
export class ListenError extends MilpaError {
  constructor(
    message: string,
    /** `host:port` (IPv6 in brackets). */
    readonly address: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What failed to listen, to name it in the error. */
export interface ListenTarget {
  /** Whose listener, e.g. "the API", "the local cloud's DNS server for nodes". */
  what: string;
  hostname: string;
  port: number;
  /** What to change so that this controller gets an address of its own (a sentence). */
  fix: string;
}

function code(error: unknown): string | undefined {
  if (error instanceof Deno.errors.AddrInUse) return "EADDRINUSE";
  if (error instanceof Deno.errors.AddrNotAvailable) return "EADDRNOTAVAIL";
  if (error instanceof Deno.errors.PermissionDenied) return "EACCES";
  const c = (error as { code?: unknown } | null)?.code;
  return typeof c === "string" ? c : undefined;
}

/** `host:port`, with an IPv6 host in brackets. */
export function hostPort(hostname: string, port: number): string {
  return `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
}

/**
 * A {@linkcode ListenError} naming the address, the listener and the fix when `error` is one of
 * a listen that could not have its address (in use, not this machine's, a port below 1024
 * without root); any other error is returned as it is.
 */
export function listenError(error: unknown, target: ListenTarget): unknown {
  const address = hostPort(target.hostname, target.port);
  const head = `Cannot listen on ${address} for ${target.what}`;
  switch (code(error)) {
    case "EADDRINUSE":
      return new ListenError(
        `${head}: the address is in use, by another Milpa controller or another program ` +
          `(\`ss -ltnup 'sport = :${target.port}'\` shows which). ${target.fix}`,
        address,
        { cause: error },
      );
    case "EADDRNOTAVAIL":
      return new ListenError(
        `${head}: ${target.hostname} is not an address of this machine. ${target.fix}`,
        address,
        { cause: error },
      );
    case "EACCES":
      return new ListenError(
        `${head}: permission denied (ports below 1024 need root). ${target.fix}`,
        address,
        { cause: error },
      );
    default:
      return error;
  }
}

/** Runs `open` (a `Deno.serve` or `Deno.listen`), turning its failure into {@linkcode listenError}'s. */
export function listening<T>(open: () => T, target: ListenTarget): T {
  try {
    return open();
  } catch (e) {
    throw listenError(e, target);
  }
}
