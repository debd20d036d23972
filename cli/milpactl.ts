/**
 * milpactl, the Milpa command line: `deno run -A cli/milpactl.ts ...` (the `milpactl` task).
 * The composition root: builds the real context from Deno and is the only place that exits.
 */
import type { CliContext, Output } from "./context.ts";
import { run } from "./program.ts";
import { packDirectory } from "./pack.ts";

const encoder = new TextEncoder();

function output(file: { writeSync(data: Uint8Array): number }): Output {
  return {
    write(data) {
      let bytes = typeof data === "string" ? encoder.encode(data) : data;
      while (bytes.length) bytes = bytes.subarray(file.writeSync(bytes));
    },
  };
}

/** The context of a real run: the process's streams, environment, files and network. */
export function denoContext(): CliContext {
  return {
    stdout: output(Deno.stdout),
    stderr: output(Deno.stderr),
    env: (name) => Deno.env.get(name) || undefined,
    cwd: Deno.cwd(),
    readTextFile: (path) => Deno.readTextFile(path),
    readStdin: () => new Response(Deno.stdin.readable).text(),
    fetch: globalThis.fetch,
    now: () => Date.now(),
    terminal: {
      stdin: () => Deno.stdin.readable,
      isTerminal: () => Deno.stdin.isTerminal(),
      setRaw: (raw) => Deno.stdin.setRaw(raw),
      size: () => {
        try {
          const { columns, rows } = Deno.consoleSize();
          return { cols: columns, rows };
        } catch {
          return undefined;
        }
      },
      onSignal: (signal, fn) => {
        Deno.addSignalListener(signal, fn);
        return () => Deno.removeSignalListener(signal, fn);
      },
      listen: (port) => Deno.listen({ hostname: "127.0.0.1", port }),
    },
    openFile: async (path) => (await Deno.open(path)).readable,
    packDirectory: (dir) => packDirectory(dir),
  };
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args, denoContext()));
}
