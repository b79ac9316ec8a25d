// @tokensmith/client/axios: an axios instance that sends the client's Bearer token, refreshes
// once on 401 TOKEN_EXPIRED (shared by every request that fails together, and across tabs) and
// retries the request once. It imports nothing from axios at run time.

import type { AxiosError, AxiosInstance, InternalAxiosRequestConfig } from "axios";
import type { AuthClient } from "./types.js";

/** What the adapter needs of the client (any `createAuthClient` result has it). */
export type TokenSource = Pick<AuthClient, "getAccessToken" | "refresh">;

interface Marked extends InternalAxiosRequestConfig {
  /** The token this adapter put in the request, so a retry can say which one was refused. */
  tokensmithToken?: string;
  tokensmithRetried?: boolean;
}

/**
 * Add the client's token to every request of `instance` (one that already has its own
 * `Authorization` header is left alone) and refresh and retry once on 401 `TOKEN_EXPIRED`.
 * Returns the instance.
 */
export function withTokensmith<T extends AxiosInstance>(instance: T, client: TokenSource): T {
  instance.interceptors.request.use(async (config: Marked) => {
    const headers = config.headers;
    const current = headers.get("Authorization");
    const ours = config.tokensmithToken;
    if (current && !(ours && current === `Bearer ${ours}`)) return config; // the caller's own
    const token = await client.getAccessToken(); // refreshed first if it is about to expire
    if (token) {
      headers.set("Authorization", `Bearer ${token}`);
      config.tokensmithToken = token;
    } else if (ours) {
      headers.delete("Authorization");
      delete config.tokensmithToken;
    }
    return config;
  });

  instance.interceptors.response.use(undefined, async (error: AxiosError<{ code?: unknown }>) => {
    const config = error?.config as Marked | undefined;
    const refused = config?.tokensmithToken;
    if (
      config &&
      refused &&
      !config.tokensmithRetried &&
      error.response?.status === 401 &&
      error.response.data?.code === "TOKEN_EXPIRED"
    ) {
      config.tokensmithRetried = true;
      // With the token that was refused: requests failing together share one refresh, and one
      // whose 401 arrives after the refresh just retries with the new token.
      if (await client.refresh({ staleToken: refused })) return instance.request(config);
    }
    throw error;
  });

  return instance;
}
