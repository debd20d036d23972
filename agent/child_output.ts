/**
 * Delivers a child process's stdout and stderr to a unit launch as it arrives, and drains it
 * once the process exited: output still in the pipes is read for up to a second (a
 * grandchild may hold them open), then the streams are cancelled. Also holds a unit's stdin
 * pipe open for its run (`keepStdin`).
 */
import type { UnitLaunch, UnitStdin } from "./unit_runtime.ts";

/** How long output may still arrive after the process exited (a grandchild holding the pipe). */
const OUTPUT_DRAIN_MS = 1_000;

interface Pump {
  reader: ReadableStreamDefaultReader<Uint8Array>;
  done: Promise<void>;
}

/**
 * Starts pumping a piped child's output into `launch`; returns the function to call once the
 * child exited, which resolves when the output was delivered (or given up on).
 */
export function pipeOutput(
  child: Deno.ChildProcess,
  launch: Pick<UnitLaunch, "onStdout" | "onStderr">,
): () => Promise<void> {
  const pumps = [
    pump(child.stdout.getReader(), launch.onStdout),
    pump(child.stderr.getReader(), launch.onStderr),
  ];
  return () => drain(pumps);
}

function pump(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  onChunk: (chunk: Uint8Array) => void,
): Pump {
  const done = (async () => {
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) onChunk(r.value);
    } catch {
      // The stream was cancelled after the drain period, or the pipe broke: output ends here.
    }
  })();
  return { reader, done };
}

/** Waits for the output streams to end, at most OUTPUT_DRAIN_MS, then cancels them. */
async function drain(pumps: Pump[]): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => timer = setTimeout(resolve, OUTPUT_DRAIN_MS));
  const done = pumps.map((p) => p.done);
  await Promise.race([Promise.all(done), timeout]);
  clearTimeout(timer);
  await Promise.all(pumps.map((p) => p.reader.cancel().catch(() => {})));
  await Promise.all(done);
}

/**
 * The writer of a piped child's stdin, kept open until `close()` (call it once the child
 * exited). Writes go in call order; a write that fails (the child closed its stdin) is dropped.
 */
export function keepStdin(child: Deno.ChildProcess): UnitStdin & { close(): Promise<void> } {
  const writer = child.stdin.getWriter();
  let open = true;
  let queue = Promise.resolve();
  return {
    write(bytes) {
      const chunk = bytes.slice();
      queue = queue.then(() => open ? writer.write(chunk) : undefined).catch(() => {});
      return queue;
    },
    close() {
      open = false;
      queue = queue.then(() => writer.close()).catch(() => {});
      return queue;
    },
  };
}
