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
  type: "tokens" | "sync-request" | "loggedOut" | "sessionExpired" | "released";
  [field: string]: unknown;
}

/** The "released" notices a tab has received: how many, and the highest generation named. */
export interface Releases {
  count: number;
  generation: number;
}

export class Tabs {
  readonly #tabId: string;
  readonly #keys: { refreshToken: string; generation: string; lock: string };
  readonly #channel: BroadcastChannel | null;
  readonly #lockTimeoutMs: number;
  #closed = false;
  #releases: Releases = { count: 0, generation: 0 };

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
        if (m.type === "released") {
          const generation = Number(m.generation);
          this.#releases = {
            count: this.#releases.count + 1,
            generation: Number.isFinite(generation) ? Math.max(this.#releases.generation, generation) : this.#releases.generation,
          };
        }
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

  /** The "released" notices received so far (see withLock). */
  releases(): Releases {
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
  async withLock<T>(fn: (contended: boolean) => Promise<T>, generation: () => number): Promise<T> {
    const locks = (globalThis.navigator as Navigator | undefined)?.locks;
    if (!locks || typeof locks.request !== "function" || this.#lockTimeoutMs === 0) return fn(false);
    const held = async (contended: boolean): Promise<T> => {
      try {
        return await fn(contended);
      } finally {
        this.post({ type: "released", generation: generation() });
      }
    };
    const free = await locks.request(this.#keys.lock, { ifAvailable: true }, (lock) =>
      lock ? held(false).then((value) => ({ value })) : null,
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
