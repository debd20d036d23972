/**
 * The web view's sessions, kept in this process only: a random id (the cookie's value) maps to
 * who logged in and until when. Logging out deletes the session, so its cookie stops working
 * at once; a controller restart ends every session.
 */
import type { Clock } from "../model/clock.ts";
import { randomToken } from "../store/meta_store.ts";
import type { Principal } from "./access.ts";

/** Name of the view's session cookie. */
export const UI_COOKIE = "milpa_ui";

/** How long a login lasts (never longer than its token). @default 12 hours */
export const SESSION_MS = 12 * 60 * 60 * 1000;

/** Most sessions kept; past it, expired ones go first, then the oldest. */
export const MAX_SESSIONS = 1000;

interface Session {
  principal: Principal;
  expiresAt: number;
}

/** Sessions by id. */
export class UiSessions {
  #sessions = new Map<string, Session>();

  constructor(private readonly clock: Clock, readonly max: number = MAX_SESSIONS) {}

  /** Starts a session for `principal`: its id (64 hex characters) and how long it lasts. */
  create(principal: Principal): { id: string; seconds: number } {
    const now = this.clock.now();
    const expiresAt = Math.min(
      now + SESSION_MS,
      principal.kind === "token" && principal.expiresAt !== undefined
        ? principal.expiresAt
        : Infinity,
    );
    if (this.#sessions.size >= this.max) this.#prune(now);
    const id = randomToken(32);
    this.#sessions.set(id, { principal, expiresAt });
    return { id, seconds: Math.max(1, Math.floor((expiresAt - now) / 1000)) };
  }

  /** The principal of a live session. */
  get(id: string): Principal | undefined {
    const s = this.#sessions.get(id);
    if (!s) return undefined;
    if (s.expiresAt <= this.clock.now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return s.principal;
  }

  /** Ends a session. */
  delete(id: string): void {
    this.#sessions.delete(id);
  }

  /** Sessions kept. */
  get size(): number {
    return this.#sessions.size;
  }

  #prune(now: number): void {
    for (const [id, s] of this.#sessions) if (s.expiresAt <= now) this.#sessions.delete(id);
    for (const id of this.#sessions.keys()) {
      if (this.#sessions.size < this.max) break;
      this.#sessions.delete(id);
    }
  }
}
