import assert from "node:assert/strict";
import { sameData } from "./plain_data.ts";

Deno.test("sameData compares arrays and plain objects by their data, anything else by identity", () => {
  assert.equal(sameData({ Running: "Applied" }, { Running: "Applied" }), true);
  assert.equal(sameData({ Running: "Applied" }, { Running: "Stopping" }), false);
  assert.equal(sameData([{ name: "main", ready: true }], [{ name: "main", ready: true }]), true);
  assert.equal(sameData([{ name: "main" }], [{ name: "main" }, { name: "side" }]), false);
  assert.equal(sameData({ a: 1 }, { a: 1, b: undefined }), false, "a key more");
  assert.equal(sameData([1], { 0: 1 }), false, "an array is not an object");
  assert.equal(sameData("x", "x"), true);
  assert.equal(sameData(null, {}), false);
  assert.equal(sameData(new Date(0), new Date(0)), false, "not plain data: by identity");
});
