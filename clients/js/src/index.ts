// @tokensmith/client: the browser client of a tokensmith server (CONTRACT.md sections 6 and 11).
//
//   import { createAuthClient } from "@tokensmith/client";
//   const auth = createAuthClient({ baseUrl: "https://auth.example.com", transport: "cookie" });
//   await auth.login(email, password);
//   const res = await auth.fetch("/api/orders");   // Bearer added, refreshed when needed

import { Client } from "./client.js";
import type { AuthClient, AuthClientOptions } from "./types.js";

export { AuthError, isAuthError } from "./errors.js";
export type { AuthErrorCode, AuthErrorInfo, ClientErrorCode, ServerErrorCode } from "./errors.js";
export type {
  AuthClient,
  AuthClientOptions,
  AuthEventName,
  AuthEvents,
  EventSource,
  Session,
  TokenInfo,
  Transport,
  User,
} from "./types.js";

/**
 * Create a client for one tokensmith server. Its methods are bound: `const { fetch } = auth`
 * works, so `auth.fetch` can be handed to a library that takes a fetch function.
 */
export function createAuthClient(options?: AuthClientOptions): AuthClient {
  return Object.freeze(new Client(options));
}
