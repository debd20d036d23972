/** The line layout of `describe`: `Key:  value` fields at indentation levels, aligned like kubectl. */
import { age } from "../../api/table/age.ts";
import { tabwrite } from "./tabwriter.ts";

/** Collects `Key:\tvalue` lines at indentation levels; aligned like kubectl (padding 2). */
export class DescribeWriter {
  #lines: string[] = [];

  /** `Key:  value` at a level (two spaces each); a key alone when value is undefined. */
  field(level: number, key: string, value?: string | number | boolean): this {
    const indent = "  ".repeat(level);
    this.#lines.push(
      value === undefined ? `${indent}${key}:` : `${indent}${key}:\t${clean(String(value))}`,
    );
    return this;
  }

  /** A field whose values go one per line (`<none>` when empty). */
  multi(level: number, key: string, values: string[]): this {
    if (!values.length) return this.field(level, key, "<none>");
    this.field(level, key, values[0]);
    for (const v of values.slice(1)) this.#lines.push(`${"  ".repeat(level)}\t${clean(v)}`);
    return this;
  }

  /** A line of raw, already tab-separated cells. */
  raw(line: string): this {
    this.#lines.push(line);
    return this;
  }

  /** The aligned text, ending with a newline. */
  toString(): string {
    return tabwrite(this.#lines.join("\n"), { minWidth: 0, padding: 2 }) + "\n";
  }
}

/** A value on one line: tabs and newlines would break the alignment. */
export function clean(text: string): string {
  return text.replace(/[\t\r\n]+/g, " ");
}

/** A map as sorted `k=v` strings (none for an empty map). */
export function keyValues(map: Record<string, string> | undefined): string[] {
  return Object.keys(map ?? {}).sort().map((k) => `${k}=${map![k]}`);
}

/** A timestamp followed by its age: `2024-05-01T11:50:00Z (10m ago)`. */
export function timeWithAge(timestamp: string | undefined, now: number): string {
  return timestamp ? `${timestamp} (${age(timestamp, now)} ago)` : "<unknown>";
}
