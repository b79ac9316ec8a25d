"""Thin convenience clients: an ``httpx`` client with :class:`TokensmithAuth`, plus the three
calls every program needs (``login``, ``logout``, ``me``). Anything else goes through ``.http``,
an ordinary ``httpx.Client`` (or ``httpx.AsyncClient``) that already authenticates.

Errors the server sends are raised as the library's own classes
(:class:`~tokensmith.errors.InvalidCredentials`, :class:`~tokensmith.errors.RateLimited`, ...).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, Self

import httpx

from tokensmith.client._http import raise_for_error
from tokensmith.client.auth import TokensmithAuth
from tokensmith.client.stores import TokenStore
from tokensmith.client.tokens import MonotonicClock, RefreshPolicy, TokenSet, WallClock
from tokensmith.errors import TokensmithError

__all__ = ["AsyncTokensmithClient", "TokensmithClient"]

_DEFAULT_TIMEOUT_S = 10.0
_NO_AUTH = httpx.Auth()  # the base class sends requests as they are: for login and logout


def _login_payload(email: str, password: str) -> dict[str, str]:
    return {"email": email, "password": password}


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The body of a successful response; the library error for a failed one."""
    raise_for_error(response)
    body = response.json()
    if not isinstance(body, dict):
        raise TokensmithError("The server's answer is not understood")
    return body


def _user_of(body: dict[str, Any]) -> dict[str, Any]:
    user = body.get("user")
    if not isinstance(user, dict):
        raise TokensmithError("The server's answer is not understood")
    return user


def _logout_request(tokens: TokenSet) -> tuple[dict[str, str] | None, dict[str, str]]:
    """Body and headers of ``POST /auth/logout``.

    The refresh token names the whole session, so it alone ends it, whatever the state of the
    access token; the Bearer token is sent only when there is no refresh token.
    """
    if tokens.refresh_token is not None:
        return {"refreshToken": tokens.refresh_token}, {}
    return None, {"Authorization": f"Bearer {tokens.access_token}"}


class TokensmithClient:
    """A synchronous client: ``login``, ``logout``, ``me``, and ``.http`` for everything else.

    Use it as a context manager, or call :meth:`close`. The arguments are those of
    :class:`TokensmithAuth`; ``transport`` is used for ordinary requests and refreshes alike.
    """

    def __init__(
        self,
        base_url: str,
        *,
        store: TokenStore | None = None,
        policy: RefreshPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = _DEFAULT_TIMEOUT_S,
        clock: MonotonicClock = time.monotonic,
        wall_clock: WallClock = time.time,
    ) -> None:
        self.auth = TokensmithAuth(
            base_url,
            store=store,
            policy=policy,
            transport=transport,
            clock=clock,
            wall_clock=wall_clock,
        )
        self.http = httpx.Client(
            base_url=self.auth.base_url, auth=self.auth, transport=transport, timeout=timeout_s
        )

    def login(self, email: str, password: str) -> dict[str, Any]:
        """Log in, keep the tokens in the store, and return the user."""
        response = self.http.post(
            "/auth/login", json=_login_payload(email, password), auth=_NO_AUTH
        )
        body = _json_object(response)
        user = _user_of(body)
        self.auth.accept_token_response(body)
        return user

    def logout(self) -> None:
        """End the session on the server and forget the tokens (locally even if the call fails)."""
        tokens = self.auth.tokens
        if tokens is None:
            return
        self.auth.clear_tokens()
        body, headers = _logout_request(tokens)
        response = self.http.post("/auth/logout", json=body, headers=headers, auth=_NO_AUTH)
        raise_for_error(response)

    def me(self) -> dict[str, Any]:
        """The logged-in user (``GET /auth/me``), refreshing the access token if needed."""
        return _json_object(self.http.get("/auth/me"))

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()
        self.auth.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TokensmithClient({self.auth!r})"


class AsyncTokensmithClient:
    """The asynchronous twin of :class:`TokensmithClient` (``async with``, ``await login(...)``)."""

    def __init__(
        self,
        base_url: str,
        *,
        store: TokenStore | None = None,
        policy: RefreshPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = _DEFAULT_TIMEOUT_S,
        clock: MonotonicClock = time.monotonic,
        wall_clock: WallClock = time.time,
    ) -> None:
        self.auth = TokensmithAuth(
            base_url,
            store=store,
            policy=policy,
            async_transport=transport,
            clock=clock,
            wall_clock=wall_clock,
        )
        self.http = httpx.AsyncClient(
            base_url=self.auth.base_url, auth=self.auth, transport=transport, timeout=timeout_s
        )

    async def login(self, email: str, password: str) -> dict[str, Any]:
        """Log in, keep the tokens in the store, and return the user."""
        response = await self.http.post(
            "/auth/login", json=_login_payload(email, password), auth=_NO_AUTH
        )
        body = _json_object(response)
        user = _user_of(body)
        self.auth.accept_token_response(body)
        return user

    async def logout(self) -> None:
        """End the session on the server and forget the tokens (locally even if the call fails)."""
        tokens = self.auth.tokens
        if tokens is None:
            return
        self.auth.clear_tokens()
        body, headers = _logout_request(tokens)
        response = await self.http.post("/auth/logout", json=body, headers=headers, auth=_NO_AUTH)
        raise_for_error(response)

    async def me(self) -> dict[str, Any]:
        """The logged-in user (``GET /auth/me``), refreshing the access token if needed."""
        return _json_object(await self.http.get("/auth/me"))

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self.http.aclose()
        self.auth.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"AsyncTokensmithClient({self.auth!r})"
