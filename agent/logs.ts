/**
 * A unit's log: the last 4096 lines in memory (itzo's ring) plus an append-only file.
 *
 * Text becomes visible one whole line at a time. A partial line (no newline yet) is held per
 * stream until its newline arrives, the stream ends (the unit exited) or it grows past
 * {@linkcode MAX_LINE_CHARS}; so tail() and follow() never show half a line twice.
 */
import { PRIVATE_FILE_MODE } from "./private_files.ts";

/** Lines kept in memory per unit (itzo's ring size). */
export const LOG_RING_LINES = 4096;
/** A partial line longer than this is cut and kept as a line of its own. */
export const MAX_LINE_CHARS = 16 * 1024;

/** Where output came from. */
export type LogStream = "stdout" | "stderr";

/** Takes one run's raw output of one stream. */
export interface LogSink {
  /** Adds a chunk of raw output (UTF-8, possibly split mid-character). */
  write(chunk: Uint8Array): void;
  /** The stream ended: a final partial line becomes a line. */
  end(): void;
}

/** Options of {@linkcode UnitLog}. */
export interface UnitLogOptions {
  /**
   * File the lines are appended to, created private (0600: output may hold the unit's
   * secrets); memory only when absent.
   */
  file?: string;
  /** @default LOG_RING_LINES */
  capacity?: number;
}

interface Follower {
  onText: (text: string) => void;
  onEnd?: () => void;
}

const encoder = new TextEncoder();

/** The log of one unit, across its restarts. */
export class UnitLog {
  readonly capacity: number;
  #ring: string[] = [];
  #start = 0;
  #partial: Record<LogStream, string> = { stdout: "", stderr: "" };
  #followers = new Set<Follower>();
  #file?: Deno.FsFile;
  #closed = false;

  /** Opens (creating, appending) the log file when one is given. */
  constructor(options: UnitLogOptions = {}) {
    this.capacity = options.capacity ?? LOG_RING_LINES;
    if (options.file) {
      this.#file = Deno.openSync(options.file, {
        append: true,
        create: true,
        mode: PRIVATE_FILE_MODE,
      });
    }
  }

  /** Adds text; whole lines are kept, the rest waits for its newline. Ignored once closed. */
  write(stream: LogStream, text: string): void {
    if (this.#closed || text === "") return;
    const parts = (this.#partial[stream] + text).split("\n");
    let partial = parts.pop()!;
    while (partial.length > MAX_LINE_CHARS) {
      parts.push(partial.slice(0, MAX_LINE_CHARS));
      partial = partial.slice(MAX_LINE_CHARS);
    }
    this.#partial[stream] = partial;
    this.#add(parts);
  }

  /** Ends a stream's partial line (or every stream's), keeping it as a whole line. */
  flush(stream?: LogStream): void {
    for (const s of stream ? [stream] : (["stdout", "stderr"] as const)) {
      const partial = this.#partial[s];
      this.#partial[s] = "";
      if (partial !== "") this.#add([partial]);
    }
  }

  /** A sink that decodes one run's raw output of `stream` into this log. */
  sink(stream: LogStream): LogSink {
    const decoder = new TextDecoder();
    return {
      write: (chunk) => this.write(stream, decoder.decode(chunk, { stream: true })),
      end: () => {
        this.write(stream, decoder.decode());
        this.flush(stream);
      },
    };
  }

  /** The last `lines` lines (all kept lines when absent or 0), each ending in a newline. */
  tail(lines?: number): string {
    const count = this.#ring.length;
    const n = lines && lines > 0 ? Math.min(lines, count) : count;
    const out: string[] = [];
    for (let i = count - n; i < count; i++) out.push(this.#ring[(this.#start + i) % count]);
    return out.length ? out.join("\n") + "\n" : "";
  }

  /** Number of lines kept in memory. */
  get lineCount(): number {
    return this.#ring.length;
  }

  /** Calls `onText` with each batch of new lines, and `onEnd` when the log closes. */
  follow(onText: (text: string) => void, onEnd?: () => void): () => void {
    if (this.#closed) {
      onEnd?.();
      return () => {};
    }
    const follower = { onText, onEnd };
    this.#followers.add(follower);
    return () => {
      this.#followers.delete(follower);
    };
  }

  /** Flushes partial lines, ends every follower and closes the file. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
    const followers = [...this.#followers];
    this.#followers.clear();
    for (const f of followers) f.onEnd?.();
    this.#file?.close();
    this.#file = undefined;
  }

  #add(lines: string[]): void {
    if (lines.length === 0) return;
    for (const line of lines) {
      if (this.#ring.length < this.capacity) {
        this.#ring.push(line);
      } else {
        this.#ring[this.#start] = line;
        this.#start = (this.#start + 1) % this.capacity;
      }
    }
    const text = lines.join("\n") + "\n";
    this.#append(text);
    for (const f of [...this.#followers]) f.onText(text);
  }

  #append(text: string): void {
    if (!this.#file) return;
    try {
      const bytes = encoder.encode(text);
      for (let off = 0; off < bytes.length;) off += this.#file.writeSync(bytes.subarray(off));
    } catch {
      // A full or broken disk must not stop the unit; the ring still has the lines.
    }
  }
}
