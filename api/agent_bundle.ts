/**
 * The node agent as one JavaScript file, for cloud nodes to fetch (`GET /agent/v1/agent.js`):
 * `dist/agent.js` when `deno task bundle` made it, else bundled once on first request with the
 * Deno that runs the controller.
 */
const ROOT = new URL("../", import.meta.url);

let cached: Promise<string> | undefined;

async function bundle(): Promise<string> {
  const built = new URL("dist/agent.js", ROOT);
  try {
    return await Deno.readTextFile(built);
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
        new URL("agent/main.ts", ROOT).pathname,
      ],
      cwd: ROOT.pathname,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(`bundling the agent failed: ${new TextDecoder().decode(stderr)}`);
    }
    return await Deno.readTextFile(out);
  } finally {
    await Deno.remove(out).catch(() => {});
  }
}

/** The agent's source, bundled once per controller. */
export function agentBundle(): Promise<string> {
  cached ??= bundle().catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

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
