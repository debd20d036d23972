/**
 * Test support: a milpactl context whose controller is a fetch function, with the output it
 * collects. Nothing here is part of milpactl itself.
 */
import { BufferOutput, type CliContext } from "./context.ts";

/** What a test context answers with and reports. */
export interface TestContextOptions {
  /** The controller: every request milpactl makes. */
  fetch: CliContext["fetch"];
  /** @default 2026-01-01T00:00:10Z */
  now?: () => number;
  /** @default "http://milpa:1" */
  endpoint?: string;
  /** @default "tok" */
  token?: string;
}

/** A context that talks to `fetch`, with no files, no stdin and a fixed clock. */
export function testContext(
  opts: TestContextOptions,
): { ctx: CliContext; stdout: BufferOutput; stderr: BufferOutput } {
  const stdout = new BufferOutput();
  const stderr = new BufferOutput();
  const env: Record<string, string> = {
    MILPA_ENDPOINT: opts.endpoint ?? "http://milpa:1",
    MILPA_TOKEN: opts.token ?? "tok",
  };
  const ctx: CliContext = {
    stdout,
    stderr,
    env: (name) => env[name],
    cwd: "/nowhere",
    readTextFile: () => Promise.reject(new Deno.errors.NotFound()),
    readStdin: () => Promise.resolve(""),
    fetch: opts.fetch,
    now: opts.now ?? (() => Date.parse("2026-01-01T00:00:10Z")),
  };
  return { ctx, stdout, stderr };
}
