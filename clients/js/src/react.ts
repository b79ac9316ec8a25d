// @tokensmith/client/react: <AuthProvider client={auth}> and useAuth(), a view of the client's
// session that follows its events (a login, logout or expiry in another tab included).

import { createContext, createElement, type ReactNode, useContext, useEffect, useMemo, useState } from "react";
import type { AuthClient, User } from "./types.js";

export type AuthStatus = "loading" | "signedIn" | "signedOut";

export interface AuthState {
  status: AuthStatus;
  /** The signed-in user; null unless `status` is `"signedIn"`. */
  user: User | null;
  login: AuthClient["login"];
  logout: AuthClient["logout"];
  logoutAll: AuthClient["logoutAll"];
  fetch: AuthClient["fetch"];
}

const AuthContext = createContext<AuthState | null>(null);

export interface AuthProviderProps {
  /** The app's one client (create it outside React: `createAuthClient(...)`). */
  client: AuthClient;
  children?: ReactNode;
}

type View = { status: AuthStatus; user: User | null };
const SIGNED_OUT: View = { status: "signedOut", user: null };

/** Restores the session at mount, then follows the client's events. */
export function AuthProvider({ client, children }: AuthProviderProps) {
  const [view, setView] = useState<View>({ status: "loading", user: null });

  useEffect(() => {
    let alive = true;
    let changes = 0; // an event after restore() started wins over its (older) answer
    const show = (next: View) => alive && setView(next);
    const signedIn = (user: User | null) => show(user ? { status: "signedIn", user } : SIGNED_OUT);
    const onEvent = (next: () => void) => () => {
      changes += 1;
      next();
    };
    const off = [
      client.on("loggedIn", ({ user }) => {
        changes += 1;
        const mine = changes;
        if (user) return signedIn(user);
        client.getUser().then(
          (u) => mine === changes && signedIn(u),
          () => mine === changes && show(SIGNED_OUT),
        );
      }),
      client.on("loggedOut", onEvent(() => show(SIGNED_OUT))),
      client.on("sessionExpired", onEvent(() => show(SIGNED_OUT))),
    ];
    const started = changes;
    client.restore().then(
      (user) => started === changes && signedIn(user),
      () => started === changes && show(SIGNED_OUT),
    );
    return () => {
      alive = false;
      for (const unsubscribe of off) unsubscribe();
    };
  }, [client]);

  const value = useMemo<AuthState>(
    () => ({ ...view, login: client.login, logout: client.logout, logoutAll: client.logoutAll, fetch: client.fetch }),
    [view, client],
  );
  return createElement(AuthContext.Provider, { value }, children);
}

/** The session as `<AuthProvider>` sees it: `{status, user, login, logout, logoutAll, fetch}`. */
export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (state === null) throw new Error("useAuth() must be called inside <AuthProvider client={...}>");
  return state;
}
