import assert from "node:assert/strict";
import { didYouMean, editDistance, nearest } from "./suggest.ts";

Deno.test("editDistance() counts insertions, deletions, substitutions and swaps as 1 each", () => {
  assert.equal(editDistance("pods", "pods"), 0);
  assert.equal(editDistance("pdos", "pods"), 1);
  assert.equal(editDistance("pod", "pods"), 1);
  assert.equal(editDistance("podss", "pods"), 1);
  assert.equal(editDistance("pads", "pods"), 1);
  assert.equal(editDistance("", "svc"), 3);
  assert.equal(editDistance("deploymnet", "deployment"), 1);
  assert.equal(editDistance("kitten", "sitting"), 3);
});

Deno.test("nearest() returns the closest candidates within a third of the word's length", () => {
  const kinds = ["pods", "po", "nodes", "no", "services", "svc", "deployments", "deploy"];
  assert.deepEqual(nearest("pdos", kinds), ["pods"]);
  assert.deepEqual(nearest("PDOS", kinds), ["pods"]);
  assert.deepEqual(nearest("servcies", kinds), ["services"]);
  assert.deepEqual(nearest("deploymnts", kinds), ["deployments"]);
  assert.deepEqual(nearest("widgets", kinds), []);
  // "xo" is 1 from both "po" and "no": both are offered.
  assert.deepEqual(nearest("xo", kinds), ["po", "no"]);
});

Deno.test("didYouMean() phrases one or several suggestions, and nothing for none", () => {
  assert.equal(didYouMean(["pods"]), 'did you mean "pods"?');
  assert.equal(didYouMean(["po", "no"]), 'did you mean "po" or "no"?');
  assert.equal(didYouMean(["a", "b", "c"]), 'did you mean "a", "b" or "c"?');
  assert.equal(didYouMean([]), undefined);
});
