/**
 * `milpactl token create|list|revoke`: API tokens for users and dashboards (docs/api.md
 * "Tokens"). Only the admin token (the one in client.yaml) may run these.
 */
import { Command } from "commander";
import {
  type ApiToken,
  type ApiTokenRequest,
  type ApiTokenRole,
  type NewApiToken,
  parseApiToken,
} from "../../model/api_token.ts";
import type { MilpaClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import { FLAGS, type OutputFormat } from "../flags.ts";
import { age, shortHumanDuration } from "../../api/table/age.ts";
import { formatObject } from "../printers/output.ts";
import { formatTable } from "../printers/tabwriter.ts";
import { connect, examples, globalsOf } from "./shared.ts";

/** Options of `token create`. */
interface CreateOptions {
  role: ApiTokenRole;
  /** Milliseconds; 0: never expires. */
  ttl: number;
  description?: string;
  output?: OutputFormat;
}

async function json<T>(client: MilpaClient, method: string, path: string, body?: unknown) {
  return await (await client.request(method, path, { body })).json() as T;
}

/** When a token expires, as the list shows it: `23h`, `expired` or `<never>`. */
export function expiresIn(token: ApiToken, now: number): string {
  if (!token.expiresAt) return "<never>";
  const left = Date.parse(token.expiresAt) - now;
  return left > 0 ? shortHumanDuration(left) : "expired";
}

/** The `token list` table. */
export function tokenTable(tokens: ApiToken[], now: number): string {
  return formatTable([
    ["ID", "NAMESPACE", "ROLE", "AGE", "EXPIRES", "DESCRIPTION"],
    ...tokens.map((t) => [
      t.id,
      t.namespace ?? "<all>",
      t.role,
      age(t.createdAt, now),
      expiresIn(t, now),
      t.description ?? "",
    ]),
  ]);
}

function createCommand(ctx: CliContext): Command {
  return new Command("create")
    .summary("create a token and print it (only this once)")
    .description(
      "Create an API token and print it on stdout; the controller keeps only its hash, so it " +
        "cannot be shown again. With -n/--namespace the token works only in that namespace " +
        "(nothing cluster-scoped: no nodes, no lists across namespaces, no web view); without, " +
        "it works in every namespace. A cluster-wide view token also opens the web view at /ui.",
    )
    .addOption(FLAGS.role())
    .addOption(FLAGS.ttl())
    .addOption(FLAGS.description())
    .addOption(FLAGS.output())
    .addHelpText(
      "after",
      examples([
        ["milpactl token create -n team-a --role edit", "read and write in namespace team-a"],
        [
          'milpactl token create --role view --ttl 0 --description "dashboard"',
          "a read-only token for every namespace and /ui that never expires",
        ],
        ["MILPA_TOKEN=$(milpactl token create --role view --ttl 1h) milpactl get pods", "use it"],
      ]),
    )
    .action(async (opts: CreateOptions, cmd: Command) => {
      const globals = globalsOf(cmd);
      const request: ApiTokenRequest = {
        role: opts.role,
        ...(globals.namespace !== undefined ? { namespace: globals.namespace } : {}),
        ...(opts.ttl ? { ttlSeconds: Math.ceil(opts.ttl / 1000) } : {}),
        ...(opts.description ? { description: opts.description } : {}),
      };
      const client = await connect(ctx, globals);
      const created = await json<NewApiToken>(client, "POST", "/api/v1/tokens", request);
      if (opts.output === "json" || opts.output === "yaml") {
        ctx.stdout.write(formatObject(created, opts.output));
        return;
      }
      ctx.stdout.write(`${created.token}\n`);
      const scope = created.namespace ? `namespace "${created.namespace}"` : "every namespace";
      ctx.stderr.write(
        `token ${created.id} created: ${created.role} in ${scope}, expires ` +
          `${created.expiresAt ?? "never"}. It is shown only this once.\n`,
      );
    });
}

function listCommand(ctx: CliContext): Command {
  return new Command("list")
    .alias("ls")
    .summary("list the tokens (never their secrets)")
    .addOption(FLAGS.output())
    .addHelpText("after", examples([["milpactl token list", "every token that has not expired"]]))
    .action(async (opts: { output?: OutputFormat }, cmd: Command) => {
      const client = await connect(ctx, globalsOf(cmd));
      const list = await json<{ items: ApiToken[] }>(client, "GET", "/api/v1/tokens");
      if (opts.output === "json" || opts.output === "yaml") {
        ctx.stdout.write(formatObject(list, opts.output));
        return;
      }
      ctx.stdout.write(tokenTable(list.items, ctx.now()));
    });
}

function revokeCommand(ctx: CliContext): Command {
  return new Command("revoke")
    .summary("revoke tokens: they stop working at once")
    .argument("<id...>", "token ids (as `token list` shows them), or whole tokens")
    .addHelpText("after", examples([["milpactl token revoke 0a1b2c3d4e5f", "revoke one token"]]))
    .action(async (ids: string[], _opts: unknown, cmd: Command) => {
      const client = await connect(ctx, globalsOf(cmd));
      for (const given of ids) {
        const id = parseApiToken(given)?.id ?? given;
        await client.request("DELETE", `/api/v1/tokens/${encodeURIComponent(id)}`);
        ctx.stdout.write(`token/${id} revoked\n`);
      }
    });
}

/** Builds the `token` command and its subcommands. */
export function tokenCommand(ctx: CliContext): Command {
  return new Command("token")
    .summary("create, list and revoke API tokens (admin token only)")
    .description(
      "API tokens let others use this controller with less than the admin token in " +
        "client.yaml: a role (edit: read and write; view: read only, Secrets excepted), one namespace or all, " +
        "and an expiry. Tokens are sent as `Authorization: Bearer <token>` (MILPA_TOKEN or " +
        "--token for milpactl). Only the admin token may create, list or revoke them.",
    )
    .addCommand(createCommand(ctx))
    .addCommand(listCommand(ctx))
    .addCommand(revokeCommand(ctx))
    .addHelpText(
      "after",
      examples([
        ["milpactl token create -n team-a --role edit", "a token for one namespace"],
        ["milpactl token list", "the tokens"],
        ["milpactl token revoke 0a1b2c3d4e5f", "revoke one"],
      ]),
    );
}
