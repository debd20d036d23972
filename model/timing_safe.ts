/** Comparing secrets without leaking where they differ through timing. */

const encoder = new TextEncoder();

/**
 * Whether two strings are equal, in time that depends only on their lengths (never on where
 * they first differ). Every check of a token, cookie or hash goes through this.
 */
export function timingSafeEqual(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}
