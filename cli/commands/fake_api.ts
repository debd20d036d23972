/**
 * An in-memory controller API for in-process command tests: objects kept by kind, namespace
 * and name; lists (with `labelSelector`), gets, updates and deletes them as docs/api.md says;
 * serves pods' logs; records every request. Not a mock of call order: commands see state.
 */
import type { Status } from "../../model/api_types.ts";
import { hasTable, objectTable } from "../../api/table/rows.ts";
import type { Node } from "../../model/node.ts";
import { findKind } from "../../model/kinds.ts";
import type { MilpaObject } from "../../model/meta.ts";
import { matchesSelector, parseSelectorString } from "../../model/selector.ts";
import type { BufferOutput, CliContext } from "../context.ts";
import { testContext } from "../testing.ts";

/** A request the fake received. */
export interface FakeRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** Its Accept header, if any. */
  accept?: string;
}

/** The time of contextFor()'s contexts. */
export const FAKE_NOW = Date.parse("2026-01-01T00:01:00Z");

function status(code: number, reason: string, message: string): Response {
  const body: Status = {
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code,
    reason,
    message,
  };
  return Response.json(body, { status: code });
}

/** The fake controller. */
export class FakeApi {
  readonly requests: FakeRequest[] = [];
  readonly #objects = new Map<string, MilpaObject>();
  readonly #logs = new Map<string, string>();

  /**
   * `tables`: a list asked for as a Table is answered with one (cells at FAKE_NOW), as the
   * controller answers; without, with the objects, as a controller that makes no tables.
   */
  constructor(private readonly options: { tables?: boolean } = {}) {}

  /** Adds objects of a kind (its plural: "pods"); returns this. */
  with(plural: string, ...objects: MilpaObject[]): this {
    for (const o of objects) {
      this.#objects.set(this.#key(plural, o.metadata.namespace, o.metadata.name), o);
    }
    return this;
  }

  /** Sets the log text of a pod (`namespace/name`); returns this. */
  withLog(pod: string, text: string): this {
    this.#logs.set(pod, text);
    return this;
  }

  /** The stored object, if any. */
  get(plural: string, namespace: string | undefined, name: string): MilpaObject | undefined {
    return this.#objects.get(this.#key(plural, namespace, name));
  }

  #key(plural: string, namespace: string | undefined, name: string): string {
    return `${plural}/${findKind(plural)!.namespaced ? namespace ?? "default" : ""}/${name}`;
  }

  /** A `fetch` that answers as the controller would. */
  readonly fetch: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const accept = request.headers.get("accept") ?? undefined;
    this.requests.push({
      method: request.method,
      path: url.pathname,
      query: url.searchParams,
      accept,
    });
    const parts = url.pathname.replace(/^\/api\/v1\//, "").split("/").map(decodeURIComponent);
    const namespace = parts[0] === "namespaces" ? parts[1] : undefined;
    const [plural, name, sub] = parts[0] === "namespaces" ? parts.slice(2) : parts;
    const kind = findKind(plural ?? "");
    if (!kind) return status(404, "NotFound", `no route ${url.pathname}`);
    if (!name) {
      const list = this.#list(plural, namespace, url.searchParams.get("labelSelector"));
      if (!this.options.tables || !accept?.includes("as=Table") || !hasTable(kind.kind)) {
        return Response.json(list);
      }
      const wide = url.searchParams.get("wide") === "true";
      const nodes = new Map(
        this.#list("nodes", undefined, null).items.map((n) => [n.metadata.name, n as Node]),
      );
      return Response.json(objectTable(kind.kind, list.items, { now: FAKE_NOW, wide, nodes }));
    }
    const key = this.#key(plural, namespace, name);
    const found = this.#objects.get(key);
    if (!found) return status(404, "NotFound", `${plural} "${name}" not found`);
    if (sub === "log") {
      const text = this.#logs.get(`${namespace}/${name}`);
      return text === undefined
        ? status(400, "BadRequest", `pod "${name}" has no log`)
        : new Response(text, { headers: { "content-type": "text/plain" } });
    }
    if (request.method === "DELETE") this.#objects.delete(key);
    if (request.method === "PUT") this.#objects.set(key, await request.json());
    return Response.json(this.#objects.get(key) ?? found);
  };

  #list(
    plural: string,
    namespace: string | undefined,
    selector: string | null,
  ): { kind: string; apiVersion: string; metadata: Record<string, never>; items: MilpaObject[] } {
    const sel = parseSelectorString(selector ?? "");
    // Sorted by namespace and name, as the controller lists.
    const items = [...this.#objects.entries()].sort(([a], [b]) => a.localeCompare(b))
      .filter(([key]) => key.startsWith(namespace ? `${plural}/${namespace}/` : `${plural}/`))
      .map(([, o]) => o)
      .filter((o) => matchesSelector(sel, o.metadata.labels));
    const kind = `${findKind(plural)!.kind}List`;
    return { kind, apiVersion: "v1", metadata: {}, items };
  }
}

/** A context whose controller is `api`, with the output it collects. */
export function contextFor(api: FakeApi): {
  ctx: CliContext;
  stdout: BufferOutput;
  stderr: BufferOutput;
} {
  return testContext({ fetch: api.fetch, now: () => FAKE_NOW });
}

/** An object of a kind, made in the default namespace a minute before the context's now. */
export function object(
  kind: string,
  name: string,
  extra: { labels?: Record<string, string>; spec?: unknown; status?: unknown } = {},
): MilpaObject {
  const info = findKind(kind)!;
  return {
    kind: info.kind,
    apiVersion: "v1",
    metadata: {
      name,
      ...(info.namespaced ? { namespace: "default" } : {}),
      labels: extra.labels ?? {},
      creationTimestamp: "2026-01-01T00:00:00Z",
    },
    spec: extra.spec ?? {},
    status: extra.status ?? {},
  };
}
