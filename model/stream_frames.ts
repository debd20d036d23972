/**
 * Frames of the exec and attach streams (`milpactl exec|attach` ↔ controller ↔ agent), after
 * Kubernetes' channel protocol: every frame is one binary WebSocket message whose first byte
 * is the channel and whose rest is the payload. Port-forward streams carry raw bytes instead,
 * and end with an error as one text frame holding a {@linkcode StreamStatus} JSON.
 */

/** The channels of an exec or attach stream. */
export const CHANNEL = {
  /** Client → process: bytes for its stdin. */
  stdin: 0,
  /** Process → client: its stdout (and, with a terminal, everything it writes). */
  stdout: 1,
  /** Process → client: its stderr (never with a terminal). */
  stderr: 2,
  /** Agent → client, last frame: a StreamStatus JSON. */
  status: 3,
  /** Client → process: a TerminalSize JSON; the terminal's new size. */
  resize: 4,
  /** Client → process, empty: stdin ended (the process's stdin is closed). */
  stdinEnd: 5,
} as const;

/** A channel number. */
export type Channel = typeof CHANNEL[keyof typeof CHANNEL];

/** How a stream ended: the command's exit code, or why there was none. */
export interface StreamStatus {
  /** Exit code of the command; 128 + n when signal n ended it (137 for SIGKILL). */
  exitCode?: number;
  /** Why the stream failed (no such unit, the command could not start, the port is closed). */
  error?: string;
}

/** A terminal's size in characters. */
export interface TerminalSize {
  cols: number;
  rows: number;
}

/** What a stream does. */
export type StreamKind = "exec" | "attach" | "portforward";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One frame: the channel byte followed by the payload (a string is sent as UTF-8). */
export function encodeFrame(channel: Channel, payload: Uint8Array | string = new Uint8Array()) {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  const frame = new Uint8Array(bytes.length + 1);
  frame[0] = channel;
  frame.set(bytes, 1);
  return frame;
}

/** Splits a frame into its channel and payload; undefined for an empty or non-binary frame. */
export function decodeFrame(
  data: unknown,
): { channel: number; payload: Uint8Array } | undefined {
  let bytes: Uint8Array;
  if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
  else if (data instanceof Uint8Array) bytes = data;
  else return undefined;
  if (bytes.length === 0) return undefined;
  return { channel: bytes[0], payload: bytes.subarray(1) };
}

/** The status frame (channel 3). */
export function statusFrame(status: StreamStatus): Uint8Array {
  return encodeFrame(CHANNEL.status, JSON.stringify(status));
}

/** The resize frame (channel 4). */
export function resizeFrame(size: TerminalSize): Uint8Array {
  return encodeFrame(CHANNEL.resize, JSON.stringify(size));
}

/** Parses a status payload; a payload that is none becomes an error status saying so. */
export function parseStatus(payload: Uint8Array | string): StreamStatus {
  const text = typeof payload === "string" ? payload : decoder.decode(payload);
  try {
    const s = JSON.parse(text);
    if (typeof s === "object" && s !== null) {
      const out: StreamStatus = {};
      if (Number.isInteger(s.exitCode)) out.exitCode = s.exitCode;
      if (typeof s.error === "string") out.error = s.error;
      if (out.exitCode !== undefined || out.error !== undefined) return out;
    }
  } catch {
    // Reported below.
  }
  return { error: `bad status frame (${text.length} characters)` };
}

/** Parses a resize payload; undefined unless it holds two positive integers below 65536. */
export function parseResize(payload: Uint8Array): TerminalSize | undefined {
  try {
    const s = JSON.parse(decoder.decode(payload));
    const ok = (n: unknown) => Number.isInteger(n) && (n as number) > 0 && (n as number) < 65536;
    if (ok(s?.cols) && ok(s?.rows)) return { cols: s.cols, rows: s.rows };
  } catch {
    // Not JSON.
  }
  return undefined;
}

/**
 * The code a stream's WebSocket closes with when it failed (its reason says why), for a side
 * that cannot send a status frame; 1000 when it ended normally.
 */
export const CLOSE_STREAM_FAILED = 4500;
