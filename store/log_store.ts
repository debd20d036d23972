/**
 * The tails of unit logs, saved when a pod's node is cleaned so that `milpactl logs` still
 * answers after the node is gone. Kept for an hour (`["logs", namespace, pod, unit]`).
 */

/** How long saved logs are kept, in milliseconds. */
export const SAVED_LOG_TTL_MS = 60 * 60 * 1000;

/** Most characters kept per unit (a KV value holds 64 KiB). */
export const SAVED_LOG_CHARS = 60_000;

/** A saved log. */
export interface SavedLog {
  /** UID of the pod it belongs to (a re-created pod of the same name has another). */
  uid: string;
  text: string;
  savedAt: number;
}

/** Saved unit logs, in Deno KV. */
export class SavedLogs {
  constructor(private readonly kv: Deno.Kv) {}

  /** Saves the tail of a unit's log. */
  save(
    at: { namespace: string; pod: string; uid: string; unit: string },
    text: string,
    now: number,
  ): Promise<void> {
    return saveLog(this.kv, at, text, now);
  }

  /** The saved log of a unit of this pod (by uid), if there is one and it is fresh. */
  get(
    at: { namespace: string; pod: string; uid: string; unit: string },
    now: number,
  ): Promise<SavedLog | undefined> {
    return savedLog(this.kv, at, now);
  }
}

async function saveLog(
  kv: Deno.Kv,
  at: { namespace: string; pod: string; uid: string; unit: string },
  text: string,
  now: number,
): Promise<void> {
  const log: SavedLog = { uid: at.uid, text: text.slice(-SAVED_LOG_CHARS), savedAt: now };
  await kv.set(["logs", at.namespace, at.pod, at.unit], log, { expireIn: SAVED_LOG_TTL_MS });
}

async function savedLog(
  kv: Deno.Kv,
  at: { namespace: string; pod: string; uid: string; unit: string },
  now: number,
): Promise<SavedLog | undefined> {
  const e = await kv.get<SavedLog>(["logs", at.namespace, at.pod, at.unit]);
  const log = e.value;
  return log && log.uid === at.uid && now - log.savedAt < SAVED_LOG_TTL_MS ? log : undefined;
}
