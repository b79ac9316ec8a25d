"""The npm package @tokensmith/client in Chromium: a React page and an axios page, each bundled
with esbuild from the package (react, react-dom and axios from npm), against a real server with
3-second access tokens. Requests are counted on the network."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.js import PACKAGE, bundle

from .conftest import PASSWORD, Traffic, new_user, race
from .test_client import wait_until_expired

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

PAGES = "/__pages__"
SOURCES = {"react": "react-app.jsx", "axios": "axios-page.js"}
HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{name}</title></head>
<body><div id="root"></div><script type="module" src="{pages}/{name}.js"></script></body></html>
"""


@pytest.fixture(scope="package")
def page_scripts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The two pages' scripts, bundled once from clients/js/test/browser/."""
    out = tmp_path_factory.mktemp("pages")
    return {
        name: bundle(PACKAGE / "test" / "browser" / source, out / f"{name}.js")
        for name, source in SOURCES.items()
    }


@pytest.fixture
def pages(context: Any, server: Any, page_scripts: dict[str, str]) -> Iterator[Any]:
    """Routes `/__pages__/<name>` (HTML) and `<name>.js` on the server's origin."""

    def fulfil(route: Any) -> None:
        name = route.request.url.rsplit("/", 1)[1]
        if name.endswith(".js"):
            route.fulfill(content_type="text/javascript", body=page_scripts[name[:-3]])
        else:
            route.fulfill(content_type="text/html", body=HTML.format(name=name, pages=PAGES))

    context.route(f"{server.url}{PAGES}/**", fulfil)
    yield context


def open_page(context: Any, name: str) -> Any:
    page = context.new_page()
    page.goto(f"{PAGES}/{name}")
    return page


def login(page: Any, email: str, via: str = "client") -> None:
    page.evaluate(f"([e, p]) => {via}.login(e, p).then(() => true)", [email, PASSWORD])


def status(page: Any) -> str:
    return str(page.locator("#status").inner_text())


def wait_status(page: Any, expected: str) -> None:
    page.wait_for_function(
        "(s) => document.querySelector('#status')?.textContent === s", arg=expected
    )


def test_twenty_concurrent_axios_requests_after_expiry_share_one_refresh(
    pages: Any, server: Any, traffic: Traffic
) -> None:
    """With withTokensmith, twenty axios requests started together after the token expired
    share a single refresh and all succeed."""
    page = open_page(pages, "axios")
    page.wait_for_function("window.pageReady === true")
    login(page, new_user(server))
    wait_until_expired(page)
    traffic.reset()

    statuses = page.evaluate("(n) => getMe(n)", 20)

    assert statuses == [200] * 20
    assert traffic.refreshes() == 1
    assert traffic.statuses("GET", "/auth/me") == [200] * 20


def test_two_tabs_with_axios_after_expiry_share_one_refresh(
    pages: Any, server: Any, traffic: Traffic
) -> None:
    """Two tabs, each sending ten axios requests at the same moment after expiry: one refresh
    across both tabs, every request succeeds."""
    first, second = open_page(pages, "axios"), open_page(pages, "axios")
    for tab in (first, second):
        tab.wait_for_function("window.pageReady === true")
    login(first, new_user(server))
    assert second.evaluate("() => client.restore().then((user) => user !== null)") is True
    wait_until_expired(first, second)
    traffic.reset()

    results = race([first, second], 10, traffic, requests="(n) => getMe(n)")

    assert results == [[200] * 10, [200] * 10]
    assert traffic.refreshes() == 1, traffic.timeline()


def test_react_use_auth_follows_login_and_logout_in_every_tab(
    pages: Any, server: Any, traffic: Traffic
) -> None:
    """useAuth().status: `signedOut` at first, `signedIn` in every tab after a login in one (a
    tab opened later restores it), and `signedOut` in every tab after logout in one."""
    first, second = open_page(pages, "react"), open_page(pages, "react")
    for tab in (first, second):
        wait_status(tab, "signedOut")
    email = new_user(server)

    login(first, email, via="auth")

    for tab in (first, second):
        wait_status(tab, "signedIn")
        assert tab.locator("#email").inner_text() == email
    third = open_page(pages, "react")
    wait_status(third, "signedIn")
    assert traffic.count("POST", "/auth/login") == 1

    with first.expect_response(lambda r: r.url.endswith("/auth/logout")) as logout:
        first.locator("#logout").click()

    for tab in (first, second, third):
        wait_status(tab, "signedOut")
        assert tab.evaluate("() => client.isAuthenticated()") is False
    assert logout.value.status == 200
    assert traffic.count("POST", "/auth/logout") == 1
    assert status(second) == "signedOut"


def test_the_pages_are_bundled_from_the_package_sources(page_scripts: dict[str, str]) -> None:
    """The bundles hold the package's adapters and React from npm, not a copy of the served
    client."""
    assert "function withTokensmith" in page_scripts["axios"]
    assert "function AuthProvider" in page_scripts["react"]
    assert "react.production" in page_scripts["react"] or "createRoot" in page_scripts["react"]
    assert Path(PACKAGE / "node_modules" / "react-dom").is_dir()
