// Events: the four the client emits, with handlers isolated from each other.

import type { AuthEventName, AuthEvents } from "./types.js";

const NAMES: readonly AuthEventName[] = ["tokenRefreshed", "sessionExpired", "loggedOut", "loggedIn"];

type Handler<E extends AuthEventName> = (detail: AuthEvents[E]) => void;

export class Emitter {
  readonly #handlers = new Map<AuthEventName, Set<Handler<never>>>(NAMES.map((n) => [n, new Set()]));

  on<E extends AuthEventName>(name: E, handler: Handler<E>): () => void {
    const set = this.#handlers.get(name);
    if (!set) throw new TypeError(`unknown event ${JSON.stringify(name)}`);
    set.add(handler as Handler<never>);
    return () => {
      set.delete(handler as Handler<never>);
    };
  }

  emit<E extends AuthEventName>(name: E, detail: AuthEvents[E]): void {
    for (const handler of [...this.#handlers.get(name)!]) {
      try {
        (handler as Handler<E>)(detail);
      } catch (err) {
        // A broken handler must not break the client; surface it like an uncaught error.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }

  clear(): void {
    for (const set of this.#handlers.values()) set.clear();
  }
}
