/**
 * Image references as Docker writes them (`nginx`, `library/python:3.12-alpine`,
 * `registry:5000/x/y@sha256:...`) and registry host names: which host serves an image, how it
 * is reached (HTTP or HTTPS) and which credentials belong to it.
 */
import { ImageReferenceError } from "./errors.ts";

/** Where Docker Hub images live when a reference names no registry. */
export const DOCKER_HUB = "docker.io";
/** The host that actually serves Docker Hub's registry API. */
export const DOCKER_HUB_API = "registry-1.docker.io";

/** A parsed image reference. */
export interface ImageReference {
  /** Registry host with its port, if any: "docker.io", "127.0.0.1:5000". */
  registry: string;
  /** Repository path inside the registry: "library/nginx". */
  repository: string;
  /** Tag; "latest" when the reference has neither tag nor digest. */
  tag?: string;
  /** "sha256:<64 hex>" when the reference pins a digest (it then wins over the tag). */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Parses an image reference, filling Docker's defaults (docker.io, library/, latest). */
export function parseReference(text: string): ImageReference {
  const bad = (why: string) => new ImageReferenceError(`invalid image reference "${text}": ${why}`);
  if (typeof text !== "string" || text === "") throw bad("empty");
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`digest "${digest}" is not sha256:<64 hex digits>`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`tag "${tag}" is not valid`);
  }
  let registry = DOCKER_HUB;
  const slash = rest.indexOf("/");
  const first = slash >= 0 ? rest.slice(0, slash) : "";
  if (first && (first.includes(".") || first.includes(":") || first === "localhost")) {
    if (!HOST.test(first)) throw bad(`registry "${first}" is not a host name`);
    registry = first;
    rest = rest.slice(slash + 1);
  }
  if (registry === DOCKER_HUB && !rest.includes("/")) rest = `library/${rest}`;
  const components = rest.split("/");
  const wrong = components.find((c) => !COMPONENT.test(c));
  if (wrong !== undefined) {
    throw bad(
      wrong === ""
        ? "empty path component"
        : wrong !== wrong.toLowerCase()
        ? `"${wrong}": repository names must be lowercase`
        : `"${wrong}" is not a valid repository component`,
    );
  }
  const ref: ImageReference = { registry: canonicalRegistry(registry), repository: rest };
  if (digest) ref.digest = digest;
  if (tag || !digest) ref.tag = tag ?? "latest";
  return ref;
}

/** The reference as text with every default spelled out. */
export function formatReference(ref: ImageReference): string {
  const tag = ref.tag ? `:${ref.tag}` : "";
  const digest = ref.digest ? `@${ref.digest}` : "";
  return `${ref.registry}/${ref.repository}${tag}${digest}`;
}

/** What to ask the registry for: the digest when pinned, else the tag. */
export function manifestKey(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}

/**
 * One spelling per registry, for matching credentials: drops a scheme and path
 * ("https://index.docker.io/v1/") and folds Docker Hub's aliases into "docker.io".
 */
export function canonicalRegistry(host: string): string {
  let h = host.trim().replace(/^[a-z]+:\/\//i, "");
  const slash = h.indexOf("/");
  if (slash >= 0) h = h.slice(0, slash);
  h = h.toLowerCase();
  if (h === "index.docker.io" || h === DOCKER_HUB_API || h === "registry.hub.docker.com") {
    return DOCKER_HUB;
  }
  return h;
}

/** The host name without its port ("[::1]:5000" → "::1"). */
export function hostOnly(registry: string): string {
  if (registry.startsWith("[")) return registry.slice(1, registry.indexOf("]"));
  const colon = registry.lastIndexOf(":");
  return colon >= 0 ? registry.slice(0, colon) : registry;
}

/** True for localhost and loopback addresses (127.0.0.0/8, ::1). */
export function isLoopback(registry: string): boolean {
  const host = hostOnly(registry);
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The registry API's base URL: plain HTTP for loopback registries and those listed in
 * `insecure` (by host:port or by host alone), HTTPS for all others.
 */
export function registryBaseURL(registry: string, insecure: readonly string[] = []): string {
  const host = registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
  const listed = insecure.map(canonicalRegistry);
  const plain = isLoopback(registry) || listed.includes(registry) ||
    listed.includes(hostOnly(registry));
  return `${plain ? "http" : "https"}://${host}`;
}
