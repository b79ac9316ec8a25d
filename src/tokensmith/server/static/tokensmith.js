// @tokensmith/client 0.2.0: built from clients/js/src by `npm run build`; do not edit.

// src/errors.ts
var AuthError = class _AuthError extends Error {
  name = "AuthError";
  /** Stable code: the server's (section 4) or the client's own. */
  code;
  /** HTTP status; 0 when no response arrived. */
  status;
  /** Validation details of a 422 `VALIDATION_ERROR`. */
  details;
  /** Seconds from a 429's `Retry-After` header. */
  retryAfter;
  constructor(message, info = {}) {
    super(message, info.cause === void 0 ? void 0 : { cause: info.cause });
    this.code = info.code ?? "AUTH_ERROR";
    this.status = info.status ?? 0;
    if (info.details !== void 0) this.details = info.details;
    if (info.retryAfter !== void 0) this.retryAfter = info.retryAfter;
  }
  /** Read an error body (`{"error", "code", "details"?}`) from a response. */
  static async fromResponse(response) {
    let body = null;
    try {
      body = await response.clone().json();
    } catch {
      body = null;
    }
    const code = body && typeof body.code === "string" ? body.code : `HTTP_${response.status}`;
    const message = body && typeof body.error === "string" ? body.error : `Request failed with status ${response.status}`;
    const header = response.headers.get("Retry-After")?.trim();
    return new _AuthError(message, {
      code,
      status: response.status,
      details: body ? body.details : void 0,
      retryAfter: header && /^\d+$/.test(header) ? Number(header) : void 0
    });
  }
};
function isAuthError(value, code) {
  const e = value;
  const looksLikeOne = value instanceof AuthError || e !== null && typeof e === "object" && e.name === "AuthError" && typeof e.code === "string" && typeof e.status === "number";
  return looksLikeOne && (code === void 0 || e.code === code);
}
async function errorCodeOf(response) {
  try {
    const body = await response.clone().json();
    return body && typeof body.code === "string" ? body.code : null;
  } catch {
    return null;
  }
}

// src/events.ts
var NAMES = ["tokenRefreshed", "sessionExpired", "loggedOut", "loggedIn"];
var Emitter = class {
  #handlers = new Map(NAMES.map((n) => [n, /* @__PURE__ */ new Set()]));
  on(name, handler) {
    const set = this.#handlers.get(name);
    if (!set) throw new TypeError(`unknown event ${JSON.stringify(name)}`);
    set.add(handler);
    return () => {
      set.delete(handler);
    };
  }
  emit(name, detail) {
    for (const handler of [...this.#handlers.get(name)]) {
      try {
        handler(detail);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
  clear() {
    for (const set of this.#handlers.values()) set.clear();
  }
};

// src/util.ts
function nonNegative(value, name) {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new TypeError(`${name} must be a non-negative number`);
  return n;
}
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
function backoffMs(attempt) {
  return 250 * 2 ** attempt + Math.random() * 250;
}
function timeoutSignal(ms) {
  if (typeof AbortSignal.timeout === "function") return AbortSignal.timeout(ms);
  const controller = new AbortController();
  setTimeout(() => controller.abort(new DOMException("timed out", "TimeoutError")), ms);
  return controller.signal;
}
function randomId() {
  if (globalThis.crypto && typeof globalThis.crypto.randomUUID === "function") {
    return globalThis.crypto.randomUUID();
  }
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
function decodeClaims(token) {
  try {
    const part = token.split(".")[1];
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return payload && typeof payload === "object" ? payload : null;
  } catch {
    return null;
  }
}
function csrfCookie() {
  const cookies = globalThis.document ? globalThis.document.cookie : "";
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === "csrf_token") {
      return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  return null;
}

// src/http.ts
var REFRESH_REQUEST_TIMEOUT_MS = 8e3;
var Api = class {
  base;
  #fetch;
  #cookie;
  constructor(base, fetchFn, transport) {
    this.base = base;
    this.#fetch = fetchFn;
    this.#cookie = transport === "cookie";
  }
  /** "auth/me" and "/auth/me" both land under baseUrl (which may carry a path prefix). */
  url(path) {
    return new URL(String(path).replace(/^\/+/, ""), this.base).href;
  }
  /** A path resolves against baseUrl; an absolute URL or a Request is left alone. */
  resolveInput(input) {
    if (typeof input === "string" && !/^[a-zA-Z][a-zA-Z\d+.-]*:/.test(input)) return this.url(input);
    return input;
  }
  /** Only requests to the API get the token; a drop-in fetch must not leak it to other hosts. */
  isApiUrl(url) {
    const u = new URL(url);
    return u.origin === this.base.origin && u.pathname.startsWith(this.base.pathname);
  }
  /** Send as is (the network error is the caller's to map). */
  send(request) {
    return this.#fetch(request);
  }
  /** Send `request` with `token` as its Bearer (none when null). */
  sendWithToken(request, token) {
    const attempt = request.clone();
    if (token === null) return this.#fetch(attempt);
    const headers = new Headers(attempt.headers);
    headers.set("Authorization", `Bearer ${token}`);
    return this.#fetch(new Request(attempt, { headers }));
  }
  async postJson(path, body, init = {}) {
    try {
      return await this.#fetch(this.url(path), {
        method: "POST",
        headers: { "Content-Type": "application/json", ...init.headers },
        body: JSON.stringify(body),
        credentials: init.cookie === void 0 ? "same-origin" : init.cookie ? "include" : "omit"
      });
    } catch (err) {
      throw new AuthError("Could not reach the server", { code: "NETWORK_ERROR", cause: err });
    }
  }
  login(payload) {
    const headers = this.#cookie ? { "X-Token-Transport": "cookie" } : {};
    return this.postJson("auth/login", payload, { headers, cookie: this.#cookie });
  }
  register(payload) {
    return this.postJson("auth/register", payload, { cookie: false });
  }
  /** POST /auth/refresh; throws the fetch error itself (the caller retries). */
  refresh(refreshToken, csrf) {
    const headers = { "Content-Type": "application/json" };
    if (this.#cookie) {
      headers["X-Token-Transport"] = "cookie";
      if (csrf !== null) headers["X-CSRF-Token"] = csrf;
    }
    return this.#fetch(this.url("auth/refresh"), {
      method: "POST",
      headers,
      body: this.#cookie ? "{}" : JSON.stringify({ refreshToken }),
      credentials: this.#cookie ? "include" : "omit",
      signal: timeoutSignal(REFRESH_REQUEST_TIMEOUT_MS)
    });
  }
  /** Tell the server the session ended (with the Bearer token, the refresh token or cookies). */
  async logout(from) {
    const { token, refreshToken, csrf, cookie } = from;
    if (!token && !refreshToken && !cookie) return;
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (cookie) {
      headers["X-Token-Transport"] = "cookie";
      if (csrf !== null) headers["X-CSRF-Token"] = csrf;
    }
    const response = await this.postJson("auth/logout", refreshToken ? { refreshToken } : {}, { headers, cookie });
    if (!response.ok && response.status !== 400 && response.status !== 401) {
      throw await AuthError.fromResponse(response);
    }
  }
};

// src/refresher.ts
var SESSION_OVER_CODES = /* @__PURE__ */ new Set([
  "TOKEN_REUSE_DETECTED",
  "SESSION_REVOKED",
  "REFRESH_TOKEN_EXPIRED",
  "INVALID_REFRESH_TOKEN",
  "REFRESH_TOKEN_REQUIRED"
]);
var TRANSIENT_STATUSES = /* @__PURE__ */ new Set([408, 425, 429, 500, 502, 503, 504]);
var HANDOFF_WAIT_MS = 3e3;
var MAX_RETRY_AFTER_MS = 1e4;
var Refresher = class {
  #host;
  #inflight = null;
  constructor(host) {
    this.#host = host;
  }
  /** The refresh in flight, if any. */
  get inflight() {
    return this.#inflight;
  }
  /** The session ended: the next caller starts a new refresh (the old one's result is dropped). */
  forget() {
    this.#inflight = null;
  }
  /**
   * Make sure a fresh access token is held. `staleToken` is the token the caller found stale:
   * when another refresh already replaced it, nothing more is done. Resolves true when a token
   * is held, false when the session is over; rejects on transient failures (network, 5xx, 429)
   * after maxRetries.
   */
  refresh(staleToken, force = false) {
    const { tokens, tabs } = this.#host;
    const held = tokens.token;
    const replaced = held !== null && held !== staleToken;
    if (!force && replaced && (tokens.fresh() || staleToken !== void 0 && tokens.usable())) {
      return Promise.resolve(true);
    }
    if (this.#inflight) return this.#inflight;
    const seen = held === null ? tabs.sharedGeneration() : tokens.generation;
    const p = this.#acrossTabs(seen).finally(() => {
      if (this.#inflight === p) this.#inflight = null;
    });
    this.#inflight = p;
    return p;
  }
  #acrossTabs(seenGeneration) {
    const { tokens, tabs, epoch } = this.#host;
    const mine = epoch();
    const before = tabs.releases().count;
    const newer = () => tokens.generation > seenGeneration && tokens.usable();
    return tabs.withLock(async (contended) => {
      if (epoch() !== mine) return false;
      if (newer()) return true;
      if (contended && tabs.hasChannel) {
        const settled = () => {
          const released = tabs.releases();
          return newer() || released.count > before && tokens.generation >= released.generation;
        };
        await this.#host.waitForToken(() => epoch() !== mine || settled(), HANDOFF_WAIT_MS);
        if (epoch() !== mine) return false;
        if (newer()) return true;
      }
      const shared = tabs.sharedGeneration();
      if (shared > seenGeneration) {
        tabs.post({ type: "sync-request" });
        const handed = () => tokens.generation >= shared && tokens.usable();
        await this.#host.waitForToken(() => epoch() !== mine || handed(), HANDOFF_WAIT_MS);
        if (epoch() !== mine) return false;
        if (handed() || tokens.fresh()) return true;
      }
      return this.#overNetwork(mine);
    }, () => tokens.generation);
  }
  async #overNetwork(mine) {
    const host = this.#host;
    const current = () => host.epoch() === mine;
    for (let attempt = 0; ; attempt += 1) {
      const presented = host.body ? host.presentedRefreshToken() : null;
      if (host.body && presented === null) {
        const error2 = new AuthError("No refresh token is stored", { code: "REFRESH_TOKEN_REQUIRED", status: 401 });
        host.sessionOver(error2, null);
        return false;
      }
      const requestedAt = host.now();
      let response;
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
      if (!current()) return false;
      if (response.ok) {
        const tokens = await response.json();
        if (!current()) return false;
        host.refreshed(tokens, requestedAt);
        return true;
      }
      const error = await AuthError.fromResponse(response);
      if (!current()) return false;
      if (response.status === 401 && SESSION_OVER_CODES.has(error.code)) {
        if (host.body && host.presentedRefreshToken() !== presented && attempt < host.maxRetries) {
          continue;
        }
        host.sessionOver(error, presented);
        return false;
      }
      const waitMs = error.retryAfter !== void 0 ? error.retryAfter * 1e3 : backoffMs(attempt);
      if (TRANSIENT_STATUSES.has(response.status) && attempt < host.maxRetries && waitMs <= MAX_RETRY_AFTER_MS) {
        await sleep(waitMs);
        if (!current()) return false;
        continue;
      }
      throw error;
    }
  }
};

// src/tabs.ts
var VERSION = 1;
var Tabs = class {
  #tabId;
  #keys;
  #channel;
  #lockTimeoutMs;
  #closed = false;
  #releases = { count: 0, generation: 0 };
  constructor(storageKey, tabId, lockTimeoutMs, onMessage) {
    this.#tabId = tabId;
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#keys = {
      refreshToken: `${storageKey}:refreshToken`,
      generation: `${storageKey}:generation`,
      lock: `${storageKey}:refresh`
    };
    this.#channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(`${storageKey}:auth`) : null;
    if (this.#channel) {
      this.#channel.onmessage = (event) => {
        const m = event.data;
        if (!m || m.v !== VERSION || m.from === tabId || this.#closed) return;
        if (m.to && m.to !== tabId) return;
        if (m.type === "released") {
          const generation = Number(m.generation);
          this.#releases = {
            count: this.#releases.count + 1,
            generation: Number.isFinite(generation) ? Math.max(this.#releases.generation, generation) : this.#releases.generation
          };
        }
        onMessage(m);
      };
    }
  }
  get hasChannel() {
    return this.#channel !== null;
  }
  get tabId() {
    return this.#tabId;
  }
  post(message) {
    if (!this.#channel || this.#closed) return;
    try {
      this.#channel.postMessage({ ...message, v: VERSION, from: this.#tabId });
    } catch {
    }
  }
  /** The highest generation any tab has stored. */
  sharedGeneration() {
    const n = Number(storageGet(this.#keys.generation));
    return Number.isFinite(n) ? n : 0;
  }
  setSharedGeneration(generation) {
    storageSet(this.#keys.generation, String(generation));
  }
  /** Body transport: the refresh token shared by the tabs. */
  storedRefreshToken() {
    return storageGet(this.#keys.refreshToken);
  }
  storeRefreshToken(token) {
    storageSet(this.#keys.refreshToken, token);
  }
  /** The "released" notices received so far (see withLock). */
  releases() {
    return this.#releases;
  }
  /**
   * Run `fn` holding the refresh lock of every tab. `fn` learns whether another tab held the
   * lock when this one asked (`contended`): that tab may have just refreshed, and its token is on
   * its way by message. Every holder posts a "released" notice naming its generation when `fn`
   * is done, after any token it posted, so a tab that waited can tell "the token is coming" from
   * "that tab got none". localStorage cannot tell it: another tab's write can reach this
   * renderer process after the lock does.
   *
   * The wait is bounded: past lockTimeoutMs, or without Web Locks, `fn` runs anyway. At worst
   * that is one extra refresh, which the server's reuse grace (CONTRACT.md 5.3) answers with the
   * same successor, never a logout.
   */
  async withLock(fn, generation) {
    const locks = globalThis.navigator?.locks;
    if (!locks || typeof locks.request !== "function" || this.#lockTimeoutMs === 0) return fn(false);
    const held = async (contended) => {
      try {
        return await fn(contended);
      } finally {
        this.post({ type: "released", generation: generation() });
      }
    };
    const free = await locks.request(
      this.#keys.lock,
      { ifAvailable: true },
      (lock) => lock ? held(false).then((value) => ({ value })) : null
    );
    if (free) return free.value;
    let entered = false;
    try {
      return await locks.request(this.#keys.lock, { signal: timeoutSignal(this.#lockTimeoutMs) }, () => {
        entered = true;
        return held(true);
      });
    } catch (err) {
      if (entered) throw err;
      return fn(false);
    }
  }
  close() {
    this.#closed = true;
    this.#channel?.close();
  }
};
function storage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}
function storageGet(key) {
  try {
    return storage()?.getItem(key) ?? null;
  } catch {
    return null;
  }
}
function storageSet(key, value) {
  try {
    if (value === null) storage()?.removeItem(key);
    else storage()?.setItem(key, value);
  } catch {
  }
}

// src/tokens.ts
var TokenState = class {
  #now;
  #marginMs;
  #token = null;
  #deadline = 0;
  // on #now's clock
  #lifetimeMs = 0;
  #arrivedWithMs = 0;
  // the life it had left when this tab got it
  #claims = null;
  #generation = 0;
  constructor(now, refreshMarginMs) {
    this.#now = now;
    this.#marginMs = refreshMarginMs;
  }
  set(held) {
    this.#token = held.token;
    this.#deadline = this.#now() + held.remainingMs;
    this.#lifetimeMs = held.lifetimeMs;
    this.#arrivedWithMs = held.remainingMs;
    this.#claims = decodeClaims(held.token);
    this.#generation = held.generation;
  }
  /** Forget the token (the generation stays: it only ever grows). */
  clear() {
    this.#token = null;
    this.#deadline = 0;
    this.#lifetimeMs = 0;
    this.#arrivedWithMs = 0;
    this.#claims = null;
  }
  get token() {
    return this.#token;
  }
  get generation() {
    return this.#generation;
  }
  get lifetimeMs() {
    return this.#lifetimeMs;
  }
  remainingMs() {
    return this.#token ? this.#deadline - this.#now() : -Infinity;
  }
  /**
   * How long before expiry a token counts as due for refresh: the margin, at most half the
   * token's lifetime, and at most half the life it had left when it arrived, so a token from a
   * slow refresh (or handed over late) is never due the moment it arrives.
   */
  leadMs() {
    return Math.min(this.#marginMs, this.#lifetimeMs / 2, this.#arrivedWithMs / 2);
  }
  /** True without a token, or when the one held is within the refresh lead of expiry. */
  stale() {
    return !this.#token || this.remainingMs() <= this.leadMs();
  }
  /** A usable token that is not yet due for refresh. */
  fresh() {
    return !this.stale();
  }
  /** A token that has not expired, due for refresh or not. */
  usable() {
    return this.#token !== null && this.remainingMs() > 0;
  }
  claim(name) {
    return this.#claims ? this.#claims[name] : void 0;
  }
  get sid() {
    const sid = this.claim("sid");
    return typeof sid === "string" ? sid : null;
  }
  /** For display (a countdown): remaining life, session and user ids, scopes, login time. */
  info() {
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
      authTime: Number.isInteger(authTime) ? new Date(authTime * 1e3) : null,
      generation: this.#generation
    };
  }
};

// src/client.ts
var PEER_WAIT_MS = 150;
var Client = class {
  transport;
  #api;
  #tokens;
  #tabs;
  #events = new Emitter();
  #autoRefresh;
  #refresher;
  #readCsrfOption;
  #now;
  #user = null;
  #memoryRefreshToken = null;
  // body transport only
  #csrfFromBody = null;
  #epoch = 0;
  // changes whenever the local session ends; stale results are discarded
  #restoring = null;
  #restoreSettledEpoch = -1;
  #timer = null;
  #closed = false;
  #deadSessions = /* @__PURE__ */ new Set();
  #tokenWaiters = /* @__PURE__ */ new Set();
  constructor(options = {}) {
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
    this.#tokens = new TokenState(now, nonNegative(options.refreshMargin ?? 30, "refreshMargin") * 1e3);
    this.#autoRefresh = options.autoRefresh ?? true;
    this.#readCsrfOption = options.getCsrfToken;
    const storageKey = options.storageKey ?? `tokensmith:${base.href}`;
    const lockTimeoutMs = nonNegative(options.lockTimeoutMs ?? 1e4, "lockTimeoutMs");
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
      sessionOver: (error, presented) => this.#sessionOver(error, presented)
    });
  }
  get baseUrl() {
    return this.#api.base.href;
  }
  // ---- small helpers -------------------------------------------------------------------------
  #hasSession() {
    return this.#tokens.token !== null || this.#user !== null;
  }
  #storedRefreshToken() {
    return this.#tabs.storedRefreshToken() ?? this.#memoryRefreshToken;
  }
  #csrf() {
    if (this.#readCsrfOption) return this.#readCsrfOption() ?? this.#csrfFromBody;
    return csrfCookie() ?? this.#csrfFromBody;
  }
  /** Is there something to restore a session from after a reload? */
  #restorable() {
    return this.transport === "cookie" ? this.#csrf() !== null : this.#storedRefreshToken() !== null;
  }
  /** Resolve when `check()` is true after a token arrives, or after `ms`. */
  #waitForToken(check, ms) {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (value) => {
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
  #wakeWaiters() {
    for (const wake of [...this.#tokenWaiters]) wake();
  }
  // ---- token state ---------------------------------------------------------------------------
  #setToken(token, remainingMs, lifetimeMs, generation, user) {
    this.#tokens.set({ token, remainingMs, lifetimeMs, generation });
    if (user) this.#user = user;
    this.#restoreSettledEpoch = this.#epoch;
    this.#schedule();
    this.#wakeWaiters();
  }
  #tokenMessage(reason, to) {
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
      refreshToken: this.transport === "body" ? this.#memoryRefreshToken : void 0
    };
  }
  /** Accept a token from the server: bump the generation, persist, tell the other tabs. */
  #acceptFromServer(body, requestedAt, reason, user) {
    const generation = Math.max(this.#tokens.generation, this.#tabs.sharedGeneration()) + 1;
    if (this.transport === "body" && typeof body.refreshToken === "string") {
      this.#tabs.storeRefreshToken(body.refreshToken);
      this.#memoryRefreshToken = body.refreshToken;
    }
    if (typeof body.csrfToken === "string") this.#csrfFromBody = body.csrfToken;
    const lifetimeMs = Number(body.expiresIn) * 1e3;
    const remainingMs = requestedAt + lifetimeMs - this.#now();
    this.#setToken(body.accessToken, remainingMs, lifetimeMs, generation, user);
    this.#tabs.setSharedGeneration(generation);
    this.#tabs.post(this.#tokenMessage(reason));
  }
  /**
   * End the local session. Returns whether there was one. `deadRefreshToken`: a stored refresh
   * token the server has just refused, removed too.
   */
  #clearLocal(deadRefreshToken = null) {
    const had = this.#hasSession();
    this.#epoch += 1;
    this.#tokens.clear();
    this.#user = null;
    this.#refresher.forget();
    this.#restoring = null;
    if (this.transport === "body") {
      const stored = this.#tabs.storedRefreshToken();
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
  #sessionOver(error, presentedRefreshToken = null) {
    const sid = this.#tokens.sid;
    if (sid) this.#deadSessions.add(sid);
    this.#clearLocal(presentedRefreshToken);
    this.#restoreSettledEpoch = this.#epoch;
    this.#tabs.post({ type: "sessionExpired", sid, code: error.code });
    this.#events.emit("sessionExpired", { code: error.code, error, source: "this-tab" });
    if (this.transport === "cookie" && this.#csrf() !== null) {
      this.#api.logout({ token: null, refreshToken: null, csrf: this.#csrf(), cookie: true }).catch(() => {
      });
    }
  }
  // ---- proactive refresh ---------------------------------------------------------------------
  #schedule() {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const token = this.#tokens.token;
    if (!this.#autoRefresh || !token || this.#closed) return;
    const jitterMs = Math.random() * Math.min(5e3, this.#tokens.lifetimeMs / 10);
    const delay = Math.max(0, this.#tokens.remainingMs() - this.#tokens.leadMs() - jitterMs);
    this.#timer = setTimeout(
      () => {
        this.#timer = null;
        this.#refresher.refresh(token).catch(() => {
          if (this.#tokens.token === token && !this.#closed && this.#tokens.remainingMs() > 0) {
            this.#timer = setTimeout(() => this.#schedule(), Math.max(1e3, this.#tokens.remainingMs() / 2));
          }
        });
      },
      Math.min(delay, 2 ** 31 - 1)
    );
  }
  // ---- restore (page reload, new tab) --------------------------------------------------------
  /** Get a usable token if a session can be found: from a sibling tab, else by refreshing. */
  #ensureSession() {
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
      const ok = await this.#refresher.refresh(this.#tokens.token ?? void 0);
      this.#restoreSettledEpoch = this.#epoch;
      return ok;
    })().finally(() => {
      if (this.#restoring === p) this.#restoring = null;
    });
    this.#restoring = p;
    return p;
  }
  // ---- cross-tab messages --------------------------------------------------------------------
  #onMessage(m) {
    if (this.#closed) return;
    const sid = typeof m.sid === "string" ? m.sid : null;
    if (m.type === "tokens") this.#adoptTokens(m, sid);
    else if (m.type === "sync-request") {
      if (this.#tokens.fresh()) this.#tabs.post(this.#tokenMessage("sync", m.from));
    } else if (m.type === "released") {
      this.#wakeWaiters();
    } else if (m.type === "loggedOut") {
      if (sid) this.#deadSessions.add(sid);
      const had = this.#clearLocal();
      this.#restoreSettledEpoch = this.#epoch;
      if (had) this.#events.emit("loggedOut", { source: "other-tab", everywhere: Boolean(m.everywhere) });
    } else if (m.type === "sessionExpired") {
      if (sid) this.#deadSessions.add(sid);
      const mine = this.#tokens.sid;
      if (sid && mine && sid !== mine) return;
      const had = this.#clearLocal();
      this.#restoreSettledEpoch = this.#epoch;
      if (had) {
        const code = String(m.code);
        const error = new AuthError("The session has ended", { code, status: 401 });
        this.#events.emit("sessionExpired", { code, error, source: "other-tab" });
      }
    }
  }
  #adoptTokens(m, sid) {
    const remaining = Number(m.remainingMs);
    const lifetime = Number(m.lifetimeMs);
    const generation = Number(m.generation);
    if (typeof m.accessToken !== "string" || !(remaining > 0)) return;
    if (sid && this.#deadSessions.has(sid)) return;
    const held = this.#tokens.token;
    const newer = generation > this.#tokens.generation;
    const better = generation === this.#tokens.generation && m.accessToken !== held && remaining > this.#tokens.remainingMs();
    if (!newer && !better) return;
    const wasSignedIn = this.#hasSession();
    const sameToken = m.accessToken === held;
    const sameSession = Boolean(sid) && sid === this.#tokens.sid;
    if (this.transport === "body" && typeof m.refreshToken === "string") this.#memoryRefreshToken = m.refreshToken;
    if (!sameSession) this.#user = null;
    this.#setToken(m.accessToken, remaining, lifetime, generation, m.user ?? null);
    const refreshed = { expiresIn: Math.round(lifetime / 1e3), source: "other-tab" };
    if (m.reason === "sync") {
      if (wasSignedIn && sameSession && !sameToken) this.#events.emit("tokenRefreshed", refreshed);
    } else if (!wasSignedIn || !sameSession) this.#events.emit("loggedIn", { user: this.#user, source: "other-tab" });
    else if (!sameToken) this.#events.emit("tokenRefreshed", refreshed);
  }
  // ---- authenticated fetch -------------------------------------------------------------------
  /** The token to send now: restores lazily, refreshes proactively. */
  async #tokenForRequest() {
    if (this.#tokens.token === null && this.#restoreSettledEpoch !== this.#epoch && this.#restorable()) {
      await this.#ensureSession();
    }
    const token = this.#tokens.token;
    if (token !== null && this.#tokens.stale()) {
      try {
        await this.#refresher.refresh(token);
      } catch (err) {
        if (!(this.#tokens.token === token && this.#tokens.remainingMs() > 0)) throw err;
      }
    }
    return this.#tokens.token;
  }
  /** A drop-in for window.fetch: Bearer added, one refresh and one retry on TOKEN_EXPIRED. */
  fetch = async (input, init) => {
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
  login = async (email, password, options = {}) => {
    const requestedAt = this.#now();
    const payload = options.remember === false ? { email, password, remember: false } : { email, password };
    const response = await this.#api.login(payload);
    if (!response.ok) throw await AuthError.fromResponse(response);
    const body = await response.json();
    const previous = this.#tokens.sid;
    if (previous) this.#deadSessions.add(previous);
    this.#clearLocal();
    this.#acceptFromServer(body, requestedAt, "login", body.user ?? null);
    this.#events.emit("loggedIn", { user: this.#user, source: "this-tab" });
    return body.user;
  };
  register = async (email, password, name) => {
    const payload = { email, password };
    if (name !== void 0 && name !== null && name !== "") payload.name = name;
    const response = await this.#api.register(payload);
    if (!response.ok) throw await AuthError.fromResponse(response);
    return (await response.json()).user;
  };
  async #endLocally(everywhere) {
    const pending = this.#refresher.inflight;
    const sid = this.#tokens.sid;
    if (sid) this.#deadSessions.add(sid);
    const token = this.#tokens.remainingMs() > 0 ? this.#tokens.token : null;
    const refreshToken = this.transport === "body" ? this.#storedRefreshToken() : null;
    this.#clearLocal();
    this.#restoreSettledEpoch = this.#epoch;
    this.#tabs.post({ type: "loggedOut", sid, everywhere });
    this.#events.emit("loggedOut", { source: "this-tab", everywhere });
    if (pending) await Promise.race([pending.catch(() => false), sleep(2e3)]);
    return { token, refreshToken };
  }
  logout = async () => {
    const cookie = this.transport === "cookie" && this.#csrf() !== null;
    const { token, refreshToken } = await this.#endLocally(false);
    await this.#api.logout({ token, refreshToken, csrf: this.#csrf(), cookie });
  };
  logoutAll = async () => {
    const response = await this.fetch("auth/logout-all", { method: "POST" });
    if (!response.ok) throw await AuthError.fromResponse(response);
    const body = await response.json();
    const cookie = this.transport === "cookie" && this.#csrf() !== null;
    await this.#endLocally(true);
    if (cookie) {
      await this.#api.logout({ token: null, refreshToken: null, csrf: this.#csrf(), cookie }).catch(() => {
      });
    }
    return { revoked: Number(body.revoked) };
  };
  getUser = async (options = {}) => {
    if (this.#user && !options.force) return this.#user;
    const epoch = this.#epoch;
    await this.#tokenForRequest();
    if (this.#tokens.token === null) return null;
    const response = await this.fetch("auth/me");
    if (response.ok) {
      const me = await response.json();
      if (this.#epoch === epoch) this.#user = me;
      return me;
    }
    if (response.status === 401) return null;
    throw await AuthError.fromResponse(response);
  };
  restore = async () => await this.#ensureSession() ? this.getUser() : null;
  getAccessToken = () => this.#tokenForRequest();
  /**
   * Refresh now. With `staleToken` (the token a request was refused with), only when the client
   * still holds that token: callers that fail together then share one refresh.
   */
  refresh = async (options = {}) => {
    if (this.#tokens.token === null && !this.#restorable()) return false;
    if (typeof options.staleToken === "string") return this.#refresher.refresh(options.staleToken);
    return this.#refresher.refresh(this.#tokens.token ?? void 0, true);
  };
  tokenInfo = () => this.#tokens.info();
  isAuthenticated = () => this.#tokens.token !== null;
  on = (event, handler) => this.#events.on(event, handler);
  close = () => {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#tabs.close();
    this.#events.clear();
  };
};

// src/index.ts
function createAuthClient(options) {
  return Object.freeze(new Client(options));
}
export {
  AuthError,
  createAuthClient,
  isAuthError
};
