/**
 * Everything a command may touch outside itself. `cli/milpactl.ts` builds the real one from
 * `Deno`; tests build fakes. Commands never use `Deno.*` for I/O directly.
 */

/** Where a command writes; strings are written as UTF-8. */
export interface Output {
  write(data: string | Uint8Array): void;
}

/** The outside world as the CLI sees it. */
export interface CliContext {
  stdout: Output;
  stderr: Output;
  /** An environment variable, or undefined when unset or empty. */
  env(name: string): string | undefined;
  /** Current directory, for `./.milpa/client.yaml`. */
  cwd: string;
  /** Reads a whole file; rejects with `Deno.errors.NotFound` when it does not exist. */
  readTextFile(path: string): Promise<string>;
  /** Reads all of standard input (for `-f -`). */
  readStdin(): Promise<string>;
  fetch: typeof fetch;
  /** Milliseconds since the epoch, for AGE columns. */
  now(): number;
  /** The terminal, signals and sockets of exec, attach and port-forward; absent in tests. */
  terminal?: TerminalIO;
  /** A file's bytes as a stream (`deploy`); rejects with `Deno.errors.NotFound` when missing. */
  openFile?(path: string): Promise<ReadableStream<Uint8Array>>;
  /** A directory as a gzipped tar stream (`run --workdir`); the stream errors when packing fails. */
  packDirectory?(dir: string): ReadableStream<Uint8Array>;
}

/** What the streaming commands (exec, attach, port-forward) use beyond the rest. */
export interface TerminalIO {
  /** Standard input as a stream (read only by commands that send stdin). */
  stdin(): ReadableStream<Uint8Array>;
  /** Whether standard input is a terminal. */
  isTerminal(): boolean;
  /** Puts the terminal in raw mode (or back). */
  setRaw(raw: boolean): void;
  /** The terminal's size, when stdout is one. */
  size(): { cols: number; rows: number } | undefined;
  /** Calls `fn` on the signal until the returned function is called. */
  onSignal(signal: "SIGINT" | "SIGWINCH" | "SIGTERM", fn: () => void): () => void;
  /** Listens on 127.0.0.1:port (0: any free port). */
  listen(port: number): Deno.Listener<Deno.TcpConn>;
}

/** An Output that keeps what was written, for tests. */
export class BufferOutput implements Output {
  #chunks: string[] = [];
  #decoder = new TextDecoder();

  write(data: string | Uint8Array): void {
    this.#chunks.push(typeof data === "string" ? data : this.#decoder.decode(data));
  }

  /** Everything written so far. */
  get text(): string {
    return this.#chunks.join("");
  }
}
