"""Fixtures for the real-browser tests: Debian Chromium driven by Playwright (sync API).

Playwright's own browser download is not used; `.ci/install-chromium` installs
`/usr/bin/chromium`. Without it the tests fail on CI (`CI=true`) and are skipped elsewhere.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import service_missing
from tests.support.servers import ServerProcess, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).parent / "artifacts"
PASSWORD = "correct horse battery"

# In the page: `n` concurrent `client.fetch("/auth/me")`, resolving to their statuses.
FETCH_ME_N = """(n) => Promise.all(
    Array.from({ length: n }, () => client.fetch('/auth/me').then((r) => r.status)))"""

# Short access tokens so tests see them expire; no clock tolerance so the server agrees at once.
SHORT_TOKENS = {"JWT_EXPIRES_IN": "3s", "JWT_CLOCK_TOLERANCE": "0", "REFRESH_REUSE_GRACE": "10s"}

# A blank page on the server's origin that loads the browser client; served by Playwright's
# router, so the page shares the origin (cookies, localStorage, locks) without a server route.
HARNESS_PATH = "/__browser_test__"
HARNESS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>harness</title></head>
<body>
<script type="module">
  import * as tokensmith from "/tokensmith.js";
  window.tokensmith = tokensmith;
  window.events = [];
  // One client per page, its events recorded in window.events.
  // Test-only knobs that cannot cross from Python as functions:
  //   frozenClock: the client's clock never moves, so it sends expired tokens (401 path);
  //   delayRefreshMs: refresh responses reach the client this much later.
  window.makeClient = ({ frozenClock, delayRefreshMs, ...options } = {}) => {
    if (frozenClock) options.now = () => 0;
    if (delayRefreshMs) {
      options.fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (String(input.url ?? input).endsWith("/auth/refresh")) {
          await new Promise((resolve) => setTimeout(resolve, delayRefreshMs));
        }
        return response;
      };
    }
    const client = tokensmith.createAuthClient({ baseUrl: location.origin, ...options });
    for (const name of ["tokenRefreshed", "sessionExpired", "loggedOut", "loggedIn"]) {
      client.on(name, (detail) =>
        window.events.push({ name, source: detail.source, code: detail.code ?? null }));
    }
    window.client = client;
    return true;
  };
  window.harnessReady = true;
</script>
</body></html>
"""


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    service_missing(f"{CHROMIUM} (run .ci/install-chromium)")


# Package scope, not session: while the sync Playwright API is active an event loop counts as
# running in this thread, which pytest-asyncio refuses; the async tests of other packages must
# run after it has stopped.
@pytest.fixture(scope="package")
def playwright_browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="package")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    """The suite's two servers, started side by side to save time: `short` with 3-second
    access tokens, `demo` with the default 15 minutes (for screenshots worth showing)."""
    _require_chromium()
    settings = {"short": SHORT_TOKENS, "demo": {}}
    with ThreadPoolExecutor(max_workers=len(settings)) as pool:
        futures = {
            name: pool.submit(start_server, tmp_path_factory.mktemp(f"{name}-server"), env)
            for name, env in settings.items()
        }
        wait(futures.values())
    started = {name: f.result() for name, f in futures.items() if f.exception() is None}
    try:
        for future in futures.values():
            future.result()  # re-raise a start-up failure, after the others are known
        yield started
    finally:
        for process in started.values():
            process.stop()


@pytest.fixture(scope="package")
def server(servers: dict[str, ServerProcess]) -> ServerProcess:
    """The server with 3-second access tokens, shared by the whole browser suite."""
    return servers["short"]


@pytest.fixture(scope="package")
def demo_server(servers: dict[str, ServerProcess]) -> ServerProcess:
    """A server with the default 15-minute access tokens."""
    return servers["demo"]


@dataclass
class Traffic:
    """Every request and response of a browser context, across all its pages, and a timeline of
    them (which tab, when) for failure messages."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    responses: list[Any] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)
    _tabs: dict[Any, int] = field(default_factory=dict)

    def attach(self, context: Any) -> None:
        context.on("request", self._on_request)
        context.on("response", self._on_response)

    def _on_request(self, request: Any) -> None:
        self.requests.append((request.method, request.url))
        self._note(request, f"-> {request.method} {httpx.URL(request.url).path}")

    def _on_response(self, response: Any) -> None:
        self.responses.append(response)
        path = httpx.URL(response.url).path
        self._note(response.request, f"<- {response.status} {response.request.method} {path}")

    def _note(self, request: Any, what: str) -> None:
        try:
            tab = self.tab_name(request.frame.page)
        except Exception:  # a request without a page (a worker): still worth listing
            tab = "no tab"
        self.events.append((time.time(), f"{tab}: {what}"))

    def tab_name(self, page: Any) -> str:
        """A name for the tab (tab 1, tab 2, ...), numbered in the order first seen."""
        return f"tab {self._tabs.setdefault(page, len(self._tabs) + 1)}"

    def note(self, what: str) -> None:
        """Add a line of the test's own to the timeline."""
        self.events.append((time.time(), what))

    def timeline(self) -> str:
        """The requests and responses since the last reset, one per line, in ms from the first."""
        if not self.events:
            return "(no traffic)"
        start = self.events[0][0]
        return "\n".join(f"{(t - start) * 1000:8.1f} ms  {what}" for t, what in self.events)

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, url in self.requests if m == method and httpx.URL(url).path == path)

    def refreshes(self) -> int:
        return self.count("POST", "/auth/refresh")

    def statuses(self, method: str, path: str) -> list[int]:
        return [
            r.status
            for r in self.responses
            if r.request.method == method and httpx.URL(r.url).path == path
        ]

    def error_codes(self) -> list[str]:
        """The `code` of every JSON error response seen."""
        codes = []
        for r in self.responses:
            if r.status >= 400 and "json" in (r.headers.get("content-type") or ""):
                # A body the browser already dropped has no code to report.
                with contextlib.suppress(Exception):
                    codes.append(r.json().get("code"))
        return codes

    def reset(self) -> None:
        self.requests.clear()
        self.responses.clear()
        self.events.clear()


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def context(playwright_browser: Any, server: ServerProcess, traffic: Traffic) -> Iterator[Any]:
    """A fresh browser profile (cookies, storage, locks) with the harness page routed."""
    ctx = playwright_browser.new_context(base_url=server.url)
    ctx.route(
        f"{server.url}{HARNESS_PATH}",
        lambda route: route.fulfill(status=200, content_type="text/html", body=HARNESS_HTML),
    )
    traffic.attach(ctx)
    try:
        yield ctx
    finally:
        ctx.close()


def open_harness(context: Any, **client_options: Any) -> Any:
    """A new tab on the harness page with `window.client` created from `client_options`."""
    page = context.new_page()
    page.goto(HARNESS_PATH)
    page.wait_for_function("window.harnessReady === true")
    page.evaluate("(options) => window.makeClient(options)", client_options)
    return page


def race(
    tabs: list[Any],
    requests_per_tab: int,
    traffic: Traffic | None = None,
    on_your_marks: Callable[[], None] | None = None,
    requests: str = FETCH_ME_N,
) -> list[list[int]]:
    """Start `requests(requests_per_tab)` (JS, by default FETCH_ME_N) in every tab at the same
    moment and return what each tab's promise resolved to.

    Each tab waits for one BroadcastChannel message, posted once every tab is ready: Playwright
    reaches the tabs one after the other, and on a loaded machine a wall-clock start could leave
    one tab more than a 3 s token's refresh lead behind the other (it would then rightly refresh
    the token its sibling got). `on_your_marks` runs just before the start; the moment each tab
    started goes into `traffic`'s timeline.
    """
    for tab in tabs:
        tab.evaluate(
            """(n) => {
                const go = new BroadcastChannel('race');
                window.race = new Promise((r) => { go.onmessage = r; }).then(() => {
                  go.close();
                  window.raceStartedAt = performance.timeOrigin + performance.now();
                  return ("""
            + requests
            + """)(n);
                });
            }""",
            requests_per_tab,
        )
    if on_your_marks is not None:
        on_your_marks()
    tabs[0].evaluate("() => new BroadcastChannel('race').postMessage('go')")
    results = [tab.evaluate("() => window.race") for tab in tabs]
    if traffic is not None:
        for tab in tabs:
            started_at = tab.evaluate("() => window.raceStartedAt") / 1000
            traffic.events.append((started_at, f"{traffic.tab_name(tab)}: race started"))
        traffic.events.sort(key=lambda event: event[0])
    return results


def new_user(server: ServerProcess, name: str = "Test User", email: str | None = None) -> str:
    """Register an account (a fresh random email by default) over HTTP and return its email."""
    email = email or f"user-{uuid.uuid4().hex[:12]}@example.com"
    response = httpx.post(
        f"{server.url}/auth/register",
        json={"email": email, "password": PASSWORD, "name": name},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return email
