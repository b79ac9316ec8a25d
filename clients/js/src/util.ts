// Small helpers without state.

export function nonNegative(value: unknown, name: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new TypeError(`${name} must be a non-negative number`);
  return n;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Exponential backoff with jitter between refresh attempts. */
export function backoffMs(attempt: number): number {
  return 250 * 2 ** attempt + Math.random() * 250;
}

export function timeoutSignal(ms: number): AbortSignal {
  if (typeof AbortSignal.timeout === "function") return AbortSignal.timeout(ms);
  const controller = new AbortController();
  setTimeout(() => controller.abort(new DOMException("timed out", "TimeoutError")), ms);
  return controller.signal;
}

export function randomId(): string {
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
export function decodeClaims(token: string): Record<string, unknown> | null {
  try {
    const part = token.split(".")[1]!;
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return payload && typeof payload === "object" ? (payload as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The value of the readable `csrf_token` cookie of this page, if any. */
export function csrfCookie(): string | null {
  const cookies = globalThis.document ? globalThis.document.cookie : "";
  for (const part of cookies.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === "csrf_token") {
      return decodeURIComponent(part.slice(eq + 1).trim());
    }
  }
  return null;
}
