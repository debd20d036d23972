/**
 * A streaming tar reader for image layers: ustar headers (with the name prefix), pax extended
 * headers (per entry and global: path, linkpath, size, uid, gid, mtime) and GNU long names and
 * long link names, base-256 numbers, checksums. Entry bodies are streamed, never buffered whole.
 */
import { ImageError } from "./errors.ts";

/** The kinds of entries a layer holds. */
export type TarEntryType =
  | "file"
  | "directory"
  | "symlink"
  | "hardlink"
  | "char"
  | "block"
  | "fifo"
  | "other";

/** One entry's header, with pax and GNU extensions applied. */
export interface TarEntry {
  /** Path as stored (may start with "./" or "/"; cleaning is the reader's caller's job). */
  path: string;
  type: TarEntryType;
  /** Permission bits, setuid/setgid/sticky included. */
  mode: number;
  uid: number;
  gid: number;
  /** Body size in bytes (0 for everything but files). */
  size: number;
  /** Modification time, seconds since the epoch. */
  mtime: number;
  /** Target of a symlink or hardlink. */
  linkName: string;
}

/** An entry and its body; the body must be read (or left) before asking for the next entry. */
export interface TarItem {
  entry: TarEntry;
  body: AsyncIterable<Uint8Array>;
}

const BLOCK = 512;
const decoder = new TextDecoder();
const TYPES: Record<string, TarEntryType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "directory",
  "6": "fifo",
};

/** Reads a tar stream entry by entry. */
export async function* readTar(stream: ReadableStream<Uint8Array>): AsyncGenerator<TarItem> {
  const input = new ByteReader(stream.getReader());
  const globals: Record<string, string> = {};
  let local: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      const block = await input.exact(BLOCK);
      if (!block || block.every((b) => b === 0)) return;
      const h = parseHeader(block);
      const padded = Math.ceil(h.size / BLOCK) * BLOCK;
      if (h.flag === "x" || h.flag === "g" || h.flag === "L" || h.flag === "K") {
        const data = await input.exact(padded);
        if (!data) throw new ImageError("tar stream ends inside an extended header");
        const body = data.subarray(0, h.size);
        if (h.flag === "x") local = parsePax(body);
        else if (h.flag === "g") Object.assign(globals, parsePax(body));
        else if (h.flag === "L") longName = cString(body);
        else longLink = cString(body);
        continue;
      }
      const pax = { ...globals, ...local };
      const type = TYPES[h.flag] ?? "other";
      const size = pax.size !== undefined ? Number(pax.size) : h.size;
      const entry: TarEntry = {
        path: pax.path ?? longName ?? h.name,
        type,
        mode: h.mode & 0o7777,
        uid: pax.uid !== undefined ? Number(pax.uid) : h.uid,
        gid: pax.gid !== undefined ? Number(pax.gid) : h.gid,
        size: type === "file" ? size : 0,
        mtime: pax.mtime !== undefined ? Math.floor(Number(pax.mtime)) : h.mtime,
        linkName: pax.linkpath ?? longLink ?? h.linkName,
      };
      local = {};
      longName = longLink = undefined;
      let left = size;
      const body = (async function* () {
        while (left > 0) {
          const chunk = await input.chunk(left);
          if (!chunk) throw new ImageError(`tar stream ends inside "${entry.path}"`);
          left -= chunk.length;
          yield chunk;
        }
      })();
      yield { entry, body };
      if (left > 0) await input.skip(left);
      await input.skip((BLOCK - (size % BLOCK)) % BLOCK);
    }
  } finally {
    await input.cancel();
  }
}

interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  flag: string;
  linkName: string;
}

function parseHeader(b: Uint8Array): RawHeader {
  const stored = number(b.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : b[i];
  if (stored !== sum) throw new ImageError("invalid tar header (checksum mismatch)");
  const magic = decoder.decode(b.subarray(257, 263));
  let name = cString(b.subarray(0, 100));
  if (magic === "ustar\0") {
    const prefix = cString(b.subarray(345, 500));
    if (prefix) name = `${prefix}/${name}`;
  }
  return {
    name,
    mode: number(b.subarray(100, 108)),
    uid: number(b.subarray(108, 116)),
    gid: number(b.subarray(116, 124)),
    size: number(b.subarray(124, 136)),
    mtime: number(b.subarray(136, 148)),
    flag: String.fromCharCode(b[156]),
    linkName: cString(b.subarray(157, 257)),
  };
}

/** An octal field, or a base-256 one (high bit of the first byte set). */
function number(field: Uint8Array): number {
  if (field[0] & 0x80) {
    let n = field[0] & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i];
    return n;
  }
  const text = decoder.decode(field).replace(/[\0 ]+$/g, "").replace(/^[\0 ]+/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new ImageError(`invalid tar header (number "${text}")`);
  return parseInt(text, 8);
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decoder.decode(end >= 0 ? bytes.subarray(0, end) : bytes);
}

/** Parses pax records: "<length> <key>=<value>\n", the length counting the whole record. */
export function parsePax(bytes: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < bytes.length) {
    const space = bytes.indexOf(0x20, i);
    if (space < 0) break;
    const len = parseInt(decoder.decode(bytes.subarray(i, space)), 10);
    if (!(len > 0) || i + len > bytes.length) throw new ImageError("invalid pax header record");
    const record = decoder.decode(bytes.subarray(space + 1, i + len - 1));
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Exact and chunked reads over a stream reader. */
class ByteReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #eof = false;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.#reader = reader;
  }

  async #fill(n: number): Promise<void> {
    while (this.#length < n && !this.#eof) {
      const r = await this.#reader.read();
      if (r.done) this.#eof = true;
      else if (r.value.length) {
        this.#chunks.push(r.value);
        this.#length += r.value.length;
      }
    }
  }

  /** Exactly `n` bytes; null at a clean end of stream; throws on a truncated one. */
  async exact(n: number): Promise<Uint8Array | null> {
    if (n === 0) return new Uint8Array(0);
    await this.#fill(n);
    if (this.#length === 0) return null;
    if (this.#length < n) throw new ImageError("tar stream is truncated");
    const out = new Uint8Array(n);
    for (let off = 0; off < n;) {
      const chunk = this.#take(n - off);
      out.set(chunk, off);
      off += chunk.length;
    }
    return out;
  }

  /** Between 1 and `max` bytes; null at the end of the stream. */
  async chunk(max: number): Promise<Uint8Array | null> {
    await this.#fill(1);
    return this.#length === 0 ? null : this.#take(max);
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      const chunk = await this.chunk(n);
      if (!chunk) throw new ImageError("tar stream is truncated");
      n -= chunk.length;
    }
  }

  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }

  #take(max: number): Uint8Array {
    const first = this.#chunks[0];
    if (first.length <= max) {
      this.#chunks.shift();
      this.#length -= first.length;
      return first;
    }
    this.#chunks[0] = first.subarray(max);
    this.#length -= max;
    return first.subarray(0, max);
  }
}
