/** Controller identity and secrets that must survive restarts (`["m", name]`). */

/** Returns the stored value, creating it with `make` on first use (race-free). */
export async function getOrCreateMeta(
  kv: Deno.Kv,
  name: string,
  make: () => string,
): Promise<string> {
  for (;;) {
    const e = await kv.get<string>(["m", name]);
    if (e.value !== null) return e.value;
    const value = make();
    const res = await kv.atomic().check({ key: ["m", name], versionstamp: null }).set(
      ["m", name],
      value,
    )
      .commit();
    if (res.ok) return value;
  }
}

/** A random token of `bytes` bytes, hex-encoded. */
export function randomToken(bytes = 32): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
}

/** Forgets a stored value (one that is no longer used); safe to repeat. */
export async function deleteMeta(kv: Deno.Kv, name: string): Promise<void> {
  await kv.delete(["m", name]);
}
