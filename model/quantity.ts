/**
 * Kubernetes resource quantities ("0.4Gi", "500m", "2", "1e3") as plain numbers.
 * Numbers are floats: memory in bytes, CPU in cores. Negative quantities are invalid.
 */
import { ValidationError } from "./errors.ts";

/** Bytes in one GiB. */
export const GIB = 2 ** 30;

const BINARY_EXPONENT: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const DECIMAL_EXPONENT: Record<string, number> = {
  n: -9,
  u: -6,
  m: -3,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

/** Sign, mantissa, then a binary suffix, a decimal suffix or an exponent. */
const QUANTITY = /^\+?(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$/;

/**
 * Parses a quantity: "0.4", "512Mi", "3G", "500m", "1e3", or a non-negative number.
 * Also takes the Kubernetes micro and nano suffixes "u" and "n".
 * @throws {ValidationError} `invalid quantity "lots"` for anything else, negatives included.
 */
export function parseQuantity(s: string | number): number {
  const value = typeof s === "number" ? s : parseQuantityString(s);
  if (value === undefined || !Number.isFinite(value) || value < 0) {
    throw new ValidationError(`invalid quantity ${JSON.stringify(s)}`);
  }
  return value;
}

function parseQuantityString(s: string): number | undefined {
  const match = QUANTITY.exec(s);
  if (!match) return undefined;
  const [, mantissa, suffix = ""] = match;
  if (suffix in BINARY_EXPONENT) return Number(mantissa) * 2 ** BINARY_EXPONENT[suffix];
  // Building "<mantissa>e<exp>" lets Number() round once, so "500m" is exactly 0.5.
  const exponent = suffix in DECIMAL_EXPONENT ? DECIMAL_EXPONENT[suffix] : Number(suffix.slice(1));
  return Number(`${mantissa}e${exponent}`);
}

/** Memory in GiB as a float: "0.4Gi" → 0.4, "512Mi" → 0.5; a bare number means bytes. */
export function memoryGiB(q: string | number): number {
  return parseQuantity(q) / GIB;
}

/** CPU in cores: "500m" → 0.5, "2" → 2. */
export function cpuCores(q: string | number): number {
  return parseQuantity(q);
}

/** Volume size in whole GiB, rounded up as clouds size disks: "5.5Gi" → 6, "1G" → 1. */
export function volumeGiB(q: string | number): number {
  return Math.ceil(parseQuantity(q) / GIB);
}

/** Formats a GiB amount as a quantity with at most three decimals: 0.5 → "0.5Gi", 2 → "2Gi". */
export function formatGiB(n: number): string {
  return `${Number(n.toFixed(3))}Gi`;
}
