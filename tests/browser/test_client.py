"""The browser client `tokensmith.js` in a real Chromium against a real server.

Requests are counted on the network (every page of a browser context), not inside the client,
so "one refresh" means one `POST /auth/refresh` left the browser.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import threading
import time
from typing import Any

import httpx
import pytest

from .conftest import FETCH_ME_N, PASSWORD, Traffic, new_user, open_harness, race

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def login(page: Any, email: str) -> None:
    page.evaluate("([email, password]) => client.login(email, password)", [email, PASSWORD])


def token_exp(page: Any) -> int:
    """The `exp` claim of the tab's access token (read for the test's waiting only)."""
    token = page.evaluate("() => client.getAccessToken()")
    payload = token.split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"])


def wait_until_expired(*pages: Any) -> None:
    """Until the token has expired on the clients' clocks and for the server (no tolerance)."""
    exp = max(token_exp(page) for page in pages)
    for page in pages:
        page.wait_for_function(
            "() => client.tokenInfo() !== null && client.tokenInfo().expiresInMs === 0",
            timeout=10_000,
        )
    time.sleep(max(0.0, exp + 0.25 - time.time()))


def events(page: Any) -> list[str]:
    return [e["name"] for e in page.evaluate("() => window.events")]


def test_twenty_concurrent_fetches_after_expiry_send_exactly_one_refresh(
    context: Any, server: Any, traffic: Traffic
) -> None:
    """Twenty fetches started together with an expired token share a single refresh and all
    succeed; the client knows the token expired, so no request is sent with it."""
    page = open_harness(context, transport="cookie", autoRefresh=False)
    login(page, new_user(server))
    wait_until_expired(page)
    traffic.reset()

    statuses = page.evaluate(FETCH_ME_N, 20)

    assert statuses == [200] * 20
    assert traffic.refreshes() == 1
    assert traffic.statuses("GET", "/auth/me") == [200] * 20
    assert events(page).count("tokenRefreshed") == 1


def test_twenty_fetches_rejected_as_token_expired_share_one_refresh_and_retry(
    context: Any, server: Any, traffic: Traffic
) -> None:
    """With a client clock that believes the token is still good, twenty requests get 401
    TOKEN_EXPIRED; one refresh follows and each request is retried once and succeeds."""
    page = open_harness(context, transport="cookie", autoRefresh=False, frozenClock=True)
    login(page, new_user(server))
    time.sleep(max(0.0, token_exp(page) + 0.25 - time.time()))
    traffic.reset()

    statuses = page.evaluate(FETCH_ME_N, 20)

    assert statuses == [200] * 20
    assert traffic.refreshes() == 1
    assert sorted(traffic.statuses("GET", "/auth/me")) == [200] * 20 + [401] * 20
    assert set(traffic.error_codes()) == {"TOKEN_EXPIRED"}


def two_tabs_after_expiry(
    context: Any, server: Any, traffic: Traffic, transport: str
) -> tuple[Any, Any]:
    """Two tabs of one session (logged in in the first, restored in the second) whose access
    token has just expired, with the traffic counted from here."""
    email = new_user(server)
    tab_a = open_harness(context, transport=transport, autoRefresh=False)
    login(tab_a, email)
    tab_b = open_harness(context, transport=transport, autoRefresh=False)
    assert tab_b.evaluate("() => client.restore().then((u) => u && u.email)") == email
    wait_until_expired(tab_a, tab_b)
    traffic.reset()
    return tab_a, tab_b


@pytest.mark.parametrize("transport", ["cookie", "body"])
def test_two_tabs_racing_after_expiry_share_one_refresh_and_stay_logged_in(
    context: Any, server: Any, traffic: Traffic, transport: str
) -> None:
    """Two tabs whose token expired refresh at the same moment: the Web Lock lets one refresh,
    the other takes the token handed over by BroadcastChannel; no reuse is detected."""
    tab_a, tab_b = two_tabs_after_expiry(context, server, traffic, transport)

    results = race([tab_a, tab_b], 5, traffic)

    assert results == [[200] * 5, [200] * 5]
    assert traffic.refreshes() == 1, traffic.timeline()
    assert "TOKEN_REUSE_DETECTED" not in traffic.error_codes()
    for tab in (tab_a, tab_b):
        assert "sessionExpired" not in events(tab)
        assert "loggedOut" not in events(tab)
    # Both tabs now hold the same, new token.
    tokens = {tab.evaluate("() => client.getAccessToken()") for tab in (tab_a, tab_b)}
    assert len(tokens) == 1
    # And the session lives on: the next refresh works and both tabs can use the API.
    assert tab_b.evaluate("() => client.refresh()") is True
    assert [tab.evaluate(FETCH_ME_N, 1) for tab in (tab_a, tab_b)] == [[200], [200]]


def _process_tree(pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [pid] + [p for child in children.split() for p in _process_tree(int(child))]


def _signal(processes: list[int], signum: int) -> None:
    for pid in processes:
        os.kill(pid, signum)


@pytest.mark.parametrize("transport", ["cookie", "body"])
def test_a_refresh_answered_after_the_tokens_refresh_lead_is_still_shared_by_the_tabs(
    context: Any, server: Any, traffic: Traffic, transport: str
) -> None:
    """The server stops (SIGSTOP) for 1.7 s as two tabs race after expiry: the refresh's 3 s
    token arrives with 1.3 s left, already inside its 1.5 s refresh lead. The tab that waited
    for the lock uses it (it has not expired) instead of rotating again, as a loaded machine
    once made it do (docs/clients.md)."""
    tab_a, tab_b = two_tabs_after_expiry(context, server, traffic, transport)
    processes = _process_tree(server.process.pid)
    resume = threading.Timer(1.7, lambda: _signal(processes, signal.SIGCONT))

    def pause_the_server() -> None:
        _signal(processes, signal.SIGSTOP)
        traffic.note("server stopped for 1.7 s")
        resume.start()

    try:
        results = race([tab_a, tab_b], 5, traffic, on_your_marks=pause_the_server)
    finally:
        resume.cancel()
        _signal(processes, signal.SIGCONT)

    assert results == [[200] * 5, [200] * 5]
    assert traffic.refreshes() == 1, traffic.timeline()
    tokens = {tab.evaluate("() => client.getAccessToken()") for tab in (tab_a, tab_b)}
    assert len(tokens) == 1
    for tab in (tab_a, tab_b):
        assert "sessionExpired" not in events(tab)


def test_tabs_without_the_lock_may_refresh_twice_but_are_never_logged_out(
    context: Any, server: Any, traffic: Traffic
) -> None:
    """With the lock disabled (as when it times out) both tabs may refresh with the same
    refresh token; the server's reuse grace returns the same successor, so nobody is logged out.
    Body transport: both tabs present the very same stored refresh token."""
    email = new_user(server)
    tab_a = open_harness(context, transport="body", autoRefresh=False, lockTimeoutMs=0)
    login(tab_a, email)
    tab_b = open_harness(context, transport="body", autoRefresh=False, lockTimeoutMs=0)
    tab_b.evaluate("() => client.restore()")
    wait_until_expired(tab_a, tab_b)
    traffic.reset()

    results = race([tab_a, tab_b], 3, traffic)

    assert results == [[200] * 3, [200] * 3]
    assert 1 <= traffic.refreshes() <= 2
    assert "TOKEN_REUSE_DETECTED" not in traffic.error_codes()
    assert tab_a.evaluate("() => client.refresh()") is True
    assert [tab.evaluate(FETCH_ME_N, 1) for tab in (tab_a, tab_b)] == [[200], [200]]
    for tab in (tab_a, tab_b):
        assert "sessionExpired" not in events(tab)


def test_logout_in_one_tab_logs_out_the_other(context: Any, server: Any) -> None:
    """Logging out in one tab clears the other tab's tokens and emits `loggedOut` there; the
    server has ended the session, so the other tab's old access token is refused."""
    email = new_user(server)
    tab_a = open_harness(context, transport="cookie", autoRefresh=False)
    login(tab_a, email)
    tab_b = open_harness(context, transport="cookie", autoRefresh=False)
    assert tab_b.evaluate("() => client.restore().then((u) => u && u.email)") == email
    old_token = tab_b.evaluate("() => client.getAccessToken()")

    tab_a.evaluate("() => client.logout()")

    tab_b.wait_for_function(
        "() => window.events.some((e) => e.name === 'loggedOut' && e.source === 'other-tab')"
    )
    assert tab_b.evaluate("() => client.isAuthenticated()") is False
    assert tab_b.evaluate("() => client.getUser()") is None
    assert "csrf_token" not in tab_b.evaluate("() => document.cookie")
    me = httpx.get(f"{server.url}/auth/me", headers={"Authorization": f"Bearer {old_token}"})
    assert me.status_code == 401
    assert me.json()["code"] == "TOKEN_REVOKED"


def test_logout_wins_over_a_refresh_in_flight(context: Any, server: Any) -> None:
    """A refresh whose answer arrives after logout is discarded: the client stays logged out
    and does not announce a refreshed token."""
    page = open_harness(context, transport="cookie", autoRefresh=False, delayRefreshMs=500)
    login(page, new_user(server))

    outcome = page.evaluate(
        """async () => {
            const refreshing = client.refresh();
            await new Promise((r) => setTimeout(r, 100));
            await client.logout();
            return { refreshed: await refreshing, authenticated: client.isAuthenticated() };
        }"""
    )

    assert outcome == {"refreshed": False, "authenticated": False}
    assert events(page) == ["loggedIn", "loggedOut"]
    assert "csrf_token" not in page.evaluate("() => document.cookie")


def test_reused_refresh_token_ends_the_session_with_session_expired(
    context: Any, server: Any
) -> None:
    """A refresh answered with TOKEN_REUSE_DETECTED clears the tokens and emits
    `sessionExpired` with that code; the server has revoked the whole session."""
    page = open_harness(context, transport="body", autoRefresh=False)
    login(page, new_user(server))
    # The default storageKey is keyed by the server: "tokensmith:<baseUrl>".
    key = f"tokensmith:{server.url}/:refreshToken"
    stolen = page.evaluate("(key) => localStorage.getItem(key)", key)
    assert page.evaluate("() => client.refresh()") is True
    assert page.evaluate("() => client.refresh()") is True
    newest = page.evaluate("(key) => localStorage.getItem(key)", key)
    page.evaluate("([key, rt]) => localStorage.setItem(key, rt)", [key, stolen])

    assert page.evaluate("() => client.refresh()") is False

    expired = [e for e in page.evaluate("() => window.events") if e["name"] == "sessionExpired"]
    assert expired == [
        {"name": "sessionExpired", "source": "this-tab", "code": "TOKEN_REUSE_DETECTED"}
    ]
    assert page.evaluate("() => client.isAuthenticated()") is False
    assert page.evaluate("(key) => localStorage.getItem(key)", key) is None
    refused = httpx.post(f"{server.url}/auth/refresh", json={"refreshToken": newest})
    assert refused.status_code == 401


def test_reload_restores_a_cookie_session_with_one_refresh(
    context: Any, server: Any, traffic: Traffic
) -> None:
    """After a page reload the access token is gone from memory; `restore()` gets a new one
    from the HttpOnly refresh cookie, which scripts never see."""
    email = new_user(server)
    page = open_harness(context, transport="cookie", autoRefresh=False)
    login(page, email)
    assert "refresh_token" not in page.evaluate("() => document.cookie")
    page.reload()
    page.wait_for_function("window.harnessReady === true")
    page.evaluate("() => window.makeClient({ transport: 'cookie', autoRefresh: false })")
    traffic.reset()

    assert page.evaluate("() => client.restore().then((u) => u && u.email)") == email
    assert traffic.refreshes() == 1
    assert page.evaluate(FETCH_ME_N, 1) == [200]


def test_proactive_refresh_keeps_an_idle_tab_signed_in(
    context: Any, server: Any, traffic: Traffic
) -> None:
    """With auto-refresh on, the client refreshes before expiry on its own, so the first
    request after a long idle needs no refresh and gets no 401."""
    page = open_harness(context, transport="cookie")
    login(page, new_user(server))
    page.wait_for_function(
        "() => window.events.filter((e) => e.name === 'tokenRefreshed').length >= 2",
        timeout=10_000,
    )
    traffic.reset()

    assert page.evaluate(FETCH_ME_N, 3) == [200, 200, 200]
    assert 401 not in traffic.statuses("GET", "/auth/me")


def test_two_clients_for_two_servers_on_one_origin_share_no_tokens(
    context: Any, server: Any, traffic: Traffic
) -> None:
    """The default storageKey is keyed by baseUrl (issue 11, item 8): a client for another
    server on the same origin neither reads the first one's stored refresh token nor adopts its
    access token over the BroadcastChannel, so it never sends them to its own server."""
    page = open_harness(context, transport="body", autoRefresh=False)
    page.evaluate(
        """() => {
            const { createAuthClient } = tokensmith;
            const options = { transport: "body", autoRefresh: false };
            window.other = createAuthClient({ ...options, baseUrl: location.origin + "/other" });
            window.sibling = createAuthClient({ ...options, baseUrl: location.origin });
        }"""
    )
    login(page, new_user(server))
    # The login's message reached the client of the same server: one on the same channel would
    # have had it by now too.
    page.wait_for_function("() => sibling.isAuthenticated()")
    keys = page.evaluate("() => Object.keys(localStorage)")
    traffic.reset()

    assert f"tokensmith:{server.url}/:refreshToken" in keys
    assert "tokensmith:refreshToken" not in keys
    assert page.evaluate("() => other.isAuthenticated()") is False
    assert page.evaluate("() => other.restore()") is None
    assert page.evaluate("() => other.getAccessToken()") is None
    assert not [url for _, url in traffic.requests if "/other/" in url]
