import assert from "node:assert/strict";
import type { Status } from "../model/api_types.ts";
import { withTestApi } from "./testing.ts";

Deno.test("POST /api/v1/tokens answers 422 naming every bad field, and creates nothing", async () => {
  await withTestApi(async ({ call, tokens, clock }) => {
    const res = await call("POST", "/api/v1/tokens", {
      role: "owner",
      namespace: "Team_A",
      ttlSeconds: -1,
      description: "x".repeat(201),
    });
    const status = await res.json() as Status;
    assert.equal(res.status, 422);
    assert.deepEqual(status.details?.causes?.map((c) => c.field), [
      "role",
      "namespace",
      "ttlSeconds",
      "description",
    ]);
    assert.equal((await call("POST", "/api/v1/tokens", "{not json")).status, 400);
    assert.equal((await tokens.list(clock.now())).length, 0);
  });
});

Deno.test("the token routes create (201, with the token), list (without it) and revoke (404 once gone)", async () => {
  await withTestApi(async ({ call, callAs }) => {
    const res = await call("POST", "/api/v1/tokens", { role: "view", ttlSeconds: 3600 });
    assert.equal(res.status, 201);
    const created = await res.json();
    assert.equal(created.expiresAt, "2026-01-01T01:00:00.000Z");
    assert.equal((await callAs(created.token, "GET", "/version")).status, 200);

    const list = await (await call("GET", "/api/v1/tokens")).json();
    assert.equal(list.kind, "TokenList");
    assert.deepEqual(Object.keys(list.items[0]).sort(), [
      "apiVersion",
      "createdAt",
      "expiresAt",
      "id",
      "kind",
      "role",
    ]);
    assert.equal((await call("DELETE", `/api/v1/tokens/${created.id}`)).status, 200);
    assert.equal((await call("DELETE", `/api/v1/tokens/${created.id}`)).status, 404);
    assert.equal((await callAs(created.token, "GET", "/version")).status, 401);
  });
});
