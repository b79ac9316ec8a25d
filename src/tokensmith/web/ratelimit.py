"""Rate limits for login, refresh, register, password checks and failed client authentication,
with the ``limits`` library.

In memory by default. With ``REDIS_URL`` the counters live in Redis so they hold across instances;
when Redis stops answering, counting falls back to this process's memory (and says so in the log)
rather than failing requests, and returns to Redis once it answers again. During the outage each
instance enforces the limit on its own: at worst N instances allow N times the limit.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from typing import Protocol

from limits import RateLimitItem, WindowStats, parse
from limits import storage as sync_storage
from limits import strategies as sync_strategies
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

from tokensmith.errors import RateLimited, ServiceUnavailable

__all__ = ["RateLimits"]

log = logging.getLogger("tokensmith.ratelimit")

_STORAGE_DOWN = (StorageError, OSError, asyncio.TimeoutError, ConnectionError)


class _Limiter(Protocol):
    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool: ...

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats: ...

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool: ...


CLIENT_AUTH_FAILURES = "10/minute"
"""Failed service-client authentications allowed per client IP; past it every attempt is 429,
right credentials included, so a secret cannot be guessed online."""


PASSWORD_FAILURES_PER_SESSION = "5/hour"  # noqa: S105 - a rate limit, not a password
"""Wrong passwords a session may send to ``/auth/password`` and ``/auth/reauthenticate``; the
last one ends the session, so a stolen access token cannot be used to guess the password."""


class _SweepingMemoryStorage(sync_storage.MemoryStorage):
    """``limits``' memory storage, sweeping expired entries at most once a second.

    The library starts a new ``threading.Timer`` (a thread) for a 10 ms sweep whenever the last
    one has finished: under load, about a hundred thread starts a second per process, 7-15% of a
    refresh's server time in the profile. Expired entries are ignored on read either way (every
    count compares timestamps); the sweep only frees their memory, so once a second is plenty.
    """

    SWEEP_EVERY_S = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's private name
        now = time.monotonic()
        if now < self._next_sweep or self.timer.is_alive():
            return
        self._next_sweep = now + self.SWEEP_EVERY_S
        self.timer = threading.Timer(0.01, self._MemoryStorage__expire_events)  # type: ignore[attr-defined]
        self.timer.daemon = True
        self.timer.start()


class _InProcessLimiter:
    """The ``limits`` moving window in this process's memory, through its synchronous API:
    the asyncio memory storage schedules a task and a thread hop on most hits, which cost more
    than the counting itself."""

    def __init__(self) -> None:
        self._limiter = sync_strategies.MovingWindowRateLimiter(_SweepingMemoryStorage())

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return self._limiter.hit(item, *identifiers)

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        return self._limiter.get_window_stats(item, *identifiers)

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return self._limiter.test(item, *identifiers)


class RateLimits:
    def __init__(
        self,
        login: str,
        refresh: str,
        register: str,
        storage: Storage | None = None,
        *,
        retry_every_s: float = 2.0,
        timeout_s: float = 0.5,
        extra: dict[str, str] | None = None,
    ) -> None:
        """``extra`` adds buckets by name (``{"password": "5/minute"}``); ``client_auth`` (failed
        service-client authentications per IP) is always there."""
        self._items: dict[str, RateLimitItem] = {
            "login": parse(login),
            "refresh": parse(refresh),
            "register": parse(register),
            "client_auth": parse(CLIENT_AUTH_FAILURES),
            "password_failures": parse(PASSWORD_FAILURES_PER_SESSION),
        }
        for name, limit in (extra or {}).items():
            self._items[name] = parse(limit)
        self._fallback: _Limiter = _InProcessLimiter()
        self._retry_every_s = retry_every_s
        self._timeout_s = timeout_s
        self._down_since: float | None = None
        self._next_probe = 0.0
        self._probe: asyncio.Task[None] | None = None
        self._storage: Storage | None = None
        self._limiter: _Limiter = self._fallback
        self.use_storage(storage)

    def __repr__(self) -> str:
        limits = ", ".join(f"{k}={v}" for k, v in self._items.items())
        return f"RateLimits({limits}, storage={type(self._storage).__name__})"

    @property
    def shared(self) -> bool:
        """Counting in the shared storage right now (False: in memory, or fallen back)."""
        return self._limiter is not self._fallback and self._down_since is None

    def use_storage(self, storage: Storage | None) -> None:
        if storage is None or isinstance(storage, MemoryStorage):
            self._storage = None
            self._fallback = self._limiter = _InProcessLimiter()
            return
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)
        self._fallback = _InProcessLimiter()

    async def hit(self, name: str, *keys: str, strict: bool = False) -> None:
        """Count one attempt; raise :class:`RateLimited` with ``Retry-After`` past the limit.

        ``strict``: when the shared storage is down, answer 503 instead of counting in memory
        (the recovery routes: a mail flood must not get N instances times the limit)."""
        item = self._items[name]
        limiter = await self._current()
        if strict and self._down_since is not None:
            raise ServiceUnavailable("The rate-limit storage cannot be reached: try again shortly")
        if limiter is self._fallback:  # in memory: nothing to time out
            if await limiter.hit(item, name, *keys):
                return
            stats = await limiter.get_window_stats(item, name, *keys)
            raise RateLimited(retry_after_s=max(1, math.ceil(stats.reset_time - time.time())))
        try:
            async with asyncio.timeout(self._timeout_s):
                if await limiter.hit(item, name, *keys):
                    return
                stats = await limiter.get_window_stats(item, name, *keys)
        except _STORAGE_DOWN as exc:
            self._went_down(exc)
            return await self.hit(name, *keys, strict=strict)
        retry_after_s = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(retry_after_s=retry_after_s)

    async def fail(self, name: str, *keys: str) -> bool:
        """Count one failure in ``name``; ``True`` when that filled the bucket (the caller acts
        on it: ends a session, say), ``False`` while there is room left."""
        item = self._items[name]
        limiter = await self._current()
        try:
            async with asyncio.timeout(self._timeout_s):
                allowed = await limiter.hit(item, name, *keys)
                return not (allowed and await limiter.test(item, name, *keys))
        except _STORAGE_DOWN as exc:
            self._went_down(exc)
            return await self.fail(name, *keys)

    async def check(self, name: str, *keys: str) -> None:
        """Raise :class:`RateLimited` when ``name`` is already at its limit, without counting
        (for buckets that count failures: the attempt is refused before it is judged)."""
        item = self._items[name]
        limiter = await self._current()
        try:
            async with asyncio.timeout(self._timeout_s):
                if await limiter.test(item, name, *keys):
                    return
                stats = await limiter.get_window_stats(item, name, *keys)
        except _STORAGE_DOWN as exc:
            self._went_down(exc)
            return await self.check(name, *keys)
        raise RateLimited(retry_after_s=max(1, math.ceil(stats.reset_time - time.time())))

    async def _current(self) -> _Limiter:
        if self._down_since is None:
            return self._limiter
        now = time.monotonic()
        if now >= self._next_probe and self._probe is None:
            # Probe in the background: no request waits on a dead Redis.
            self._next_probe = now + self._retry_every_s
            self._probe = asyncio.create_task(self._check_back())
        return self._fallback

    async def _check_back(self) -> None:
        assert self._storage is not None
        try:
            async with asyncio.timeout(self._timeout_s):
                back = await self._storage.check()
        except _STORAGE_DOWN:
            back = False
        finally:
            self._probe = None
        if back and self._down_since is not None:
            log.warning(
                "rate-limit storage is back after %.0f s: counting in %s again",
                time.monotonic() - self._down_since,
                type(self._storage).__name__,
            )
            self._down_since = None

    def _went_down(self, exc: BaseException) -> None:
        if self._limiter is self._fallback:
            raise exc  # the in-memory storage itself failed: nothing to fall back to
        self._down_since = time.monotonic()
        self._next_probe = self._down_since + self._retry_every_s
        log.warning(
            "rate-limit storage unavailable (%s): counting in memory, per instance, until it "
            "returns",
            type(exc).__name__,
        )
