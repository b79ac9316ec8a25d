"""Revocations between processes sharing one database, by polling the revocation log.

This is the embedded default's feed (``serve --workers N`` on SQLite): each worker reads the rows
appended since its cursor every ``interval``. One indexed query per interval per worker, never
per request. On SQLite, writers are serialised, so sequence numbers commit in order and a cursor
never skips a row.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

from tokensmith.core.models import Revocation
from tokensmith.core.ports import Database, RevocationHandler
from tokensmith.errors import ServiceUnavailable

__all__ = ["SqlPollingFeed"]

log = logging.getLogger("tokensmith.revocation")


class SqlPollingFeed:
    def __init__(self, database: Database, interval: timedelta = timedelta(milliseconds=25)):
        self._db = database
        self._interval_s = interval.total_seconds()

    def __repr__(self) -> str:
        return f"SqlPollingFeed(every {self._interval_s * 1000:.0f} ms)"

    async def publish(self, revocations: Sequence[Revocation]) -> None:
        """Nothing to send: the revoking transaction already wrote the log."""

    async def run(
        self,
        handler: RevocationHandler,
        resync: Callable[[], Awaitable[int]],
        cursor: int,
    ) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                if failing:
                    cursor = await resync()
                async with self._db.transaction() as uow:
                    new, cursor = await uow.revocations.since(cursor)
                failing = False
            except ServiceUnavailable:
                failing = True
                continue
            if new:
                handler(new)

    async def close(self) -> None:
        return None
