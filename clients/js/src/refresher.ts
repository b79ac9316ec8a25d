// The refresh: one at a time in a tab (single flight), one at a time across the tabs of an
// origin (under the Web Lock, with a generation number in localStorage), retried on transient
// failures (network, 429 with Retry-After, 5xx) and ending the session on a final answer.
//
// The tab that gets the lock first refreshes, stores a higher generation and hands the new
// access token to the other tabs (before it releases the lock). A tab that gets the lock
// afterwards sees the higher generation and uses the token it was handed instead of refreshing
// again, while that token has not expired, even when it is already within the refresh lead (a
// refresh that took longer than the token's life minus the lead): refreshing it again at once
// would cost every waiting tab a rotation of its own. A logout wins: the session's epoch changes
// at once and a result that lands afterwards is thrown away.

import { AuthError } from "./errors.js";
import type { Api } from "./http.js";
import type { Tabs } from "./tabs.js";
import type { TokenState } from "./tokens.js";
import { backoffMs, sleep } from "./util.js";

/** Refresh answers that mean the session is over: clear tokens, emit `sessionExpired`. */
const SESSION_OVER_CODES = new Set([
  "TOKEN_REUSE_DETECTED",
  "SESSION_REVOKED",
  "REFRESH_TOKEN_EXPIRED",
  "INVALID_REFRESH_TOKEN",
  "REFRESH_TOKEN_REQUIRED",
]);

/** Statuses worth another refresh attempt (within maxRetries). */
const TRANSIENT_STATUSES = new Set([408, 425, 429, 500, 502, 503, 504]);

// How long a tab that finds a newer generation waits for the token to arrive by message. The
// wait ends as soon as it arrives; the bound only matters on a machine so loaded that a message
// between tabs takes seconds, and then one extra refresh (answered by the grace) is the cost.
const HANDOFF_WAIT_MS = 3000;
// Never wait longer than this for a 429's Retry-After inside a refresh.
const MAX_RETRY_AFTER_MS = 10000;

/** The token part of a login or refresh answer (CONTRACT.md 5.1, 5.2). */
export interface ServerTokens {
  accessToken: string;
  expiresIn: number;
  refreshToken?: string;
  csrfToken?: string;
}

/** What a refresh needs from the client that owns the session. */
export interface RefreshHost {
  tokens: TokenState;
  tabs: Tabs;
  api: Api;
  /** Body transport: the refresh token travels in the request body. */
  body: boolean;
  maxRetries: number;
  now: () => number;
  /** Changes whenever the local session ends. */
  epoch: () => number;
  presentedRefreshToken: () => string | null;
  csrf: () => string | null;
  waitForToken: (check: () => boolean, ms: number) => Promise<boolean>;
  /** The server answered with new tokens (requested at `requestedAt` on `now`'s clock). */
  refreshed: (tokens: ServerTokens, requestedAt: number) => void;
  /** The server said the session is over. */
  sessionOver: (error: AuthError, presentedRefreshToken: string | null) => void;
}

export class Refresher {
  readonly #host: RefreshHost;
  #inflight: Promise<boolean> | null = null;

  constructor(host: RefreshHost) {
    this.#host = host;
  }

  /** The refresh in flight, if any. */
  get inflight(): Promise<boolean> | null {
    return this.#inflight;
  }

  /** The session ended: the next caller starts a new refresh (the old one's result is dropped). */
  forget(): void {
    this.#inflight = null;
  }

  /**
   * Make sure a fresh access token is held. `staleToken` is the token the caller found stale:
   * when another refresh already replaced it, nothing more is done. Resolves true when a token
   * is held, false when the session is over; rejects on transient failures (network, 5xx, 429)
   * after maxRetries.
   */
  refresh(staleToken: string | undefined, force = false): Promise<boolean> {
    const { tokens, tabs } = this.#host;
    const held = tokens.token;
    // A caller whose token was already replaced (by this tab's refresh or a sibling's) gets the
    // replacement while it is valid: it is the newest there is, refreshed by its holder when due.
    const replaced = held !== null && held !== staleToken;
    if (!force && replaced && (tokens.fresh() || (staleToken !== undefined && tokens.usable()))) {
      return Promise.resolve(true);
    }
    if (this.#inflight) return this.#inflight;
    // The generation this tab has seen: a higher one later means another tab refreshed. A tab
    // without a token (new, reloaded) cannot have been sent earlier tokens: it starts from the
    // shared generation.
    const seen = held === null ? tabs.sharedGeneration() : tokens.generation;
    const p = this.#acrossTabs(seen).finally(() => {
      if (this.#inflight === p) this.#inflight = null;
    });
    this.#inflight = p;
    return p;
  }

  #acrossTabs(seenGeneration: number): Promise<boolean> {
    const { tokens, tabs, epoch } = this.#host;
    const mine = epoch();
    const before = tabs.releases().count;
    const newer = () => tokens.generation > seenGeneration && tokens.usable();
    return tabs.withLock(async (contended) => {
      if (epoch() !== mine) return false;
      // Another tab may have refreshed while this one waited for the lock: its token is the
      // answer while it has not expired (see the top of this file).
      if (newer()) return true;
      if (contended && tabs.hasChannel) {
        // The tab that held the lock posts its token, then its "released" notice: wait for the
        // token, or for a notice naming no generation newer than the one held here.
        const settled = () => {
          const released = tabs.releases();
          return newer() || (released.count > before && tokens.generation >= released.generation);
        };
        await this.#host.waitForToken(() => epoch() !== mine || settled(), HANDOFF_WAIT_MS);
        if (epoch() !== mine) return false;
        if (newer()) return true;
      }
      const shared = tabs.sharedGeneration();
      if (shared > seenGeneration) {
        // It did, but its token has not arrived here yet: it is on its way by message (posted
        // before that tab released the lock); ask the siblings too in case it was missed.
        tabs.post({ type: "sync-request" });
        const handed = () => tokens.generation >= shared && tokens.usable();
        await this.#host.waitForToken(() => epoch() !== mine || handed(), HANDOFF_WAIT_MS);
        if (epoch() !== mine) return false;
        if (handed() || tokens.fresh()) return true;
      }
      return this.#overNetwork(mine);
    }, () => tokens.generation);
  }

  async #overNetwork(mine: number): Promise<boolean> {
    const host = this.#host;
    const current = () => host.epoch() === mine;
    for (let attempt = 0; ; attempt += 1) {
      const presented = host.body ? host.presentedRefreshToken() : null;
      if (host.body && presented === null) {
        const error = new AuthError("No refresh token is stored", { code: "REFRESH_TOKEN_REQUIRED", status: 401 });
        host.sessionOver(error, null);
        return false;
      }
      const requestedAt = host.now();
      let response: Response;
      try {
        response = await host.api.refresh(presented, host.csrf());
      } catch (err) {
        if (!current()) return false;
        if (attempt < host.maxRetries) {
          await sleep(backoffMs(attempt));
          if (!current()) return false;
          continue;
        }
        throw new AuthError("Could not reach the server to refresh the session", { code: "NETWORK_ERROR", cause: err });
      }
      // A logout (here or in another tab) while the request was out wins: drop the result.
      if (!current()) return false;
      if (response.ok) {
        const tokens = (await response.json()) as ServerTokens;
        if (!current()) return false;
        host.refreshed(tokens, requestedAt);
        return true;
      }
      const error = await AuthError.fromResponse(response);
      if (!current()) return false;
      if (response.status === 401 && SESSION_OVER_CODES.has(error.code)) {
        if (host.body && host.presentedRefreshToken() !== presented && attempt < host.maxRetries) {
          continue; // another tab stored a newer refresh token meanwhile: use that one
        }
        host.sessionOver(error, presented);
        return false;
      }
      const waitMs = error.retryAfter !== undefined ? error.retryAfter * 1000 : backoffMs(attempt);
      if (TRANSIENT_STATUSES.has(response.status) && attempt < host.maxRetries && waitMs <= MAX_RETRY_AFTER_MS) {
        await sleep(waitMs);
        if (!current()) return false;
        continue;
      }
      throw error;
    }
  }
}
