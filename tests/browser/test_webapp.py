"""The web app at `/`, used the way a person uses it: by clicking, in a real Chromium."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.servers import ServerProcess

from .conftest import ARTIFACTS, PASSWORD, new_user

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def open_app(context: Any) -> Any:
    """A new tab on the web app, once it has decided whether a session exists."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # uncaught exceptions, checked by the tests
    page.goto("/")
    page.wait_for_selector("body[data-ready=true]")
    return page


def sign_in_by_clicking(page: Any, email: str) -> None:
    form = page.locator("#panel-login")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()


def login_elsewhere(server: ServerProcess, email: str, user_agent: str) -> dict[str, Any]:
    """Another device signs in (body transport): a second session of the same user."""
    response = httpx.post(
        f"{server.url}/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"User-Agent": user_agent},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def refresh_status(server: ServerProcess, refresh_token: str) -> tuple[int, str | None]:
    response = httpx.post(
        f"{server.url}/auth/refresh", json={"refreshToken": refresh_token}, timeout=10
    )
    return response.status_code, response.json().get("code")


def test_web_app_flows_work_by_clicking(context: Any, server: ServerProcess) -> None:
    """Register, see the user and a countdown that refreshes on its own, see the sessions,
    revoke another device's session, reload, log out, log in, log out everywhere."""
    email = f"grace-{uuid.uuid4().hex[:12]}@example.com"
    page = open_app(context)
    expect(page.get_by_role("heading", name="Sign in to tokensmith")).to_be_visible()

    # Register: the account is created and signed in.
    page.get_by_role("tab", name="Create account").click()
    register = page.locator("#panel-register")
    register.get_by_label("Name").fill("Grace Hopper")
    register.get_by_label("Email").fill(email)
    register.get_by_label("Password").fill(PASSWORD)
    register.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.locator("#user-name")).to_have_text("Grace Hopper")
    expect(page.locator("#user-email")).to_have_text(email)
    expect(page.get_by_role("status")).to_contain_text("Welcome")

    # The countdown shows the 3-second token, and the token refreshes itself before expiry.
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^0:0[0-3]$"))
    expect(page.locator("#token-refreshes")).not_to_have_text("0", timeout=6000)
    expect(page.get_by_role("timer")).to_have_text(re.compile(r"^0:0[1-3]$"))

    # Sessions: this browser; another device appears after a reload of the list; revoke it.
    sessions = page.locator("#sessions > li")
    expect(sessions).to_have_count(1)
    expect(sessions.first).to_contain_text("This browser")
    other = login_elsewhere(server, email, FIREFOX_WINDOWS)
    page.get_by_role("button", name="Reload").click()
    expect(sessions).to_have_count(2)
    expect(sessions.nth(1)).to_contain_text("Firefox on Windows")
    page.get_by_role("button", name=re.compile(r"^Revoke session: Firefox on Windows")).click()
    expect(sessions).to_have_count(1)
    expect(page.get_by_role("status")).to_contain_text("Revoked")
    assert refresh_status(server, other["refreshToken"]) == (401, "SESSION_REVOKED")

    # A reload keeps the session: the HttpOnly refresh cookie restores it.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    expect(page.locator("#user-email")).to_have_text(email)

    # Log out; a wrong password is refused with an alert; the right one signs in again.
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in to tokensmith")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("signed out")
    # The view changes at once; the server's answer then clears the cookies.
    page.wait_for_function("() => !document.cookie.includes('csrf_token')")
    form = page.locator("#panel-login")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill("not the password")
    form.get_by_role("button", name="Sign in").click()
    expect(form.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(form.get_by_label("Password")).to_be_focused()
    sign_in_by_clicking(page, email)

    # Log out everywhere ends this session and the other device's.
    phone = login_elsewhere(server, email, SAFARI_IPHONE)
    page.get_by_role("button", name="Log out everywhere").click()
    expect(page.get_by_role("heading", name="Sign in to tokensmith")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("2 sessions ended")
    status, _ = refresh_status(server, phone["refreshToken"])
    assert status == 401
    assert page.errors == []


def test_web_app_logout_in_one_tab_signs_out_the_other(context: Any, server: ServerProcess) -> None:
    """A second tab picks up the session; logging out in the first signs the second out."""
    email = new_user(server)
    tab_a = open_app(context)
    sign_in_by_clicking(tab_a, email)
    tab_b = open_app(context)
    expect(tab_b.get_by_role("heading", name="Your account")).to_be_visible()
    expect(tab_b.locator("#user-email")).to_have_text(email)

    tab_a.get_by_role("button", name="Log out", exact=True).click()

    expect(tab_b.get_by_role("heading", name="Sign in to tokensmith")).to_be_visible()
    expect(tab_b.get_by_role("status")).to_contain_text("signed out in another tab")
    assert tab_b.evaluate("() => window.tokensmith.isAuthenticated()") is False
    assert tab_a.errors == [] and tab_b.errors == []


def test_web_app_screenshot(playwright_browser: Any, demo_server: ServerProcess) -> None:
    """A signed-in user with three sessions, light and dark, saved to tests/browser/artifacts/
    (webapp.png, webapp-dark.png) for review."""
    email = new_user(demo_server, name="Ada Lovelace", email="ada@example.com")
    login_elsewhere(demo_server, email, SAFARI_IPHONE)
    login_elsewhere(demo_server, email, f"python-httpx/{httpx.__version__}")
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme, name in (("light", "webapp.png"), ("dark", "webapp-dark.png")):
        context = playwright_browser.new_context(
            base_url=demo_server.url, viewport={"width": 1200, "height": 900}, color_scheme=scheme
        )
        try:
            page = open_app(context)
            sign_in_by_clicking(page, email)
            expect(page.locator("#sessions > li")).to_have_count(3)
            expect(page.get_by_role("timer")).to_have_text(re.compile(r"^1[45]:\d\d$"))
            page.get_by_role("status").evaluate("(el) => { el.textContent = ''; }")
            page.screenshot(path=str(ARTIFACTS / name), full_page=True)
            assert (ARTIFACTS / name).read_bytes().startswith(b"\x89PNG")
            assert page.errors == []
            page.get_by_role("button", name="Log out", exact=True).click()
            page.wait_for_function("() => !document.cookie.includes('csrf_token')")
        finally:
            context.close()


def test_web_app_and_browser_client_are_served(server: ServerProcess) -> None:
    """`/` is the web app, `/tokensmith.js` the client as JavaScript, its files under /static/."""
    expected = {
        "/": "text/html",
        "/tokensmith.js": "text/javascript",
        "/static/app.js": "text/javascript",
        "/static/app.css": "text/css",
        "/static/tokensmith.d.ts": "text/plain",
    }
    for path, media_type in expected.items():
        response = httpx.get(f"{server.url}{path}", timeout=10)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith(media_type), path
    client = httpx.get(f"{server.url}/tokensmith.js", timeout=10).text
    assert "createAuthClient" in client and client.startswith("// @tokensmith/client")


def _refresh_cookie(context: Any) -> dict[str, Any]:
    [cookie] = [c for c in context.cookies() if c["name"] == "refresh_token"]
    return dict(cookie)


def test_remember_me_and_the_tokens_scopes_and_login_time(
    context: Any, server: ServerProcess
) -> None:
    """ "Remember me" is on by default (a cookie that outlives the browser); unchecked, the
    refresh cookie is a browser-session cookie. The token card shows the scopes ("none" on the
    standalone server, which has no claims hook) and when the user signed in."""
    email = new_user(server)
    page = open_app(context)
    expect(page.get_by_label("Remember me")).to_be_checked()
    sign_in_by_clicking(page, email)
    assert _refresh_cookie(context)["expires"] > 0
    expect(page.locator("#token-scopes")).to_have_text("none")
    auth_time = page.locator("#token-auth-time")
    expect(auth_time).not_to_have_text("\u2013")  # the placeholder dash
    signed_in_at = auth_time.get_attribute("datetime")
    assert signed_in_at is not None and signed_in_at.endswith("Z")
    # The login time stays put while the 3-second token refreshes itself.
    expect(page.locator("#token-refreshes")).not_to_have_text("0", timeout=6000)
    assert auth_time.get_attribute("datetime") == signed_in_at
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in to tokensmith")).to_be_visible()

    form = page.locator("#panel-login")
    form.get_by_label("Remember me").uncheck()
    sign_in_by_clicking(page, email)
    assert _refresh_cookie(context)["expires"] == -1  # no Max-Age: ends with the browser
    expect(page.locator("#token-refreshes")).not_to_have_text("0", timeout=6000)
    assert _refresh_cookie(context)["expires"] == -1  # and still none after a refresh
    assert page.errors == []
