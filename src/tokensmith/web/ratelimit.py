"""Rate limits for login, refresh and register, with the ``limits`` library.

In memory by default; the storage is injected so instances can share Redis.
"""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from tokensmith.errors import RateLimited

__all__ = ["RateLimits"]

log = logging.getLogger("tokensmith.ratelimit")


class RateLimits:
    def __init__(
        self, login: str, refresh: str, register: str, storage: Storage | None = None
    ) -> None:
        self._items: dict[str, RateLimitItem] = {
            "login": parse(login),
            "refresh": parse(refresh),
            "register": parse(register),
        }
        self._storage = storage or MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self._storage)

    def __repr__(self) -> str:
        limits = ", ".join(f"{k}={v}" for k, v in self._items.items())
        return f"RateLimits({limits})"

    def use_storage(self, storage: Storage) -> None:
        self._storage = storage
        self._limiter = MovingWindowRateLimiter(storage)

    async def hit(self, name: str, *keys: str) -> None:
        """Count one attempt; raise :class:`RateLimited` with ``Retry-After`` past the limit."""
        item = self._items[name]
        if await self._limiter.hit(item, name, *keys):
            return
        stats = await self._limiter.get_window_stats(item, name, *keys)
        retry_after_s = max(1, math.ceil(stats.reset_time - time.time()))
        raise RateLimited(retry_after_s=retry_after_s)
