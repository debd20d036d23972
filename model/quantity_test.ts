import assert from "node:assert/strict";
import { ValidationError } from "./errors.ts";
import { cpuCores, formatGiB, GIB, memoryGiB, parseQuantity, volumeGiB } from "./quantity.ts";

Deno.test("parseQuantity() reads plain numbers and decimals", () => {
  assert.equal(parseQuantity("2"), 2);
  assert.equal(parseQuantity("0.4"), 0.4);
  assert.equal(parseQuantity(".5"), 0.5);
  assert.equal(parseQuantity("1."), 1);
  assert.equal(parseQuantity("+3"), 3);
  assert.equal(parseQuantity(0), 0);
  assert.equal(parseQuantity(1.5), 1.5);
});

Deno.test("parseQuantity() reads decimal suffixes", () => {
  assert.equal(parseQuantity("1k"), 1e3);
  assert.equal(parseQuantity("1.5M"), 1.5e6);
  assert.equal(parseQuantity("3G"), 3e9);
  assert.equal(parseQuantity("2T"), 2e12);
  assert.equal(parseQuantity("1P"), 1e15);
  assert.equal(parseQuantity("1E"), 1e18);
  assert.equal(parseQuantity("0.1k"), 100);
});

Deno.test("parseQuantity() reads binary suffixes", () => {
  assert.equal(parseQuantity("1Ki"), 1024);
  assert.equal(parseQuantity("512Mi"), 512 * 2 ** 20);
  assert.equal(parseQuantity("0.4Gi"), 0.4 * GIB);
  assert.equal(parseQuantity("1Ti"), 2 ** 40);
  assert.equal(parseQuantity("1Pi"), 2 ** 50);
  assert.equal(parseQuantity("1Ei"), 2 ** 60);
});

Deno.test("parseQuantity() reads milli, micro, nano and exponents", () => {
  assert.equal(parseQuantity("500m"), 0.5);
  assert.equal(parseQuantity("250m"), 0.25);
  assert.equal(parseQuantity("5u"), 5e-6);
  assert.equal(parseQuantity("7n"), 7e-9);
  assert.equal(parseQuantity("1e3"), 1000);
  assert.equal(parseQuantity("1E3"), 1000);
  assert.equal(parseQuantity("2e-1"), 0.2);
  assert.equal(parseQuantity("1.5e+2"), 150);
});

Deno.test("parseQuantity() throws ValidationError naming the bad input", () => {
  for (
    const bad of ["lots", "", "-1", "1 Gi", "1gi", "Gi", "1Gib", "1.2.3", "0x10", "1e", "1e999"]
  ) {
    assert.throws(() => parseQuantity(bad), (e) => {
      assert.ok(e instanceof ValidationError);
      assert.equal(e.message, `invalid quantity ${JSON.stringify(bad)}`);
      return true;
    }, bad);
  }
  for (const bad of [-1, NaN, Infinity]) {
    assert.throws(() => parseQuantity(bad), ValidationError, String(bad));
  }
});

Deno.test("memoryGiB() converts to GiB, bare numbers being bytes", () => {
  assert.equal(memoryGiB("0.4Gi"), 0.4);
  assert.equal(memoryGiB("512Mi"), 0.5);
  assert.equal(memoryGiB("3Gi"), 3);
  assert.equal(memoryGiB(GIB), 1);
  assert.equal(memoryGiB("1073741824"), 1);
  assert.equal(memoryGiB("1G"), 1e9 / GIB);
});

Deno.test("cpuCores() converts to cores", () => {
  assert.equal(cpuCores("500m"), 0.5);
  assert.equal(cpuCores("2"), 2);
  assert.equal(cpuCores(1), 1);
  assert.equal(cpuCores("0.25"), 0.25);
});

Deno.test("volumeGiB() rounds up to whole GiB", () => {
  assert.equal(volumeGiB("5Gi"), 5);
  assert.equal(volumeGiB("5.5Gi"), 6);
  assert.equal(volumeGiB("1G"), 1);
  assert.equal(volumeGiB("10G"), 10);
  assert.equal(volumeGiB(1), 1);
  assert.throws(() => volumeGiB("big"), ValidationError);
});

Deno.test("formatGiB() prints a quantity parseQuantity() reads back", () => {
  assert.equal(formatGiB(0.5), "0.5Gi");
  assert.equal(formatGiB(2), "2Gi");
  assert.equal(formatGiB(1 / 3), "0.333Gi");
  assert.equal(memoryGiB(formatGiB(0.4)), 0.4);
});
