// The public types of the client: options, the user, events and the client itself.

import type { AuthError, AuthErrorCode } from "./errors.js";

/** A user as the server returns it (CONTRACT.md 5.1). */
export interface User {
  id: string;
  email: string;
  name: string | null;
  createdAt: string;
  emailVerified?: boolean;
}

/** One of the caller's sessions (GET /auth/sessions, CONTRACT.md 5.4). */
export interface Session {
  id: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string;
  ip: string | null;
  userAgent: string | null;
  current: boolean;
}

/** How the refresh token travels (CONTRACT.md 5.5). */
export type Transport = "cookie" | "body";

export interface AuthClientOptions {
  /** The server's URL; a path prefix is kept. Default: the page's origin. */
  baseUrl?: string;
  /**
   * `"cookie"` (recommended): the refresh token is an HttpOnly cookie that scripts cannot read.
   * `"body"`: the client keeps the refresh token in memory and localStorage, where any script
   * on the page (an XSS) can read it.
   * Default: `"cookie"`.
   */
  transport?: Transport;
  /**
   * Prefix of the localStorage keys, Web Lock and BroadcastChannel names.
   * Default: `"tokensmith:" + baseUrl`, so two clients for two servers on one origin never
   * share tokens.
   */
  storageKey?: string;
  /** Seconds before expiry to refresh proactively (capped at half the token's lifetime). Default 30. */
  refreshMargin?: number;
  /** Longest wait for the cross-tab refresh lock before refreshing anyway. Default 10000. */
  lockTimeoutMs?: number;
  /** Extra refresh attempts after a network error, 429 or 5xx. Default 2. */
  maxRetries?: number;
  /** Refresh on a timer before expiry (with jitter). Default true. */
  autoRefresh?: boolean;
  /** The fetch used for the network. Default: `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** Monotonic clock in milliseconds. Default: `performance.now`. For tests. */
  now?: () => number;
  /** Cookie transport: where the CSRF token comes from. Default: the `csrf_token` cookie. */
  getCsrfToken?: () => string | null;
}

export interface TokenInfo {
  /** Milliseconds left before the access token expires, on the client's own clock. */
  expiresInMs: number;
  /** The token's full lifetime (`expiresIn`) in milliseconds. */
  lifetimeMs: number;
  /** How long before expiry the client refreshes it. */
  refreshLeadMs: number;
  /** `expiresInMs` as a wall-clock time, for display only. */
  expiresAt: Date;
  /** The session id (`sid` claim). */
  sessionId: string | null;
  /** The user id (`sub` claim). */
  userId: string | null;
  /** The token's scopes (`scope` claim, split on spaces); empty without one. */
  scopes: string[];
  /** When the user authenticated (`auth_time` claim), kept across refreshes. */
  authTime: Date | null;
  /** Counts refreshes across the tabs of the origin. */
  generation: number;
}

/** Where an event started: this tab or another tab of the same origin. */
export type EventSource = "this-tab" | "other-tab";

export interface AuthEvents {
  tokenRefreshed: { expiresIn: number; source: EventSource };
  /** The server ended the session (reuse detected, revoked, expired). Tokens are cleared. */
  sessionExpired: { code: AuthErrorCode; error: AuthError; source: EventSource };
  /** `logout()` or `logoutAll()` ran here or in another tab. Tokens are cleared. */
  loggedOut: { source: EventSource; everywhere: boolean };
  /** A login here, or one adopted from another tab. */
  loggedIn: { user: User | null; source: EventSource };
}

export type AuthEventName = keyof AuthEvents;

export interface AuthClient {
  readonly transport: Transport;
  /** The normalized base URL (with a trailing slash). */
  readonly baseUrl: string;
  /**
   * Log in; in cookie transport the refresh token is set as an HttpOnly cookie.
   * `remember: false` opens a short session whose cookie ends with the browser.
   */
  login(email: string, password: string, options?: { remember?: boolean }): Promise<User>;
  /** Create an account (does not log in). */
  register(email: string, password: string, name?: string): Promise<User>;
  /** End this session here, in the other tabs and on the server. */
  logout(): Promise<void>;
  /** End every session of the user, then this one locally and in the other tabs. */
  logoutAll(): Promise<{ revoked: number }>;
  /** The current user: cached, or from GET /auth/me (restoring the session if needed); null when signed out. */
  getUser(options?: { force?: boolean }): Promise<User | null>;
  /** After a reload: take the token from another tab, or refresh with the stored refresh token or cookie. */
  restore(): Promise<User | null>;
  /**
   * A drop-in for `window.fetch`. A path resolves against `baseUrl`; requests under `baseUrl`
   * get the Bearer token (others are passed through untouched); a 401 `TOKEN_EXPIRED` causes
   * one refresh, shared by every caller and tab, and one retry.
   */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  /** A fresh access token (refreshing or restoring if needed), or null when signed out. */
  getAccessToken(): Promise<string | null>;
  /**
   * Refresh now (still one refresh across tabs); false when there is no session to refresh.
   * With `staleToken`, the token a request was refused with (401 `TOKEN_EXPIRED`), it refreshes
   * only if the client still holds that token, so requests that fail together share one refresh.
   */
  refresh(options?: { staleToken?: string }): Promise<boolean>;
  /** The access token's remaining life on the client's clock, or null when signed out. */
  tokenInfo(): TokenInfo | null;
  /** Whether an access token is held in memory. */
  isAuthenticated(): boolean;
  /** Subscribe to an event; returns the function that unsubscribes. */
  on<E extends AuthEventName>(event: E, handler: (detail: AuthEvents[E]) => void): () => void;
  /** Stop timers, close the BroadcastChannel, drop handlers. */
  close(): void;
}
