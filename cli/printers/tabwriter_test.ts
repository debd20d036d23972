import assert from "node:assert/strict";
import { formatTable, StreamingTable, tabwrite } from "./tabwriter.ts";

Deno.test("formatTable() pads columns to max(10, widest cell + 3) and never pads the last", () => {
  const text = formatTable([
    ["NAME", "UNITS", "RUNNING", "STATUS", "RESTARTS"],
    ["helloworld", "1", "1", "Pod Running", "0"],
  ]);
  assert.equal(
    text,
    "NAME         UNITS     RUNNING   STATUS        RESTARTS\n" +
      "helloworld   1         1         Pod Running   0\n",
  );
});

Deno.test("formatTable() keeps short columns at the minimum width of 10", () => {
  assert.equal(formatTable([["A", "B"], ["c", "d"]]), "A         B\nc         d\n");
});

Deno.test("formatTable() counts characters, not UTF-8 bytes", () => {
  assert.equal(formatTable([["héllo-wörld", "x"]]), "héllo-wörld   x\n");
});

Deno.test("formatTable() returns nothing for no rows", () => {
  assert.equal(formatTable([]), "");
});

Deno.test("tabwrite() aligns each block of lines that share a column, like Go's tabwriter", () => {
  const out = tabwrite("aaaa\tb\tc\nx\tyyyyyyyyyyyyyyyy\tz\nnocells\np\tq");
  assert.equal(
    out,
    [
      "aaaa      b                  c",
      "x         yyyyyyyyyyyyyyyy   z",
      "nocells",
      "p         q",
    ].join("\n"),
  );
});

Deno.test("tabwrite() with minWidth 0 and padding 2 lays out describe fields", () => {
  const out = tabwrite(
    "Name:\tweb\nLabels:\ta=b\n\tc=d\nUnits:\n  u:\n    Image:\timg\n    Restart Count:\t0",
    { minWidth: 0, padding: 2 },
  );
  assert.equal(
    out,
    [
      "Name:    web",
      "Labels:  a=b",
      "         c=d",
      "Units:",
      "  u:",
      "    Image:          img",
      "    Restart Count:  0",
    ].join("\n"),
  );
});

Deno.test("StreamingTable.row() widens columns for later rows and keeps them wide", () => {
  const t = new StreamingTable();
  assert.equal(t.row(["NAME", "STATUS", "AGE"]), "NAME      STATUS    AGE\n");
  assert.equal(
    t.row(["a-long-pod-name", "Running", "1s"]),
    "a-long-pod-name   Running   1s\n",
  );
  assert.equal(t.row(["b", "Waiting", "2s"]), "b                 Waiting   2s\n");
});

Deno.test("StreamingTable.widen() sizes columns without printing", () => {
  const t = new StreamingTable();
  t.widen(["a-long-pod-name", "Running", "1s"]);
  assert.equal(t.row(["NAME", "STATUS", "AGE"]), "NAME              STATUS    AGE\n");
});

Deno.test("formatTable() lays out rows of equal length as tabwrite() does, and others through it", () => {
  const cells = [
    "",
    "a",
    "pod-1",
    "Running",
    "é",
    "😀x",
    "a-much-longer-cell-than-ten",
    "\t",
    "x\ny",
  ];
  let seed = 7;
  const pick = () => cells[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % cells.length];
  for (let t = 0; t < 200; t++) {
    const width = 1 + t % 5;
    const rows = Array.from(
      { length: 1 + t % 7 },
      (_, i) => Array.from({ length: t % 3 === 0 ? width + i % 2 : width }, pick),
    );
    const expected = tabwrite(rows.map((r) => r.join("\t")).join("\n")) + "\n";
    assert.equal(formatTable(rows), expected, JSON.stringify(rows));
  }
});
