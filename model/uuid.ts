/**
 * Time-ordered UUIDs (version 7, RFC 9562 §5.7): 48 bits of Unix time in milliseconds, then 74
 * random bits. Names made one after another sort together, so the KV rows of a burst of new
 * nodes (object, actor snapshot, credentials, events) sit side by side in KV's B-tree, where
 * random (version 4) names spread them over every page of it
 * (docs/decisions/0005-time-ordered-node-names.md).
 */

/** A version 7 UUID for Unix time `ms` (milliseconds). */
export function uuidv7(ms: number = Date.now()): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  const t = Math.max(0, Math.floor(ms));
  // 48-bit big-endian timestamp: the high 16 bits, then the low 32 (bitwise ops are 32-bit).
  const high = Math.floor(t / 2 ** 32);
  b[0] = (high >>> 8) & 0xff;
  b[1] = high & 0xff;
  b[2] = (t >>> 24) & 0xff;
  b[3] = (t >>> 16) & 0xff;
  b[4] = (t >>> 8) & 0xff;
  b[5] = t & 0xff;
  b[6] = (b[6] & 0x0f) | 0x70; // version 7
  b[8] = (b[8] & 0x3f) | 0x80; // variant 10
  let hex = "";
  for (const x of b) hex += x.toString(16).padStart(2, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-([0-9a-f])[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The version of a UUID (4, 7...), or undefined for a string that is not one. */
export function uuidVersion(s: string): number | undefined {
  const m = UUID.exec(s);
  return m ? parseInt(m[1], 16) : undefined;
}
