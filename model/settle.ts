/** Waiting for many promises together. */

/**
 * The values of `promises`, once every one settled; rejects with the first one's error (in
 * their order) if any failed. Unlike Promise.all, nothing is still running when it rejects.
 */
export async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}
