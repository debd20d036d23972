/**
 * Reading `-f` files into documents. The CLI only parses: it checks that each document is
 * an object and leaves validation to the server. Every file is parsed before anything is
 * sent, so a broken file never causes a partial write.
 */
import { parseAllDocuments } from "yaml";
import type { CliContext } from "./context.ts";
import { ManifestError } from "./errors.ts";

/** One object from a manifest file, with where it came from. */
export interface ManifestDocument {
  /** The file as the user named it; "stdin" for `-`. */
  source: string;
  /** 1-based position of the YAML document in the file (empty documents count). */
  document: number;
  /** 1-based position inside a `List` document, when the object came from one. */
  item?: number;
  object: Record<string, unknown>;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  return `a ${typeof value}`;
}

/** `items` of a List document (`kind: List`, `PodList`, ... or a bare JSON array), else undefined. */
function listItems(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) return value;
  if (isObject(value) && typeof value.kind === "string" && value.kind.endsWith("List")) {
    return Array.isArray(value.items) ? value.items : [];
  }
  return undefined;
}

function toDocuments(value: unknown, source: string, document: number): ManifestDocument[] {
  const where = `${source}: document ${document}`;
  const items = listItems(value);
  if (!items) {
    if (!isObject(value)) {
      throw new ManifestError(
        `${where}: expected an object with kind and metadata, got ${typeName(value)}`,
      );
    }
    return [{ source, document, object: value }];
  }
  return items.map((item, i) => {
    if (!isObject(item)) {
      throw new ManifestError(`${where} item ${i + 1}: expected an object, got ${typeName(item)}`);
    }
    return { source, document, item: i + 1, object: item };
  });
}

function tryJson(text: string): { value: unknown } | undefined {
  const trimmed = text.trimStart();
  if (!trimmed.startsWith("{") && !trimmed.startsWith("[")) return undefined;
  try {
    return { value: JSON.parse(text) };
  } catch {
    return undefined; // YAML parsing reports the error with a line and column.
  }
}

/**
 * Parses a YAML (several `---` documents allowed) or JSON manifest. Empty documents are
 * skipped; a syntax error throws ManifestError naming the document, line and column.
 */
export function parseManifest(text: string, source: string): ManifestDocument[] {
  const json = tryJson(text);
  if (json) return toDocuments(json.value, source, 1);
  const docs: ManifestDocument[] = [];
  let n = 0;
  for (const doc of parseAllDocuments(text)) {
    n++;
    const err = doc.errors[0];
    if (err) {
      const [first, ...snippet] = err.message.split("\n");
      throw new ManifestError(
        `${source}: document ${n}: ${first.replace(/:$/, "")}`,
        snippet.join("\n").trim() || undefined,
      );
    }
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (e) {
      throw new ManifestError(`${source}: document ${n}: ${(e as Error).message}`);
    }
    if (value === null || value === undefined) continue;
    docs.push(...toDocuments(value, source, n));
  }
  return docs;
}

/** Reads and parses every file (`-` is stdin), in order; throws before returning anything. */
export async function readManifests(
  ctx: Pick<CliContext, "readTextFile" | "readStdin">,
  files: string[],
): Promise<ManifestDocument[]> {
  const docs: ManifestDocument[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = file === "-" ? await ctx.readStdin() : await ctx.readTextFile(file);
    } catch (err) {
      const reason = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
      throw new ManifestError(`${file}: cannot read: ${reason}`);
    }
    docs.push(...parseManifest(text, file === "-" ? "stdin" : file));
  }
  if (!docs.length) {
    throw new ManifestError(`no objects found in ${files.join(", ")}`);
  }
  return docs;
}

/** `kind` and `metadata.name` of a document, where present. */
export function documentIdentity(doc: ManifestDocument): { kind?: string; name?: string } {
  const kind = typeof doc.object.kind === "string" ? doc.object.kind : undefined;
  const meta = doc.object.metadata;
  const name = isObject(meta) && typeof meta.name === "string" ? meta.name : undefined;
  return { kind, name };
}

/** Names a document in messages: `web.yaml: document 2 (Pod "web")`. */
export function describeDocument(doc: ManifestDocument): string {
  let text = `${doc.source}: document ${doc.document}`;
  if (doc.item !== undefined) text += ` item ${doc.item}`;
  const { kind, name } = documentIdentity(doc);
  if (kind && name) text += ` (${kind} "${name}")`;
  else if (kind) text += ` (${kind})`;
  else if (name) text += ` ("${name}")`;
  return text;
}

function podSpecOf(doc: ManifestDocument): Record<string, unknown> | undefined {
  const { kind } = documentIdentity(doc);
  const spec = doc.object.spec;
  if (!isObject(spec)) return undefined;
  if (kind === "Pod") return spec;
  if (kind === "Deployment" || kind === "ReplicaSet") {
    const template = spec.template;
    return isObject(template) && isObject(template.spec) ? template.spec : undefined;
  }
  return undefined;
}

/** Warnings about a document that the server will reject or misread (not errors). */
export function manifestWarnings(doc: ManifestDocument): string[] {
  const podSpec = podSpecOf(doc);
  if (podSpec && "containers" in podSpec && !("units" in podSpec)) {
    return [
      `${describeDocument(doc)}: has "containers" but no "units": ` +
      `Milpa uses "units", not "containers"`,
    ];
  }
  return [];
}
