// @tokensmith/client/react rendered on the server (no DOM here): the first state and the
// contract's shape. Its behaviour over time (events, tabs) is tested in Chromium
// (tests/browser/test_package.py).

import assert from "node:assert/strict";
import { test } from "node:test";
import { createElement } from "react";
import { renderToString } from "react-dom/server";
import { AuthProvider, useAuth } from "../dist/react.js";

function fakeClient() {
  const noop = async () => undefined;
  return { login: noop, logout: noop, logoutAll: noop, fetch: noop, on: () => () => {}, restore: noop };
}

test("useAuth() starts as loading with the client's bound methods", () => {
  const client = fakeClient();
  let seen = null;
  const Probe = () => {
    seen = useAuth();
    return createElement("p", null, seen.status);
  };

  const html = renderToString(createElement(AuthProvider, { client }, createElement(Probe)));

  assert.equal(html, "<p>loading</p>");
  assert.deepEqual(Object.keys(seen).sort(), ["fetch", "login", "logout", "logoutAll", "status", "user"]);
  assert.equal(seen.user, null);
  for (const name of ["login", "logout", "logoutAll", "fetch"]) assert.equal(seen[name], client[name]);
});

test("useAuth() outside an AuthProvider throws a clear error", () => {
  const Probe = () => createElement("p", null, useAuth().status);
  assert.throws(() => renderToString(createElement(Probe)), /inside <AuthProvider/);
});
