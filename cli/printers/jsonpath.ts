/**
 * kubectl's `-o jsonpath=TEMPLATE`: literal text, `{EXPR}` actions, `{range EXPR}...{end}`
 * loops and quoted literals (`{"\n"}`, `{'\t'}`). Only this template layer is ours; each
 * JSONPath expression is evaluated by jsonpath-plus.
 *
 * As in kubectl: an expression starting with `.` or `@` reads the current object (the whole
 * value, or the item of the innermost range), `$` the whole value; a missing field prints
 * nothing; several results of one action are joined by spaces; objects and arrays print as
 * compact JSON with sorted keys; text outside actions is printed as it is (escapes such as
 * `\n` work only inside quotes); `\.` in a field name is a literal dot
 * (`{.metadata.labels.app\.kubernetes\.io/name}`).
 */
import { CliError } from "../errors.ts";

/** A template that cannot be parsed or evaluated; the message quotes the template. */
export class TemplateError extends CliError {}

let evaluator: typeof import("jsonpath-plus").JSONPath | undefined;

/**
 * Loads jsonpath-plus, which only `-o jsonpath` needs: imported at every start, it made each
 * milpactl command ~60 ms slower. Call before {@linkcode applyTemplate}.
 */
export async function loadJsonPath(): Promise<void> {
  evaluator ??= (await import("jsonpath-plus")).JSONPath;
}

/** One piece of a parsed template. */
type TemplateNode =
  | { type: "text"; text: string }
  | { type: "path"; path: JsonPathExpr }
  | { type: "range"; path: JsonPathExpr; body: TemplateNode[] };

/** A JSONPath in jsonpath-plus syntax, and whether it starts from the root (`$`). */
interface JsonPathExpr {
  source: string;
  path: string;
  fromRoot: boolean;
}

/** A parsed template, ready to be applied to any number of values. */
export interface JsonPathTemplate {
  source: string;
  nodes: TemplateNode[];
}

const ESCAPES: Record<string, string> = {
  n: "\n",
  t: "\t",
  r: "\r",
  "\\": "\\",
  '"': '"',
  "'": "'",
};

function fail(template: string, problem: string): never {
  throw new TemplateError(`cannot parse jsonpath template "${template}": ${problem}`);
}

/** Index of the `}` closing the action opened at `open`, skipping quoted text. */
function closingBrace(template: string, open: number): number {
  let quote = "";
  for (let i = open + 1; i < template.length; i++) {
    const c = template[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "}") return i;
  }
  return fail(template, `"{" at character ${open + 1} is never closed`);
}

function unquote(template: string, literal: string): string {
  let out = "";
  for (let i = 1; i < literal.length - 1; i++) {
    if (literal[i] !== "\\") {
      out += literal[i];
      continue;
    }
    const escaped = ESCAPES[literal[++i]];
    if (escaped === undefined) fail(template, `unknown escape "\\${literal[i]}" in ${literal}`);
    out += escaped;
  }
  return out;
}

/** Fails unless brackets, parentheses and quotes of an expression pair up. */
function checkBalanced(template: string, expr: string): void {
  const stack: string[] = [];
  const pairs: Record<string, string> = { "]": "[", ")": "(" };
  let quote = "";
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = "";
    } else if (c === '"' || c === "'") quote = c;
    else if (c === "[" || c === "(") stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) {
      fail(template, `unexpected "${c}" in {${expr}}`);
    }
  }
  if (quote) fail(template, `unclosed ${quote} in {${expr}}`);
  if (stack.length) fail(template, `unclosed "${stack.at(-1)}" in {${expr}}`);
}

/** `.a.b\.c` → `.a['b.c']`: kubectl's escaped dots in jsonpath-plus's bracket form. */
function escapedDots(path: string): string {
  if (!path.includes("\\.")) return path;
  return path.replace(
    /\.((?:\\\.|[\w/-])+)/g,
    (segment, name: string) =>
      name.includes("\\.") ? `['${name.replaceAll("\\.", ".")}']` : segment,
  );
}

function parsePath(template: string, expr: string): JsonPathExpr {
  if (!/^[.$@[]/.test(expr)) {
    fail(template, `{${expr}} is not a JSONPath: start it with "." (e.g. {.metadata.name})`);
  }
  checkBalanced(template, expr);
  const fromRoot = expr.startsWith("$");
  const rest = expr[0] === "$" || expr[0] === "@" ? expr.slice(1) : expr;
  return { source: expr, path: "$" + escapedDots(rest === "." ? "" : rest), fromRoot };
}

/** Parses a kubectl jsonpath template; a TemplateError says what is wrong and where. */
export function parseTemplate(template: string): JsonPathTemplate {
  if (!template) {
    throw new TemplateError(
      "jsonpath template is empty: give one, e.g. -o jsonpath='{.metadata.name}'",
    );
  }
  const root: TemplateNode[] = [];
  const open: { body: TemplateNode[]; at: number }[] = [{ body: root, at: -1 }];
  let i = 0;
  while (i < template.length) {
    const brace = template.indexOf("{", i);
    const body = open.at(-1)!.body;
    if (brace < 0) {
      body.push({ type: "text", text: template.slice(i) });
      break;
    }
    if (brace > i) body.push({ type: "text", text: template.slice(i, brace) });
    const close = closingBrace(template, brace);
    const action = template.slice(brace + 1, close).trim();
    const range = /^range(?:\s+(.*))?$/s.exec(action);
    if (!action) fail(template, `empty {} at character ${brace + 1}`);
    else if (range) {
      if (!range[1]) fail(template, `{range} at character ${brace + 1} needs an expression`);
      const node: TemplateNode = {
        type: "range",
        path: parsePath(template, range[1].trim()),
        body: [],
      };
      body.push(node);
      open.push({ body: node.body, at: brace });
    } else if (action === "end") {
      if (open.length === 1) fail(template, `{end} at character ${brace + 1} closes no {range}`);
      open.pop();
    } else if (/^(["']).*\1$/s.test(action) && action.length >= 2) {
      body.push({ type: "text", text: unquote(template, action) });
    } else body.push({ type: "path", path: parsePath(template, action) });
    i = close + 1;
  }
  if (open.length > 1) {
    fail(template, `{range} at character ${open.at(-1)!.at + 1} has no {end}`);
  }
  return { source: template, nodes: root };
}

/** A JSON value with object keys sorted, as Go's json.Marshal writes kubectl's maps. */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.keys(value).sort().map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]),
  );
}

/** One result as kubectl prints it: text as is, objects and arrays as compact JSON. */
function resultText(value: unknown): string {
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object") return JSON.stringify(sortedKeys(value));
  return String(value);
}

function evaluate(template: string, expr: JsonPathExpr, root: unknown, current: unknown) {
  const json = expr.fromRoot ? root : current;
  if (expr.path === "$") return [json];
  if (json === null || typeof json !== "object") return [];
  try {
    if (!evaluator) throw new Error("jsonpath: loadJsonPath() was not awaited first");
    return evaluator({ path: expr.path, json, wrap: true, eval: "safe" }) as unknown[];
  } catch (err) {
    throw new TemplateError(
      `cannot evaluate {${expr.source}} of jsonpath template "${template}": ${
        (err as Error).message.replace(/^jsonPath: /, "")
      }`,
      undefined,
      { cause: err },
    );
  }
}

function render(
  template: string,
  nodes: TemplateNode[],
  root: unknown,
  current: unknown,
): string {
  let out = "";
  for (const node of nodes) {
    if (node.type === "text") out += node.text;
    else if (node.type === "path") {
      out += evaluate(template, node.path, root, current).map(resultText).join(" ");
    } else {
      for (const item of evaluate(template, node.path, root, current)) {
        out += render(template, node.body, root, item);
      }
    }
  }
  return out;
}

/** The text a template gives for a value (an object, or a list with `items`). */
export function applyTemplate(template: JsonPathTemplate, value: unknown): string {
  return render(template.source, template.nodes, value, value);
}
