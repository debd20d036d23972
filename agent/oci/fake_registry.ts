/**
 * A registry for tests, served with `Deno.serve` on 127.0.0.1: the pull side of the
 * distribution API v2 (`/v2/`, manifests and blobs by GET and HEAD), with no auth, basic auth,
 * or a bearer-token challenge answered by its own `/token` endpoint (anonymously or with basic
 * auth). It records requests, can fail the next requests on a path, and can serve corrupt
 * blobs. Not used by the agent itself.
 */
import type { BuiltImage } from "./testing.ts";
import { sha256 } from "./testing.ts";

/** Options of {@linkcode FakeRegistry.start}. */
export interface FakeRegistryOptions {
  /** "none", "basic" (credentials required) or "bearer" (token service). @default "none" */
  auth?: "none" | "basic" | "bearer";
  /** Credentials the registry (or its token service) accepts. */
  username?: string;
  password?: string;
  /** With "bearer": hand out tokens without credentials (Docker Hub's anonymous pulls). */
  anonymousTokens?: boolean;
  /** Address to listen on. @default "127.0.0.1" */
  hostname?: string;
}

/** A request the registry saw. */
export interface SeenRequest {
  method: string;
  path: string;
  authorization?: string;
}

const TOKEN = "fake-registry-token";

/** A running fake registry. */
export class FakeRegistry {
  /** "127.0.0.1:<port>". */
  readonly host: string;
  readonly requests: SeenRequest[] = [];
  readonly blobs = new Map<string, Uint8Array>();
  /** Manifests by "repository:reference" (tag or digest). */
  readonly manifests = new Map<string, { body: Uint8Array; mediaType: string }>();
  /** Digests whose blob is served with one byte flipped. */
  readonly corrupt = new Set<string>();
  #failures: { path: RegExp; status: number; times: number }[] = [];
  #server: Deno.HttpServer;
  #o: FakeRegistryOptions;

  private constructor(server: Deno.HttpServer, host: string, o: FakeRegistryOptions) {
    this.#server = server;
    this.host = host;
    this.#o = o;
  }

  /** Starts a registry on a free port of `options.hostname` (127.0.0.1). */
  static start(options: FakeRegistryOptions = {}): Promise<FakeRegistry> {
    const handler = { registry: undefined as FakeRegistry | undefined };
    const hostname = options.hostname ?? "127.0.0.1";
    const server = Deno.serve(
      { hostname, port: 0, onListen: () => {} },
      (req) => handler.registry!.#handle(req),
    );
    handler.registry = new FakeRegistry(server, `${hostname}:${server.addr.port}`, options);
    return Promise.resolve(handler.registry);
  }

  /** Adds an image under `repository:tag` (and under its digest). */
  push(repository: string, tag: string, image: BuiltImage, mediaType?: string): void {
    for (const [digest, bytes] of image.blobs) this.blobs.set(digest, bytes);
    this.putManifest(repository, tag, image.manifest, mediaType);
  }

  /** Adds a manifest (or index) under a tag and under its digest; returns the digest. */
  putManifest(
    repository: string,
    tag: string,
    body: Uint8Array,
    mediaType = "application/vnd.oci.image.manifest.v1+json",
  ): string {
    const digest = sha256(body);
    this.manifests.set(`${repository}:${tag}`, { body, mediaType });
    this.manifests.set(`${repository}:${digest}`, { body, mediaType });
    return digest;
  }

  /** Answers the next `times` requests whose path matches with `status`. */
  failNext(path: RegExp, status: number, times = 1): void {
    this.#failures.push({ path, status, times });
  }

  /** Blob GETs seen so far (HEADs and manifests not counted). */
  blobFetches(): string[] {
    return this.requests.filter((r) => r.method === "GET" && r.path.includes("/blobs/"))
      .map((r) => r.path.slice(r.path.lastIndexOf("/") + 1));
  }

  /** Stops the server. */
  async close(): Promise<void> {
    await this.#server.shutdown();
  }

  #handle(req: Request): Response {
    const url = new URL(req.url);
    const authorization = req.headers.get("authorization") ?? undefined;
    this.requests.push({ method: req.method, path: url.pathname, authorization });
    const failure = this.#failures.find((f) => f.times > 0 && f.path.test(url.pathname));
    if (failure) {
      failure.times--;
      return new Response("injected failure", { status: failure.status });
    }
    if (url.pathname === "/token") return this.#token(authorization);
    if (!this.#authorized(authorization)) return this.#challenge(url.pathname);
    if (url.pathname === "/v2/") return Response.json({});
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
    if (!m) return errorResponse(404, "NAME_UNKNOWN", "no such route");
    const [, repo, kind, ref] = m;
    const head = req.method === "HEAD";
    if (kind === "manifests") {
      const found = this.manifests.get(`${repo}:${ref}`);
      if (!found) return errorResponse(404, "MANIFEST_UNKNOWN", "manifest unknown");
      return new Response(head ? null : found.body as BodyInit, {
        headers: { "content-type": found.mediaType, "docker-content-digest": sha256(found.body) },
      });
    }
    let blob = this.blobs.get(ref);
    if (!blob) return errorResponse(404, "BLOB_UNKNOWN", "blob unknown to registry");
    if (this.corrupt.has(ref)) {
      blob = blob.slice();
      blob[blob.length - 1] ^= 0xff;
    }
    return new Response(head ? null : blob as BodyInit, {
      headers: { "content-length": String(blob.length) },
    });
  }

  #authorized(authorization: string | undefined): boolean {
    const { auth = "none" } = this.#o;
    if (auth === "none") return true;
    if (auth === "basic") return authorization === this.#basic();
    return authorization === `Bearer ${TOKEN}`;
  }

  #challenge(path: string): Response {
    const repo = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(path)?.[1] ?? "";
    const header = this.#o.auth === "basic"
      ? `Basic realm="fake"`
      : `Bearer realm="http://${this.host}/token",service="fake",scope="repository:${repo}:pull"`;
    return new Response(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "auth" }] }), {
      status: 401,
      headers: { "www-authenticate": header, "content-type": "application/json" },
    });
  }

  #token(authorization: string | undefined): Response {
    const withCreds = authorization !== undefined && authorization === this.#basic();
    if (!withCreds && !(this.#o.anonymousTokens && authorization === undefined)) {
      return new Response("denied", { status: 401 });
    }
    return Response.json({ token: TOKEN });
  }

  #basic(): string {
    return `Basic ${btoa(`${this.#o.username ?? ""}:${this.#o.password ?? ""}`)}`;
  }
}

function errorResponse(status: number, code: string, message: string): Response {
  return Response.json({ errors: [{ code, message }] }, { status });
}
