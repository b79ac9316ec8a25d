// tokensmith.js: the browser client for a tokensmith server (CONTRACT.md section 6).
//
// One ES module, no build step, no dependencies. Types: tokensmith.d.ts next to this file.
//
//   import { createAuthClient } from "/tokensmith.js";
//   const auth = createAuthClient({ baseUrl: location.origin, transport: "cookie" });
//   await auth.login(email, password);
//   const res = await auth.fetch("/auth/me");        // Bearer added, refreshed when needed
//
// How a refresh happens, and why it happens only once:
//   * In a tab, every caller that needs a refresh joins the one in flight (single flight).
//   * Across the tabs of an origin, a refresh runs under a Web Lock. The tab that gets the
//     lock first refreshes, stores a higher "generation" in localStorage and hands the new
//     access token (and, in body transport, the refresh token) to the other tabs over a
//     BroadcastChannel. A tab that gets the lock afterwards sees the higher generation and
//     uses the token it was handed instead of refreshing again.
//   * The wait for the lock is bounded (lockTimeoutMs). Past it the tab refreshes anyway: at
//     worst one extra refresh request, which the server's reuse grace (CONTRACT.md 5.3)
//     answers with the same successor, never a logout.
//   * Expiry is measured on this client's monotonic clock from the moment the token was
//     requested plus the server's `expiresIn`, never from the token's `exp` against Date.now,
//     so a wrong wall clock on the device cannot make the client refresh too late or forever.
//   * A logout wins over a refresh in flight: the session "epoch" changes at once, and a
//     refresh result that lands afterwards is thrown away.

const VERSION = 1;

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

const EVENTS = new Set(["tokenRefreshed", "sessionExpired", "loggedOut", "loggedIn"]);

// A refresh request gives up before the server's default 10 s reuse grace runs out, so that
// its retry (same refresh token) still gets the same successor rather than a reuse verdict.
const REFRESH_REQUEST_TIMEOUT_MS = 8000;
// How long a tab that finds a newer generation waits for the token to arrive by message. The
// wait ends as soon as it arrives; the bound only matters on a machine so loaded that a message
// between tabs takes seconds, and then one extra refresh (answered by the grace) is the cost.
const HANDOFF_WAIT_MS = 3000;
// How long a tab without a token asks its siblings before refreshing itself.
const PEER_WAIT_MS = 150;
// Never wait longer than this for a 429's Retry-After inside a refresh.
const MAX_RETRY_AFTER_MS = 10000;

/**
 * An error from the tokensmith API or from the client itself.
 * `code` is the server's stable code (CONTRACT.md section 4) or one of the client's own:
 * `NETWORK_ERROR`, `NOT_AUTHENTICATED`, `HTTP_<status>` for a body without a code.
 */
export class AuthError extends Error {
  /**
   * @param {string} message
   * @param {{code?: string, status?: number, details?: unknown, retryAfter?: number, cause?: unknown}} [info]
   */
  constructor(message, info = {}) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause });
    this.name = "AuthError";
    this.code = info.code ?? "AUTH_ERROR";
    this.status = info.status ?? 0;
    if (info.details !== undefined) this.details = info.details;
    if (info.retryAfter !== undefined) this.retryAfter = info.retryAfter;
  }

  /** Build an AuthError from an error response (`{"error", "code", "details"?}`). */
  static async fromResponse(response) {
    let body = null;
    try {
      body = await response.clone().json();
    } catch {
      body = null;
    }
    const code = body && typeof body.code === "string" ? body.code : `HTTP_${response.status}`;
    const message =
      body && typeof body.error === "string"
        ? body.error
        : `Request failed with status ${response.status}`;
    const retryAfterHeader = response.headers.get("Retry-After");
    const retryAfter =
      retryAfterHeader && /^\d+$/.test(retryAfterHeader.trim())
        ? Number(retryAfterHeader.trim())
        : undefined;
    return new AuthError(message, {
      code,
      status: response.status,
      details: body ? body.details : undefined,
      retryAfter,
    });
  }
}

/**
 * True when `value` is an AuthError (optionally with the given code). Works across copies
 * of this module, as supabase auth-js's guards do.
 */
export function isAuthError(value, code) {
  const looksLikeOne =
    value instanceof AuthError ||
    (value !== null &&
      typeof value === "object" &&
      value.name === "AuthError" &&
      typeof value.code === "string" &&
      typeof value.status === "number");
  return looksLikeOne && (code === undefined || value.code === code);
}

/**
 * Create a client for one tokensmith server. See tokensmith.d.ts for every option.
 * @param {import("./tokensmith").AuthClientOptions} [options]
 * @returns {import("./tokensmith").AuthClient}
 */
export function createAuthClient(options = {}) {
  const transport = options.transport ?? "cookie";
  if (transport !== "cookie" && transport !== "body") {
    throw new TypeError(`transport must be "cookie" or "body", not ${JSON.stringify(transport)}`);
  }
  const pageUrl = globalThis.location ? globalThis.location.href : undefined;
  const rawBase = options.baseUrl ?? (globalThis.location ? globalThis.location.origin : undefined);
  if (!rawBase) throw new TypeError("baseUrl is required outside a browser page");
  const base = new URL(rawBase, pageUrl);
  if (!base.pathname.endsWith("/")) base.pathname += "/";

  const storageKey = options.storageKey ?? "tokensmith";
  const refreshMarginMs = nonNegative(options.refreshMargin ?? 30, "refreshMargin") * 1000;
  const lockTimeoutMs = nonNegative(options.lockTimeoutMs ?? 10000, "lockTimeoutMs");
  const maxRetries = Math.floor(nonNegative(options.maxRetries ?? 2, "maxRetries"));
  const autoRefresh = options.autoRefresh ?? true;
  const now = options.now ?? (() => performance.now());
  const baseFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const readCsrfOption = options.getCsrfToken;

  const keys = {
    refreshToken: `${storageKey}:refreshToken`,
    generation: `${storageKey}:generation`,
    lock: `${storageKey}:refresh`,
    channel: `${storageKey}:auth`,
  };
  const tabId = randomId();

  // ---- state -------------------------------------------------------------------------------
  /** @type {string | null} */ let accessToken = null;
  let deadline = 0; // on `now()`'s clock, in ms
  let lifetimeMs = 0;
  /** @type {Record<string, unknown> | null} */ let claims = null;
  /** @type {object | null} */ let user = null;
  /** @type {string | null} */ let memoryRefreshToken = null; // body transport only
  /** @type {string | null} */ let csrfFromBody = null;
  let generation = 0; // generation of the token held; shared through localStorage
  let epoch = 0; // changes whenever the local session ends; stale results are discarded
  /** @type {Promise<boolean> | null} */ let inflight = null;
  /** @type {Promise<boolean> | null} */ let restoring = null;
  let restoreSettledEpoch = -1;
  /** @type {ReturnType<typeof setTimeout> | null} */ let timer = null;
  let closed = false;
  const deadSessions = new Set();
  const listeners = new Map([...EVENTS].map((name) => [name, new Set()]));
  /** @type {Set<() => void>} */ const tokenWaiters = new Set();

  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(keys.channel) : null;
  if (channel) channel.onmessage = (event) => onMessage(event.data);

  // ---- small helpers -----------------------------------------------------------------------
  function resolveUrl(path) {
    // "auth/me" and "/auth/me" both land under baseUrl (which may carry a path prefix).
    return new URL(String(path).replace(/^\/+/, ""), base);
  }

  function resolveInput(input) {
    if (typeof input === "string" && !/^[a-zA-Z][a-zA-Z\d+.-]*:/.test(input)) {
      return resolveUrl(input).href;
    }
    return input;
  }

  /** Only requests to the API get the token; a drop-in fetch must not leak it to other hosts. */
  function isApiUrl(url) {
    const u = new URL(url);
    return u.origin === base.origin && u.pathname.startsWith(base.pathname);
  }

  function remainingMs() {
    return accessToken ? deadline - now() : -Infinity;
  }

  /** How long before expiry a token counts as due for refresh. */
  function refreshLeadMs() {
    return Math.min(refreshMarginMs, lifetimeMs / 2);
  }

  function needsRefresh() {
    return !accessToken || remainingMs() <= refreshLeadMs();
  }

  function hasSession() {
    return accessToken !== null || user !== null;
  }

  function storage() {
    try {
      return globalThis.localStorage ?? null;
    } catch {
      return null; // storage blocked (privacy settings, sandboxed frame)
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
      // Quota or blocked storage: memory and the BroadcastChannel still carry the state.
    }
  }

  function sharedGeneration() {
    const n = Number(storageGet(keys.generation));
    return Number.isFinite(n) ? n : 0;
  }

  function storedRefreshToken() {
    return storageGet(keys.refreshToken) ?? memoryRefreshToken;
  }

  function readCsrfToken() {
    if (readCsrfOption) return readCsrfOption() ?? csrfFromBody;
    const cookies = globalThis.document ? globalThis.document.cookie : "";
    for (const part of cookies.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === "csrf_token") {
        return decodeURIComponent(part.slice(eq + 1).trim());
      }
    }
    return csrfFromBody;
  }

  /** Is there something to restore a session from after a reload? */
  function restorable() {
    return transport === "cookie" ? readCsrfToken() !== null : storedRefreshToken() !== null;
  }

  function emit(name, detail) {
    for (const handler of [...listeners.get(name)]) {
      try {
        handler(detail);
      } catch (err) {
        // A broken handler must not break the client; surface it like an uncaught error.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  function post(message) {
    if (!channel || closed) return;
    try {
      channel.postMessage({ ...message, v: VERSION, from: tabId });
    } catch {
      // A closed channel (page unloading) is not worth an error.
    }
  }

  function notifyTokenWaiters() {
    for (const wake of [...tokenWaiters]) wake();
  }

  /** Resolve when `check()` is true after a token arrives, or after `ms`. */
  function waitForToken(check, ms) {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (value) => {
        tokenWaiters.delete(wake);
        clearTimeout(t);
        resolve(value);
      };
      const wake = () => {
        if (check()) done(true);
      };
      const t = setTimeout(() => done(check()), ms);
      tokenWaiters.add(wake);
    });
  }

  // ---- token state ---------------------------------------------------------------------------
  function setToken({ token, remaining, lifetime, gen, refreshToken, sessionUser }) {
    accessToken = token;
    deadline = now() + remaining;
    lifetimeMs = lifetime;
    claims = decodeClaims(token);
    generation = gen;
    if (refreshToken !== undefined && transport === "body") memoryRefreshToken = refreshToken;
    if (sessionUser) user = sessionUser;
    restoreSettledEpoch = epoch;
    schedule();
    notifyTokenWaiters();
  }

  function tokenMessage(reason, extra = {}) {
    return {
      type: "tokens",
      reason,
      accessToken,
      remainingMs: remainingMs(),
      lifetimeMs,
      generation,
      sid: claims && typeof claims.sid === "string" ? claims.sid : null,
      user,
      refreshToken: transport === "body" ? memoryRefreshToken : undefined,
      ...extra,
    };
  }

  /** Accept a token from the server: bump the generation, persist, tell the other tabs. */
  function acceptFromServer(body, requestedAt, reason, sessionUser) {
    const gen = Math.max(generation, sharedGeneration()) + 1;
    if (transport === "body" && typeof body.refreshToken === "string") {
      storageSet(keys.refreshToken, body.refreshToken);
    }
    if (typeof body.csrfToken === "string") csrfFromBody = body.csrfToken;
    const lifetime = Number(body.expiresIn) * 1000;
    // Measured from when the request left: the server's clock started no earlier than that.
    const remaining = requestedAt + lifetime - now();
    setToken({
      token: body.accessToken,
      remaining,
      lifetime,
      gen,
      refreshToken: typeof body.refreshToken === "string" ? body.refreshToken : undefined,
      sessionUser,
    });
    storageSet(keys.generation, String(gen));
    post(tokenMessage(reason));
  }

  /**
   * End the local session. Returns whether there was one. `deadRefreshToken`: a stored
   * refresh token the server has just refused, removed too.
   */
  function clearLocal(deadRefreshToken = null) {
    const had = hasSession();
    epoch += 1;
    accessToken = null;
    deadline = 0;
    lifetimeMs = 0;
    claims = null;
    user = null;
    inflight = null;
    restoring = null;
    if (transport === "body") {
      const stored = storageGet(keys.refreshToken);
      // Leave a refresh token that another tab stored for a newer session alone.
      const ours = memoryRefreshToken === null || stored === memoryRefreshToken || stored === deadRefreshToken;
      if (stored !== null && ours) {
        storageSet(keys.refreshToken, null);
      }
      memoryRefreshToken = null;
    }
    if (timer !== null) clearTimeout(timer);
    timer = null;
    notifyTokenWaiters();
    return had;
  }

  function currentSid() {
    return claims && typeof claims.sid === "string" ? claims.sid : null;
  }

  /** The server said the session is over (reuse, revoked, expired): clear and tell everyone. */
  function sessionOver(error, presentedRefreshToken = null) {
    const sid = currentSid();
    if (sid) deadSessions.add(sid);
    clearLocal(presentedRefreshToken);
    restoreSettledEpoch = epoch;
    post({ type: "sessionExpired", sid, code: error.code });
    emit("sessionExpired", { code: error.code, error, source: "this-tab" });
    if (transport === "cookie" && readCsrfToken() !== null) {
      // Have the server clear the dead session's cookies (logging out twice is 200), so the
      // next page load does not try to restore it again.
      serverLogout({ token: null, refreshToken: null, csrf: readCsrfToken(), cookie: true }).catch(() => {});
    }
  }

  // ---- proactive refresh -------------------------------------------------------------------
  function schedule() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (!autoRefresh || !accessToken || closed) return;
    // Jitter spreads the refreshes of many tabs and clients; the lock dedupes the rest.
    const jitterMs = Math.random() * Math.min(5000, lifetimeMs / 10);
    const delay = Math.max(0, remainingMs() - refreshLeadMs() - jitterMs);
    const token = accessToken;
    timer = setTimeout(() => {
      timer = null;
      refreshSession(token).catch(() => {
        // Transient failure: try again while the token is still good; fetch retries too.
        if (accessToken === token && !closed && remainingMs() > 0) {
          timer = setTimeout(() => schedule(), Math.max(1000, remainingMs() / 2));
        }
      });
    }, Math.min(delay, 2 ** 31 - 1));
  }

  // ---- refresh -----------------------------------------------------------------------------
  /**
   * Make sure a fresh access token is held. `staleToken` is the token the caller found
   * stale: when another refresh already replaced it, nothing more is done.
   * Resolves true when a token is held, false when the session is over; rejects on
   * transient failures (network, 5xx, 429) after maxRetries.
   */
  function refreshSession(staleToken, force = false) {
    if (!force && accessToken !== null && accessToken !== staleToken && !needsRefresh()) {
      return Promise.resolve(true);
    }
    if (inflight) return inflight;
    // The generation this tab has seen: a higher one later means another tab refreshed. A tab
    // without a token (new, reloaded) cannot have been sent earlier tokens: it starts from the
    // shared generation.
    const seen = accessToken === null ? sharedGeneration() : generation;
    const p = refreshAcrossTabs(seen).finally(() => {
      if (inflight === p) inflight = null;
    });
    inflight = p;
    return p;
  }

  async function refreshAcrossTabs(seenGeneration) {
    const myEpoch = epoch;
    return withLock(async () => {
      if (epoch !== myEpoch) return false;
      // Another tab may have refreshed while this one waited for the lock.
      if (generation > seenGeneration && !needsRefresh()) return true;
      const shared = sharedGeneration();
      if (shared > seenGeneration) {
        // It did, but its token has not arrived here yet: it is on its way by message (posted
        // before that tab released the lock); ask the siblings too in case it was missed.
        post({ type: "sync-request" });
        const arrived = () => epoch !== myEpoch || (generation >= shared && !needsRefresh());
        await waitForToken(arrived, HANDOFF_WAIT_MS);
        if (epoch !== myEpoch) return false;
        if (!needsRefresh()) return true;
      }
      return refreshOverNetwork(myEpoch);
    });
  }

  async function withLock(fn) {
    const locks = globalThis.navigator ? globalThis.navigator.locks : undefined;
    if (!locks || typeof locks.request !== "function" || lockTimeoutMs === 0) return fn();
    let entered = false;
    try {
      return await locks.request(keys.lock, { signal: timeoutSignal(lockTimeoutMs) }, () => {
        entered = true;
        return fn();
      });
    } catch (err) {
      if (entered) throw err;
      // The lock timed out or is unavailable: refresh without it. At worst this is one
      // extra refresh, which the server's reuse grace answers with the same successor.
      return fn();
    }
  }

  async function refreshOverNetwork(myEpoch) {
    for (let attempt = 0; ; attempt += 1) {
      const presented = transport === "body" ? storedRefreshToken() : null;
      if (transport === "body" && presented === null) {
        sessionOver(new AuthError("No refresh token is stored", { code: "REFRESH_TOKEN_REQUIRED", status: 401 }));
        return false;
      }
      const requestedAt = now();
      let response;
      try {
        response = await baseFetch(resolveUrl("auth/refresh").href, refreshInit(presented));
      } catch (err) {
        if (epoch !== myEpoch) return false;
        if (attempt < maxRetries) {
          await sleep(backoffMs(attempt));
          if (epoch !== myEpoch) return false;
          continue;
        }
        throw new AuthError("Could not reach the server to refresh the session", {
          code: "NETWORK_ERROR",
          cause: err,
        });
      }
      // A logout (here or in another tab) while the request was out wins: drop the result.
      if (epoch !== myEpoch) return false;
      if (response.ok) {
        const body = await response.json();
        if (epoch !== myEpoch) return false;
        acceptFromServer(body, requestedAt, "refresh", null);
        emit("tokenRefreshed", { expiresIn: Number(body.expiresIn), source: "this-tab" });
        return true;
      }
      const error = await AuthError.fromResponse(response);
      if (epoch !== myEpoch) return false;
      if (response.status === 401 && SESSION_OVER_CODES.has(error.code)) {
        if (transport === "body" && storedRefreshToken() !== presented && attempt < maxRetries) {
          continue; // another tab stored a newer refresh token meanwhile: use that one
        }
        sessionOver(error, presented);
        return false;
      }
      const waitMs = error.retryAfter !== undefined ? error.retryAfter * 1000 : backoffMs(attempt);
      if (TRANSIENT_STATUSES.has(response.status) && attempt < maxRetries && waitMs <= MAX_RETRY_AFTER_MS) {
        await sleep(waitMs);
        if (epoch !== myEpoch) return false;
        continue;
      }
      throw error;
    }
  }

  function refreshInit(presentedRefreshToken) {
    const headers = { "Content-Type": "application/json" };
    if (transport === "cookie") {
      headers["X-Token-Transport"] = "cookie";
      const csrf = readCsrfToken();
      if (csrf !== null) headers["X-CSRF-Token"] = csrf;
      return {
        method: "POST",
        headers,
        body: "{}",
        credentials: "include",
        signal: timeoutSignal(REFRESH_REQUEST_TIMEOUT_MS),
      };
    }
    return {
      method: "POST",
      headers,
      body: JSON.stringify({ refreshToken: presentedRefreshToken }),
      credentials: "omit",
      signal: timeoutSignal(REFRESH_REQUEST_TIMEOUT_MS),
    };
  }

  // ---- restore (page reload, new tab) ---------------------------------------------------------
  /** Get a usable token if a session can be found: from a sibling tab, else by refreshing. */
  function ensureSession() {
    if (accessToken !== null && !needsRefresh()) return Promise.resolve(true);
    if (restoring) return restoring;
    const p = (async () => {
      const myEpoch = epoch;
      if (accessToken === null) {
        if (!restorable()) {
          restoreSettledEpoch = epoch;
          return false;
        }
        await askSiblings();
        if (epoch !== myEpoch) return false;
      }
      if (accessToken !== null && !needsRefresh()) return true;
      const ok = await refreshSession(accessToken ?? undefined);
      restoreSettledEpoch = epoch;
      return ok;
    })().finally(() => {
      if (restoring === p) restoring = null;
    });
    restoring = p;
    return p;
  }

  function askSiblings() {
    if (!channel) return Promise.resolve(false);
    post({ type: "sync-request" });
    return waitForToken(() => accessToken !== null, PEER_WAIT_MS);
  }

  // ---- cross-tab messages -----------------------------------------------------------------
  function onMessage(m) {
    if (!m || m.v !== VERSION || m.from === tabId || closed) return;
    switch (m.type) {
      case "tokens": {
        if (typeof m.accessToken !== "string" || !(m.remainingMs > 0)) return;
        if (m.to && m.to !== tabId) return; // an answer to another tab's sync-request
        if (m.sid && deadSessions.has(m.sid)) return; // a late result of a logged-out session
        const newer = m.generation > generation;
        const better =
          m.generation === generation && m.accessToken !== accessToken && m.remainingMs > remainingMs();
        if (!newer && !better) return;
        const wasSignedIn = hasSession();
        const sameToken = m.accessToken === accessToken;
        const sameSession = Boolean(m.sid) && m.sid === currentSid();
        if (transport === "body" && typeof m.refreshToken === "string") memoryRefreshToken = m.refreshToken;
        if (!sameSession) user = null; // another session, perhaps another user: fetch it anew
        setToken({
          token: m.accessToken,
          remaining: m.remainingMs,
          lifetime: m.lifetimeMs,
          gen: m.generation,
          sessionUser: m.user ?? null,
        });
        // An answer to our own sync-request is a restore, not a login: restore() reports it.
        if (m.reason === "sync") {
          if (wasSignedIn && sameSession && !sameToken) {
            emit("tokenRefreshed", { expiresIn: Math.round(m.lifetimeMs / 1000), source: "other-tab" });
          }
        } else if (!wasSignedIn || !sameSession) emit("loggedIn", { user, source: "other-tab" });
        else if (!sameToken) {
          emit("tokenRefreshed", { expiresIn: Math.round(m.lifetimeMs / 1000), source: "other-tab" });
        }
        return;
      }
      case "sync-request": {
        if (accessToken !== null && !needsRefresh()) post(tokenMessage("sync", { to: m.from }));
        return;
      }
      case "loggedOut": {
        if (m.sid) deadSessions.add(m.sid);
        const had = clearLocal();
        restoreSettledEpoch = epoch;
        if (had) emit("loggedOut", { source: "other-tab", everywhere: Boolean(m.everywhere) });
        return;
      }
      case "sessionExpired": {
        if (m.sid) deadSessions.add(m.sid);
        const mine = currentSid();
        if (m.sid && mine && m.sid !== mine) return; // another session than ours
        const had = clearLocal();
        restoreSettledEpoch = epoch;
        if (had) {
          const error = new AuthError("The session has ended", { code: m.code, status: 401 });
          emit("sessionExpired", { code: m.code, error, source: "other-tab" });
        }
        return;
      }
      default:
    }
  }

  // ---- authenticated fetch --------------------------------------------------------------------
  /** The token to send now: restores lazily, refreshes proactively. */
  async function tokenForRequest() {
    if (accessToken === null && restoreSettledEpoch !== epoch && restorable()) {
      await ensureSession();
    }
    if (accessToken !== null && needsRefresh()) {
      const token = accessToken;
      try {
        await refreshSession(token);
      } catch (err) {
        // The old token may still be good for a moment; if not, report the failure.
        if (!(accessToken === token && remainingMs() > 0)) throw err;
      }
    }
    return accessToken;
  }

  async function send(request, token) {
    const attempt = request.clone();
    if (token === null) return baseFetch(attempt);
    const headers = new Headers(attempt.headers);
    headers.set("Authorization", `Bearer ${token}`);
    return baseFetch(new Request(attempt, { headers }));
  }

  async function errorCodeOf(response) {
    try {
      const body = await response.clone().json();
      return body && typeof body.code === "string" ? body.code : null;
    } catch {
      return null;
    }
  }

  /** A drop-in for window.fetch: Bearer added, one refresh and one retry on TOKEN_EXPIRED. */
  async function authFetch(input, init) {
    const request = new Request(resolveInput(input), init);
    if (!isApiUrl(request.url) || request.headers.has("Authorization")) {
      return baseFetch(request);
    }
    const token = await tokenForRequest();
    const response = await send(request, token);
    if (response.status !== 401 || token === null) return response;
    const code = await errorCodeOf(response);
    if (code === "TOKEN_EXPIRED") {
      const ok = await refreshSession(token);
      if (!ok || accessToken === null || accessToken === token) return response;
      return send(request, accessToken);
    }
    if (code === "TOKEN_REVOKED" && accessToken === token) {
      sessionOver(new AuthError("The session was revoked", { code, status: 401 }));
    }
    return response;
  }

  // ---- public API ---------------------------------------------------------------------------
  async function postJson(path, body, extraHeaders = {}, credentials = "same-origin") {
    try {
      return await baseFetch(resolveUrl(path).href, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...extraHeaders },
        body: JSON.stringify(body),
        credentials,
      });
    } catch (err) {
      throw new AuthError("Could not reach the server", { code: "NETWORK_ERROR", cause: err });
    }
  }

  async function login(email, password, options = {}) {
    const cookie = transport === "cookie";
    const requestedAt = now();
    // remember: false asks for a short session whose cookie ends with the browser.
    const payload = options.remember === false ? { email, password, remember: false } : { email, password };
    const response = await postJson(
      "auth/login",
      payload,
      cookie ? { "X-Token-Transport": "cookie" } : {},
      cookie ? "include" : "omit",
    );
    if (!response.ok) throw await AuthError.fromResponse(response);
    const body = await response.json();
    // A new session replaces whatever this tab held; its refreshes in flight are dropped.
    const previousSid = currentSid();
    if (previousSid) deadSessions.add(previousSid);
    clearLocal();
    acceptFromServer(body, requestedAt, "login", body.user ?? null);
    emit("loggedIn", { user, source: "this-tab" });
    return body.user;
  }

  async function register(email, password, name) {
    const payload = { email, password };
    if (name !== undefined && name !== null && name !== "") payload.name = name;
    const response = await postJson("auth/register", payload, {}, "omit");
    if (!response.ok) throw await AuthError.fromResponse(response);
    const body = await response.json();
    return body.user;
  }

  /** Tell the server the session ended (with the Bearer token, the refresh token or cookies). */
  async function serverLogout({ token, refreshToken, csrf, cookie }) {
    if (!token && !refreshToken && !cookie) return;
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (cookie) {
      headers["X-Token-Transport"] = "cookie";
      if (csrf !== null) headers["X-CSRF-Token"] = csrf;
    }
    let response;
    try {
      response = await baseFetch(resolveUrl("auth/logout").href, {
        method: "POST",
        headers,
        body: JSON.stringify(refreshToken ? { refreshToken } : {}),
        credentials: cookie ? "include" : "omit",
      });
    } catch (err) {
      throw new AuthError("Could not reach the server to log out", { code: "NETWORK_ERROR", cause: err });
    }
    // 400 NO_TOKEN / 401: nothing left to end on the server, which is what we want.
    if (!response.ok && response.status !== 400 && response.status !== 401) {
      throw await AuthError.fromResponse(response);
    }
  }

  async function endLocally(everywhere) {
    const pending = inflight;
    const sid = currentSid();
    if (sid) deadSessions.add(sid);
    const token = accessToken !== null && remainingMs() > 0 ? accessToken : null;
    const refreshToken = transport === "body" ? storedRefreshToken() : null;
    // Local state first, so a refresh in flight is discarded when it lands: logout wins.
    clearLocal();
    restoreSettledEpoch = epoch;
    post({ type: "loggedOut", sid, everywhere });
    emit("loggedOut", { source: "this-tab", everywhere });
    // Let a refresh already on the wire finish so the cookie the server clears is the newest.
    if (pending) await Promise.race([pending.catch(() => false), sleep(2000)]);
    return { token, refreshToken };
  }

  async function logout() {
    const cookie = transport === "cookie" && readCsrfToken() !== null;
    const { token, refreshToken } = await endLocally(false);
    await serverLogout({ token, refreshToken, csrf: readCsrfToken(), cookie });
  }

  async function logoutAll() {
    const response = await authFetch("auth/logout-all", { method: "POST" });
    if (!response.ok) throw await AuthError.fromResponse(response);
    const body = await response.json();
    const cookie = transport === "cookie" && readCsrfToken() !== null;
    await endLocally(true);
    // Every session is revoked already; this only clears this browser's cookies.
    if (cookie) {
      await serverLogout({ token: null, refreshToken: null, csrf: readCsrfToken(), cookie }).catch(() => {});
    }
    return { revoked: Number(body.revoked) };
  }

  async function getUser(opts = {}) {
    if (user && !opts.force) return user;
    const myEpoch = epoch;
    await tokenForRequest();
    if (accessToken === null) return null;
    const response = await authFetch("auth/me");
    if (response.ok) {
      const me = await response.json();
      if (epoch === myEpoch) user = me; // not when the session changed meanwhile
      return me;
    }
    if (response.status === 401) return null;
    throw await AuthError.fromResponse(response);
  }

  async function restore() {
    const ok = await ensureSession();
    return ok ? getUser() : null;
  }

  async function getAccessToken() {
    return tokenForRequest();
  }

  /**
   * Refresh now. With `staleToken` (the token a request was refused with), only when the
   * client still holds that token: callers that fail together then share one refresh.
   */
  async function refresh(options = {}) {
    if (accessToken === null && !restorable()) return false;
    if (typeof options.staleToken === "string") return refreshSession(options.staleToken);
    return refreshSession(accessToken ?? undefined, true);
  }

  function tokenInfo() {
    if (accessToken === null) return null;
    const remaining = Math.max(0, remainingMs());
    return {
      expiresInMs: remaining,
      lifetimeMs,
      refreshLeadMs: refreshLeadMs(),
      expiresAt: new Date(Date.now() + remaining),
      sessionId: currentSid(),
      userId: claims && typeof claims.sub === "string" ? claims.sub : null,
      scopes: claims && typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : [],
      authTime: claims && Number.isInteger(claims.auth_time) ? new Date(claims.auth_time * 1000) : null,
      generation,
    };
  }

  function on(name, handler) {
    if (!EVENTS.has(name)) throw new TypeError(`unknown event ${JSON.stringify(name)}`);
    listeners.get(name).add(handler);
    return () => listeners.get(name).delete(handler);
  }

  function close() {
    closed = true;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (channel) channel.close();
    for (const set of listeners.values()) set.clear();
  }

  return Object.freeze({
    transport,
    baseUrl: base.href,
    login,
    register,
    logout,
    logoutAll,
    getUser,
    restore,
    fetch: authFetch,
    getAccessToken,
    refresh,
    tokenInfo,
    isAuthenticated: () => accessToken !== null,
    on,
    close,
  });
}

// ---- module helpers -----------------------------------------------------------------------

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

/**
 * The payload of a JWT, read without verifying it: used only to show the session id (`sid`),
 * subject, scopes and login time, never for expiry (that is measured on this client's clock) or
 * any trust decision.
 */
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
