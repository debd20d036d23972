/**
 * Column alignment the way Go's text/tabwriter does it (with padding by spaces, no flags),
 * so tables line up exactly as Milpa's and kubectl's did.
 *
 * Cells end with a tab; the text after a line's last tab is not a cell and is never padded.
 * A column's width is settled per block of consecutive lines that have a cell in it:
 * `max(minWidth, widest cell + padding)`.
 */

/** Tabwriter settings. */
export interface TabwriterOptions {
  /** @default 10 */
  minWidth?: number;
  /** @default 3 */
  padding?: number;
}

/** Milpa's printer settings: min width 10, padding 3. */
export const TABLE_OPTIONS: Required<TabwriterOptions> = { minWidth: 10, padding: 3 };

const SURROGATE = /[\uD800-\uDFFF]/;

/** Display width of a cell (code points, so "é" counts once as in Go). */
function textWidth(text: string): number {
  if (!SURROGATE.test(text)) return text.length; // one code unit per code point
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Aligns tab-separated text, line by line, as Go's tabwriter.Writer would on Flush. */
export function tabwrite(text: string, options: TabwriterOptions = {}): string {
  const minWidth = options.minWidth ?? TABLE_OPTIONS.minWidth;
  const padding = options.padding ?? TABLE_OPTIONS.padding;
  const lines = text.split("\n").map((line) => line.split("\t"));
  const out: string[] = [];
  const widths: number[] = [];

  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i];
      let line = "";
      cells.forEach((cell, j) => {
        line += cell;
        if (j < widths.length && j < cells.length - 1) {
          line += " ".repeat(Math.max(0, widths[j] - textWidth(cell)));
        }
      });
      out.push(line);
    }
  };

  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i].length - 1) continue;
      writeLines(line0, i);
      line0 = i;
      let width = minWidth;
      for (; i < line1 && column < lines[i].length - 1; i++) {
        width = Math.max(width, textWidth(lines[i][column]) + padding);
      }
      widths.push(width);
      format(line0, i);
      widths.pop();
      line0 = i;
    }
    writeLines(line0, line1);
  };

  format(0, lines.length);
  return out.join("\n");
}

/**
 * Aligns rows that arrive one at a time (a watch): each column is as wide as the widest
 * cell seen so far (at least minWidth), so later rows line up with earlier ones as long
 * as they fit.
 */
export class StreamingTable {
  #widths: number[] = [];

  constructor(private readonly options: Required<TabwriterOptions> = TABLE_OPTIONS) {}

  /** Makes the columns at least wide enough for `cells`, without printing anything. */
  widen(cells: string[]): void {
    cells.slice(0, -1).forEach((cell, j) => {
      this.#widths[j] = Math.max(
        this.#widths[j] ?? this.options.minWidth,
        textWidth(cell) + this.options.padding,
      );
    });
  }

  /** One aligned line (with "\n") for a row of cells, widening columns it does not fit. */
  row(cells: string[]): string {
    this.widen(cells);
    const last = cells.length - 1;
    return cells.map((cell, j) =>
      j === last ? cell : cell + " ".repeat(this.#widths[j] - textWidth(cell))
    ).join("") + "\n";
  }
}

const SEPARATOR = /[\t\n]/;

/** Formats rows of cells as an aligned table with Milpa's settings, one "\n" per row. */
export function formatTable(rows: string[][], options: TabwriterOptions = TABLE_OPTIONS): string {
  if (!rows.length) return "";
  const cells = rows[0].length;
  const uniform = rows.every((r) => r.length === cells && !r.some((c) => SEPARATOR.test(c)));
  if (!uniform) return tabwrite(rows.map((r) => r.join("\t")).join("\n"), options) + "\n";
  // Every row has the same cells: each column is one block as wide as its widest cell, which
  // is what tabwrite() settles, without joining and splitting the text (10,000 pods, in a
  // fresh process: 209 → 140 ms).
  const minWidth = options.minWidth ?? TABLE_OPTIONS.minWidth;
  const padding = options.padding ?? TABLE_OPTIONS.padding;
  const widths = new Array<number>(cells - 1).fill(minWidth);
  for (const row of rows) {
    for (let j = 0; j < cells - 1; j++) {
      widths[j] = Math.max(widths[j], textWidth(row[j]) + padding);
    }
  }
  let out = "";
  for (const row of rows) {
    for (let j = 0; j < cells - 1; j++) out += row[j] + " ".repeat(widths[j] - textWidth(row[j]));
    out += row[cells - 1] + "\n";
  }
  return out;
}
