"""The convenience clients: login, me, logout, errors, and staying logged in with a file."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tokensmith.client import AsyncTokensmithClient, FileTokenStore, TokensmithClient
from tokensmith.errors import InvalidCredentials, RateLimited, TokensmithError, ValidationError

from .fakes import BASE_URL, EMAIL, NO_WAIT, PASSWORD, USER, FakeClock, FakeServer, error


def sync_client(
    server: FakeServer, clock: FakeClock, store: FileTokenStore | None = None
) -> TokensmithClient:
    return TokensmithClient(
        BASE_URL, transport=server.transport(), policy=NO_WAIT, clock=clock, store=store
    )


def test_login_returns_the_user_and_keeps_the_tokens(server: FakeServer, clock: FakeClock) -> None:
    """``login`` answers the user and the next requests are authenticated."""
    with sync_client(server, clock) as client:
        assert client.login(EMAIL, PASSWORD) == USER
        assert client.me() == USER
    assert server.bearer_tokens_sent("/auth/me") == ["at-1"]


def test_login_sends_no_stale_token(server: FakeServer, clock: FakeClock) -> None:
    """Logging in again does not send the previous session's access token."""
    with sync_client(server, clock) as client:
        client.login(EMAIL, PASSWORD)
        client.login(EMAIL, PASSWORD)
    assert server.bearer_tokens_sent("/auth/login") == [None, None]


def test_wrong_password_raises_invalid_credentials(server: FakeServer, clock: FakeClock) -> None:
    """The server's 401 INVALID_CREDENTIALS becomes the library's ``InvalidCredentials``."""
    with sync_client(server, clock) as client, pytest.raises(InvalidCredentials):
        client.login(EMAIL, "wrong password")


def test_me_refreshes_an_expired_token(server: FakeServer, clock: FakeClock) -> None:
    """``me`` goes through the auth, so an expired access token is refreshed on the way."""
    with sync_client(server, clock) as client:
        client.login(EMAIL, PASSWORD)
        server.expire_access_tokens()
        assert client.me() == USER
    assert server.refresh_calls == ["rt-1"]


def test_logout_sends_the_refresh_token_in_the_body_and_forgets_tokens(
    server: FakeServer, clock: FakeClock
) -> None:
    """Logout ends the whole session by its refresh token (in the body, never the URL) and the
    client holds no tokens afterwards."""
    with sync_client(server, clock) as client:
        client.login(EMAIL, PASSWORD)
        client.logout()
        assert client.auth.tokens is None
        client.logout()  # a second logout has nothing to do
    [logout] = [r for r in server.requests if r.url.path == "/auth/logout"]
    assert json.loads(logout.content) == {"refreshToken": "rt-1"}
    assert "rt-1" not in str(logout.url)


def test_logout_forgets_tokens_even_when_the_server_fails(clock: FakeClock) -> None:
    """A failed logout call still leaves the client logged out, and raises the error."""
    server = FakeServer(clock=clock)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/logout":
            return error(503, "SERVICE_UNAVAILABLE")
        return server.handle(request)

    with TokensmithClient(BASE_URL, transport=httpx.MockTransport(handler), clock=clock) as client:
        client.login(EMAIL, PASSWORD)
        with pytest.raises(TokensmithError) as raised:
            client.logout()
        assert raised.value.code == "SERVICE_UNAVAILABLE"
        assert client.auth.tokens is None


@pytest.mark.parametrize(
    ("response", "error_class", "check"),
    [
        (
            httpx.Response(
                422,
                json={"error": "bad", "code": "VALIDATION_ERROR", "details": [{"loc": "email"}]},
            ),
            ValidationError,
            lambda e: e.details == [{"loc": "email"}],
        ),
        (
            httpx.Response(
                429, json={"error": "wait", "code": "RATE_LIMITED"}, headers={"Retry-After": "30"}
            ),
            RateLimited,
            lambda e: e.retry_after_s == 30,
        ),
        (
            httpx.Response(502, text="<html>Bad gateway</html>"),
            TokensmithError,
            lambda e: e.code == "HTTP_502",
        ),
        (
            httpx.Response(200, json={"user": "nope"}),
            TokensmithError,
            lambda e: e.code == "INTERNAL_ERROR",
        ),
    ],
)
def test_server_errors_become_library_errors(
    clock: FakeClock, response: httpx.Response, error_class: type[TokensmithError], check: object
) -> None:
    """Error bodies are rebuilt into the library's classes with their details; bodies that are
    not the contract's still raise a ``TokensmithError``."""
    with (
        TokensmithClient(
            BASE_URL, transport=httpx.MockTransport(lambda r: response), clock=clock
        ) as client,
        pytest.raises(error_class) as raised,
    ):
        client.login(EMAIL, PASSWORD)
    assert callable(check)
    assert check(raised.value)


def test_a_file_store_keeps_the_user_logged_in_across_runs(
    server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    """A second client on the same token file is logged in without a login."""
    path = tmp_path / "tokens.json"
    with sync_client(server, clock, store=FileTokenStore(path, clock=clock)) as client:
        client.login(EMAIL, PASSWORD)
    with sync_client(server, clock, store=FileTokenStore(path, clock=clock)) as client:
        assert client.me() == USER
    assert server.bearer_tokens_sent("/auth/login") == [None]


def test_a_refresh_is_written_to_the_file_store(
    server: FakeServer, clock: FakeClock, tmp_path: Path
) -> None:
    """The rotated refresh token replaces the old one on disk, so the next run does not present
    a spent token (which the server would call theft)."""
    path = tmp_path / "tokens.json"
    with sync_client(server, clock, store=FileTokenStore(path, clock=clock)) as client:
        client.login(EMAIL, PASSWORD)
        server.expire_access_tokens()
        client.me()
    assert json.loads(path.read_text())["refreshToken"] == "rt-2"


def test_repr_of_the_client_hides_tokens(server: FakeServer, clock: FakeClock) -> None:
    """The client's repr shows where it talks to, not what it holds."""
    with sync_client(server, clock) as client:
        client.login(EMAIL, PASSWORD)
        assert "at-1" not in repr(client)
        assert BASE_URL in repr(client)


async def test_async_client_logs_in_refreshes_and_logs_out(
    server: FakeServer, clock: FakeClock
) -> None:
    """The async client does the same: login, ``me`` across an expiry, logout."""
    async with AsyncTokensmithClient(
        BASE_URL, transport=server.transport(), policy=NO_WAIT, clock=clock
    ) as client:
        assert await client.login(EMAIL, PASSWORD) == USER
        server.expire_access_tokens()
        assert await client.me() == USER
        await client.logout()
        assert client.auth.tokens is None
        assert "rt-2" not in repr(client)
    assert server.refresh_calls == ["rt-1"]
    [logout] = [r for r in server.requests if r.url.path == "/auth/logout"]
    assert json.loads(logout.content) == {"refreshToken": "rt-2"}


async def test_async_client_wrong_password_raises_invalid_credentials(
    server: FakeServer, clock: FakeClock
) -> None:
    """Errors are the library's classes in the async client too."""
    async with AsyncTokensmithClient(BASE_URL, transport=server.transport(), clock=clock) as client:
        with pytest.raises(InvalidCredentials):
            await client.login(EMAIL, "wrong password")
