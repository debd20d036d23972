/**
 * Packs a directory as a gzipped tar stream with the system's `tar` (GNU tar or bsdtar, on
 * every Linux and macOS): it keeps modes, symlinks and long names, streams without a temporary
 * file, and adds no dependency to milpactl. Entries are relative (`./...`), as packages want.
 */

/** Runs `tar -czf - -C dir .`; the stream errors with tar's complaint when it fails. */
export function packDirectory(dir: string, tar = "tar"): ReadableStream<Uint8Array> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(tar, {
      args: ["-czf", "-", "-C", dir, "."],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound
      ? `"${tar}" not found: milpactl packs directories with the system's tar`
      : String(err);
    return new ReadableStream({ start: (c) => c.error(new Error(`cannot pack "${dir}": ${why}`)) });
  }
  const stderr = new Response(child.stderr).text();
  return child.stdout.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      async flush() {
        const status = await child.status;
        if (!status.success) {
          const text = (await stderr).trim().split("\n").slice(0, 3).join("; ");
          throw new Error(`cannot pack "${dir}": tar exited with ${status.code}: ${text}`);
        }
      },
    }),
  );
}
