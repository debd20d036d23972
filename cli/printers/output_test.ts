import assert from "node:assert/strict";
import { findKind } from "../../model/kinds.ts";
import { listOf, toJson, toYaml } from "./output.ts";

Deno.test("toJson() indents by 4 spaces and ends with a newline", () => {
  assert.equal(
    toJson({ kind: "Pod", metadata: { name: "a" } }),
    '{\n    "kind": "Pod",\n    "metadata": {\n        "name": "a"\n    }\n}\n',
  );
});

Deno.test("toYaml() sorts keys and keeps sequences at their key's indentation", () => {
  assert.equal(
    toYaml({
      kind: "Pod",
      apiVersion: "v1",
      status: { addresses: [{ type: "PublicIP", address: "1.2.3.4" }] },
    }),
    "apiVersion: v1\nkind: Pod\nstatus:\n  addresses:\n  - address: 1.2.3.4\n    type: PublicIP\n",
  );
});

Deno.test("listOf() wraps objects in a <Kind>List", () => {
  assert.deepEqual(listOf(findKind("svc")!, []), {
    kind: "ServiceList",
    apiVersion: "v1",
    metadata: {},
    items: [],
  });
});
