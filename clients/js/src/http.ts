// The HTTP calls to the tokensmith server (CONTRACT.md 5): where they go and how each is shaped.
// No state about the session: the client passes what each call needs.

import { AuthError } from "./errors.js";
import type { Transport } from "./types.js";
import { timeoutSignal } from "./util.js";

// A refresh request gives up before the server's default 10 s reuse grace runs out, so that
// its retry (same refresh token) still gets the same successor rather than a reuse verdict.
const REFRESH_REQUEST_TIMEOUT_MS = 8000;

type Fetch = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

export class Api {
  readonly base: URL;
  readonly #fetch: Fetch;
  readonly #cookie: boolean;

  constructor(base: URL, fetchFn: Fetch, transport: Transport) {
    this.base = base;
    this.#fetch = fetchFn;
    this.#cookie = transport === "cookie";
  }

  /** "auth/me" and "/auth/me" both land under baseUrl (which may carry a path prefix). */
  url(path: string): string {
    return new URL(String(path).replace(/^\/+/, ""), this.base).href;
  }

  /** A path resolves against baseUrl; an absolute URL or a Request is left alone. */
  resolveInput(input: RequestInfo | URL): RequestInfo | URL {
    if (typeof input === "string" && !/^[a-zA-Z][a-zA-Z\d+.-]*:/.test(input)) return this.url(input);
    return input;
  }

  /** Only requests to the API get the token; a drop-in fetch must not leak it to other hosts. */
  isApiUrl(url: string): boolean {
    const u = new URL(url);
    return u.origin === this.base.origin && u.pathname.startsWith(this.base.pathname);
  }

  /** Send as is (the network error is the caller's to map). */
  send(request: Request): Promise<Response> {
    return this.#fetch(request);
  }

  /** Send `request` with `token` as its Bearer (none when null). */
  sendWithToken(request: Request, token: string | null): Promise<Response> {
    const attempt = request.clone();
    if (token === null) return this.#fetch(attempt);
    const headers = new Headers(attempt.headers);
    headers.set("Authorization", `Bearer ${token}`);
    return this.#fetch(new Request(attempt, { headers }));
  }

  async postJson(path: string, body: unknown, init: { headers?: Record<string, string>; cookie?: boolean } = {}) {
    try {
      return await this.#fetch(this.url(path), {
        method: "POST",
        headers: { "Content-Type": "application/json", ...init.headers },
        body: JSON.stringify(body),
        credentials: init.cookie === undefined ? "same-origin" : init.cookie ? "include" : "omit",
      });
    } catch (err) {
      throw new AuthError("Could not reach the server", { code: "NETWORK_ERROR", cause: err });
    }
  }

  login(payload: Record<string, unknown>): Promise<Response> {
    const headers: Record<string, string> = this.#cookie ? { "X-Token-Transport": "cookie" } : {};
    return this.postJson("auth/login", payload, { headers, cookie: this.#cookie });
  }

  register(payload: Record<string, unknown>): Promise<Response> {
    return this.postJson("auth/register", payload, { cookie: false });
  }

  /** POST /auth/refresh; throws the fetch error itself (the caller retries). */
  refresh(refreshToken: string | null, csrf: string | null): Promise<Response> {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (this.#cookie) {
      headers["X-Token-Transport"] = "cookie";
      if (csrf !== null) headers["X-CSRF-Token"] = csrf;
    }
    return this.#fetch(this.url("auth/refresh"), {
      method: "POST",
      headers,
      body: this.#cookie ? "{}" : JSON.stringify({ refreshToken }),
      credentials: this.#cookie ? "include" : "omit",
      signal: timeoutSignal(REFRESH_REQUEST_TIMEOUT_MS),
    });
  }

  /** Tell the server the session ended (with the Bearer token, the refresh token or cookies). */
  async logout(from: { token: string | null; refreshToken: string | null; csrf: string | null; cookie: boolean }) {
    const { token, refreshToken, csrf, cookie } = from;
    if (!token && !refreshToken && !cookie) return;
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (cookie) {
      headers["X-Token-Transport"] = "cookie";
      if (csrf !== null) headers["X-CSRF-Token"] = csrf;
    }
    const response = await this.postJson("auth/logout", refreshToken ? { refreshToken } : {}, { headers, cookie });
    // 400 NO_TOKEN / 401: nothing left to end on the server, which is what we want.
    if (!response.ok && response.status !== 400 && response.status !== 401) {
      throw await AuthError.fromResponse(response);
    }
  }
}
