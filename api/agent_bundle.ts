/**
 * The node agent (`GET /agent/v1/agent.js`, for cloud nodes) and milpactl
 * (`GET /agent/v1/milpactl.js`, for pods that drive Milpa) as one JavaScript file each: the
 * file in dist/ when `deno task bundle` made it, else bundled once on first request with the
 * Deno that runs the controller.
 */
const ROOT = new URL("../", import.meta.url);

/** `entry` bundled into one file: `built` (in dist/) when it exists, else bundled now. */
async function bundle(entry: string, built: string): Promise<string> {
  try {
    return await Deno.readTextFile(new URL(built, ROOT));
  } catch { /* not built: bundle now */ }
  const out = await Deno.makeTempFile({ suffix: ".js" });
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform",
        "deno",
        "-o",
        out,
        new URL(entry, ROOT).pathname,
      ],
      cwd: ROOT.pathname,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(`bundling ${entry} failed: ${new TextDecoder().decode(stderr)}`);
    }
    return await Deno.readTextFile(out);
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

/** `make()`, once: a failure is forgotten, so the next call tries again. */
function once(make: () => Promise<string>): () => Promise<string> {
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= make().catch((e) => {
      cached = undefined;
      throw e;
    });
    return cached;
  };
}

/** The agent's source, bundled once per controller. */
export const agentBundle: () => Promise<string> = once(() =>
  bundle("agent/main.ts", "dist/agent.js")
);

/**
 * milpactl as one JavaScript file (no shebang), bundled once per controller, for pods that
 * drive Milpa (`GET /agent/v1/milpactl.js`). `dist/milpactl` when `deno task bundle` made it.
 */
export const milpactlBundle: () => Promise<string> = once(async () =>
  (await bundle("cli/milpactl.ts", "dist/milpactl")).replace(/^#![^\n]*\n/, "")
);

let digest: Promise<string> | undefined;

/** Hex sha256 of the agent's source as served (UTF-8), which nodes that fetch it check. */
export function agentBundleSha256(): Promise<string> {
  digest ??= agentBundle().then(async (text) => {
    const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("");
  }).catch((e) => {
    digest = undefined;
    throw e;
  });
  return digest;
}
