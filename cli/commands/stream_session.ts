/**
 * The client side of exec and attach: opens the WebSocket, sends stdin, terminal size and
 * Ctrl-C the way the flags say, prints stdout/stderr and resolves with the remote exit code.
 */
import type { MilpaClient } from "../client.ts";
import type { CliContext, TerminalIO } from "../context.ts";
import { CliError, UsageError } from "../errors.ts";
import {
  CHANNEL,
  decodeFrame,
  encodeFrame,
  parseStatus,
  resizeFrame,
  type StreamStatus,
} from "../../model/stream_frames.ts";

/** The remote command ended with a non-zero exit code: milpactl exits with it, printing nothing. */
export class RemoteExit extends CliError {
  constructor(readonly code: number) {
    super(`the remote command exited with code ${code}`);
  }
}

/** The stream failed (no such unit, the command could not start, the node went away). */
export class StreamError extends CliError {}

/** Exit code after Ctrl-C ended the remote command (128 + SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** Opens a stream's WebSocket; a refused upgrade is asked again as a plain GET to learn why. */
export async function openSocket(client: MilpaClient, pathAndQuery: string): Promise<WebSocket> {
  let ws: WebSocket;
  try {
    ws = client.webSocket(pathAndQuery);
  } catch (err) {
    throw new StreamError(`cannot open ${pathAndQuery}: ${(err as Error).message}`);
  }
  const opened = await new Promise<boolean>((resolve) => {
    ws.addEventListener("open", () => resolve(true), { once: true });
    ws.addEventListener("close", () => resolve(false), { once: true });
  });
  if (opened) return ws;
  // Throws the controller's error (404 no such pod, 409 not running, 403, ...), or cannot reach it.
  await (await client.request("GET", pathAndQuery)).body?.cancel();
  throw new StreamError(`the controller refused the WebSocket of ${pathAndQuery.split("?")[0]}`);
}

/** Options of one exec or attach session. */
export interface SessionOptions {
  stdin: boolean;
  tty: boolean;
}

function terminalOf(ctx: CliContext): TerminalIO {
  if (!ctx.terminal) throw new UsageError("this milpactl cannot stream (no terminal access)");
  return ctx.terminal;
}

/**
 * Runs a session on an open socket until the remote ends it; resolves with the exit code
 * (throws RemoteExit for a non-zero one, StreamError when it failed).
 */
export async function runSession(
  ctx: CliContext,
  ws: WebSocket,
  opts: SessionOptions,
): Promise<void> {
  const term = terminalOf(ctx);
  let status: StreamStatus | undefined;
  let interrupted = false;
  const cleanups: (() => void)[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason }), {
      once: true,
    });
  });
  ws.onmessage = (e) => {
    const frame = decodeFrame(e.data);
    if (!frame) return;
    if (frame.channel === CHANNEL.stdout) ctx.stdout.write(frame.payload);
    else if (frame.channel === CHANNEL.stderr) ctx.stderr.write(frame.payload);
    else if (frame.channel === CHANNEL.status) status = parseStatus(frame.payload);
  };
  const send = (frame: Uint8Array) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(frame);
  };
  if (opts.tty) {
    if (term.isTerminal()) {
      term.setRaw(true);
      cleanups.push(() => term.setRaw(false));
    }
    const resize = () => {
      const size = term.size();
      if (size) send(resizeFrame(size));
    };
    resize();
    cleanups.push(term.onSignal("SIGWINCH", resize));
  } else {
    // Ctrl-C ends the remote command: closing the socket kills it on the node.
    cleanups.push(term.onSignal("SIGINT", () => {
      interrupted = true;
      ws.close(1000, "interrupted");
    }));
  }
  if (opts.stdin) pumpStdin(term.stdin(), send, closed);
  let end: { code: number; reason: string };
  try {
    end = await closed;
  } finally {
    for (const cleanup of cleanups.reverse()) cleanup();
  }
  if (interrupted && !status) throw new RemoteExit(EXIT_INTERRUPTED);
  if (!status) {
    throw new StreamError(
      `the stream ended without an exit status (close code ${end.code}${
        end.reason ? `: ${end.reason}` : ""
      })`,
    );
  }
  if (status.error) {
    if (status.exitCode) {
      ctx.stderr.write(`Error: ${status.error}\n`);
      throw new RemoteExit(status.exitCode);
    }
    throw new StreamError(status.error);
  }
  if (status.exitCode) throw new RemoteExit(status.exitCode);
}

/** Sends stdin as channel 0 frames, then channel 5 at its end; stops when the socket closes. */
async function pumpStdin(
  stdin: ReadableStream<Uint8Array>,
  send: (frame: Uint8Array) => void,
  closed: Promise<unknown>,
): Promise<void> {
  const reader = stdin.getReader();
  let done = false;
  closed.then(() => {
    done = true;
    reader.releaseLock();
  }).catch(() => {});
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done || done) break;
      send(encodeFrame(CHANNEL.stdin, r.value));
    }
    if (!done) send(encodeFrame(CHANNEL.stdinEnd));
  } catch {
    // The socket closed while reading.
  }
}

/** `?a=1&b=2&command=x&command=y`: a query string with repeated keys. */
export function queryString(pairs: [string, string | undefined][]): string {
  const params = new URLSearchParams();
  for (const [k, v] of pairs) if (v !== undefined) params.append(k, v);
  const text = params.toString();
  return text ? `?${text}` : "";
}
