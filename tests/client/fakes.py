"""Test doubles for the Python client: a fake clock and a fake tokensmith server.

The fake server speaks the contract's HTTP API (login, refresh with rotation and reuse grace,
me, logout) behind an ``httpx.MockTransport``, with opaque tokens (``at-1``, ``rt-1``): the client
must never need to decode them. Time is a :class:`FakeClock` that tests advance by hand.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tokensmith.client import RefreshPolicy

BASE_URL = "https://auth.test"
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"
USER = {"id": "u1", "email": EMAIL, "name": "Ada", "createdAt": "2026-01-01T00:00:00Z"}

# No pauses between refresh retries: unit tests never sleep.
NO_WAIT = RefreshPolicy(retry_delays_s=(0.0, 0.0, 0.0))


class FakeClock:
    """A monotonic clock that moves only when told to, and counts how often it was read."""

    def __init__(self, start_s: float = 1000.0) -> None:
        self.now_s = start_s
        self.reads = 0
        self._read = threading.Condition()

    def __call__(self) -> float:
        with self._read:
            self.reads += 1
            self._read.notify_all()
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds

    def wait_for_reads(self, count: int, timeout_s: float = 5.0) -> None:
        """Block until the clock has been read ``count`` times in all (or the timeout passed)."""
        with self._read:
            self._read.wait_for(lambda: self.reads >= count, timeout=timeout_s)


def error(status: int, code: str, message: str = "nope") -> httpx.Response:
    return httpx.Response(status, json={"error": message, "code": code})


@dataclass
class FakeServer:
    """An in-memory tokensmith server; ``clock`` is its notion of time (for the reuse grace)."""

    clock: FakeClock
    expires_in_s: int = 900
    grace_s: float = 10.0
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    live_access: set[str] = field(default_factory=set)
    expired_access: set[str] = field(default_factory=set)
    live_refresh: set[str] = field(default_factory=set)
    # old refresh token -> (its successor, when it was rotated)
    rotated: dict[str, tuple[str, float]] = field(default_factory=dict)
    revoked: bool = False
    refresh_calls: list[str] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)
    # Answers (or exceptions) to give the next refresh requests before handling them for real.
    refresh_script: list[httpx.Response | Exception] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    # -- the HTTP surface --------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            path = request.url.path
            if path == "/auth/login":
                return self._login(request)
            if path == "/auth/refresh":
                return self._refresh(request)
            if path == "/auth/me":
                return self._me(request)
            if path == "/auth/logout":
                return httpx.Response(200, json={"message": "Logged out successfully"})
            return error(404, "NOT_FOUND")

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- test controls ------------------------------------------------------------------------

    def issue(self) -> dict[str, Any]:
        n = next(self.counter)
        access, refresh = f"at-{n}", f"rt-{n}"
        self.live_access.add(access)
        self.live_refresh.add(refresh)
        return {
            "accessToken": access,
            "refreshToken": refresh,
            "tokenType": "Bearer",
            "expiresIn": self.expires_in_s,
            "refreshExpiresIn": 604800,
        }

    def expire_access_tokens(self) -> None:
        with self.lock:
            self.expired_access |= self.live_access
            self.live_access.clear()

    @property
    def refresh_count(self) -> int:
        return len(self.refresh_calls)

    def bearer_tokens_sent(self, path: str) -> list[str | None]:
        return [
            r.headers.get("Authorization", "").removeprefix("Bearer ") or None
            for r in self.requests
            if r.url.path == path
        ]

    # -- handlers ---------------------------------------------------------------------------

    def _login(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body != {"email": EMAIL, "password": PASSWORD}:
            return error(401, "INVALID_CREDENTIALS")
        return httpx.Response(200, json={"user": USER, **self.issue()})

    def _refresh(self, request: httpx.Request) -> httpx.Response:
        token = json.loads(request.content or b"{}").get("refreshToken")
        self.refresh_calls.append(token)
        if self.refresh_script:
            scripted = self.refresh_script.pop(0)
            if isinstance(scripted, Exception):
                raise scripted
            return scripted
        if not token:
            return error(401, "REFRESH_TOKEN_REQUIRED")
        if self.revoked:
            return error(401, "SESSION_REVOKED")
        if token in self.live_refresh:
            self.live_refresh.discard(token)
            tokens = self.issue()
            self.rotated[token] = (tokens["refreshToken"], self.clock())
            return httpx.Response(200, json=tokens)
        if token in self.rotated:
            successor, when = self.rotated[token]
            if self.clock() - when <= self.grace_s and successor in self.live_refresh:
                tokens = self.issue()
                self.live_refresh.discard(tokens["refreshToken"])
                tokens["refreshToken"] = successor
                return httpx.Response(200, json=tokens)
            self.revoked = True
            return error(401, "TOKEN_REUSE_DETECTED")
        return error(401, "INVALID_REFRESH_TOKEN")

    def _me(self, request: httpx.Request) -> httpx.Response:
        header = request.headers.get("Authorization")
        if header is None:
            return error(401, "NO_TOKEN")
        token = header.removeprefix("Bearer ")
        if self.revoked:
            return error(401, "TOKEN_REVOKED")
        if token in self.expired_access:
            return error(401, "TOKEN_EXPIRED")
        if token in self.live_access:
            return httpx.Response(200, json=USER)
        return error(401, "INVALID_TOKEN")


class LoseRefreshResponses(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Forwards every request, but for the first ``times`` refreshes throws the answer away and
    raises a transport error instead: the server rotated, the client never heard."""

    def __init__(self, inner: Callable[[httpx.Request], httpx.Response], times: int = 1) -> None:
        self.inner = inner
        self.times = times

    def _forward(self, request: httpx.Request) -> httpx.Response:
        response = self.inner(request)
        if request.url.path == "/auth/refresh" and self.times > 0:
            self.times -= 1
            raise httpx.ReadError("connection reset while reading the response")
        return response

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self._forward(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self._forward(request)
