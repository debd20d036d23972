import assert from "node:assert/strict";
import { byCodePoint, SortedNames } from "./sorted_names.ts";

/** Everything a cursor gives from `after`. */
function walk(s: SortedNames, after?: string): string[] {
  const c = s.cursor(after);
  const out: string[] = [];
  for (let n = c.next(); n !== undefined; n = c.next()) out.push(n);
  return out;
}

Deno.test("SortedNames keeps names in code-point order through a seeded walk of adds and deletes across many chunks", () => {
  let seed = 11;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const pool = Array.from({ length: 3_000 }, (_, i) => `pod-${(i * 7919) % 4001}`);
  const live = new Set(pool.slice(0, 700));
  const s = new SortedNames(live);
  for (let step = 0; step < 20_000; step++) {
    const name = pool[random(pool.length)];
    if (live.has(name)) {
      assert.equal(s.delete(name), true);
      live.delete(name);
    } else {
      s.add(name);
      live.add(name);
    }
    if (step % 997 === 0) {
      const want = [...live].sort(byCodePoint);
      assert.deepEqual(s.toArray(), want, `after step ${step}`);
      assert.equal(s.size, want.length);
      // From the middle, from before the first and after the last name.
      const mid = want[want.length >> 1];
      assert.deepEqual(walk(s, mid), want.filter((n) => n > mid));
      assert.deepEqual(walk(s, ""), want);
      assert.deepEqual(walk(s, "\uffff"), []);
    }
  }
  // Repeats change nothing.
  const before = s.toArray();
  s.add(before[0]);
  assert.equal(s.delete("not-there"), false);
  assert.deepEqual(s.toArray(), before);
  assert.equal(s.size, before.length);
});

Deno.test("SortedNames orders by code point (as Kubernetes lists), not by locale", () => {
  const s = new SortedNames(["b", "B", "a", "Z", "é", "e"]);
  assert.deepEqual(s.toArray(), ["B", "Z", "a", "b", "e", "é"]);
  assert.deepEqual(walk(new SortedNames()), []);
  assert.equal(new SortedNames().delete("a"), false);
});

Deno.test("A SortedNames cursor sees names added and deleted while it walks once, never twice", () => {
  const names = Array.from({ length: 2_000 }, (_, i) => `n-${String(i).padStart(5, "0")}`);
  const s = new SortedNames(names);
  const c = s.cursor();
  const seen: string[] = [];
  for (let i = 0; i < 1_000; i++) seen.push(c.next()!);
  assert.equal(seen.at(-1), "n-00999");
  assert.equal(c.remaining(), 1_000);
  // Behind the cursor and ahead of it: the first not seen, the second seen; a deleted one ahead
  // is skipped; deleting the name it stands on does not lose its place.
  s.add("n-00500x");
  s.add("n-01500x");
  s.delete("n-01001");
  s.delete("n-00999");
  assert.equal(c.remaining(), 1_000, "999 names left, and n-01500x");
  for (let n = c.next(); n !== undefined; n = c.next()) seen.push(n);
  assert.equal(new Set(seen).size, seen.length, "none given twice");
  assert.ok(seen.includes("n-01500x"));
  assert.ok(!seen.includes("n-00500x"));
  assert.ok(!seen.includes("n-01001"));
  assert.equal(seen.length, 2_000 - 1 + 1);
  assert.deepEqual(seen, [...seen].sort(byCodePoint));
  assert.equal(c.next(), undefined);
  assert.equal(c.remaining(), 0);
});

Deno.test("SortedNames joins small chunks as names go: churn does not leave a chunk per few names", () => {
  const all = Array.from({ length: 20_000 }, (_, i) => `p-${String(i).padStart(6, "0")}`);
  const s = new SortedNames(all);
  // Delete all but every 100th name: 200 names left, which fit in one chunk.
  for (const [i, n] of all.entries()) if (i % 100 !== 0) s.delete(n);
  assert.equal(s.size, 200);
  assert.deepEqual(s.toArray(), all.filter((_, i) => i % 100 === 0));
  assert.ok(s.chunkCount <= 2, `${s.chunkCount} chunks for 200 names`);
  const c = s.cursor("p-009950");
  assert.equal(c.next(), "p-010000");
  assert.equal(c.remaining(), 99);
});
