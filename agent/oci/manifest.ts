/**
 * Image manifests, manifest lists (indexes) and image configs, in both the OCI and the Docker
 * v2 schema 2 spellings: media types, parsing with clear errors, and platform choice.
 */
import { ImageError } from "./errors.ts";

/** OCI image index (a manifest list). */
export const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
/** OCI image manifest. */
export const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** Docker manifest list. */
export const DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/** Docker image manifest, schema 2. */
export const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
/** What the agent asks registries for, in order of preference. */
export const MANIFEST_ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST].join(", ");

/** A content descriptor: what a manifest says about a blob. */
export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

/** An image manifest: one config blob and the layers, lowest first. */
export interface ImageManifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** A manifest list: one manifest per platform. */
export interface ImageIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
}

/** The part of an image config that says how to run it. */
export interface ImageRunConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
}

/** An image config blob. */
export interface ImageConfig {
  architecture?: string;
  os?: string;
  config?: ImageRunConfig;
  rootfs?: { type: string; diff_ids: string[] };
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** A parsed manifest document: either a list to choose from or an image manifest. */
export type ManifestDocument =
  | { kind: "index"; index: ImageIndex }
  | { kind: "manifest"; manifest: ImageManifest };

/** Parses a manifest body; `contentType` is the response's Content-Type, if any. */
export function parseManifest(bytes: Uint8Array, contentType = ""): ManifestDocument {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ImageError("the registry sent a manifest that is not JSON");
  }
  if (typeof doc !== "object" || doc === null) {
    throw new ImageError("the registry sent a manifest that is not a JSON object");
  }
  const type = typeof doc.mediaType === "string" ? doc.mediaType : contentType.split(";")[0];
  if (doc.schemaVersion === 1) {
    throw new ImageError("schema 1 manifests are not supported; push the image again");
  }
  if (type === OCI_INDEX || type === DOCKER_LIST || Array.isArray(doc.manifests)) {
    const index = doc as unknown as ImageIndex;
    if (!Array.isArray(index.manifests) || !index.manifests.every(validDescriptor)) {
      throw new ImageError("the manifest list has invalid entries");
    }
    return { kind: "index", index };
  }
  const manifest = doc as unknown as ImageManifest;
  if (!validDescriptor(manifest.config)) {
    throw new ImageError("the manifest has no valid config descriptor");
  }
  if (!Array.isArray(manifest.layers) || !manifest.layers.every(validDescriptor)) {
    throw new ImageError("the manifest has invalid layer descriptors");
  }
  return { kind: "manifest", manifest };
}

function validDescriptor(d: unknown): d is Descriptor {
  const desc = d as Descriptor;
  return typeof desc === "object" && desc !== null && typeof desc.digest === "string" &&
    DIGEST.test(desc.digest) && Number.isSafeInteger(desc.size) && desc.size >= 0;
}

/** The platform name of the running agent in OCI terms: "amd64" or "arm64". */
export function nodeArchitecture(): string {
  return Deno.build.arch === "aarch64" ? "arm64" : "amd64";
}

/**
 * The manifest of a list for linux/`architecture`; throws naming the platforms there are.
 * Entries without a platform are ignored; among matches the first wins.
 */
export function choosePlatform(index: ImageIndex, architecture = nodeArchitecture()): Descriptor {
  const match = index.manifests.find((m) =>
    m.platform?.os === "linux" && m.platform?.architecture === architecture
  );
  if (match) return match;
  const have = index.manifests.filter((m) => m.platform)
    .map((m) => `${m.platform!.os}/${m.platform!.architecture}`);
  throw new ImageError(
    `no linux/${architecture} image in the manifest list (it has ${
      have.length ? have.join(", ") : "no platforms"
    })`,
  );
}

/** Parses an image config blob. */
export function parseImageConfig(bytes: Uint8Array): ImageConfig {
  try {
    const config = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof config === "object" && config !== null) return config as ImageConfig;
  } catch {
    // reported below
  }
  throw new ImageError("the image config is not a JSON object");
}
