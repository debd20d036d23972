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
