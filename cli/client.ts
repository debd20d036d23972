/**
 * The HTTP client for the controller API (docs/api.md). Error answers become ApiError
 * carrying the Status; a controller that does not answer becomes UnreachableError, one whose
 * TLS does not check out (or that speaks the other scheme) TlsError. An https controller is
 * checked against the config's CA (and the system's).
 */
import {
  type BatchOperation,
  type BatchRequest,
  type BatchResponse,
  type BatchResultItem,
  type ObjectList,
  type Status,
  type Table,
  TABLE_ACCEPT,
  type WatchEvent,
  type WatchEventType,
} from "../model/api_types.ts";
import type { KindInfo } from "../model/kinds.ts";
import type { MilpaObject } from "../model/meta.ts";
import type { ClientConfig } from "./config.ts";
import { ApiError, connectionError } from "./errors.ts";
import { readSse } from "./sse.ts";

/** Where to list: one namespace, or every namespace when `namespace` is undefined. */
export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  /** Objects per request of a list; 0 for all in one. @default DEFAULT_CHUNK_SIZE */
  chunkSize?: number;
  /** Aborts the request (and a watch's stream). */
  signal?: AbortSignal;
}

/** Objects per request when milpactl lists (kubectl's `--chunk-size` default). */
export const DEFAULT_CHUNK_SIZE = 500;

/** How many times `modify()` tries when a status write keeps changing the object under it. */
export const MODIFY_ATTEMPTS = 5;

/** The answer to a package upload. */
export interface DeployedPackage {
  kind: "Package";
  namespace: string;
  pod: string;
  name: string;
  size: number;
  sha256: string;
}

/** Options of `GET .../pods/{name}/log`. */
export interface LogOptions {
  unit?: string;
  lines?: number;
  follow?: boolean;
}

type Query = Record<string, string | undefined>;

/** Options of one request. */
interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** A body sent as it is (bytes, a stream), instead of `body` as JSON. */
  raw?: { data: BodyInit; contentType: string };
  /** The Accept header (absent: none). */
  accept?: string;
  signal?: AbortSignal;
}

function isTable(page: Table | ObjectList): page is Table {
  return page.kind === "Table";
}

/** The path of a kind's collection, or of one object when `name` is given. */
export function objectPath(kind: KindInfo, namespace?: string, name?: string): string {
  let path = kind.namespaced && namespace
    ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/${kind.plural}`
    : `/api/v1/${kind.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  return path;
}

/** A Status for an answer whose body is not one (a proxy page, an empty body). */
function syntheticStatus(res: Response, text: string): Status {
  return {
    kind: "Status",
    code: res.status,
    reason: res.statusText || "Error",
    message: text.trim().slice(0, 500) || `the controller answered ${res.status} ${res.statusText}`,
  };
}

/** Talks to one controller with one token. */
export class MilpaClient {
  #http?: Deno.HttpClient;

  constructor(readonly config: ClientConfig, private readonly fetchFn: typeof fetch = fetch) {}

  /**
   * The connection pool of an https endpoint: it trusts the config's CA when there is one, and
   * speaks HTTP/1.1. Over HTTP/2, Deno's fetch stalled about one response in four of a few
   * hundred KB for ~45 ms (curl over HTTP/2 did not): a 10,000-pod `get pods` spent ~0.5 s in its
   * 20 pages of 500, ~0.3 s over HTTP/1.1. See docs/decisions/0002.
   */
  #client(): Deno.HttpClient | undefined {
    if (!this.config.endpoint.startsWith("https:")) return undefined;
    this.#http ??= Deno.createHttpClient({
      http2: false,
      ...(this.config.caCertificate ? { caCerts: [this.config.caCertificate] } : {}),
    });
    return this.#http;
  }

  /**
   * Opens a WebSocket to `pathAndQuery` (exec, attach, port-forward) with the token and the
   * config's CA; binary frames arrive as ArrayBuffers.
   */
  webSocket(pathAndQuery: string): WebSocket {
    const url = new URL(this.config.endpoint + pathAndQuery);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const client = this.#client();
    const ws = new WebSocket(url, {
      headers: { Authorization: `Bearer ${this.config.token}` },
      ...(client ? { client } : {}),
    });
    ws.binaryType = "arraybuffer";
    return ws;
  }

  /** Releases the connections; the client makes new ones if used again. */
  close(): void {
    this.#http?.close();
    this.#http = undefined;
  }

  /** Sends a request; resolves with an ok Response, or throws ApiError / UnreachableError. */
  async request(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<Response> {
    const url = new URL(this.config.endpoint + path);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, v);
    }
    const headers: Record<string, string> = { Authorization: `Bearer ${this.config.token}` };
    if (options.body !== undefined) headers["Content-Type"] = "application/json";
    if (options.raw) headers["Content-Type"] = options.raw.contentType;
    if (options.accept) headers["Accept"] = options.accept;
    let res: Response;
    const client = this.#client();
    try {
      res = await this.fetchFn(url, {
        method,
        headers,
        body: options.raw?.data ??
          (options.body === undefined ? undefined : JSON.stringify(options.body)),
        signal: options.signal,
        ...(client ? { client } : {}),
      });
    } catch (err) {
      throw connectionError(this.config, err);
    }
    if (res.ok) return res;
    throw await this.#errorFrom(res);
  }

  async #errorFrom(res: Response): Promise<ApiError> {
    const text = await res.text();
    let status: Status;
    try {
      const body = JSON.parse(text);
      status = body?.kind === "Status" && typeof body.message === "string"
        ? { ...body, code: typeof body.code === "number" ? body.code : res.status }
        : syntheticStatus(res, text);
    } catch {
      status = syntheticStatus(res, text);
    }
    if (res.status === 401) {
      return new ApiError(
        { ...status, message: `Unauthorized: ${status.message}` },
        undefined,
        `the controller at ${this.config.endpoint} did not accept the token from ` +
          `${this.config.tokenSource}: it may have expired or been revoked, or the controller's ` +
          "state was reset",
      );
    }
    return new ApiError(status);
  }

  async #json<T>(method: string, path: string, options?: RequestOptions) {
    const res = await this.request(method, path, options);
    return await res.json() as T;
  }

  /**
   * Lists a kind, `chunkSize` objects per request (as kubectl does, 500 by default; 0: all in
   * one), following the controller's `continue` tokens.
   */
  async list(kind: KindInfo, options: ListOptions = {}): Promise<ObjectList> {
    const chunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    let list: ObjectList | undefined;
    let cont: string | undefined;
    do {
      const page: ObjectList = await this.#json("GET", objectPath(kind, options.namespace), {
        query: {
          labelSelector: options.labelSelector,
          ...(chunk > 0 ? { limit: String(chunk) } : {}),
          ...(cont ? { continue: cont } : {}),
        },
      });
      if (list) list.items.push(...page.items);
      else list = page;
      cont = page.metadata?.continue;
    } while (cont);
    list.metadata = { ...list.metadata, continue: undefined, remainingItemCount: undefined };
    return list;
  }

  /**
   * Lists a kind as a Table, paged as list() pages (server-side printing: the controller fills
   * in the cells, `wide` those of `-o wide`); undefined when the controller answers with the
   * objects instead (one that does not make tables): list() them then.
   */
  async listTable(
    kind: KindInfo,
    options: ListOptions & { wide?: boolean } = {},
  ): Promise<Table | undefined> {
    const chunk = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const rows: Table["rows"] = [];
    let first: Table | undefined;
    let cont: string | undefined;
    do {
      const page = await this.#json<Table | ObjectList>(
        "GET",
        objectPath(kind, options.namespace),
        {
          accept: TABLE_ACCEPT,
          query: {
            labelSelector: options.labelSelector,
            ...(options.wide ? { wide: "true" } : {}),
            ...(chunk > 0 ? { limit: String(chunk) } : {}),
            ...(cont ? { continue: cont } : {}),
          },
        },
      );
      if (!isTable(page)) return undefined;
      first ??= page;
      rows.push(...page.rows);
      cont = page.metadata?.continue;
    } while (cont);
    return { ...first, metadata: {}, rows };
  }

  /** Reads one object; a 404 says `pods "x" not found`. */
  async get<T extends MilpaObject = MilpaObject>(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    signal?: AbortSignal,
  ): Promise<T> {
    try {
      return await this.#json("GET", objectPath(kind, namespace, name), { signal });
    } catch (err) {
      throw notFoundAsKubectl(err, kind, name);
    }
  }

  /** Replaces labels, annotations and spec of one object. */
  update(kind: KindInfo, namespace: string | undefined, obj: MilpaObject): Promise<MilpaObject> {
    return this.#json("PUT", objectPath(kind, namespace, obj.metadata.name), { body: obj });
  }

  /**
   * Reads an object, applies `change` and PUTs the result back with the resourceVersion it
   * read, so nobody's concurrent edit is lost. Controllers write status all the time, which
   * also moves the resourceVersion on: on a 409 Conflict the object is read again and
   * `change` applied again, up to MODIFY_ATTEMPTS times. `change` may throw to refuse.
   */
  async modify<T extends MilpaObject>(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    change: (current: T) => T,
  ): Promise<T> {
    for (let attempt = 1;; attempt++) {
      const next = change(await this.get<T>(kind, namespace, name));
      try {
        return await this.update(kind, namespace, next) as T;
      } catch (err) {
        const conflict = err instanceof ApiError && err.code === 409 &&
          err.status.reason === "Conflict";
        if (!conflict || attempt >= MODIFY_ATTEMPTS) throw err;
      }
    }
  }

  /** Rolls a deployment back to revision `toRevision`, or to the previous one when absent. */
  rollback(namespace: string, name: string, toRevision?: number): Promise<MilpaObject> {
    return this.#json(
      "POST",
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/deployments/` +
        `${encodeURIComponent(name)}/rollback`,
      { body: toRevision === undefined ? {} : { toRevision } },
    );
  }

  /** Deletes (or asks to terminate) one object. */
  async delete(
    kind: KindInfo,
    namespace: string | undefined,
    name: string,
    cascade: boolean,
  ): Promise<MilpaObject> {
    try {
      return await this.#json("DELETE", objectPath(kind, namespace, name), {
        query: { cascade: String(cascade) },
      });
    } catch (err) {
      throw notFoundAsKubectl(err, kind, name);
    }
  }

  /** Sends every item in one all-or-nothing batch. */
  async batch(
    operation: BatchOperation,
    items: unknown[],
    cascade = true,
  ): Promise<BatchResultItem[]> {
    const body: BatchRequest = { operation, items, cascade };
    const answer = await this.#json<Partial<BatchResponse>>("POST", "/api/v1/batch", { body });
    return answer.items ?? [];
  }

  /**
   * Uploads a package (a .tar.gz or .tar, streamed) into the pod's packagePath volume `name`;
   * resolves once the pod's node installed it.
   */
  deployPackage(
    namespace: string,
    pod: string,
    name: string,
    data: ReadableStream<Uint8Array> | Uint8Array,
    signal?: AbortSignal,
  ): Promise<DeployedPackage> {
    return this.#json(
      "POST",
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}` +
        `/deploy/${encodeURIComponent(name)}`,
      { raw: { data: data as BodyInit, contentType: "application/octet-stream" }, signal },
    );
  }

  /** The log text of a pod's unit, as a byte stream (open-ended when following). */
  async logs(
    namespace: string,
    pod: string,
    options: LogOptions = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const res = await this.request(
      "GET",
      `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/log`,
      {
        query: {
          unit: options.unit,
          lines: options.lines === undefined ? undefined : String(options.lines),
          follow: options.follow ? "true" : undefined,
        },
      },
    );
    return res.body ?? new ReadableStream({ start: (c) => c.close() });
  }

  /** Watches a kind: one ADDED per existing object, then every change, until the server ends. */
  async *watch(kind: KindInfo, options: ListOptions = {}): AsyncGenerator<WatchEvent> {
    const res = await this.request("GET", objectPath(kind, options.namespace), {
      query: { labelSelector: options.labelSelector, watch: "true" },
      signal: options.signal,
    });
    if (!res.body) return;
    for await (const message of readSse(res.body)) {
      const object = JSON.parse(message.data);
      if (object?.kind === "Status") throw new ApiError(object as Status);
      yield { type: message.event as WatchEventType, object };
    }
  }

  /** The controller's version object. */
  version(): Promise<Record<string, unknown>> {
    return this.#json("GET", "/version");
  }
}

function notFoundAsKubectl(err: unknown, kind: KindInfo, name: string): unknown {
  if (err instanceof ApiError && err.code === 404) {
    return new ApiError({ ...err.status, message: `${kind.plural} "${name}" not found` });
  }
  return err;
}
