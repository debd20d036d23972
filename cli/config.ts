/**
 * Finding the controller. Each of endpoint and token comes from the first of: the
 * `--endpoint`/`--token` flags, `MILPA_ENDPOINT`/`MILPA_TOKEN`, then a client.yaml file.
 * The file is `$MILPA_HOME/client.yaml` when MILPA_HOME is set (and only that one, so a
 * stray file elsewhere never points milpactl at another controller), else the first of
 * `./.milpa/client.yaml` and `~/.milpa/client.yaml` that exists.
 *
 * An https controller's certificate is checked against the CA (PEM) in `MILPA_CA_FILE`, else
 * the `certificateAuthority` of the client.yaml that gave the endpoint, besides the system's
 * CAs (with neither, the system's alone).
 */
import { join } from "node:path";
import { parse } from "yaml";
import type { CliContext } from "./context.ts";
import { ConfigError } from "./errors.ts";

/** Where to talk to the controller, and where that was learned (for error messages). */
export interface ClientConfig {
  /** Base URL without a trailing slash, e.g. "https://127.0.0.1:54555". */
  endpoint: string;
  token: string;
  /** Where the token came from: "--token", "MILPA_TOKEN" or a file path. */
  tokenSource: string;
  /** PEM of the CA that issued an https controller's certificate. */
  caCertificate?: string;
  /** Where the CA came from: "MILPA_CA_FILE (<path>)" or a client.yaml path. */
  caSource?: string;
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

/**
 * Adds `https://` to a bare `host:port` (the controller serves https unless `tls.enabled: false`;
 * say `http://` then) and drops trailing slashes.
 */
export function normalizeEndpoint(endpoint: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `https://${endpoint}`;
  return withScheme.replace(/\/+$/, "");
}

interface FileConfig {
  path: string;
  endpoint?: string;
  token?: string;
  certificateAuthority?: string;
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
    const { endpoint, token, certificateAuthority: ca } = doc as Record<string, unknown>;
    if (ca !== undefined && (typeof ca !== "string" || !ca.includes("BEGIN CERTIFICATE"))) {
      throw new ConfigError(`${path}: certificateAuthority must be a PEM certificate`);
    }
    return {
      path,
      endpoint: typeof endpoint === "string" && endpoint ? endpoint : undefined,
      token: typeof token === "string" && token ? token : undefined,
      certificateAuthority: ca,
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
  let ca = await readCaFile(ctx);
  const paths = clientConfigPaths(ctx);
  if (!endpoint || !token) {
    const file = await readFirstConfigFile(ctx, paths);
    if (file) {
      if (!endpoint && file.endpoint && file.certificateAuthority) {
        ca ??= { caCertificate: file.certificateAuthority, caSource: file.path };
      }
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
  return { endpoint: normalizeEndpoint(endpoint), token, tokenSource, ...ca };
}

/** The CA of `MILPA_CA_FILE`, when set; a file that cannot be read is a ConfigError. */
async function readCaFile(
  ctx: Pick<CliContext, "env" | "readTextFile">,
): Promise<Pick<ClientConfig, "caCertificate" | "caSource"> | undefined> {
  const path = ctx.env("MILPA_CA_FILE");
  if (!path) return undefined;
  let pem: string;
  try {
    pem = await ctx.readTextFile(path);
  } catch (err) {
    throw new ConfigError(`cannot read MILPA_CA_FILE ${path}: ${(err as Error).message}`);
  }
  if (!pem.includes("BEGIN CERTIFICATE")) {
    throw new ConfigError(`MILPA_CA_FILE ${path} holds no PEM certificate`);
  }
  return { caCertificate: pem, caSource: `MILPA_CA_FILE (${path})` };
}
