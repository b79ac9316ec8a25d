// Cross-tab coordination: the shared generation and refresh token in localStorage, the
// BroadcastChannel that carries tokens and logouts between tabs, and the Web Lock a refresh
// runs under.
//
// Each of these is optional: storage may be blocked, BroadcastChannel or Web Locks missing (a
// page over plain http on another host than localhost is not a secure context). Without them the
// client still works, one tab at a time.

import { timeoutSignal } from "./util.js";

const VERSION = 1;

/** A message between the tabs of one client (same storageKey). */
export interface TabMessage {
  type: "tokens" | "sync-request" | "loggedOut" | "sessionExpired";
  [field: string]: unknown;
}

export class Tabs {
  readonly #tabId: string;
  readonly #keys: { refreshToken: string; generation: string; lock: string };
  readonly #channel: BroadcastChannel | null;
  readonly #lockTimeoutMs: number;
  #closed = false;

  constructor(storageKey: string, tabId: string, lockTimeoutMs: number, onMessage: (m: TabMessage) => void) {
    this.#tabId = tabId;
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#keys = {
      refreshToken: `${storageKey}:refreshToken`,
      generation: `${storageKey}:generation`,
      lock: `${storageKey}:refresh`,
    };
    this.#channel =
      typeof BroadcastChannel === "function" ? new BroadcastChannel(`${storageKey}:auth`) : null;
    if (this.#channel) {
      this.#channel.onmessage = (event: MessageEvent) => {
        const m = event.data;
        if (!m || m.v !== VERSION || m.from === tabId || this.#closed) return;
        if (m.to && m.to !== tabId) return; // an answer to another tab's sync-request
        onMessage(m as TabMessage);
      };
    }
  }

  get hasChannel(): boolean {
    return this.#channel !== null;
  }

  get tabId(): string {
    return this.#tabId;
  }

  post(message: TabMessage): void {
    if (!this.#channel || this.#closed) return;
    try {
      this.#channel.postMessage({ ...message, v: VERSION, from: this.#tabId });
    } catch {
      // A closed channel (page unloading) is not worth an error.
    }
  }

  /** The highest generation any tab has stored. */
  sharedGeneration(): number {
    const n = Number(storageGet(this.#keys.generation));
    return Number.isFinite(n) ? n : 0;
  }

  setSharedGeneration(generation: number): void {
    storageSet(this.#keys.generation, String(generation));
  }

  /** Body transport: the refresh token shared by the tabs. */
  storedRefreshToken(): string | null {
    return storageGet(this.#keys.refreshToken);
  }

  storeRefreshToken(token: string | null): void {
    storageSet(this.#keys.refreshToken, token);
  }

  /**
   * Run `fn` holding the refresh lock of every tab. The wait is bounded: past lockTimeoutMs,
   * or without Web Locks, `fn` runs anyway. At worst that is one extra refresh, which the
   * server's reuse grace (CONTRACT.md 5.3) answers with the same successor, never a logout.
   */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks || typeof locks.request !== "function" || this.#lockTimeoutMs === 0) return fn();
    let entered = false;
    try {
      return await locks.request(this.#keys.lock, { signal: timeoutSignal(this.#lockTimeoutMs) }, () => {
        entered = true;
        return fn();
      });
    } catch (err) {
      if (entered) throw err;
      return fn();
    }
  }

  close(): void {
    this.#closed = true;
    this.#channel?.close();
  }
}

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // storage blocked (privacy settings, sandboxed frame)
  }
}

function storageGet(key: string): string | null {
  try {
    return storage()?.getItem(key) ?? null;
  } catch {
    return null;
  }
}

function storageSet(key: string, value: string | null): void {
  try {
    if (value === null) storage()?.removeItem(key);
    else storage()?.setItem(key, value);
  } catch {
    // Quota or blocked storage: memory and the BroadcastChannel still carry the state.
  }
}
