// @tokensmith/client/axios with real axios; its adapter (the network) is the fake server.

import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";
import axios from "axios";
import { createAuthClient } from "../dist/index.js";
import { withTokensmith } from "../dist/axios.js";
import { FakeServer, installBrowser } from "./fakes.mjs";

let browser;
let server;
let client;

beforeEach(() => {
  browser = installBrowser();
  server = new FakeServer();
  client = createAuthClient({
    baseUrl: server.origin,
    transport: "body",
    autoRefresh: false,
    fetch: server.fetch,
    now: () => browser.timers.now,
  });
});

afterEach(() => {
  client.close();
  browser.restore();
});

/** An axios instance whose requests go to the fake server. */
function api() {
  const instance = axios.create({
    baseURL: server.origin,
    adapter: async (config) => {
      const url = new URL(config.url, config.baseURL);
      const response = await server.fetch(url, { method: config.method, headers: config.headers.toJSON() });
      const data = await response.json();
      const result = { data, status: response.status, statusText: "", headers: {}, config, request: {} };
      if (response.status >= 400) {
        throw new axios.AxiosError("failed", "ERR_BAD_REQUEST", config, {}, result);
      }
      return result;
    },
  });
  return withTokensmith(instance, client);
}

test("20 concurrent axios requests after expiry share one refresh and all succeed", async () => {
  const instance = api();
  await client.login("a@example.com", "right");
  await browser.timers.advance(61_000);

  const responses = await Promise.all(Array.from({ length: 20 }, () => instance.get("/api/orders")));

  assert.deepEqual(responses.map((r) => r.status), Array(20).fill(200));
  assert.equal(server.refreshes, 1);
});

test("requests refused with TOKEN_EXPIRED share one refresh and are each retried once", async () => {
  const instance = api();
  await client.login("a@example.com", "right");
  server.expireAccessTokens();

  const responses = await Promise.all(Array.from({ length: 20 }, () => instance.get("/api/orders")));

  assert.deepEqual(responses.map((r) => r.status), Array(20).fill(200));
  assert.equal(server.refreshes, 1);
  assert.equal(server.count("/api/orders"), 40);
});

test("a second TOKEN_EXPIRED is not retried again, and other errors pass through", async () => {
  const instance = api();
  await client.login("a@example.com", "right");
  const always = instance.interceptors.request.use((config) => {
    server.expireAccessTokens(); // every token, the refreshed one too, is refused
    return config;
  });

  const error = await instance.get("/api/orders").catch((e) => e);

  assert.equal(error.response.status, 401);
  assert.equal(error.response.data.code, "TOKEN_EXPIRED");
  assert.equal(server.count("/api/orders"), 2);
  instance.interceptors.request.eject(always);
});

test("a request with its own Authorization header is left alone; signed out sends none", async () => {
  const instance = api();
  const signedOut = await instance.get("/api/orders").catch((e) => e);
  assert.equal(signedOut.response.data.code, "NO_TOKEN");
  await client.login("a@example.com", "right");

  await instance.get("/api/orders", { headers: { Authorization: "Bearer theirs" } }).catch(() => {});

  assert.deepEqual(server.requests.filter((r) => r.path === "/api/orders").map((r) => r.auth), [null, "Bearer theirs"]);
});
