// AuthError: the server's stable error code (CONTRACT.md section 4) with the HTTP status.

import type { ServerErrorCode } from "./codes.js";

export type { ServerErrorCode } from "./codes.js";

/** Codes the client produces itself. `HTTP_<status>` is used for a body without a code. */
export type ClientErrorCode = "NETWORK_ERROR" | "AUTH_ERROR" | `HTTP_${number}`;

/** Any code an AuthError carries; a newer server may send codes this version does not name. */
export type AuthErrorCode = ServerErrorCode | ClientErrorCode | (string & {});

export interface AuthErrorInfo {
  code?: AuthErrorCode;
  status?: number;
  details?: unknown;
  retryAfter?: number;
  cause?: unknown;
}

/**
 * An error from the tokensmith API or from the client itself.
 * `code` is the server's stable code or one of the client's own: `NETWORK_ERROR`,
 * `HTTP_<status>` for an error body without a code.
 */
export class AuthError extends Error {
  override readonly name = "AuthError" as const;
  /** Stable code: the server's (section 4) or the client's own. */
  readonly code: AuthErrorCode;
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** Validation details of a 422 `VALIDATION_ERROR`. */
  readonly details?: unknown;
  /** Seconds from a 429's `Retry-After` header. */
  readonly retryAfter?: number;

  constructor(message: string, info: AuthErrorInfo = {}) {
    super(message, info.cause === undefined ? undefined : { cause: info.cause });
    this.code = info.code ?? "AUTH_ERROR";
    this.status = info.status ?? 0;
    if (info.details !== undefined) this.details = info.details;
    if (info.retryAfter !== undefined) this.retryAfter = info.retryAfter;
  }

  /** Read an error body (`{"error", "code", "details"?}`) from a response. */
  static async fromResponse(response: Response): Promise<AuthError> {
    let body: { error?: unknown; code?: unknown; details?: unknown } | null = null;
    try {
      body = await response.clone().json();
    } catch {
      body = null;
    }
    const code = body && typeof body.code === "string" ? body.code : `HTTP_${response.status}`;
    const message =
      body && typeof body.error === "string" ? body.error : `Request failed with status ${response.status}`;
    const header = response.headers.get("Retry-After")?.trim();
    return new AuthError(message, {
      code,
      status: response.status,
      details: body ? body.details : undefined,
      retryAfter: header && /^\d+$/.test(header) ? Number(header) : undefined,
    });
  }
}

/**
 * True when `value` is an AuthError (optionally with the given code). Works across copies of
 * this module (a bundled copy and the served /tokensmith.js), as supabase auth-js's guards do.
 */
export function isAuthError(value: unknown, code?: AuthErrorCode): value is AuthError {
  const e = value as AuthError | null;
  const looksLikeOne =
    value instanceof AuthError ||
    (e !== null &&
      typeof e === "object" &&
      e.name === "AuthError" &&
      typeof e.code === "string" &&
      typeof e.status === "number");
  return looksLikeOne && (code === undefined || e!.code === code);
}

/** @internal The `code` of an error response, read without consuming the body. */
export async function errorCodeOf(response: Response): Promise<string | null> {
  try {
    const body = await response.clone().json();
    return body && typeof body.code === "string" ? body.code : null;
  } catch {
    return null;
  }
}
