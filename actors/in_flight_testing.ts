/** Test support: how many calls of a method are in flight at once. Only tests import this file. */

/**
 * Replaces async method `name` of `obj` with one that counts its calls in flight; `most()` is
 * the most that were at once. A loop that awaits each call has at most 1.
 */
export function countInFlight<T extends object>(obj: T, name: keyof T): { most(): number } {
  const original = (obj[name] as (...args: unknown[]) => Promise<unknown>).bind(obj);
  let inFlight = 0;
  let most = 0;
  (obj as Record<keyof T, unknown>)[name] = async (...args: unknown[]) => {
    inFlight++;
    most = Math.max(most, inFlight);
    try {
      return await original(...args);
    } finally {
      inFlight--;
    }
  };
  return { most: () => most };
}
