import assert from "node:assert/strict";
import { TEST_TOKEN, type TestApi, withTestApi } from "../../api/testing.ts";
import { EXIT } from "../errors.ts";
import { run } from "../program.ts";
import { testContext } from "../testing.ts";

/** Runs milpactl in process against the test API, as `token` (default: the admin token). */
async function milpactl(api: TestApi, args: string[], token = TEST_TOKEN) {
  const { ctx, stdout, stderr } = testContext({
    fetch: (input, init) => Promise.resolve(api.app.request(input as URL, init)),
    now: () => api.clock.now(),
    endpoint: "http://milpa",
    token,
  });
  const code = await run(args, ctx);
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const TOKEN_LINE = /^milpa_([0-9a-f]{12})_[0-9a-f]{64}\n$/;

Deno.test("milpactl token create prints the token once; list shows it without secrets; revoke ends it", async () => {
  await withTestApi(async (api) => {
    const team = await milpactl(api, [
      "token",
      "create",
      "-n",
      "team",
      "--role",
      "edit",
      "--description",
      "team a",
    ]);
    assert.equal(team.code, EXIT.ok, team.stderr);
    const teamId = TOKEN_LINE.exec(team.stdout)![1];
    assert.equal(
      team.stderr,
      `token ${teamId} created: edit in namespace "team", expires 2026-01-02T00:00:00.000Z. ` +
        "It is shown only this once.\n",
    );
    await api.clock.advance(3_600_000);
    const view = await milpactl(api, ["token", "create", "--role", "view", "--ttl", "0"]);
    const viewId = TOKEN_LINE.exec(view.stdout)![1];
    assert.match(view.stderr, /view in every namespace, expires never/);

    const list = await milpactl(api, ["token", "list"]);
    assert.equal(list.code, EXIT.ok, list.stderr);
    assert.equal(
      list.stdout,
      "ID             NAMESPACE   ROLE      AGE       EXPIRES   DESCRIPTION\n" +
        `${teamId}   team        edit      1h        23h       team a\n` +
        `${viewId}   <all>       view      0s        <never>   \n`,
    );
    const asJson = await milpactl(api, ["token", "list", "-o", "json"]);
    const parsed = JSON.parse(asJson.stdout);
    assert.equal(parsed.kind, "TokenList");
    assert.deepEqual(parsed.items.map((t: { id: string }) => t.id), [teamId, viewId]);
    assert.ok(!asJson.stdout.includes(team.stdout.trim()), "no token string in the list");
    assert.doesNotMatch(asJson.stdout, /secret|hash/i);

    // The team token works in its namespace only.
    const token = team.stdout.trim();
    assert.equal((await milpactl(api, ["get", "pods", "-n", "team"], token)).code, EXIT.ok);
    const nodes = await milpactl(api, ["get", "nodes"], token);
    assert.equal(nodes.code, EXIT.api);
    assert.match(nodes.stderr, /cannot read cluster-scoped resources/);
    const manage = await milpactl(api, ["token", "list"], token);
    assert.equal(manage.code, EXIT.api);
    assert.match(manage.stderr, /cannot manage tokens: only the admin token/);

    const revoke = await milpactl(api, ["token", "revoke", token]);
    assert.equal(revoke.stdout, `token/${teamId} revoked\n`);
    const after = await milpactl(api, ["get", "pods", "-n", "team"], token);
    assert.equal(after.code, EXIT.api);
    assert.match(after.stderr, /^Error: Unauthorized: wrong, expired or revoked token/);
    const again = await milpactl(api, ["token", "revoke", teamId]);
    assert.equal(again.code, EXIT.api);
    assert.match(again.stderr, /token "[0-9a-f]{12}" not found/);
  });
});

Deno.test("milpactl token create needs --role and a valid --ttl; --help shows examples", async () => {
  await withTestApi(async (api) => {
    const noRole = await milpactl(api, ["token", "create"]);
    assert.equal(noRole.code, EXIT.usage);
    assert.match(noRole.stderr, /--role/);
    const badTtl = await milpactl(api, ["token", "create", "--role", "view", "--ttl", "5"]);
    assert.equal(badTtl.code, EXIT.usage);
    const badNs = await milpactl(api, ["token", "create", "--role", "view", "-n", "Not_OK"]);
    assert.equal(badNs.code, EXIT.api);
    assert.match(badNs.stderr, /namespace: must be a DNS-1123 label/);
    const help = await milpactl(api, ["token", "create", "--help"]);
    assert.equal(help.code, EXIT.ok);
    assert.match(help.stdout, /Examples:\n {2}# read and write in namespace team-a/);
    assert.equal((await api.tokens.list(api.clock.now())).length, 0);
  });
});

Deno.test("milpactl token create -o json prints the whole answer, token included", async () => {
  await withTestApi(async (api) => {
    const out = await milpactl(api, ["token", "create", "--role", "view", "-o", "json"]);
    const created = JSON.parse(out.stdout);
    assert.equal(created.kind, "Token");
    assert.match(created.token, /^milpa_/);
    assert.equal(created.expiresAt, "2026-01-02T00:00:00.000Z");
  });
});
