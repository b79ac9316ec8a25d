"""Account recovery in the web app, in a real Chromium, with mail from a real SMTP server
(aiosmtpd): verify the email from the banner, then "Forgot password?", open the mailed link,
set a new password, sign in with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.support.servers import ServerProcess, free_port, start_server
from tests.support.smtp import SmtpServer, smtp_server

from .conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="module")
def mail_server(
    smtp: SmtpServer, playwright_browser: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server whose mail goes to ``smtp`` and whose links point at itself (PUBLIC_URL)."""
    port = free_port()
    env = {"SMTP_URL": smtp.url, "PUBLIC_URL": f"http://127.0.0.1:{port}"}
    server = start_server(Path(tmp_path_factory.mktemp("recovery-server")), env, port=port)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def page(playwright_browser: Any, mail_server: ServerProcess) -> Iterator[Any]:
    context = playwright_browser.new_context(base_url=mail_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    try:
        yield page
    finally:
        context.close()


def _ready(page: Any, url: str = "/") -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")


def _sign_in(page: Any, email: str, password: str) -> None:
    form = page.locator("#panel-login")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def test_verify_the_email_then_reset_the_password_by_mail(
    page: Any, mail_server: ServerProcess, smtp: SmtpServer
) -> None:
    email = "grace@example.com"
    registered = httpx.post(
        f"{mail_server.url}/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Grace"},
        timeout=30,
    )
    assert registered.status_code == 201

    # Signed in with an unverified email: the banner offers a link; the mailed link verifies.
    _ready(page)
    _sign_in(page, email, PASSWORD)
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    banner = page.get_by_role("region", name="Email verification")
    expect(banner).to_be_visible()
    banner.get_by_role("button", name="Send verification link").click()
    expect(page.get_by_role("status")).to_contain_text("verification link is on its way")
    [verification] = smtp.wait_for(1, to=email)
    assert verification.subject == "Verify your email address"
    page.goto(verification.link)
    expect(page.get_by_role("status")).to_contain_text("Email verified")
    expect(banner).to_be_hidden()
    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page.get_by_role("heading", name="Sign in to tokensmith")).to_be_visible()

    # Forgot password: the form answers the same for any email; the mail carries the link.
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    page.locator("#forgot-form").get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send reset link").click()
    expect(page.locator("#forgot-done")).to_contain_text("is on its way")
    reset_mail = smtp.wait_for(2, to=email)[-1]
    assert reset_mail.subject == "Reset your password"
    assert reset_mail.link.startswith(f"{mail_server.url}/#/reset-password?token=")

    # The link opens the reset page; the token leaves the address bar; a new password is set.
    _ready(page, reset_mail.link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert "token=" not in page.url
    page.locator("#reset-form").get_by_label("New password").fill(NEW_PASSWORD)
    page.locator("#reset-form").get_by_label("Repeat it").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set new password").click()
    expect(page.get_by_role("heading", name="Sign in to tokensmith")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("password is changed")

    # The old password is refused, the new one signs in.
    _sign_in(page, email, PASSWORD)
    expect(page.locator("#panel-login").get_by_role("alert")).to_have_text(
        "Wrong email or password."
    )
    _sign_in(page, email, NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()

    # The same link again: a clear message, no reset.
    _ready(page, reset_mail.link)
    page.locator("#reset-form").get_by_label("New password").fill("yet another passphrase")
    page.locator("#reset-form").get_by_label("Repeat it").fill("yet another passphrase")
    page.get_by_role("button", name="Set new password").click()
    expect(page.locator("#reset-error")).to_contain_text("not valid any more")
    assert page.errors == []
