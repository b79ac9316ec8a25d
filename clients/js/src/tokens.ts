// The access token this tab holds, and when it expires on the client's own monotonic clock.
//
// Expiry is measured from the moment the token was requested plus the server's `expiresIn`,
// never from the token's `exp` against Date.now, so a wrong wall clock on the device cannot make
// the client refresh too late or forever.

import type { TokenInfo } from "./types.js";
import { decodeClaims } from "./util.js";

export interface HeldToken {
  token: string;
  /** Milliseconds of life left, counted from now. */
  remainingMs: number;
  /** The full lifetime (`expiresIn`) in milliseconds. */
  lifetimeMs: number;
  /** The cross-tab generation this token belongs to. */
  generation: number;
}

export class TokenState {
  readonly #now: () => number;
  readonly #marginMs: number;
  #token: string | null = null;
  #deadline = 0; // on #now's clock
  #lifetimeMs = 0;
  #arrivedWithMs = 0; // the life it had left when this tab got it
  #claims: Record<string, unknown> | null = null;
  #generation = 0;

  constructor(now: () => number, refreshMarginMs: number) {
    this.#now = now;
    this.#marginMs = refreshMarginMs;
  }

  set(held: HeldToken): void {
    this.#token = held.token;
    this.#deadline = this.#now() + held.remainingMs;
    this.#lifetimeMs = held.lifetimeMs;
    this.#arrivedWithMs = held.remainingMs;
    this.#claims = decodeClaims(held.token);
    this.#generation = held.generation;
  }

  /** Forget the token (the generation stays: it only ever grows). */
  clear(): void {
    this.#token = null;
    this.#deadline = 0;
    this.#lifetimeMs = 0;
    this.#arrivedWithMs = 0;
    this.#claims = null;
  }

  get token(): string | null {
    return this.#token;
  }

  get generation(): number {
    return this.#generation;
  }

  get lifetimeMs(): number {
    return this.#lifetimeMs;
  }

  remainingMs(): number {
    return this.#token ? this.#deadline - this.#now() : -Infinity;
  }

  /**
   * How long before expiry a token counts as due for refresh: the margin, at most half the
   * token's lifetime, and at most half the life it had left when it arrived, so a token from a
   * slow refresh (or handed over late) is never due the moment it arrives.
   */
  leadMs(): number {
    return Math.min(this.#marginMs, this.#lifetimeMs / 2, this.#arrivedWithMs / 2);
  }

  /** True without a token, or when the one held is within the refresh lead of expiry. */
  stale(): boolean {
    return !this.#token || this.remainingMs() <= this.leadMs();
  }

  /** A usable token that is not yet due for refresh. */
  fresh(): boolean {
    return !this.stale();
  }

  /** A token that has not expired, due for refresh or not. */
  usable(): boolean {
    return this.#token !== null && this.remainingMs() > 0;
  }

  claim(name: string): unknown {
    return this.#claims ? this.#claims[name] : undefined;
  }

  get sid(): string | null {
    const sid = this.claim("sid");
    return typeof sid === "string" ? sid : null;
  }

  /** For display (a countdown): remaining life, session and user ids, scopes, login time. */
  info(): TokenInfo | null {
    if (this.#token === null) return null;
    const remaining = Math.max(0, this.remainingMs());
    const sub = this.claim("sub");
    const scope = this.claim("scope");
    const authTime = this.claim("auth_time");
    return {
      expiresInMs: remaining,
      lifetimeMs: this.#lifetimeMs,
      refreshLeadMs: this.leadMs(),
      expiresAt: new Date(Date.now() + remaining),
      sessionId: this.sid,
      userId: typeof sub === "string" ? sub : null,
      scopes: typeof scope === "string" ? scope.split(" ").filter(Boolean) : [],
      authTime: Number.isInteger(authTime) ? new Date((authTime as number) * 1000) : null,
      generation: this.#generation,
    };
  }
}
