/**
 * Finding the controller. Each of endpoint and token comes from the first of: the
 * `--endpoint`/`--token` flags, `MILPA_ENDPOINT`/`MILPA_TOKEN`, then a client.yaml file.
 * The file is `$MILPA_HOME/client.yaml` when MILPA_HOME is set (and only that one, so a
 * stray file elsewhere never points milpactl at another controller), else the first of
 * `./.milpa/client.yaml` and `~/.milpa/client.yaml` that exists.
 */
import { join } from "node:path";
import { parse } from "yaml";
import type { CliContext } from "./context.ts";
import { ConfigError } from "./errors.ts";

/** Where to talk to the controller, and where that was learned (for error messages). */
export interface ClientConfig {
  /** Base URL without a trailing slash, e.g. "http://127.0.0.1:54555". */
  endpoint: string;
  token: string;
  /** Where the token came from: "--token", "MILPA_TOKEN" or a file path. */
  tokenSource: string;
}

/** The client.yaml files to look at, in order. */
export function clientConfigPaths(ctx: Pick<CliContext, "env" | "cwd">): string[] {
  const milpaHome = ctx.env("MILPA_HOME");
  if (milpaHome) return [join(milpaHome, "client.yaml")];
  const paths = [join(ctx.cwd, ".milpa", "client.yaml")];
  const home = ctx.env("HOME") ?? ctx.env("USERPROFILE");
  if (home) paths.push(join(home, ".milpa", "client.yaml"));
  return paths;
}

/** Adds `http://` to a bare `host:port` and drops trailing slashes. */
export function normalizeEndpoint(endpoint: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
  return withScheme.replace(/\/+$/, "");
}

interface FileConfig {
  path: string;
  endpoint?: string;
  token?: string;
}

async function readFirstConfigFile(
  ctx: Pick<CliContext, "readTextFile">,
  paths: string[],
): Promise<FileConfig | undefined> {
  for (const path of paths) {
    let text: string;
    try {
      text = await ctx.readTextFile(path);
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) continue;
      throw new ConfigError(`cannot read ${path}: ${(err as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = parse(text);
    } catch (err) {
      throw new ConfigError(`${path}: ${(err as Error).message.split("\n")[0]}`);
    }
    if (doc === null || doc === undefined) return { path };
    if (typeof doc !== "object" || Array.isArray(doc)) {
      throw new ConfigError(`${path}: expected a mapping with "endpoint" and "token"`);
    }
    const { endpoint, token } = doc as Record<string, unknown>;
    return {
      path,
      endpoint: typeof endpoint === "string" && endpoint ? endpoint : undefined,
      token: typeof token === "string" && token ? token : undefined,
    };
  }
  return undefined;
}

const START_HINT = "start the controller with `deno task start` (it writes client.yaml), " +
  "or set MILPA_ENDPOINT and MILPA_TOKEN";

/** Resolves endpoint and token; throws ConfigError saying where it looked when either is missing. */
export async function loadClientConfig(
  ctx: Pick<CliContext, "env" | "cwd" | "readTextFile">,
  flags: { endpoint?: string; token?: string },
): Promise<ClientConfig> {
  let endpoint = flags.endpoint || ctx.env("MILPA_ENDPOINT");
  let token = flags.token || ctx.env("MILPA_TOKEN");
  let tokenSource = flags.token ? "--token" : token ? "MILPA_TOKEN" : "";
  const paths = clientConfigPaths(ctx);
  if (!endpoint || !token) {
    const file = await readFirstConfigFile(ctx, paths);
    if (file) {
      endpoint ||= file.endpoint;
      if (!token && file.token) {
        token = file.token;
        tokenSource = file.path;
      }
    }
    if (!endpoint) {
      throw new ConfigError(
        "no Milpa controller configured: looked at --endpoint, MILPA_ENDPOINT and " +
          paths.join(", "),
        START_HINT,
      );
    }
    if (!token) {
      throw new ConfigError(
        `no token for the controller at ${endpoint}: looked at --token, MILPA_TOKEN and ` +
          paths.join(", "),
        START_HINT,
      );
    }
  }
  return { endpoint: normalizeEndpoint(endpoint), token, tokenSource };
}
