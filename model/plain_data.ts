/** Comparing plain data: what JSON holds (arrays, plain objects, strings, numbers, booleans, null). */

/**
 * Whether two values are the same plain data: equal primitives, or arrays and plain objects with
 * the same data at the same places. Anything else (a Date, a Map, a class instance) is the same
 * only as the same object. Used where XState hands out a new object for the same data: a state
 * value made anew each macrostep, unit statuses an agent repeats.
 */
export function sameData(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || !a || !b) return false;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => sameData(v, b[i]));
  }
  if (Array.isArray(b)) return false;
  if (Object.getPrototypeOf(a) !== Object.prototype) return false;
  if (Object.getPrototypeOf(b) !== Object.prototype) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  const ra = a as { [k: string]: unknown }, rb = b as { [k: string]: unknown };
  return ka.every((k) => k in rb && sameData(ra[k], rb[k]));
}
