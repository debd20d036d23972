/**
 * Test support for image code: a small tar writer (ustar, with pax records for long names),
 * gzip, SHA-256, and images built in memory (layers, config, manifest) ready to be served by
 * a registry. Not used by the agent itself.
 */
import { createHash } from "node:crypto";

/** One entry of a tar archive to write. */
export interface TarSpec {
  path: string;
  type?: "file" | "directory" | "symlink" | "hardlink";
  /** File content. */
  content?: string | Uint8Array;
  /** @default 0o644 for files, 0o755 for directories, 0o777 for links */
  mode?: number;
  linkName?: string;
  uid?: number;
  gid?: number;
}

const encoder = new TextEncoder();

/** Writes a tar archive; paths over 100 bytes get a pax `path` record. */
export function tarArchive(entries: TarSpec[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const type = e.type ?? "file";
    const body = type === "file"
      ? (typeof e.content === "string" ? encoder.encode(e.content) : e.content ?? new Uint8Array())
      : new Uint8Array();
    const pathBytes = encoder.encode(e.path);
    if (pathBytes.length > 100) {
      const record = paxRecord("path", e.path);
      parts.push(header({ name: "././@PaxHeader", size: record.length, flag: "x" }));
      parts.push(padded(record));
    }
    const mode = e.mode ?? (type === "directory" ? 0o755 : type === "file" ? 0o644 : 0o777);
    const flag = { file: "0", directory: "5", symlink: "2", hardlink: "1" }[type];
    parts.push(header({
      name: pathBytes.length > 100 ? e.path.slice(0, 100) : e.path,
      size: body.length,
      flag,
      mode,
      uid: e.uid,
      gid: e.gid,
      linkName: e.linkName,
    }));
    parts.push(padded(body));
  }
  parts.push(new Uint8Array(1024));
  return concat(parts);
}

function paxRecord(key: string, value: string): Uint8Array {
  const rest = ` ${key}=${value}\n`;
  const restLen = encoder.encode(rest).length;
  let digits = 1;
  while (String(restLen + digits).length !== digits) digits++;
  return encoder.encode(`${restLen + digits}${rest}`);
}

function header(h: {
  name: string;
  size: number;
  flag: string;
  mode?: number;
  uid?: number;
  gid?: number;
  linkName?: string;
}): Uint8Array {
  const b = new Uint8Array(512);
  const put = (off: number, len: number, text: string) =>
    b.set(encoder.encode(text).subarray(0, len), off);
  const octal = (off: number, len: number, n: number) =>
    put(off, len, n.toString(8).padStart(len - 1, "0") + "\0");
  put(0, 100, h.name);
  octal(100, 8, h.mode ?? 0o644);
  octal(108, 8, h.uid ?? 0);
  octal(116, 8, h.gid ?? 0);
  octal(124, 12, h.size);
  octal(136, 12, 1_700_000_000);
  put(156, 1, h.flag);
  put(157, 100, h.linkName ?? "");
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  b.fill(32, 148, 156);
  const sum = b.reduce((a, x) => a + x, 0);
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

function padded(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(bytes.length / 512) * 512);
  out.set(bytes);
  return out;
}

/** Concatenates byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Gzips bytes. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** "sha256:<hex>" of bytes. */
export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** A stream of the given bytes. */
export function streamOf(bytes: Uint8Array, chunk = 1000): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(controller) {
      if (off >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(off, off + chunk));
      off += chunk;
    },
  });
}

/** An image built in memory: every blob by digest, and the manifest. */
export interface BuiltImage {
  blobs: Map<string, Uint8Array>;
  manifest: Uint8Array;
  manifestDigest: string;
  configDigest: string;
  layerDigests: string[];
}

/** Builds an image from gzipped layer archives and an image config's `config` part. */
export async function buildImage(
  layers: Uint8Array[],
  config: Record<string, unknown> = {},
): Promise<BuiltImage> {
  const blobs = new Map<string, Uint8Array>();
  const layerDescs = [];
  for (const tar of layers) {
    const gz = await gzip(tar);
    const digest = sha256(gz);
    blobs.set(digest, gz);
    layerDescs.push({
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      digest,
      size: gz.length,
    });
  }
  const configBytes = encoder.encode(JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config,
    rootfs: { type: "layers", diff_ids: layers.map(sha256) },
  }));
  const configDigest = sha256(configBytes);
  blobs.set(configDigest, configBytes);
  const manifest = encoder.encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: configDigest,
      size: configBytes.length,
    },
    layers: layerDescs,
  }));
  return {
    blobs,
    manifest,
    manifestDigest: sha256(manifest),
    configDigest,
    layerDigests: layerDescs.map((l) => l.digest),
  };
}

/** The static busybox the image tests put in their images. */
export const BUSYBOX = "/bin/busybox";

/** True when {@linkcode BUSYBOX} exists and is statically linked (busybox-static). */
export function haveStaticBusybox(): boolean {
  try {
    const head = Deno.readFileSync(BUSYBOX).subarray(0, 4096);
    return !new TextDecoder().decode(head).includes("ld-linux");
  } catch {
    return false;
  }
}

/** A layer with busybox, its applets as symlinks, /etc/passwd, /etc/group and /tmp. */
export function busyboxLayer(): Uint8Array {
  const applets = [
    "sh",
    "cat",
    "echo",
    "hostname",
    "httpd",
    "id",
    "ls",
    "mkdir",
    "ps",
    "pwd",
    "sleep",
    "tr",
    "wget",
    "env",
    "test",
    "kill",
  ];
  return tarArchive([
    { path: "bin/", type: "directory" },
    { path: "bin/busybox", content: Deno.readFileSync(BUSYBOX), mode: 0o755 },
    ...applets.map((a): TarSpec => ({ path: `bin/${a}`, type: "symlink", linkName: "busybox" })),
    { path: "etc/", type: "directory" },
    {
      path: "etc/passwd",
      content: "root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/home/web:/bin/sh\n",
    },
    { path: "etc/group", content: "root:x:0:\nweb:x:1000:\n" },
    { path: "tmp/", type: "directory", mode: 0o1777 },
  ]);
}

/** A CGI script that prints the command line of PID 1 and the hostname. */
const INFO_CGI = `#!/bin/sh
echo "Content-Type: text/plain"
echo
echo "pid1=$(tr '\\0' ' ' < /proc/1/cmdline)"
echo "hostname=$(hostname)"
`;

/**
 * A busybox httpd image serving `index` from /www on `listen` ("port" or "ip:port"), with
 * /cgi-bin/info telling PID 1's command line and the hostname.
 */
export function webImage(index: string, listen: string): Promise<BuiltImage> {
  return buildImage([
    busyboxLayer(),
    tarArchive([
      { path: "www/", type: "directory" },
      { path: "www/index.html", content: index },
      { path: "www/cgi-bin/", type: "directory" },
      { path: "www/cgi-bin/info", content: INFO_CGI, mode: 0o755 },
    ]),
  ], { Entrypoint: ["/bin/httpd", "-f", "-v"], Cmd: ["-p", listen, "-h", "/www"] });
}
