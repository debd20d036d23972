/**
 * `milpactl explain` pages, read from the manifest schemas (model/validation*) turned into
 * JSON Schema: a kind's or a field's type, description and fields, laid out as kubectl
 * explain lays them out.
 */
import { z } from "zod";
import type { KindInfo } from "../../model/kinds.ts";
import { API_VERSION } from "../../model/meta.ts";
import { manifestSchema } from "../../model/validation.ts";
import { UnknownFieldError, UsageError } from "../errors.ts";
import { didYouMean, nearest } from "../suggest.ts";

/** The part of JSON Schema that zod writes for our schemas. */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
}

/** Kubernetes' names for fields Milpa calls otherwise, to point kubectl users the right way. */
const KUBERNETES_NAMES: Record<string, string> = {
  containers: "units",
  initContainers: "initUnits",
};

/** The JSON Schema of a kind's manifests, as written (before defaults). */
export function kindSchema(kind: KindInfo): JsonSchema {
  const schema = manifestSchema(kind.kind);
  if (!schema) {
    throw new UsageError(
      `${kind.plural} are written by Milpa only, so they have no manifest schema to explain`,
      "explain takes the kinds you write: pods, services, deployments, replicasets, secrets",
    );
  }
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
}

function alternatives(s: JsonSchema): JsonSchema[] | undefined {
  return s.anyOf ?? s.oneOf;
}

/** kubectl's name for a schema's type: `string`, `[]Object`, `map[string]string`, `Object`. */
export function typeName(s: JsonSchema): string {
  const branches = alternatives(s);
  if (branches) return [...new Set(branches.map(typeName))].join(" | ");
  if (Array.isArray(s.type)) return s.type.join(" | ");
  const type = s.type ??
    (s.const !== undefined ? typeof s.const : s.enum ? typeof s.enum[0] : undefined);
  if (type === "array") {
    const item = typeName(s.items ?? {});
    return item.includes(" | ") ? `[](${item})` : `[]${item}`;
  }
  if (type === "object" || type === undefined) {
    const values = s.additionalProperties;
    if (!s.properties && typeof values === "object") return `map[string]${typeName(values)}`;
    return "Object";
  }
  return type;
}

/** The object schema whose fields a schema has: itself, its items', or an alternative's. */
function fieldsHolder(s: JsonSchema): JsonSchema | undefined {
  if (s.properties) return s;
  if (s.items) return fieldsHolder(s.items);
  for (const branch of alternatives(s) ?? []) {
    const holder = fieldsHolder(branch);
    if (holder) return holder;
  }
  return undefined;
}

/** One step of a field path resolved. */
interface Step {
  name: string;
  schema: JsonSchema;
  required: boolean;
}

/**
 * The schema at `fields` (`["spec", "units"]`) under `root`, going through lists.
 * @throws {UnknownFieldError} naming the first field that does not exist, with suggestions.
 */
export function resolveField(kind: KindInfo, root: JsonSchema, fields: string[]): Step[] {
  const steps: Step[] = [];
  let current = root;
  for (const [i, name] of fields.entries()) {
    const holder = fieldsHolder(current);
    const path = [kind.singular, ...fields.slice(0, i)].join(".");
    const child = holder?.properties?.[name];
    if (!holder || !child) {
      const known = Object.keys(holder?.properties ?? {});
      const near = KUBERNETES_NAMES[name] && known.includes(KUBERNETES_NAMES[name])
        ? [KUBERNETES_NAMES[name]]
        : nearest(name, known);
      const suggestion = didYouMean(near);
      throw new UnknownFieldError(
        `field "${name}" does not exist in ${path}` + (suggestion ? `; ${suggestion}` : ""),
        known.length
          ? `fields of ${path}: ${known.join(", ")}`
          : `${path} is ${article(typeName(current))} and has no fields`,
      );
    }
    steps.push({ name, schema: child, required: holder.required?.includes(name) ?? false });
    current = child;
  }
  return steps;
}

function article(type: string): string {
  return /^[aeiouAEIOU]/.test(type) ? `an <${type}>` : `a <${type}>`;
}

/** `text` wrapped to `width` columns, each line indented by `indent` spaces. */
export function wrap(text: string, indent: number, width = 80): string {
  const pad = " ".repeat(indent);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && pad.length + line.length + 1 + word.length > width) {
      lines.push(pad + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(pad + line);
  return lines.join("\n") + "\n";
}

function enumValues(s: JsonSchema): string[] | undefined {
  return s.enum?.map((v) => v === "" ? '""' : String(v));
}

function fieldEntry(name: string, s: JsonSchema, required: boolean): string {
  const values = enumValues(s);
  return `  ${name}\t<${typeName(s)}>${required ? " -required-" : ""}\n` +
    (values ? `  enum: ${values.join(", ")}\n` : "") +
    (s.description ? wrap(s.description, 4) : "    <no description>\n");
}

/** The FIELDS section: each field with its type and description, alphabetically. */
function fieldsSection(s: JsonSchema): string {
  const holder = fieldsHolder(s);
  if (!holder?.properties) return "";
  const names = Object.keys(holder.properties).sort();
  return "\nFIELDS:\n" +
    names.map((name) =>
      fieldEntry(name, holder.properties![name], holder.required?.includes(name) ?? false)
    ).join("\n");
}

/** The field tree under `s`, names and types only, indented 2 spaces a level. */
function recursiveFields(s: JsonSchema, depth = 1): string {
  const holder = fieldsHolder(s);
  if (!holder?.properties) return "";
  return Object.keys(holder.properties).sort().map((name) => {
    const child = holder.properties![name];
    const required = holder.required?.includes(name) ? " -required-" : "";
    return `${"  ".repeat(depth)}${name}\t<${typeName(child)}>${required}\n` +
      recursiveFields(child, depth + 1);
  }).join("");
}

/** What `milpactl explain KIND[.field...]` prints. */
export function explain(kind: KindInfo, fields: string[], recursive = false): string {
  const root = kindSchema(kind);
  const steps = resolveField(kind, root, fields);
  const last = steps.at(-1);
  const schema = last?.schema ?? root;
  let text = `KIND:       ${kind.kind}\nVERSION:    ${API_VERSION}\n\n`;
  if (last) {
    text += `FIELD: ${last.name} <${typeName(schema)}>${last.required ? " -required-" : ""}\n`;
    const values = enumValues(schema);
    if (values) text += `ENUM:\n${values.map((v) => `    ${v}\n`).join("")}`;
    text += "\n";
  }
  text += "DESCRIPTION:\n" + (schema.description ? wrap(schema.description, 4) : "    <empty>\n");
  if (recursive) {
    const tree = recursiveFields(schema);
    return text + (tree ? `\nFIELDS:\n${tree}` : "");
  }
  return text + fieldsSection(schema);
}
