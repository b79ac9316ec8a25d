"""The pages under their policy in a real browser (issue 11, item 7): the web app and ``/docs``
work with the strict Content-Security-Policy (no violation reported), load nothing from another
origin, and refuse to be framed by another site.

Sync Playwright only in this module (an async test here would meet Playwright's loop)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, _require_chromium
from tests.support.servers import ServerProcess, running_server

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# The framing test's attacker page is fulfilled by Playwright: without this Chromium's local
# network checks would block the frame before the policy is even read.
LOCAL_FRAMES = (
    "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,"
    "PrivateNetworkAccessSendPreflights"
)

# Reported by the page itself: every CSP violation, as "directive blocked-uri".
WATCH_VIOLATIONS = """
window.violations = [];
document.addEventListener("securitypolicyviolation", (e) =>
  window.violations.push(`${e.effectiveDirective} ${e.blockedURI}`));
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    _require_chromium()
    with running_server(tmp_path_factory.mktemp("pages")) as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, LOCAL_FRAMES], headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


def visit(browser: Any, server: ServerProcess, path: str, ready: str) -> tuple[list[str], Any]:
    """Open ``path``, wait for ``ready``; return the requests to other origins and the page."""
    context = browser.new_context()
    context.add_init_script(WATCH_VIOLATIONS)
    origin = urlsplit(server.url).netloc
    foreign: list[str] = []
    context.on(
        "request",
        lambda request: (
            foreign.append(request.url)
            if urlsplit(request.url).scheme in ("http", "https")
            and urlsplit(request.url).netloc != origin
            else None
        ),
    )
    page = context.new_page()
    page.goto(server.url + path)
    page.wait_for_selector(ready, timeout=30_000)
    return foreign, page


def test_docs_render_under_the_policy_from_the_package(browser: Any, server: ServerProcess) -> None:
    """Swagger UI shows the operations; no violation, no request to a CDN."""
    foreign, page = visit(browser, server, "/docs", ".opblock-summary")
    assert page.locator(".opblock-summary").count() > 5
    page.wait_for_timeout(300)  # let late violations arrive
    assert page.evaluate("window.violations") == []
    assert foreign == []
    page.context.close()


def test_the_web_app_works_under_the_policy(browser: Any, server: ServerProcess) -> None:
    foreign, page = visit(browser, server, "/", "#tab-login")
    page.wait_for_timeout(300)
    assert page.evaluate("window.violations") == []
    assert foreign == []
    page.context.close()


def test_another_site_cannot_frame_the_app(browser: Any, server: ServerProcess) -> None:
    """frame-ancestors 'none': a page of another origin that frames / gets an empty frame."""
    context = browser.new_context()
    attacker = "http://127.0.0.1:1/attacker"  # another origin (port), answered by Playwright
    context.route(
        attacker,
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<iframe id="victim" src="{server.url}/"></iframe>',
        ),
    )
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(attacker)
    page.wait_for_timeout(2000)
    frames = [frame for frame in page.frames if frame is not page.main_frame]
    assert frames, "the attacker page has no frame at all"
    assert all(frame.locator("#tab-login").count() == 0 for frame in frames)
    assert any("frame-ancestors" in message for message in messages), messages
    context.close()


def test_pages_are_files_of_the_package() -> None:
    """The docs page and its starter script are committed files (the policy allows no inline
    script, so an edit that inlines one fails the browser tests above)."""
    static = Path(__file__).resolve().parents[2] / "src" / "tokensmith" / "server" / "static"
    assert "<script>" not in (static / "docs.html").read_text()
    assert (static / "docs.js").is_file()
