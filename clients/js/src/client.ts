// The client: one session of one user against one tokensmith server, shared by the tabs of an
// origin. It composes the token state (tokens.ts), the cross-tab coordination (tabs.ts), the
// refresh (refresher.ts), the HTTP calls (http.ts) and the events (events.ts), and holds what
// this tab knows of the session: the user, the session's epoch (it changes whenever the local
// session ends, so a result that lands afterwards is thrown away: a logout wins), the sessions
// known to be over, and the restore after a reload.

import { AuthError, errorCodeOf } from "./errors.js";
import { Emitter } from "./events.js";
import { Api } from "./http.js";
import { Refresher, type ServerTokens } from "./refresher.js";
import { type TabMessage, Tabs } from "./tabs.js";
import { TokenState } from "./tokens.js";
import type { AuthClientOptions, AuthEventName, AuthEvents, TokenInfo, Transport, User } from "./types.js";
import { csrfCookie, nonNegative, randomId, sleep } from "./util.js";

// How long a tab without a token asks its siblings before refreshing itself.
const PEER_WAIT_MS = 150;

export class Client {
  readonly transport: Transport;
  readonly #api: Api;
  readonly #tokens: TokenState;
  readonly #tabs: Tabs;
  readonly #events = new Emitter();
  readonly #autoRefresh: boolean;
  readonly #refresher: Refresher;
  readonly #readCsrfOption: (() => string | null) | undefined;
  readonly #now: () => number;

  #user: User | null = null;
  #memoryRefreshToken: string | null = null; // body transport only
  #csrfFromBody: string | null = null;
  #epoch = 0; // changes whenever the local session ends; stale results are discarded
  #restoring: Promise<boolean> | null = null;
  #restoreSettledEpoch = -1;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;
  readonly #deadSessions = new Set<string>();
  readonly #tokenWaiters = new Set<() => void>();

  constructor(options: AuthClientOptions = {}) {
    const transport = options.transport ?? "cookie";
    if (transport !== "cookie" && transport !== "body") {
      throw new TypeError(`transport must be "cookie" or "body", not ${JSON.stringify(transport)}`);
    }
    this.transport = transport;
    const page = globalThis.location;
    const rawBase = options.baseUrl ?? page?.origin;
    if (!rawBase) throw new TypeError("baseUrl is required outside a browser page");
    const base = new URL(rawBase, page?.href);
    if (!base.pathname.endsWith("/")) base.pathname += "/";
    const now = options.now ?? (() => performance.now());
    this.#now = now;
    const fetchFn = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#api = new Api(base, fetchFn, transport);
    this.#tokens = new TokenState(now, nonNegative(options.refreshMargin ?? 30, "refreshMargin") * 1000);
    this.#autoRefresh = options.autoRefresh ?? true;
    this.#readCsrfOption = options.getCsrfToken;
    // Keyed by the server: two clients for two servers on one origin never share tokens.
    const storageKey = options.storageKey ?? `tokensmith:${base.href}`;
    const lockTimeoutMs = nonNegative(options.lockTimeoutMs ?? 10000, "lockTimeoutMs");
    this.#tabs = new Tabs(storageKey, randomId(), lockTimeoutMs, (m) => this.#onMessage(m));
    this.#refresher = new Refresher({
      tokens: this.#tokens,
      tabs: this.#tabs,
      api: this.#api,
      body: transport === "body",
      maxRetries: Math.floor(nonNegative(options.maxRetries ?? 2, "maxRetries")),
      now,
      epoch: () => this.#epoch,
      presentedRefreshToken: () => this.#storedRefreshToken(),
      csrf: () => this.#csrf(),
      waitForToken: (check, ms) => this.#waitForToken(check, ms),
      refreshed: (tokens, requestedAt) => {
        this.#acceptFromServer(tokens, requestedAt, "refresh", null);
        this.#events.emit("tokenRefreshed", { expiresIn: Number(tokens.expiresIn), source: "this-tab" });
      },
      sessionOver: (error, presented) => this.#sessionOver(error, presented),
    });
  }

  get baseUrl(): string {
    return this.#api.base.href;
  }

  // ---- small helpers -------------------------------------------------------------------------
  #hasSession(): boolean {
    return this.#tokens.token !== null || this.#user !== null;
  }

  #storedRefreshToken(): string | null {
    return this.#tabs.storedRefreshToken() ?? this.#memoryRefreshToken;
  }

  #csrf(): string | null {
    if (this.#readCsrfOption) return this.#readCsrfOption() ?? this.#csrfFromBody;
    return csrfCookie() ?? this.#csrfFromBody;
  }

  /** Is there something to restore a session from after a reload? */
  #restorable(): boolean {
    return this.transport === "cookie" ? this.#csrf() !== null : this.#storedRefreshToken() !== null;
  }

  /** Resolve when `check()` is true after a token arrives, or after `ms`. */
  #waitForToken(check: () => boolean, ms: number): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (value: boolean) => {
        this.#tokenWaiters.delete(wake);
        clearTimeout(t);
        resolve(value);
      };
      const wake = () => {
        if (check()) done(true);
      };
      const t = setTimeout(() => done(check()), ms);
      this.#tokenWaiters.add(wake);
    });
  }

  #wakeWaiters(): void {
    for (const wake of [...this.#tokenWaiters]) wake();
  }

  // ---- token state ---------------------------------------------------------------------------
  #setToken(token: string, remainingMs: number, lifetimeMs: number, generation: number, user: User | null) {
    this.#tokens.set({ token, remainingMs, lifetimeMs, generation });
    if (user) this.#user = user;
    this.#restoreSettledEpoch = this.#epoch;
    this.#schedule();
    this.#wakeWaiters();
  }

  #tokenMessage(reason: string, to?: string): TabMessage {
    return {
      type: "tokens",
      reason,
      to,
      accessToken: this.#tokens.token,
      remainingMs: this.#tokens.remainingMs(),
      lifetimeMs: this.#tokens.lifetimeMs,
      generation: this.#tokens.generation,
      sid: this.#tokens.sid,
      user: this.#user,
      refreshToken: this.transport === "body" ? this.#memoryRefreshToken : undefined,
    };
  }

  /** Accept a token from the server: bump the generation, persist, tell the other tabs. */
  #acceptFromServer(body: ServerTokens, requestedAt: number, reason: string, user: User | null) {
    const generation = Math.max(this.#tokens.generation, this.#tabs.sharedGeneration()) + 1;
    if (this.transport === "body" && typeof body.refreshToken === "string") {
      this.#tabs.storeRefreshToken(body.refreshToken);
      this.#memoryRefreshToken = body.refreshToken;
    }
    if (typeof body.csrfToken === "string") this.#csrfFromBody = body.csrfToken;
    const lifetimeMs = Number(body.expiresIn) * 1000;
    // Measured from when the request left: the server's clock started no earlier than that.
    const remainingMs = requestedAt + lifetimeMs - this.#now();
    this.#setToken(body.accessToken, remainingMs, lifetimeMs, generation, user);
    this.#tabs.setSharedGeneration(generation);
    this.#tabs.post(this.#tokenMessage(reason));
  }

  /**
   * End the local session. Returns whether there was one. `deadRefreshToken`: a stored refresh
   * token the server has just refused, removed too.
   */
  #clearLocal(deadRefreshToken: string | null = null): boolean {
    const had = this.#hasSession();
    this.#epoch += 1;
    this.#tokens.clear();
    this.#user = null;
    this.#refresher.forget();
    this.#restoring = null;
    if (this.transport === "body") {
      const stored = this.#tabs.storedRefreshToken();
      // Leave a refresh token that another tab stored for a newer session alone.
      const mem = this.#memoryRefreshToken;
      if (stored !== null && (mem === null || stored === mem || stored === deadRefreshToken)) {
        this.#tabs.storeRefreshToken(null);
      }
      this.#memoryRefreshToken = null;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#wakeWaiters();
    return had;
  }

  /** The server said the session is over (reuse, revoked, expired): clear and tell everyone. */
  #sessionOver(error: AuthError, presentedRefreshToken: string | null = null): void {
    const sid = this.#tokens.sid;
    if (sid) this.#deadSessions.add(sid);
    this.#clearLocal(presentedRefreshToken);
    this.#restoreSettledEpoch = this.#epoch;
    this.#tabs.post({ type: "sessionExpired", sid, code: error.code });
    this.#events.emit("sessionExpired", { code: error.code, error, source: "this-tab" });
    if (this.transport === "cookie" && this.#csrf() !== null) {
      // Have the server clear the dead session's cookies (logging out twice is 200), so the
      // next page load does not try to restore it again.
      this.#api.logout({ token: null, refreshToken: null, csrf: this.#csrf(), cookie: true }).catch(() => {});
    }
  }

  // ---- proactive refresh ---------------------------------------------------------------------
  #schedule(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const token = this.#tokens.token;
    if (!this.#autoRefresh || !token || this.#closed) return;
    // Jitter spreads the refreshes of many tabs and clients; the lock dedupes the rest.
    const jitterMs = Math.random() * Math.min(5000, this.#tokens.lifetimeMs / 10);
    const delay = Math.max(0, this.#tokens.remainingMs() - this.#tokens.leadMs() - jitterMs);
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.#refresher.refresh(token).catch(() => {
          // Transient failure: try again while the token is still good; fetch retries too.
          if (this.#tokens.token === token && !this.#closed && this.#tokens.remainingMs() > 0) {
            this.#timer = setTimeout(() => this.#schedule(), Math.max(1000, this.#tokens.remainingMs() / 2));
          }
        });
      },
      Math.min(delay, 2 ** 31 - 1),
    );
  }

  // ---- restore (page reload, new tab) --------------------------------------------------------
  /** Get a usable token if a session can be found: from a sibling tab, else by refreshing. */
  #ensureSession(): Promise<boolean> {
    if (this.#tokens.fresh()) return Promise.resolve(true);
    if (this.#restoring) return this.#restoring;
    const p = (async () => {
      const epoch = this.#epoch;
      if (this.#tokens.token === null) {
        if (!this.#restorable()) {
          this.#restoreSettledEpoch = this.#epoch;
          return false;
        }
        if (this.#tabs.hasChannel) {
          this.#tabs.post({ type: "sync-request" });
          await this.#waitForToken(() => this.#tokens.token !== null, PEER_WAIT_MS);
        }
        if (this.#epoch !== epoch) return false;
      }
      if (this.#tokens.fresh()) return true;
      const ok = await this.#refresher.refresh(this.#tokens.token ?? undefined);
      this.#restoreSettledEpoch = this.#epoch;
      return ok;
    })().finally(() => {
      if (this.#restoring === p) this.#restoring = null;
    });
    this.#restoring = p;
    return p;
  }

  // ---- cross-tab messages --------------------------------------------------------------------
  #onMessage(m: TabMessage): void {
    if (this.#closed) return;
    const sid = typeof m.sid === "string" ? m.sid : null;
    if (m.type === "tokens") this.#adoptTokens(m, sid);
    else if (m.type === "sync-request") {
      if (this.#tokens.fresh()) this.#tabs.post(this.#tokenMessage("sync", m.from as string));
    } else if (m.type === "released") {
      this.#wakeWaiters(); // a refresh that waited for the lock may be settled (refresher.ts)
    } else if (m.type === "loggedOut") {
      if (sid) this.#deadSessions.add(sid);
      const had = this.#clearLocal();
      this.#restoreSettledEpoch = this.#epoch;
      if (had) this.#events.emit("loggedOut", { source: "other-tab", everywhere: Boolean(m.everywhere) });
    } else if (m.type === "sessionExpired") {
      if (sid) this.#deadSessions.add(sid);
      const mine = this.#tokens.sid;
      if (sid && mine && sid !== mine) return; // another session than ours
      const had = this.#clearLocal();
      this.#restoreSettledEpoch = this.#epoch;
      if (had) {
        const code = String(m.code);
        const error = new AuthError("The session has ended", { code, status: 401 });
        this.#events.emit("sessionExpired", { code, error, source: "other-tab" });
      }
    }
  }

  #adoptTokens(m: TabMessage, sid: string | null): void {
    const remaining = Number(m.remainingMs);
    const lifetime = Number(m.lifetimeMs);
    const generation = Number(m.generation);
    if (typeof m.accessToken !== "string" || !(remaining > 0)) return;
    if (sid && this.#deadSessions.has(sid)) return; // a late result of a logged-out session
    const held = this.#tokens.token;
    const newer = generation > this.#tokens.generation;
    const better =
      generation === this.#tokens.generation && m.accessToken !== held && remaining > this.#tokens.remainingMs();
    if (!newer && !better) return;
    const wasSignedIn = this.#hasSession();
    const sameToken = m.accessToken === held;
    const sameSession = Boolean(sid) && sid === this.#tokens.sid;
    if (this.transport === "body" && typeof m.refreshToken === "string") this.#memoryRefreshToken = m.refreshToken;
    if (!sameSession) this.#user = null; // another session, perhaps another user: fetch it anew
    this.#setToken(m.accessToken, remaining, lifetime, generation, (m.user as User | null) ?? null);
    const refreshed = { expiresIn: Math.round(lifetime / 1000), source: "other-tab" } as const;
    // An answer to our own sync-request is a restore, not a login: restore() reports it.
    if (m.reason === "sync") {
      if (wasSignedIn && sameSession && !sameToken) this.#events.emit("tokenRefreshed", refreshed);
    } else if (!wasSignedIn || !sameSession) this.#events.emit("loggedIn", { user: this.#user, source: "other-tab" });
    else if (!sameToken) this.#events.emit("tokenRefreshed", refreshed);
  }

  // ---- authenticated fetch -------------------------------------------------------------------
  /** The token to send now: restores lazily, refreshes proactively. */
  async #tokenForRequest(): Promise<string | null> {
    if (this.#tokens.token === null && this.#restoreSettledEpoch !== this.#epoch && this.#restorable()) {
      await this.#ensureSession();
    }
    const token = this.#tokens.token;
    if (token !== null && this.#tokens.stale()) {
      try {
        await this.#refresher.refresh(token);
      } catch (err) {
        // The old token may still be good for a moment; if not, report the failure.
        if (!(this.#tokens.token === token && this.#tokens.remainingMs() > 0)) throw err;
      }
    }
    return this.#tokens.token;
  }

  /** A drop-in for window.fetch: Bearer added, one refresh and one retry on TOKEN_EXPIRED. */
  fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(this.#api.resolveInput(input), init);
    if (!this.#api.isApiUrl(request.url) || request.headers.has("Authorization")) {
      return this.#api.send(request);
    }
    const token = await this.#tokenForRequest();
    const response = await this.#api.sendWithToken(request, token);
    if (response.status !== 401 || token === null) return response;
    const code = await errorCodeOf(response);
    if (code === "TOKEN_EXPIRED") {
      const ok = await this.#refresher.refresh(token);
      const fresh = this.#tokens.token;
      if (!ok || fresh === null || fresh === token) return response;
      return this.#api.sendWithToken(request, fresh);
    }
    if (code === "TOKEN_REVOKED" && this.#tokens.token === token) {
      this.#sessionOver(new AuthError("The session was revoked", { code, status: 401 }));
    }
    return response;
  };

  // ---- public API ----------------------------------------------------------------------------
  login = async (email: string, password: string, options: { remember?: boolean } = {}): Promise<User> => {
    const requestedAt = this.#now();
    // remember: false asks for a short session whose cookie ends with the browser.
    const payload = options.remember === false ? { email, password, remember: false } : { email, password };
    const response = await this.#api.login(payload);
    if (!response.ok) throw await AuthError.fromResponse(response);
    const body = (await response.json()) as ServerTokens & { user: User };
    // A new session replaces whatever this tab held; its refreshes in flight are dropped.
    const previous = this.#tokens.sid;
    if (previous) this.#deadSessions.add(previous);
    this.#clearLocal();
    this.#acceptFromServer(body, requestedAt, "login", body.user ?? null);
    this.#events.emit("loggedIn", { user: this.#user, source: "this-tab" });
    return body.user;
  };

  register = async (email: string, password: string, name?: string): Promise<User> => {
    const payload: Record<string, string> = { email, password };
    if (name !== undefined && name !== null && name !== "") payload.name = name;
    const response = await this.#api.register(payload);
    if (!response.ok) throw await AuthError.fromResponse(response);
    return ((await response.json()) as { user: User }).user;
  };

  async #endLocally(everywhere: boolean): Promise<{ token: string | null; refreshToken: string | null }> {
    const pending = this.#refresher.inflight;
    const sid = this.#tokens.sid;
    if (sid) this.#deadSessions.add(sid);
    const token = this.#tokens.remainingMs() > 0 ? this.#tokens.token : null;
    const refreshToken = this.transport === "body" ? this.#storedRefreshToken() : null;
    // Local state first, so a refresh in flight is discarded when it lands: logout wins.
    this.#clearLocal();
    this.#restoreSettledEpoch = this.#epoch;
    this.#tabs.post({ type: "loggedOut", sid, everywhere });
    this.#events.emit("loggedOut", { source: "this-tab", everywhere });
    // Let a refresh already on the wire finish so the cookie the server clears is the newest.
    if (pending) await Promise.race([pending.catch(() => false), sleep(2000)]);
    return { token, refreshToken };
  }

  logout = async (): Promise<void> => {
    const cookie = this.transport === "cookie" && this.#csrf() !== null;
    const { token, refreshToken } = await this.#endLocally(false);
    await this.#api.logout({ token, refreshToken, csrf: this.#csrf(), cookie });
  };

  logoutAll = async (): Promise<{ revoked: number }> => {
    const response = await this.fetch("auth/logout-all", { method: "POST" });
    if (!response.ok) throw await AuthError.fromResponse(response);
    const body = (await response.json()) as { revoked: unknown };
    const cookie = this.transport === "cookie" && this.#csrf() !== null;
    await this.#endLocally(true);
    // Every session is revoked already; this only clears this browser's cookies.
    if (cookie) {
      await this.#api.logout({ token: null, refreshToken: null, csrf: this.#csrf(), cookie }).catch(() => {});
    }
    return { revoked: Number(body.revoked) };
  };

  getUser = async (options: { force?: boolean } = {}): Promise<User | null> => {
    if (this.#user && !options.force) return this.#user;
    const epoch = this.#epoch;
    await this.#tokenForRequest();
    if (this.#tokens.token === null) return null;
    const response = await this.fetch("auth/me");
    if (response.ok) {
      const me = (await response.json()) as User;
      if (this.#epoch === epoch) this.#user = me; // not when the session changed meanwhile
      return me;
    }
    if (response.status === 401) return null;
    throw await AuthError.fromResponse(response);
  };

  restore = async (): Promise<User | null> => ((await this.#ensureSession()) ? this.getUser() : null);

  getAccessToken = (): Promise<string | null> => this.#tokenForRequest();

  /**
   * Refresh now. With `staleToken` (the token a request was refused with), only when the client
   * still holds that token: callers that fail together then share one refresh.
   */
  refresh = async (options: { staleToken?: string } = {}): Promise<boolean> => {
    if (this.#tokens.token === null && !this.#restorable()) return false;
    if (typeof options.staleToken === "string") return this.#refresher.refresh(options.staleToken);
    return this.#refresher.refresh(this.#tokens.token ?? undefined, true);
  };

  tokenInfo = (): TokenInfo | null => this.#tokens.info();

  isAuthenticated = (): boolean => this.#tokens.token !== null;

  on = <E extends AuthEventName>(event: E, handler: (detail: AuthEvents[E]) => void): (() => void) =>
    this.#events.on(event, handler);

  close = (): void => {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#tabs.close();
    this.#events.clear();
  };
}
