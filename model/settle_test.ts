import assert from "node:assert/strict";
import { settleAll } from "./settle.ts";

Deno.test("settleAll() gives the values in order, or the first error once every promise settled", async () => {
  assert.deepEqual(await settleAll([Promise.resolve(1), Promise.resolve(2)]), [1, 2]);
  let lateDone = false;
  const late = new Promise<number>((r) => setTimeout(() => (lateDone = true, r(3)), 20));
  await assert.rejects(
    settleAll([
      Promise.resolve(1),
      Promise.reject(new Error("first")),
      Promise.reject(new Error("second")),
      late,
    ]),
    /first/,
  );
  assert.equal(lateDone, true, "rejected only after the slow one settled");
});
