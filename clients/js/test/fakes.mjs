// Fakes for the unit tests: timers and the monotonic clock, BroadcastChannel, Web Locks,
// localStorage, and a tokensmith server behind a fake fetch. Installed on globalThis, so the
// clients created in one test are tabs of one origin. Nothing here sleeps on the wall clock.

/** Let every pending promise callback and fake message run. */
export async function flush(rounds = 20) {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}

/** setTimeout/clearTimeout and the client's `now`, moved only by `advance`. */
export class FakeTimers {
  now = 0;
  #timers = new Map();
  #nextId = 1;

  setTimeout = (fn, ms = 0, ...args) => {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.now + Math.max(0, Number(ms) || 0), fn: () => fn(...args) });
    return id;
  };

  clearTimeout = (id) => {
    this.#timers.delete(id);
  };

  get pending() {
    return this.#timers.size;
  }

  /** Move the clock forward by `ms`, running each timer that falls due, in order. */
  async advance(ms) {
    const target = this.now + ms;
    for (;;) {
      await flush();
      let due = null;
      for (const [id, t] of this.#timers) {
        if (t.at <= target && (due === null || t.at < due[1].at)) due = [id, t];
      }
      if (due === null) break;
      this.#timers.delete(due[0]);
      this.now = Math.max(this.now, due[1].at);
      due[1].fn();
    }
    this.now = target;
    await flush();
  }
}

/**
 * BroadcastChannel within one process: delivered to the other instances of the same name, in
 * order, `delay.ms` later on the fake timers when that is set (a message between two renderer
 * processes of a loaded browser).
 */
export function fakeBroadcastChannel(delay = { ms: 0 }) {
  const channels = new Map();
  return class FakeBroadcastChannel {
    onmessage = null;
    #closed = false;

    constructor(name) {
      this.name = name;
      if (!channels.has(name)) channels.set(name, new Set());
      channels.get(name).add(this);
    }

    postMessage(data) {
      if (this.#closed) throw new Error("InvalidStateError: channel closed");
      const copy = structuredClone(data);
      for (const other of channels.get(this.name)) {
        if (other === this) continue;
        // Delivered later, as a task would be, never within postMessage.
        const deliver = () => {
          if (!other.#closed && other.onmessage) other.onmessage({ data: structuredClone(copy) });
        };
        if (delay.ms > 0) globalThis.setTimeout(deliver, delay.ms);
        else Promise.resolve().then(deliver);
      }
    }

    close() {
      this.#closed = true;
      channels.get(this.name).delete(this);
    }
  };
}

/**
 * navigator.locks: one holder per name, waiters in order, a waiter's signal ends its wait;
 * `ifAvailable` calls back with null at once while the lock is held or waited for.
 */
export function fakeLocks() {
  const queues = new Map();
  const busy = new Map(); // name -> holders and waiters
  const locks = {
    requests: 0,
    async request(name, options, callback) {
      locks.requests += 1;
      if (options?.ifAvailable && (busy.get(name) ?? 0) > 0) return callback(null);
      busy.set(name, (busy.get(name) ?? 0) + 1);
      try {
        return await locks.queued(name, options, callback);
      } finally {
        busy.set(name, busy.get(name) - 1);
      }
    },
    async queued(name, options, callback) {
      const signal = options?.signal;
      if (!queues.has(name)) queues.set(name, Promise.resolve());
      const before = queues.get(name);
      let release;
      const mine = new Promise((resolve) => (release = resolve));
      queues.set(name, before.then(() => mine));
      try {
        await new Promise((resolve, reject) => {
          before.then(resolve);
          signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        });
      } catch (err) {
        release();
        throw err;
      }
      try {
        return await callback({ name });
      } finally {
        release();
      }
    },
  };
  return locks;
}

export class FakeStorage {
  #items = new Map();
  getItem(key) {
    return this.#items.has(key) ? this.#items.get(key) : null;
  }
  setItem(key, value) {
    this.#items.set(key, String(value));
  }
  removeItem(key) {
    this.#items.delete(key);
  }
  keys() {
    return [...this.#items.keys()];
  }
}

function b64url(value) {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function json(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/**
 * A tokensmith server behind `fetch`, with the rules the client relies on: rotation (a spent
 * refresh token is TOKEN_REUSE_DETECTED), access tokens the test can expire, logout, a cookie jar
 * shared by the tabs (cookie transport). `failRefresh(...statuses)` queues refresh failures.
 */
export class FakeServer {
  requests = [];
  refreshes = 0;
  expiresIn = 60;
  #n = 0;
  #access = new Map(); // token -> { sid, expired }
  #refresh = new Map(); // token -> { sid, spent }
  #revoked = new Set();
  #failures = [];
  jar = null; // the refresh cookie of cookie transport
  reuseNext = false;
  /** Called as a refresh arrives, before it is answered (a test moves the clock in it). */
  onRefresh = null;

  constructor(origin = "https://auth.example") {
    this.origin = origin;
  }

  #mint(sid, kind) {
    this.#n += 1;
    return `${b64url({ alg: "HS256" })}.${b64url({ sid, sub: "user-1", kind, n: this.#n })}.sig`;
  }

  #issue(sid) {
    const accessToken = this.#mint(sid, "access");
    const refreshToken = this.#mint(sid, "refresh");
    this.#access.set(accessToken, { sid, expired: false });
    this.#refresh.set(refreshToken, { sid, spent: false });
    return { accessToken, refreshToken, tokenType: "Bearer", expiresIn: this.expiresIn, refreshExpiresIn: 3600 };
  }

  /** Every access token issued so far now answers 401 TOKEN_EXPIRED. */
  expireAccessTokens() {
    for (const entry of this.#access.values()) entry.expired = true;
  }

  failRefresh(...statuses) {
    this.#failures.push(...statuses);
  }

  count(path) {
    return this.requests.filter((r) => r.path === path).length;
  }

  fetch = async (input, init) => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    if (url.origin !== this.origin) throw new TypeError(`fetch failed: no server at ${url.origin}`);
    const body = request.method === "POST" ? await request.json().catch(() => ({})) : {};
    const auth = request.headers.get("Authorization");
    const csrf = request.headers.get("X-CSRF-Token");
    this.requests.push({ path: url.pathname, method: request.method, auth, csrf, body });
    await Promise.resolve(); // answered later, as a network would
    const cookie = request.headers.get("X-Token-Transport") === "cookie";
    switch (url.pathname) {
      case "/auth/login": {
        if (body.password !== "right") return json(401, { error: "Wrong", code: "INVALID_CREDENTIALS" });
        this.#n += 1;
        const tokens = this.#issue(`sid-${this.#n}`);
        const user = { id: "user-1", email: body.email, name: null, createdAt: "2026-01-01T00:00:00Z" };
        if (cookie) {
          this.jar = tokens.refreshToken;
          delete tokens.refreshToken;
        }
        return json(200, { user, ...tokens });
      }
      case "/auth/refresh": {
        this.refreshes += 1;
        this.onRefresh?.();
        const failure = this.#failures.shift();
        if (failure) return json(failure, { error: "Down", code: "SERVICE_UNAVAILABLE" });
        const presented = cookie ? this.jar : body.refreshToken;
        const entry = presented ? this.#refresh.get(presented) : undefined;
        if (!entry) return json(401, { error: "Unknown", code: "INVALID_REFRESH_TOKEN" });
        if (entry.spent || this.reuseNext || this.#revoked.has(entry.sid)) {
          this.#revoked.add(entry.sid);
          return json(401, { error: "Reused", code: "TOKEN_REUSE_DETECTED" });
        }
        entry.spent = true;
        const tokens = this.#issue(entry.sid);
        if (cookie) {
          this.jar = tokens.refreshToken;
          delete tokens.refreshToken;
        }
        return json(200, tokens);
      }
      case "/auth/logout": {
        const token = auth?.replace(/^Bearer /, "");
        const sid = this.#access.get(token)?.sid ?? this.#refresh.get(body.refreshToken ?? this.jar)?.sid;
        if (sid) this.#revoked.add(sid);
        if (cookie) this.jar = null;
        return json(200, { message: "Logged out successfully" });
      }
      default: {
        const token = auth?.replace(/^Bearer /, "");
        const entry = token ? this.#access.get(token) : undefined;
        if (!entry) return json(401, { error: "No token", code: "NO_TOKEN" });
        if (this.#revoked.has(entry.sid)) return json(401, { error: "Revoked", code: "TOKEN_REVOKED" });
        if (entry.expired) return json(401, { error: "Expired", code: "TOKEN_EXPIRED" });
        if (url.pathname === "/auth/me") return json(200, { id: "user-1", email: "a@example.com" });
        return json(200, { ok: true, path: url.pathname });
      }
    }
  };
}

/**
 * Install the browser's globals for one test (timers, BroadcastChannel, Web Locks,
 * localStorage) and return them with a `restore()` that puts the originals back.
 */
export function installBrowser() {
  const timers = new FakeTimers();
  const saved = {
    setTimeout: globalThis.setTimeout,
    clearTimeout: globalThis.clearTimeout,
    BroadcastChannel: globalThis.BroadcastChannel,
    navigator: Object.getOwnPropertyDescriptor(globalThis, "navigator"),
    localStorage: Object.getOwnPropertyDescriptor(globalThis, "localStorage"),
  };
  const locks = fakeLocks();
  const storage = new FakeStorage();
  const channelDelay = { ms: 0 };
  globalThis.setTimeout = timers.setTimeout;
  globalThis.clearTimeout = timers.clearTimeout;
  globalThis.BroadcastChannel = fakeBroadcastChannel(channelDelay);
  Object.defineProperty(globalThis, "navigator", { value: { locks }, configurable: true, writable: true });
  Object.defineProperty(globalThis, "localStorage", { value: storage, configurable: true, writable: true });
  return {
    timers,
    locks,
    storage,
    /** `channelDelay.ms`: how late messages between tabs arrive (0: at the next microtask). */
    channelDelay,
    restore() {
      globalThis.setTimeout = saved.setTimeout;
      globalThis.clearTimeout = saved.clearTimeout;
      globalThis.BroadcastChannel = saved.BroadcastChannel;
      for (const name of ["navigator", "localStorage"]) {
        if (saved[name]) Object.defineProperty(globalThis, name, saved[name]);
        else delete globalThis[name];
      }
    },
  };
}
