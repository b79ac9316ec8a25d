// Unit tests of the core client with fakes for fetch, BroadcastChannel, Web Locks, storage and
// timers (test/fakes.mjs). Each client created in a test is one tab of the same origin.

import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { AuthError, createAuthClient, isAuthError } from "../dist/index.js";
import { FakeServer, flush, installBrowser } from "./fakes.mjs";

let browser;
let server;
const tabs = [];

beforeEach(() => {
  browser = installBrowser();
  server = new FakeServer();
});

afterEach(() => {
  for (const tab of tabs.splice(0)) tab.close();
  browser.restore();
});

/** A tab: a client on the fake server, its events recorded in `tab.events`. */
function openTab(options = {}) {
  const client = createAuthClient({
    baseUrl: server.origin,
    transport: "body",
    autoRefresh: false,
    fetch: server.fetch,
    now: () => browser.timers.now,
    ...options,
  });
  const events = [];
  for (const name of ["tokenRefreshed", "sessionExpired", "loggedOut", "loggedIn"]) {
    client.on(name, (detail) => events.push({ name, source: detail.source, code: detail.code }));
  }
  tabs.push(client);
  return Object.assign(Object.create(null), { client, events, names: () => events.map((e) => e.name) });
}

async function statuses(client, n, path = "/api/orders") {
  const responses = await Promise.all(Array.from({ length: n }, () => client.fetch(path)));
  return responses.map((r) => r.status);
}

describe("single flight", () => {
  test("100 concurrent fetches after expiry share one refresh and all succeed", async () => {
    const tab = openTab();
    await tab.client.login("a@example.com", "right");
    await browser.timers.advance(61_000); // past expiresIn on the client's own clock

    const result = await statuses(tab.client, 100);

    assert.deepEqual(result, Array(100).fill(200));
    assert.equal(server.refreshes, 1);
    // The client knew the token had expired: none was sent with it.
    assert.equal(server.requests.filter((r) => r.path === "/api/orders").length, 100);
  });

  test("100 fetches refused with TOKEN_EXPIRED share one refresh and are retried once", async () => {
    const tab = openTab();
    await tab.client.login("a@example.com", "right");
    server.expireAccessTokens(); // the server disagrees with the client's clock (a laptop slept)

    const result = await statuses(tab.client, 100);

    assert.deepEqual(result, Array(100).fill(200));
    assert.equal(server.refreshes, 1);
    assert.equal(server.count("/api/orders"), 200);
  });

  test("a refresh that fails with a 5xx is retried after a backoff and then succeeds", async () => {
    const tab = openTab();
    await tab.client.login("a@example.com", "right");
    server.failRefresh(503);
    let done = false;
    const refreshed = tab.client.refresh().then((ok) => {
      done = ok;
      return ok;
    });
    await flush();
    assert.equal(server.refreshes, 1);
    assert.equal(done, false); // waiting for the backoff, on the fake clock

    await browser.timers.advance(1_000);

    assert.equal(await refreshed, true);
    assert.equal(server.refreshes, 2);
    assert.deepEqual(tab.names(), ["loggedIn", "tokenRefreshed"]);
    assert.equal(tab.client.isAuthenticated(), true);
  });

  test("a refresh that keeps failing rejects with the server's code after maxRetries", async () => {
    const tab = openTab({ maxRetries: 1 });
    await tab.client.login("a@example.com", "right");
    server.failRefresh(503, 503);
    const refreshed = tab.client.refresh().catch((error) => error);
    await browser.timers.advance(1_000);

    const error = await refreshed;
    assert.ok(isAuthError(error, "SERVICE_UNAVAILABLE"));
    assert.equal(error.status, 503);
    assert.equal(server.refreshes, 2);
    assert.equal(tab.client.isAuthenticated(), true); // a transient failure ends no session
  });
});

describe("two tabs", () => {
  test("two tabs needing a refresh at once refresh once and both succeed", async () => {
    const a = openTab();
    await a.client.login("a@example.com", "right");
    await flush();
    const b = openTab();
    assert.equal(await b.client.restore().then((u) => u?.id), "user-1"); // handed over by tab A
    assert.equal(server.refreshes, 0);
    await browser.timers.advance(61_000);

    const [ra, rb] = await Promise.all([statuses(a.client, 10), statuses(b.client, 10)]);

    assert.deepEqual([...ra, ...rb], Array(20).fill(200));
    assert.equal(server.refreshes, 1);
    assert.ok(browser.locks.requests >= 2); // both tabs asked for the refresh lock
    assert.ok(b.events.some((e) => e.name === "tokenRefreshed" && e.source === "other-tab") ||
      a.events.some((e) => e.name === "tokenRefreshed" && e.source === "other-tab"));
  });

  test("cookie transport: two tabs share one refresh with the cookie and the CSRF header", async () => {
    const cookie = { transport: "cookie", getCsrfToken: () => "csrf-value" };
    const a = openTab(cookie);
    const b = openTab(cookie);
    await a.client.login("a@example.com", "right");
    await flush();
    await browser.timers.advance(61_000);

    const [ra, rb] = await Promise.all([statuses(a.client, 5), statuses(b.client, 5)]);

    assert.deepEqual([...ra, ...rb], Array(10).fill(200));
    assert.equal(server.refreshes, 1);
    const [refresh] = server.requests.filter((r) => r.path === "/auth/refresh");
    assert.deepEqual(refresh.body, {}); // the refresh token is the cookie, never in the body
    assert.equal(refresh.csrf, "csrf-value");
    assert.equal(browser.storage.keys().some((k) => k.endsWith(":refreshToken")), false);
  });

  test("a refresh slower than the token's life minus the lead is not repeated by the other tab", async () => {
    // 3 s tokens (the browser tests' setting): due for refresh 1.5 s before expiry. The refresh
    // takes 2 s on the clients' clock, so its token arrives already due; the tab that waited for
    // the lock uses it (it has not expired) instead of rotating again.
    server.expiresIn = 3;
    const a = openTab();
    const b = openTab();
    await a.client.login("a@example.com", "right");
    await flush();
    await browser.timers.advance(3_100);
    server.onRefresh = () => {
      browser.timers.now += 2_000;
    };

    const race = Promise.all([statuses(a.client, 5), statuses(b.client, 5)]);
    const settled = await Promise.race([race, flush(200).then(() => "still waiting")]);

    assert.notEqual(settled, "still waiting", "a tab waits for a hand-over it already has");
    assert.deepEqual(settled.flat(), Array(10).fill(200));
    assert.equal(server.refreshes, 1);
    const sent = server.requests.filter((r) => r.path === "/api/orders").map((r) => r.auth);
    assert.equal(new Set(sent).size, 1); // both tabs sent the one new token
  });

  test("a tab that waited for the lock takes its sibling's token, however late localStorage and the message", async () => {
    // Chromium may run each tab in its own renderer process: the lock can reach the waiting tab
    // before the sibling's localStorage write and before its message. Here the write never
    // arrives and the message comes 100 ms late; the waiting tab must not rotate again.
    const a = openTab();
    const b = openTab();
    await a.client.login("a@example.com", "right");
    await flush();
    await b.client.getAccessToken();
    await browser.timers.advance(61_000);
    browser.storage.setItem = () => {};
    browser.channelDelay.ms = 100;

    const race = Promise.all([statuses(a.client, 5), statuses(b.client, 5)]);
    await browser.timers.advance(300);

    assert.deepEqual((await race).flat(), Array(10).fill(200));
    assert.equal(server.refreshes, 1);
    const sent = server.requests.filter((r) => r.path === "/api/orders").map((r) => r.auth);
    assert.equal(new Set(sent).size, 1);
  });

  test("a tab that waited for the lock refreshes at once when its sibling's refresh failed", async () => {
    // The sibling's "released" notice says it got no token: no waiting out the hand-over.
    const a = openTab({ maxRetries: 0 });
    const b = openTab({ maxRetries: 0 });
    await a.client.login("a@example.com", "right");
    await flush();
    await b.client.getAccessToken();
    await browser.timers.advance(61_000);
    server.failRefresh(503);

    const first = a.client.refresh().catch((error) => error);
    const second = b.client.refresh();
    await browser.timers.advance(10);

    assert.ok(isAuthError(await first, "SERVICE_UNAVAILABLE"));
    assert.equal(await second, true);
    assert.equal(server.refreshes, 2);
  });

  test("a caller whose token another tab already replaced gets the replacement, due or not", async () => {
    server.expiresIn = 3;
    const a = openTab();
    const b = openTab();
    await a.client.login("a@example.com", "right");
    await flush();
    const old = await b.client.getAccessToken(); // fresh: no refresh
    await browser.timers.advance(1_600); // due for refresh in both tabs
    server.onRefresh = () => {
      browser.timers.now += 2_000;
    };
    assert.equal(await a.client.refresh(), true); // its token arrives already due
    await flush();
    assert.ok(b.events.some((e) => e.name === "tokenRefreshed" && e.source === "other-tab"));

    assert.equal(await b.client.refresh({ staleToken: old }), true);
    assert.equal(server.refreshes, 1);
    // It arrived with 1 s left: due at half of that, not at once. The tab holding it uses it
    // for its next request, and refreshes it once it is due.
    server.onRefresh = null;
    const current = await b.client.getAccessToken();
    assert.notEqual(current, old);
    assert.equal(server.refreshes, 1);
    await browser.timers.advance(600);
    const next = await b.client.getAccessToken();
    assert.equal(server.refreshes, 2);
    assert.notEqual(next, current);
  });

  test("a login in one tab signs in the other", async () => {
    const a = openTab();
    const b = openTab();
    await a.client.login("a@example.com", "right");
    await flush();

    assert.equal(b.client.isAuthenticated(), true);
    assert.deepEqual(b.events, [{ name: "loggedIn", source: "other-tab", code: undefined }]);
  });

  test("logout in one tab is broadcast: the other clears its token and emits loggedOut", async () => {
    const a = openTab();
    const b = openTab();
    await a.client.login("a@example.com", "right");
    await flush();
    assert.equal(b.client.isAuthenticated(), true);

    await a.client.logout();
    await flush();

    assert.equal(a.client.isAuthenticated(), false);
    assert.equal(b.client.isAuthenticated(), false);
    assert.deepEqual(b.names(), ["loggedIn", "loggedOut"]);
    assert.equal(b.events.at(-1).source, "other-tab");
    assert.equal(server.count("/auth/logout"), 1);
    assert.equal(await b.client.getAccessToken(), null); // nothing left to restore from
    assert.equal(server.refreshes, 0);
  });

  test("logout wins over a refresh in flight: its answer is discarded", async () => {
    const tab = openTab();
    await tab.client.login("a@example.com", "right");
    const refreshing = tab.client.refresh();
    const loggingOut = tab.client.logout();

    assert.equal(await refreshing, false);
    await loggingOut;
    assert.equal(tab.client.isAuthenticated(), false);
    assert.deepEqual(tab.names(), ["loggedIn", "loggedOut"]);
  });
});

describe("the end of a session", () => {
  test("TOKEN_REUSE_DETECTED ends the session with sessionExpired in every tab", async () => {
    const a = openTab();
    const b = openTab();
    await a.client.login("a@example.com", "right");
    await flush();
    server.reuseNext = true;

    assert.equal(await a.client.refresh(), false);
    await flush();

    for (const tab of [a, b]) {
      assert.equal(tab.client.isAuthenticated(), false);
      const expired = tab.events.filter((e) => e.name === "sessionExpired");
      assert.deepEqual(expired.map((e) => e.code), ["TOKEN_REUSE_DETECTED"]);
    }
    assert.equal(a.events.at(-1).source, "this-tab");
    assert.equal(b.events.at(-1).source, "other-tab");
    assert.equal(browser.storage.keys().some((k) => k.endsWith(":refreshToken")), false);
  });

  test("a request refused with TOKEN_REVOKED ends the session", async () => {
    const tab = openTab();
    await tab.client.login("a@example.com", "right");
    // The session ends on the server from elsewhere (another device's "log out everywhere").
    const token = await tab.client.getAccessToken();
    await server.fetch(`${server.origin}/auth/logout`, { method: "POST", headers: { Authorization: `Bearer ${token}` } });

    const response = await tab.client.fetch("/api/orders");

    assert.equal(response.status, 401);
    assert.equal(tab.client.isAuthenticated(), false);
    assert.deepEqual(tab.events.at(-1), { name: "sessionExpired", source: "this-tab", code: "TOKEN_REVOKED" });
  });
});

describe("storageKey", () => {
  test("is keyed by baseUrl: two clients for two servers on one origin share nothing", async () => {
    const other = new FakeServer("https://other.example");
    const a = openTab();
    const b = openTab({ baseUrl: `${other.origin}/identity`, fetch: other.fetch });
    await a.client.login("a@example.com", "right");
    await flush();

    assert.ok(browser.storage.keys().includes("tokensmith:https://auth.example/:refreshToken"));
    assert.equal(b.client.isAuthenticated(), false); // A's token never reached B's channel
    assert.equal(await b.client.restore(), null); // nor A's stored refresh token
    assert.equal(other.requests.length, 0); // B's server never saw A's tokens
    assert.deepEqual(b.events, []);
  });

  test("an explicit storageKey is used as given", async () => {
    const tab = openTab({ storageKey: "mine" });
    await tab.client.login("a@example.com", "right");
    assert.ok(browser.storage.keys().includes("mine:refreshToken"));
  });
});

describe("fetch and timers", () => {
  test("the token goes to the API only, never to another origin", async () => {
    const seen = [];
    const recording = (input, init) => {
      const request = new Request(input, init);
      if (new URL(request.url).origin === server.origin) return server.fetch(request);
      seen.push(request.headers.get("Authorization"));
      return Promise.resolve(new Response("{}"));
    };
    const tab = openTab({ fetch: recording });
    await tab.client.login("a@example.com", "right");

    await tab.client.fetch("https://elsewhere.example/api");
    assert.equal((await tab.client.fetch("/api/orders")).status, 200);

    assert.deepEqual(seen, [null]);
  });

  test("autoRefresh refreshes before expiry on the client's clock, once per lifetime", async () => {
    const tab = openTab({ autoRefresh: true, refreshMargin: 10 });
    await tab.client.login("a@example.com", "right");
    await browser.timers.advance(44_000); // 60 s token, 10 s margin, up to 5 s of jitter
    assert.equal(server.refreshes, 0);
    await browser.timers.advance(6_000);
    assert.equal(server.refreshes, 1);
    assert.equal(tab.client.tokenInfo().expiresInMs > 50_000, true);
  });

  test("login with a wrong password rejects with an AuthError carrying the server's code", async () => {
    const tab = openTab();
    const error = await tab.client.login("a@example.com", "wrong").catch((e) => e);
    assert.ok(error instanceof AuthError);
    assert.ok(isAuthError(error, "INVALID_CREDENTIALS"));
    assert.equal(error.status, 401);
    assert.equal(isAuthError({ name: "AuthError", code: "X", status: 1 }), true); // another copy's
    assert.equal(isAuthError(new Error("x")), false);
  });

  test("the methods are bound and the client is frozen", async () => {
    const tab = openTab();
    const { login, fetch } = tab.client;
    await login("a@example.com", "right");
    assert.equal((await fetch("/api/orders")).status, 200);
    assert.throws(() => {
      tab.client.fetch = null;
    }, TypeError);
  });

  test("a bad option is refused with a clear TypeError", () => {
    assert.throws(() => createAuthClient({ baseUrl: server.origin, transport: "header" }), /transport must be/);
    assert.throws(() => createAuthClient({ transport: "body" }), /baseUrl is required/);
    assert.throws(() => createAuthClient({ baseUrl: server.origin, refreshMargin: -1 }), /refreshMargin/);
  });
});
