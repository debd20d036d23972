import assert from "node:assert/strict";
import { EXIT } from "../errors.ts";
import { run } from "../program.ts";
import { contextFor, FakeApi } from "./fake_api.ts";

Deno.test("exec, attach, port-forward and deploy take a pod as pod/NAME and refuse other kinds", async () => {
  const cases = [
    ["exec", "deploy/web", "--", "ls"],
    ["attach", "svc/web"],
    ["port-forward", "rs/web", "8080:80"],
    ["deploy", "node/n1", "site", "site.tgz"],
  ];
  for (const args of cases) {
    const api = new FakeApi();
    const { ctx, stderr } = contextFor(api);
    assert.equal(await run(args, ctx), EXIT.usage, args.join(" "));
    assert.match(
      stderr.text,
      new RegExp(`^Error: ${args[0]} works on pods, not \\w+: "${args[1]}"\\n`),
    );
    assert.equal(api.requests.length, 0);
  }
});
